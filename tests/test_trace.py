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


def test_a_step_cut_short_says_its_figures_are_estimated() -> None:
    from dataclasses import replace

    cut = replace(step("native"), usage=Usage(600, 31, 1.5, 2.0, estimated=True))
    assert "31 generated in 2.00 s (estimated: the reply was cut short)" in rendered(cut)
    assert "estimated" not in rendered(step("native"))


def test_what_a_failed_question_spent_is_printed_and_sent_as_an_event() -> None:
    from smallagent.energy import default_energy_settings, run_energy
    from smallagent.trace import error_event, render_spent

    usage = Usage(600, 31, 1.5, 2.0, estimated=True)
    energy = run_energy(usage, 0.25, default_energy_settings(cores=2), 1.5)
    console = Console(record=True, width=300)
    render_spent(console, [step("native")], usage, energy)
    text = console.export_text()
    assert "spent before it stopped 1 finished steps · 600 prompt + 31 generated tokens" in text
    assert "(reported by Ollama; estimated for a reply cut short)" in text
    assert "partly estimated from elapsed time" in text
    event = error_event("timed out", "wait less", 124, [step("native")], usage, energy, {"m": 1})
    assert (event["type"], event["exit_code"], event["steps"], event["m"]) == ("error", 124, 1, 1)
    assert event["usage"]["estimated"] is True
    assert event["energy"]["total_wh"] == energy.total_wh


def test_the_live_view_shows_the_end_of_the_reply() -> None:
    from smallagent.trace import LiveReply, stream_tail

    assert stream_tail("one\ntwo\nthree\nfour", lines=2) == "three\nfour"
    assert stream_tail("x" * 50, width=10) == "…" + "x" * 9
    console = Console(record=True, width=80, force_terminal=True)
    with LiveReply(console) as live:
        for piece in ("Let ", "me ", "search."):
            live.add(piece)
        assert (live.text, live.pieces) == ("Let me search.", 3)
        live.clear()
        assert (live.text, live.pieces) == ("", 0)
