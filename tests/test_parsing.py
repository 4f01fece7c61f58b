"""Every form small models were seen to write a call in, and the mistakes they make."""

from __future__ import annotations

import pytest

from smallagent.agent.parsing import loads_lenient, parse_turn
from smallagent.types import Message, ToolCall

TOOLS = {"search", "shell", "final_answer"}


def turn(content: str, calls: tuple[ToolCall, ...] = ()):  # type: ignore[no-untyped-def]
    return parse_turn(Message("assistant", content, tool_calls=calls), TOOLS)


def test_native_call_wins() -> None:
    parsed = turn("", (ToolCall("search", {"query": "x"}),))
    assert (parsed.form, parsed.calls[0].name) == ("native", "search")


def test_native_unknown_tool_is_a_problem() -> None:
    parsed = turn("", (ToolCall("browse", {}),))
    assert parsed.calls == () and "no tool named 'browse'" in parsed.problem


def test_bare_json_with_junk_keys_as_the_05b_writes_it() -> None:
    parsed = turn('{"name": "search", "arguments": {"query": "tea", "required": ["query"]}}')
    assert parsed.form == "json"
    assert parsed.calls[0] == ToolCall("search", {"query": "tea", "required": ["query"]})


def test_json_in_a_code_fence_with_prose_around_as_the_15b_writes_it() -> None:
    parsed = turn(
        "I will count the files.\n```json\n"
        '{\n  "name": "shell",\n  "arguments": {"command": "find . -name \'*.md\'"}\n}\n```\n'
        "Then I will answer."
    )
    assert parsed.form == "fenced_json"
    assert parsed.calls[0] == ToolCall("shell", {"command": "find . -name '*.md'"})
    assert parsed.text == "I will count the files.\n\nThen I will answer."


def test_qwen_tool_call_tags_even_unclosed() -> None:
    closed = turn('<tool_call>\n{"name": "search", "arguments": {"query": "a"}}\n</tool_call>')
    unclosed = turn('<tool_call>\n{"name": "search", "arguments": {"query": "b"}}')
    assert closed.form == unclosed.form == "tool_call_tag"
    assert [closed.calls[0].arguments, unclosed.calls[0].arguments] == [
        {"query": "a"},
        {"query": "b"},
    ]


def test_single_quotes_trailing_commas_and_python_literals() -> None:
    parsed = turn("{'name': 'search', 'arguments': {'query': 'x', 'k': 2,},}")
    assert parsed.calls[0] == ToolCall("search", {"query": "x", "k": 2})
    assert loads_lenient("{'a': true, 'b': null}") == {"a": True, "b": None}


def test_arguments_given_as_a_json_string() -> None:
    parsed = turn('{"name": "search", "arguments": "{\\"query\\": \\"x\\"}"}')
    assert parsed.calls[0].arguments == {"query": "x"}


def test_function_wrapper_and_parameters_key() -> None:
    parsed = turn('{"function": {"name": "search", "parameters": {"query": "x"}}}')
    assert parsed.calls[0] == ToolCall("search", {"query": "x"})


def test_react_action_and_input() -> None:
    parsed = turn(
        'Thought: I should look it up.\nAction: search\nAction Input: {"query": "etna"}\n'
        "Observation: (imagined)"
    )
    assert parsed.form == "react"
    assert parsed.calls[0] == ToolCall("search", {"query": "etna"})
    assert parsed.text == "I should look it up."
    plain = turn("Action: shell\nAction Input: ls -la")
    assert plain.calls[0] == ToolCall("shell", {"_text": "ls -la"})


def test_unknown_tool_in_text_is_reported_not_run() -> None:
    parsed = turn('```json\n{"name": "delete_everything", "arguments": {}}\n```')
    assert parsed.calls == ()
    assert "no tool named 'delete_everything'" in parsed.problem


def test_arguments_that_are_not_an_object() -> None:
    parsed = turn('{"name": "search", "arguments": ["tea"]}')
    assert "must be a JSON object" in parsed.problem


@pytest.mark.parametrize(
    ("content", "form", "text"),
    [
        ("Final Answer: It is TW-8841 [1].", "final_answer", "It is TW-8841 [1]."),
        (
            "1. Search the docs.\n2. Read the result.",
            "none",
            "1. Search the docs.\n2. Read the result.",
        ),
        ('The JSON {"a": 1} is not a call.', "none", 'The JSON {"a": 1} is not a call.'),
        (
            'Broken {"name": "search", "arguments": {',
            "none",
            'Broken {"name": "search", "arguments": {',
        ),
    ],
)
def test_prose_and_final_answers(content: str, form: str, text: str) -> None:
    parsed = turn(content)
    assert (parsed.calls, parsed.form, parsed.text) == ((), form, text)


def test_an_answer_written_as_a_json_object_goes_to_final_answer() -> None:
    written = '{"answer": "The code is TW-8841 [1].", "passages": [[1]]}'
    parsed = turn(written)
    assert parsed.calls == (ToolCall("final_answer", {"answer": "The code is TW-8841 [1]."}),)
    assert parsed.form == "json"
    without_the_tool = parse_turn(Message("assistant", written), {"search"})
    assert without_the_tool.calls == () and without_the_tool.form == "none"
