"""What a run came to: totals per model and in all, and the report as JSON or Markdown.

The two tables (one row a task, one row a model) are built here once, as `Table`s; the Markdown
report writes them out and the CLI renders the same tables on the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smallagent.errors import SmallagentError
from smallagent.paths import atomic_write_bytes
from smallagent.tasks.runlog import TaskResult

REPORT_SUFFIXES = (".json", ".md")

TOTALLED = ("steps", "tool_calls", "prompt_tokens", "generated_tokens", "seconds", "wh", "gco2e",
            "same_method_wh", "reference_wh")  # fmt: skip


def summarise(results: Sequence[TaskResult]) -> dict[str, Any]:
    """Totals are plain sums of the per-task figures, so a report can be checked by adding up."""
    passed = sum(result.status == "pass" for result in results)
    totals: dict[str, Any] = {
        "tasks": len(results),
        "passed": passed,
        "failed": sum(result.status == "fail" for result in results),
        "errors": sum(result.status == "error" for result in results),
        "pass_rate": passed / len(results) if results else 0.0,
    }
    for name in TOTALLED:
        totals[name] = sum(getattr(result, name) for result in results)
    totals["wh_per_passed_task"] = totals["wh"] / passed if passed else None
    same, reference = totals["same_method_wh"], totals["reference_wh"]
    totals["saving_percent"] = 100 * (1 - same / reference) if reference and same else None
    totals["energy_sources"] = sorted({result.energy_source for result in results} - {""})
    return totals


def by_model(results: Sequence[TaskResult]) -> dict[str, dict[str, Any]]:
    models = list(dict.fromkeys(result.model for result in results))
    return {model: summarise([r for r in results if r.model == model]) for model in models}


def exit_code(results: Sequence[TaskResult]) -> int:
    return 0 if results and all(result.status == "pass" for result in results) else 1


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    left: int  # how many columns, from the first, are text (the others are figures)
    rows: tuple[tuple[str, ...], ...]


def task_table(results: Sequence[TaskResult]) -> Table:
    rows = tuple(
        (r.task_id, r.model, r.status, str(r.steps), str(r.tool_calls), str(r.prompt_tokens),
         str(r.generated_tokens), f"{r.seconds:.1f}", f"{r.wh:.4f}")
        for r in results
    )  # fmt: skip
    columns = ("task", "model", "status", "steps", "tools", "prompt tok", "gen tok", "s", "Wh")
    return Table("tasks", columns, 3, rows)


def model_table(results: Sequence[TaskResult]) -> Table:
    rows = []
    for model, totals in by_model(results).items():
        per_pass = totals["wh_per_passed_task"]
        rows.append(
            (model, f"{totals['passed']}/{totals['tasks']}", str(totals["prompt_tokens"]),
             str(totals["generated_tokens"]), f"{totals['seconds']:.1f}", f"{totals['wh']:.4f}",
             "—" if per_pass is None else f"{per_pass:.4f}")
        )  # fmt: skip
    columns = ("model", "pass rate", "prompt tok", "gen tok", "s", "Wh", "Wh per passed task")
    return Table("summary", columns, 1, tuple(rows))


def markdown(table: Table) -> list[str]:
    align = ["---" if n < table.left else "---:" for n in range(len(table.columns))]
    lines = [f"| {' | '.join(table.columns)} |", f"|{'|'.join(align)}|"]
    return lines + [f"| {' | '.join(row)} |" for row in table.rows]


def report_json(results: Sequence[TaskResult], source: Path) -> str:
    document = {
        "task_file": str(source),
        "summary": summarise(results),
        "by_model": by_model(results),
        "tasks": [result.row() for result in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def summary_row(results: Sequence[TaskResult]) -> dict[str, Any]:
    """The last JSON line of `run --json`: the totals, in all and per model."""
    return {"type": "summary", **summarise(results), "by_model": by_model(results)}


def write_report(path: Path, results: Sequence[TaskResult], source: Path) -> None:
    """The report as JSON or Markdown, by `path`'s suffix, replacing the file atomically."""
    json_wanted = path.suffix.lower() == ".json"
    text = report_json(results, source) if json_wanted else report_markdown(results, source)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as error:
        raise SmallagentError(f"cannot write {path}: {error.strerror}") from None


def report_markdown(results: Sequence[TaskResult], source: Path) -> str:
    lines = [f"# smallagent run: {source.name}", ""]
    lines += markdown(task_table(results))
    lines += ["", *markdown(model_table(results))]
    totals = summarise(results)
    lines += ["", energy_summary(totals)]
    failing = [r for r in results if r.status != "pass"]
    if failing:
        lines += ["", "## Not passed", ""]
        for r in failing:
            lines.append(f"- `{r.task_id}` on {r.model}: {r.status} — {r.why()}")
    return "\n".join(lines) + "\n"


def energy_summary(totals: Mapping[str, Any]) -> str:
    """What was spent and where the figure came from, then the like-for-like 70B comparison."""
    sources = "; ".join(totals["energy_sources"]) or "no model energy recorded"
    line = f"Energy: {totals['wh']:.4f} Wh ({sources}), {totals['gco2e']:.3f} gCO2e."
    if totals["saving_percent"] is not None:
        line += (
            f" The same {totals['generated_tokens']} generated tokens priced with EcoLogits' GPU"
            f" model at batch 1: {totals['same_method_wh']:.4f} Wh on these models,"
            f" {totals['reference_wh']:.4f} Wh on a 70B model"
            f" ({totals['saving_percent']:.0f}% less)."
        )
    return line
