"""What the live trace prints for a step: the call, who made it, a warning on a full context."""

from __future__ import annotations

from rich.console import Console

from smallagent.agent import Step
from smallagent.trace import render_step
from smallagent.types import ToolCall, Usage


def rendered(step: Step, num_ctx: int = 8192) -> str:
    console = Console(record=True, width=200)
    render_step(console, step, num_ctx)
    return console.export_text()


def step(form: str, prompt_tokens: int = 600) -> Step:
    return Step(
        number=3, kind="tool", thought="1. Battery capacity matters.",
        call=ToolCall("search", {"query": "How long?"}), form=form,
        observation="[1] power.md: 51 days", usage=Usage(prompt_tokens, 20, 1.5, 2.0),
        model_seconds=3.6, tool_seconds=0.25,
    )  # fmt: skip


def test_a_search_the_loop_ran_is_labelled_as_such() -> None:
    text = rendered(step("fallback_search"))
    assert (
        "step 3 · tool (fallback_search) · 600 prompt tok in 1.50 s, 20 generated in 2.00 s" in text
    )
    assert "→ search(query='How long?')" in text
    assert "(run by smallagent: the model kept answering without looking)" in text
    assert "← [1] power.md: 51 days" in text
    assert "run by smallagent" not in rendered(step("fenced_json"))


def test_a_prompt_near_num_ctx_is_flagged() -> None:
    assert "warning: the prompt filled 8000 of num_ctx=8192" in rendered(step("native", 8000))
    assert "warning" not in rendered(step("native", 600))
