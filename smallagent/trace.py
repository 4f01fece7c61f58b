"""Rendering a run: rich text for people, JSONL events for programs. Nothing else prints a trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from smallagent.agent import Result, Step
from smallagent.energy import RunEnergy
from smallagent.paths import display_path
from smallagent.retrieval import Source
from smallagent.types import Usage

if TYPE_CHECKING:
    from smallagent.assistant import Escalation, Outcome


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _call_text(step: Step) -> str:
    if step.call is None:
        return ""
    arguments = ", ".join(f"{key}={value!r}" for key, value in step.call.arguments.items())
    return f"{step.call.name}({arguments})"


def render_step(console: Console, step: Step, num_ctx: int) -> None:
    usage = step.usage
    label = {
        "tool": "tool",
        "answer": "answer",
        "format": "no call",
        "error": "mistake",
        "repeat": "repeated call",
    }[step.kind]
    console.print(
        f"[bold cyan]step {step.number}[/] [dim]·[/] {label}"
        f"{' [dim](' + step.form + ')[/]' if step.form not in ('none', 'native') else ''} "
        f"[dim]· {usage.prompt_tokens} prompt tok in {usage.prompt_eval_s:.2f} s, "
        f"{usage.generated_tokens} generated in {usage.eval_s:.2f} s"
        f"{' (estimated: the reply was cut short)' if usage.estimated else ''}"
        f"{f', tool {step.tool_seconds:.2f} s' if step.tool_seconds else ''}[/]"
    )
    if step.thought and step.kind != "answer":
        console.print(f"  [italic dim]{escape(_shorten(step.thought, 300))}[/]")
    if step.call is not None and step.kind != "answer":
        console.print(f"  [yellow]→ {escape(_shorten(_call_text(step), 200))}[/]")
        if step.form == "fallback_search":
            console.print("  [dim](run by smallagent: the model kept answering without looking)[/]")
    if step.form == "reviewed":
        console.print(
            "  [dim](checked by smallagent: the answer above came from passages that are not "
            "about the question)[/]"
        )
    if step.dropped_arguments:
        console.print(f"  [dim]dropped unknown arguments: {', '.join(step.dropped_arguments)}[/]")
    if step.kind != "answer":
        console.print(f"  [dim]← {escape(_shorten(step.observation, 240))}[/]")
    if usage.prompt_tokens + usage.generated_tokens >= 0.95 * num_ctx:
        console.print(
            f"  [red]warning:[/] the prompt filled {usage.prompt_tokens} of num_ctx={num_ctx} "
            "tokens; Ollama may have cut it (raise --num-ctx)"
        )


def cache_reuse(steps: Sequence[Step]) -> float | None:
    """A lower bound on the share of prompt tokens served from Ollama's KV cache.

    Ollama's prompt_eval_count counts cached tokens too, but prompt_eval_duration covers only the
    ones it computed. Every step's apparent rate (tokens / duration) is at least the true rate, so
    the slowest step's rate, applied to each step's duration, over-counts what was computed: the
    reuse it gives is never above the truth, even when the first step hit a cache left by an
    earlier run with the same system prompt.
    """
    timed = [s for s in steps if s.usage.prompt_eval_s > 0 and s.usage.prompt_tokens]
    if len(steps) < 2 or not timed:
        return None
    rate = min(s.usage.prompt_tokens / s.usage.prompt_eval_s for s in timed)
    tokens = sum(s.usage.prompt_tokens for s in steps)
    computed = sum(min(s.usage.prompt_tokens, s.usage.prompt_eval_s * rate) for s in steps)
    return 1.0 - computed / tokens if tokens else None


def render_result(
    console: Console,
    result: Result,
    sources: Sequence[Source],
    energy: RunEnergy,
    root: Path,
) -> None:
    title = "answer" if result.complete else f"incomplete answer ({result.stop_reason})"
    console.print(Panel(escape(result.answer or "(no answer)"), title=title, border_style="green"))
    if not result.complete:
        console.print(
            f"[yellow]The run stopped before a final answer ({_STOP_TEXT[result.stop_reason]}); "
            "the text above is the best partial answer.[/]"
        )
    for source in sources:
        console.print(f"  [cyan][{source.number}][/] {escape(display_path(source.label, root))}")
    render_energy(console, result, energy)


_STOP_TEXT = {
    "answer": "answered",
    "max_steps": "step budget used up; raise --max-steps",
    "max_failures": "too many malformed or failed calls in a row",
    "budget": "energy budget --max-wh reached",
    "max_seconds": "time limit --max-seconds reached",
}


def render_energy(console: Console, result: Result, energy: RunEnergy) -> None:
    usage = result.usage
    forms = ", ".join(f"{form} {count}" for form, count in sorted(result.forms.items()))
    reuse = cache_reuse(result.steps)
    console.print(
        f"[bold]work[/] {len(result.steps)} steps · {usage.prompt_tokens} prompt + "
        f"{usage.generated_tokens} generated tokens ({_counted_by(usage)}) · "
        f"prompt eval {usage.prompt_eval_s:.1f} s, generation {usage.eval_s:.1f} s"
        + (
            f" · KV-cache reuse ≥{100 * reuse:.0f}% of prompt tokens (from durations)"
            if reuse is not None
            else ""
        )
    )
    console.print(f"[dim]call forms: {forms}[/]")
    console.print(
        f"[bold]energy[/] {energy.total_wh:.4f} Wh = model {energy.model_wh:.4f} Wh "
        f"({energy.model_source}) + tools {energy.tools_wh:.5f} Wh (retrieval incl. query "
        f"embedding, modeled) · {energy.gco2e:.3f} gCO2e at {energy.grid_gco2_per_kwh:.0f} g/kWh"
    )
    if energy.load_wh:
        console.print(f"[dim]model load {energy.load_wh:.4f} Wh, booked apart from the question[/]")
    small = energy.small_model_same_method_wh
    if small is not None and energy.saving_percent is not None:
        console.print(
            f"[bold]vs 70B[/] same {energy.generated_tokens} generated tokens, EcoLogits GPU "
            f"model at batch {energy.batch_size}: {energy.reference_params_billion:.0f}B "
            f"{energy.reference_wh:.4f} Wh vs this {energy.small_params_billion:.2f}B model "
            f"{small:.4f} Wh → [green]{energy.saving_percent:.0f}% less[/] [dim](GPU energy only, "
            "fp16 weights, no server/PUE; compare like with like, not with the local figure "
            "above)[/]"
        )


def _counted_by(usage: Usage) -> str:
    if usage.estimated:
        return "reported by Ollama; estimated for a reply cut short"
    return "reported by Ollama"


def render_spent(console: Console, steps: Sequence[Step], usage: Usage, energy: RunEnergy) -> None:
    """What a question that ended in an error had used by then: nothing goes unreported."""
    console.print(
        f"[bold]spent before it stopped[/] {len(steps)} finished steps · {usage.prompt_tokens} "
        f"prompt + {usage.generated_tokens} generated tokens ({_counted_by(usage)}) · "
        f"{energy.total_wh:.4f} Wh (model {energy.model_source}) · {energy.gco2e:.3f} gCO2e",
        soft_wrap=True,
    )


def stream_tail(text: str, lines: int = 3, width: int = 100) -> str:
    """The end of a reply as it streams: its last few lines, each cut to the width.

    >>> stream_tail("one\ntwo\nthree\nfour", lines=2)
    'three\nfour'
    """
    kept = text.rstrip("\n").split("\n")[-lines:]
    return "\n".join(line if len(line) <= width else "…" + line[-(width - 1) :] for line in kept)


class LiveReply:
    """The reply being generated, shown below the trace while it streams (on a terminal).

    Use as a context manager; `add` is the model's `on_text`; `clear` when a step is printed.
    A reply stopped before its step (Ctrl-C) is printed as it stood when the view closes.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.text = ""
        self.pieces = 0
        self._live = Live(console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> LiveReply:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._live.stop()  # transient: the view is erased
        if kind is not None and self.text.strip():
            # Stopped mid-reply (Ctrl-C, a timeout): what was shown stays, since no step will
            # print it; a finished reply is printed by its step instead.
            self.console.print(Text(self.text.rstrip("\n"), style="italic dim"))

    def add(self, piece: str) -> None:
        self.text += piece
        self.pieces += 1
        width = max(20, self.console.width - 4)
        view = Text(f"  generating · {self.pieces} tokens\n", style="dim")
        view.append(stream_tail(self.text, width=width), style="italic dim")
        self._live.update(view)

    def clear(self) -> None:
        self.text, self.pieces = "", 0
        self._live.update(Text(""), refresh=True)  # before the step is printed above it


def step_event(step: Step) -> dict[str, Any]:
    event = asdict(step)
    event["type"] = "step"
    return event


def result_event(
    result: Result, sources: Sequence[Source], energy: RunEnergy, extra: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "type": "result",
        "answer": result.answer,
        "complete": result.complete,
        "stop_reason": result.stop_reason,
        "steps": len(result.steps),
        "usage": asdict(result.usage),
        "forms": dict(result.forms),
        "kv_cache_reuse": cache_reuse(result.steps),
        "sources": [asdict(source) for source in sources],
        "energy": energy_fields(energy),
        **extra,
    }


def error_event(
    message: str,
    hint: str,
    exit_code: int,
    steps: Sequence[Step],
    usage: Usage,
    energy: RunEnergy,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The last event of a run that failed: what went wrong, and what it had spent by then."""
    return {
        "type": "error",
        "message": message,
        "hint": hint,
        "exit_code": exit_code,
        "steps": len(steps),
        "usage": asdict(usage),
        "energy": energy_fields(energy),
        **extra,
    }


def energy_fields(energy: RunEnergy) -> dict[str, Any]:
    return {
        "total_wh": energy.total_wh,
        "model_wh": energy.model_wh,
        "model_source": energy.model_source,
        "tools_wh": energy.tools_wh,
        "load_wh": energy.load_wh,
        "gco2e": energy.gco2e,
        "grid_gco2_per_kwh": energy.grid_gco2_per_kwh,
        "reference_params_billion": energy.reference_params_billion,
        "reference_wh": energy.reference_wh,
        "small_model_same_method_wh": energy.small_model_same_method_wh,
        "saving_percent": energy.saving_percent,
    }


# ------------------------------------------------------------------------------- escalation


def render_escalation(console: Console, escalation: Escalation) -> None:
    """The line between two models' attempts: which signal sent the question up."""
    why = "; ".join(str(signal) for signal in escalation.signals)
    seeded = " · starts from what it found" if escalation.seeded else ""
    console.print(
        f"[bold magenta]escalate[/] {escalation.from_model} → {escalation.to_model}{seeded}\n"
        f"  its answer: {escape(_shorten(escalation.answer, 200)) or '(none)'}\n"
        f"  [magenta]{escape(why)}[/]"
    )


def escalation_event(escalation: Escalation) -> dict[str, Any]:
    return {
        "type": "escalation",
        "from_model": escalation.from_model,
        "to_model": escalation.to_model,
        "signals": [asdict(signal) for signal in escalation.signals],
        "seeded": escalation.seeded,
        "answer": escalation.answer,
    }


def escalation_fields(outcome: Outcome) -> dict[str, Any]:
    """The result event's account of the chain: each model's attempt and cost, and the question's
    cost against the largest model alone (measured where it ran, else modeled: labelled)."""
    total = outcome.energy.total_wh
    return {
        "answered_by": outcome.answered_by,
        "attempts": [
            {
                "model": attempt.model,
                "complete": attempt.result.complete,
                "signals": [asdict(signal) for signal in attempt.signals],
                "escalated": attempt.escalated and attempt is not outcome.attempts[-1],
                "confidence": attempt.confidence,
                "seeded": attempt.seeded,
                "usage": asdict(attempt.result.usage),
                "wh": attempt.energy.total_wh,
                "model_source": attempt.energy.model_source,
            }
            for attempt in outcome.attempts
        ],
        "versus_larger": {
            "model": outcome.larger_model,
            "wh": outcome.larger_wh,
            "source": outcome.larger_source,
            "this_wh": total,
            "ratio": total / outcome.larger_wh if outcome.larger_wh > 0 else None,
        },
    }


def render_outcome(console: Console, outcome: Outcome) -> None:
    """Which model answered and what the question cost against the largest model alone."""
    if len(outcome.attempts) == 1 and outcome.larger_model == outcome.answered_by:
        return  # no escalation configured: the energy line above says it all
    parts = " + ".join(
        f"{attempt.model} {attempt.energy.total_wh:.4f} Wh" for attempt in outcome.attempts
    )
    total = outcome.energy.total_wh
    ratio = f" ({total / outcome.larger_wh:.0%} of it)" if outcome.larger_wh > 0 else ""
    console.print(
        f"[bold]answered by[/] {outcome.answered_by} · {parts} = {total:.4f} Wh · "
        f"{outcome.larger_model} alone {outcome.larger_wh:.4f} Wh{ratio} "
        f"({outcome.larger_source})",
        highlight=False,
    )
    fired = outcome.attempts[-1].signals
    if fired:
        console.print(f"[dim]signals on the answer: {escape('; '.join(map(str, fired)))}[/]")
