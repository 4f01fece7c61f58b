"""Per-question rows in, per agent-and-model summaries, ratios to smallagent and tables out."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qabench.questions import KINDS

REFERENCE = "smallagent"


@dataclass(frozen=True)
class Row:
    """One question answered by one agent on one model. Tokens and model seconds come from the
    recording proxy for every agent alike; wall seconds from the agent's own runner."""

    agent: str
    model: str
    id: str
    kind: str
    source: str
    passed: bool
    stop: str  # answer | max_steps | max_failures | error | ...
    requests: int  # model requests the proxy saw for this question
    prompt_tokens: int
    generated_tokens: int
    model_seconds: float  # the server's time on those requests, as the proxy saw it
    wall_seconds: float
    wh: float  # model_seconds x device watts (modeled)
    error: str = ""


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class QuietRates:
    """A model's speed on a quiet machine (bench/engine_speed.py) and the device's watts: what
    a question's tokens cost when nothing else runs. Wall seconds (and the Wh modeled from
    them) grow with whatever else the machine does; tokens do not, so this compares agents whose
    runs met different load fairly."""

    prompt_tok_s: float
    generate_tok_s: float
    watts: float

    def wh(self, row: Row) -> float:
        seconds = row.prompt_tokens / self.prompt_tok_s + row.generated_tokens / self.generate_tok_s
        return seconds * self.watts / 3600


def summarise(rows: Sequence[Row], quiet: QuietRates | None = None) -> dict[str, Any]:
    """Success by kind, token and time medians/means, and energy per question and per success.

    A question the agent never got to (its run stopped early: stop "missing") counts as failed,
    but is left out of the token, time and energy figures, which would otherwise read zero.
    With `quiet`, also the energy the same tokens take on a quiet machine.
    """
    passed = sum(row.passed for row in rows)
    by_kind = {}
    for kind in KINDS:
        mine = [row for row in rows if row.kind == kind]
        if mine:
            hits = sum(row.passed for row in mine)
            by_kind[kind] = {"passed": hits, "questions": len(mine), "rate": hits / len(mine)}
    answerable = [row for row in rows if row.kind != "unanswerable"]
    ran = [row for row in rows if row.stop != "missing"]
    total_wh = sum(row.wh for row in ran)
    return {
        "questions": len(rows),
        "passed": passed,
        "missing": len(rows) - len(ran),
        "success": passed / len(rows) if rows else None,
        "answerable_success": (
            sum(row.passed for row in answerable) / len(answerable) if answerable else None
        ),
        "by_kind": by_kind,
        "prompt_tokens_median": _median([row.prompt_tokens for row in ran]),
        "prompt_tokens_mean": _mean([row.prompt_tokens for row in ran]),
        "generated_tokens_median": _median([row.generated_tokens for row in ran]),
        "generated_tokens_mean": _mean([row.generated_tokens for row in ran]),
        "requests_mean": _mean([row.requests for row in ran]),
        "wall_s_median": _median([row.wall_seconds for row in ran]),
        "wall_s_mean": _mean([row.wall_seconds for row in ran]),
        "wall_s_total": sum(row.wall_seconds for row in ran),
        "model_s_total": sum(row.model_seconds for row in ran),
        "wh_total": total_wh,
        "wh_per_question": total_wh / len(ran) if ran else None,
        "wh_per_success": total_wh / passed if passed else None,
        **(
            {
                "quiet_wh_per_question": sum(map(quiet.wh, ran)) / len(ran) if ran else None,
                "quiet_wh_per_success": sum(map(quiet.wh, ran)) / passed if passed else None,
                "quiet_rates": asdict(quiet),
            }
            if quiet
            else {}
        ),
        "stops": {
            stop: sum(row.stop == stop for row in rows) for stop in sorted({r.stop for r in rows})
        },
    }


def summaries_of(
    rows: Sequence[Row], quiet: Mapping[str, QuietRates] | None = None
) -> dict[str, dict[str, Any]]:
    """model -> agent -> summary, in the order the rows came (`quiet`: rates by model)."""
    result: dict[str, dict[str, Any]] = {}
    for model in dict.fromkeys(row.model for row in rows):
        for agent in dict.fromkeys(row.agent for row in rows if row.model == model):
            mine = [row for row in rows if row.model == model and row.agent == agent]
            rates = (quiet or {}).get(model)
            result.setdefault(model, {})[agent] = summarise(mine, rates)
    return result


RATIO_KEYS = (
    "success",
    "prompt_tokens_median",
    "generated_tokens_median",
    "wall_s_median",
    "wh_per_question",
    "wh_per_success",
    "quiet_wh_per_success",
)


def ratios(summaries: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each agent's figure divided by smallagent's on the same model: 2.0 = twice smallagent's."""
    result: dict[str, dict[str, Any]] = {}
    for model, agents in summaries.items():
        reference = agents.get(REFERENCE)
        if reference is None:
            continue
        for agent, summary in agents.items():
            if agent == REFERENCE:
                continue
            figures = {}
            for key in RATIO_KEYS:
                mine, theirs = summary.get(key), reference.get(key)
                figures[key] = mine / theirs if mine is not None and theirs else None
            result.setdefault(model, {})[agent] = figures
    return result


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def markdown(summaries: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The tables docs/benchmarks.md shows: one row per agent and model."""
    kinds = [
        kind
        for kind in KINDS
        if any(kind in s["by_kind"] for a in summaries.values() for s in a.values())
    ]
    head = [
        "model",
        "agent",
        "success",
        *kinds,
        "prompt tok median / mean",
        "gen tok median / mean",
        "wall s median / mean",
        "Wh / question",
        "Wh / success",
        "Wh / success at quiet speed",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for model, agents in summaries.items():
        for agent, s in agents.items():
            missing = f" ({s['missing']} not reached)" if s.get("missing") else ""
            cells = [model, agent, f"{s['passed']}/{s['questions']}{missing}"]
            for kind in kinds:
                k = s["by_kind"].get(kind)
                cells.append(f"{k['passed']}/{k['questions']}" if k else "—")
            cells += [
                f"{_number(s['prompt_tokens_median'])} / {_number(s['prompt_tokens_mean'])}",
                f"{_number(s['generated_tokens_median'])} / {_number(s['generated_tokens_mean'])}",
                f"{_number(s['wall_s_median'], 1)} / {_number(s['wall_s_mean'], 1)}",
                _number(s["wh_per_question"], 4),
                _number(s["wh_per_success"], 4),
                _number(s.get("quiet_wh_per_success"), 4),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    table = ratios(summaries)
    if table:
        lines += [
            "",
            "| model | agent | " + " | ".join(f"{k} ÷ smallagent" for k in RATIO_KEYS) + " |",
        ]
        lines.append("|---|---|" + "---:|" * len(RATIO_KEYS))
        for model, agents in table.items():
            for agent, figures in agents.items():
                cells = [_number(figures[k], 2) for k in RATIO_KEYS]
                lines.append(f"| {model} | {agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
