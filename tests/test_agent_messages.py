"""What the loop sends the model, to the byte, for scripted runs that meet every nudge.

The golden file was recorded from the loop before it became a package (issue 11) and pins that
reshaping it changed nothing a model sees: each request's messages, tools, purpose and reply
format, and what the run returns (answer, stop, forms, the conversation a chat carries on).
Steps are recorded without their observation, which is the one thing issue 11 meant to change.

A deliberate change to a prompt or a nudge re-records it, and the diff of the golden file shows
what the model now sees: `.venv/bin/python -m tests.test_agent_messages`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from smallagent.agent import AgentConfig, AgentRun, Result
from smallagent.agent.prompts import CONSTRAINED_FOLLOW_UP
from smallagent.tools import ToolRefused, make_final_answer_tool, make_tool
from smallagent.types import Message, ModelReply, ToolCall, Usage
from tests.test_agent import ScriptedModel

GOLDEN = Path(__file__).parent / "golden" / "agent_messages.json"
LONG_QUESTION = "How long does the battery of the field sensor last between charges?"


def search(query: str, k: int = 3) -> str:
    """Search the documents.

    Args:
        query: words to look for
        k: how many passages
    """
    if query == "boom":
        raise RuntimeError("index gone")
    return (
        f"[1] The sensor battery lasts 51 days between charges, for {query!r} (k={k}).\n"
        "[2] Charging takes four hours from an ordinary USB port."
    )


def shell(command: str) -> str:
    """Run a command.

    Args:
        command: the command line
    """
    if command.startswith("rm"):
        raise ToolRefused("`rm` is not on the read-only allowlist")
    return "x" * 300 if command == "cat big" else "a.md\nb.md"


TOOLS = {
    "search": make_tool(search),
    "shell": make_tool(shell),
    "final_answer": make_final_answer_tool(),
}
NO_SEARCH = {"shell": TOOLS["shell"], "final_answer": TOOLS["final_answer"]}


def cut(reason: str, content: str = "w1 w2 w3", *calls: ToolCall) -> ModelReply:
    return ModelReply(
        Message("assistant", content, tool_calls=calls),
        Usage(100, 31, 0.5, 3.0, estimated=True),
        "scripted",
        done_reason=reason,
        detail="cut at the 30-token cap" if reason == "length" else "",
    )


Reply = str | ToolCall | ModelReply
CALL = '{"name": "search", "arguments": {"query": "battery"}}'
PASTED = (
    "About 51 days [1].\n\n"
    "[1] The sensor battery lasts 51 days between charges, for 'battery' (k=3).\n"
    "If the results above answer it, reply with the answer now (cite passages as [n]); "
    "otherwise call another tool."
)
# name -> (replies, config, tools, run keywords)
SCENARIOS: dict[str, tuple[list[Reply], dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "tool_then_prose_answer": (
        [ToolCall("search", {"query": "battery"}), "About 51 days [1]."], {}, TOOLS, {}
    ),
    "format_then_evidence_reminder_then_fallback_search": (
        ["1. Capacity.\n2. Sunlight.", "It depends.", "Many factors.", "About 51 days [1]."],
        {}, TOOLS, {},
    ),
    "structured_guess_then_fallback_search": (
        [ToolCall("final_answer", {"answer": "90 days"}),
         ToolCall("final_answer", {"answer": "90 days"}), "51 days [1]."],
        {}, TOOLS, {},
    ),
    "no_search_tool_no_fallback": (
        ["I think 4.", "It is 4.", "4."], {}, NO_SEARCH, {}
    ),
    "repeat_then_forced_answer": (
        [CALL, CALL, "About 51 days [1]."], {"native_tools": False}, TOOLS, {}
    ),
    "forced_answer_gets_another_call": (
        [ToolCall("search", {"query": "a"}), ToolCall("search", {"query": "a"}),
         ToolCall("search", {"query": "b"}), "51 days [1]."],
        {}, TOOLS, {},
    ),
    "retrieve_first_then_answer": (
        [ToolCall("final_answer", {"answer": "51 days [1]."})], {"retrieve_first": True}, TOOLS,
        {},
    ),
    "retrieve_first_then_repeat": (
        [ToolCall("search", {"query": LONG_QUESTION, "k": 3}), "51 days [1]."],
        {"retrieve_first": True}, TOOLS, {"question": LONG_QUESTION},
    ),
    "retrieve_first_fails": (
        ["Nothing.", ToolCall("shell", {"command": "ls"}), "Not found."],
        {"retrieve_first": True}, TOOLS, {"question": "boom"},
    ),
    "constrained_retrieve_first_repeat_answer_object": (
        ['{"tool": "search", "input": "battery"}', '{"tool": "search", "input": "battery"}',
         '{"answer": "51 days [1]."}'],
        {"retrieve_first": True, "constrained": True, "follow_up": CONSTRAINED_FOLLOW_UP},
        TOOLS, {},
    ),
    "constrained_forced_answer_gets_a_call": (
        ['{"tool": "shell", "input": "ls"}', '{"tool": "shell", "input": "ls"}',
         '{"tool": "shell", "input": "ls"}', '{"tool": "final_answer", "input": "a.md [1]."}'],
        {"constrained": True, "follow_up": CONSTRAINED_FOLLOW_UP}, TOOLS, {},
    ),
    "settled": ([], {"retrieve_first": True}, TOOLS, {"settle": "Not found: none mentions X."}),
    "mistakes_then_cap": (
        [ToolCall("search", {}), '{"name": "nope", "arguments": {}}',
         ToolCall("shell", {"command": "rm a.md"})],
        {}, TOOLS, {},
    ),
    "cut_reminders": (
        [cut("length"), cut("repetition", "", ToolCall("shell", {"command": "ls"})),
         cut("length", "It is a and"), "a.md and b.md."],
        {}, TOOLS, {},
    ),
    "out_of_time": (
        [ToolCall("shell", {"command": "ls"}), cut("time_limit", "", ToolCall("search", {}))],
        {}, TOOLS, {},
    ),
    "history_text_protocol_step_budget": (
        ["Thinking.\n" + CALL, "```json\n" + CALL.replace("battery", "charge") + "\n```",
         "Action: shell\nAction Input: ls"],
        {"native_tools": False, "max_steps": 3, "observation_chars": 100}, TOOLS,
        {"history": [Message("user", "earlier"), Message("assistant", "reply")]},
    ),
    "clipped_then_pasted_results_dropped": (
        [ToolCall("shell", {"command": "cat big"}), CALL, PASTED],
        {"observation_chars": 100}, TOOLS, {},
    ),
    "budget": ([ToolCall("shell", {"command": "ls"})] * 3, {}, TOOLS, {"budget": 200}),
}  # fmt: skip


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda item: asdict(item)))


def scripted_run(name: str) -> tuple[ScriptedModel, Result]:
    replies, config, tools, keywords = SCENARIOS[name]
    model = ScriptedModel(list(replies))
    settled = keywords.get("settle", "")
    budget = keywords.get("budget")

    def over_budget(usage: Usage) -> bool:
        return budget is not None and usage.prompt_tokens >= budget

    run = AgentRun(
        model,
        tools,
        "system prompt",
        keywords.get("question", "How long does the battery last?"),
        AgentConfig(search_tool="search", **config),  # as the assistant names it
        history=keywords.get("history", ()),
        over_budget=over_budget,
        clock=lambda: 0.0,
        settle=lambda question: settled,
    )
    return model, run.run()


def record(name: str) -> dict[str, Any]:
    model, result = scripted_run(name)
    steps = [
        {key: value for key, value in asdict(step).items() if key != "observation"}
        for step in result.steps
    ]
    return _plain(
        {
            "requests": [
                {
                    "messages": [asdict(message) for message in seen],
                    "tools": [spec.name for spec in specs],
                    "purpose": purpose,
                    "format": reply_format,
                }
                for seen, specs, purpose, reply_format in zip(
                    model.seen, model.tools_seen, model.purposes, model.formats, strict=True
                )
            ],
            "steps": steps,
            "answer": result.answer,
            "complete": result.complete,
            "stop_reason": result.stop_reason,
            "forms": dict(sorted(result.forms.items())),
            "usage": asdict(result.usage),
            "conversation": [asdict(message) for message in result.messages],
        }
    )


def test_every_scenario_is_recorded() -> None:
    assert sorted(json.loads(GOLDEN.read_text())) == sorted(SCENARIOS)


def test_the_model_is_sent_what_it_was_sent_before() -> None:
    golden = json.loads(GOLDEN.read_text())
    for name in SCENARIOS:
        assert record(name) == golden[name], name


def test_a_step_holds_what_the_tool_returned_and_the_message_adds_the_follow_up() -> None:
    # Before issue 11 the observation carried the follow-up, and so did the --json trace.
    for name in SCENARIOS:
        _, result = scripted_run(name)
        shown = [message.content for message in result.messages if message.role == "tool"]
        for step in result.steps:
            if step.kind != "answer":
                assert "If the results above answer it" not in step.observation, name
            if step.kind == "tool" and step.number > 0:
                assert any(text.startswith(step.observation + "\n\nQuestion: ") for text in shown)


def _write(names: Sequence[str]) -> None:
    GOLDEN.parent.mkdir(exist_ok=True)
    recorded = {name: record(name) for name in names}
    GOLDEN.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    _write(list(SCENARIOS))
