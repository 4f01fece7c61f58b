"""Reading tool calls out of what small models actually write, and the forms a reply is held to.

Measured on Qwen2.5-Coder 0.5B/1.5B: bare JSON in the content, JSON in ```json fences, calls with
junk keys, Qwen's <tool_call> tags, ReAct's Action / Action Input, single-quoted pseudo-JSON, and
prose with no call at all. Each form is recognised and named, so the trace can count them. A
constrained reply is held to a JSON schema instead (`reply_schema`, `ANSWER_SCHEMA`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from smallagent.types import Message, ToolCall

CallForm = Literal[
    "native",
    "tool_call_tag",
    "fenced_json",
    "json",
    "react",
    "final_answer",
    "forced_answer",
    "fallback_search",  # not the model's: the loop searched after it kept answering blind
    "retrieve_first",  # not the model's: the loop searched with the question before step 1
    "settled",  # not the model's: an answer the assistant gave without it
    "reviewed",  # not the model's: the assistant's verdict in place of the model's answer
    "none",
]

FINAL_ANSWER_TOOL = "final_answer"  # where a structured answer goes; the loop owns the tool
_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```(?:json|JSON|tool_call)?\s*\n?(.*?)```", re.S)
_REACT = re.compile(
    r"Action:\s*`?([\w.-]+)`?\s*\n+\s*Action Input:\s*(.+?)(?:\n\s*Observation:|\Z)", re.S
)
_FINAL = re.compile(r"Final Answer:\s*(.+)", re.S | re.I)

# The answer request's reply, when replies are constrained: the answer and nothing else.
ANSWER_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


def _answer_first(name: str) -> bool:
    return name != FINAL_ANSWER_TOOL


def reply_schema(tool_names: Sequence[str]) -> dict[str, object]:
    """The JSON schema of a constrained reply: one tool (the answer is a tool) and its input.

    >>> reply_schema(["search", "final_answer"])["properties"]["tool"]
    {'type': 'string', 'enum': ['final_answer', 'search']}
    """
    return {
        "type": "object",
        "properties": {
            # The answer listed first, as the system prompt lists it (the order alone did not
            # change what the 1.5B model chose in a probe; the prompt did: docs/benchmarks.md).
            "tool": {"type": "string", "enum": sorted(tool_names, key=_answer_first)},
            "input": {"type": "string"},
        },
        "required": ["tool", "input"],
    }


@dataclass(frozen=True)
class ParsedTurn:
    calls: tuple[ToolCall, ...]
    form: CallForm
    text: str  # what the model wrote outside any call: its reasoning, or its answer
    problem: str = ""  # a call was attempted but is malformed; tell the model what was wrong


def loads_lenient(text: str) -> Any:
    """JSON as small models write it: also single quotes, Python literals, trailing commas.

    >>> loads_lenient("{'name': 'search', 'arguments': {'k': 3,},}")
    {'name': 'search', 'arguments': {'k': 3}}
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    cleaned = re.sub(r",\s*([}\]])", r"\1", text)
    try:
        return json.loads(cleaned)
    except ValueError:
        pass
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", cleaned))
    python = re.sub(r"\bnull\b", "None", python)
    try:
        return ast.literal_eval(python)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("not JSON") from None


def _objects(text: str) -> Iterator[tuple[int, int, Any]]:
    """Every top-level {...} that parses, with its span; braces in strings are respected."""
    start = 0
    while (start := text.find("{", start)) != -1:
        depth, quote, escaped = 0, "", False
        for index in range(start, len(text)):
            character = text[index]
            if quote:
                if escaped:
                    escaped = False
                elif character == "\\":
                    escaped = True
                elif character == quote:
                    quote = ""
            elif character in "\"'":
                quote = character
            elif character == "{":
                depth += 1
            elif character == "}":
                depth -= 1
                if depth == 0:
                    try:
                        parsed = loads_lenient(text[start : index + 1])
                    except ValueError:
                        break
                    yield start, index + 1, parsed
                    break
        start += 1


def _as_call(candidate: Any, tool_names: Collection[str]) -> ToolCall | str | None:
    """A ToolCall, a problem to report, or None when the object is not a call at all."""
    if not isinstance(candidate, dict):
        return None
    if isinstance(candidate.get("function"), dict):
        candidate = candidate["function"]
    name = candidate.get("name") or candidate.get("tool") or candidate.get("action")
    if name is None and FINAL_ANSWER_TOOL in tool_names:
        # {"answer": "..."}: the 1.5B model's way of answering after a format reminder.
        answer = candidate.get("answer", candidate.get("final_answer"))
        if isinstance(answer, str):
            return ToolCall(name=FINAL_ANSWER_TOOL, arguments={"answer": answer})
    if not isinstance(name, str):
        return None
    arguments: Any = next(
        (candidate[key] for key in ("arguments", "parameters", "args", "tool_input", "input")
         if key in candidate),
        {},
    )  # fmt: skip
    if isinstance(arguments, str):
        try:
            arguments = loads_lenient(arguments)
        except ValueError:
            arguments = {"_text": arguments}
    if not isinstance(arguments, dict):
        return f"the arguments of {name} must be a JSON object, not {type(arguments).__name__}"
    if name not in tool_names:
        return f"there is no tool named {name!r}; the tools are {', '.join(sorted(tool_names))}"
    return ToolCall(name=name, arguments=arguments)


def _calls_in(
    text: str, tool_names: Collection[str]
) -> tuple[list[ToolCall], str, list[tuple[int, int]]]:
    calls: list[ToolCall] = []
    problem = ""
    spans: list[tuple[int, int]] = []
    for start, end, candidate in _objects(text):
        if any(start < used_end and end > used_start for used_start, used_end in spans):
            continue
        found = _as_call(candidate, tool_names)
        if isinstance(found, ToolCall):
            calls.append(found)
            spans.append((start, end))
        elif isinstance(found, str) and not problem:
            problem = found
            spans.append((start, end))
    return calls, problem, spans


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return text.strip()


def parse_turn(message: Message, tool_names: Collection[str]) -> ParsedTurn:
    content = message.content or ""
    if message.tool_calls:
        known = [call for call in message.tool_calls if call.name in tool_names]
        if known:
            return ParsedTurn(tuple(known), "native", content.strip())
        unknown = message.tool_calls[0].name
        return ParsedTurn(
            (), "native", content.strip(),
            f"there is no tool named {unknown!r}; the tools are {', '.join(sorted(tool_names))}",
        )  # fmt: skip

    for form, pattern in (("tool_call_tag", _TAG), ("fenced_json", _FENCE)):
        blocks = list(pattern.finditer(content))
        if not blocks:
            continue
        calls: list[ToolCall] = []
        problem = ""
        for block in blocks:
            found, block_problem, _ = _calls_in(block.group(1), tool_names)
            calls += found
            problem = problem or block_problem
        if calls or problem:
            outside = _without(content, [block.span() for block in blocks])
            return ParsedTurn(tuple(calls), form, outside, "" if calls else problem)  # type: ignore[arg-type]

    react = _REACT.search(content)
    if react:
        name, raw_input = react.group(1), react.group(2).strip()
        thought = content[: react.start()].replace("Thought:", "").strip()
        if name not in tool_names:
            problem = (
                f"there is no tool named {name!r}; the tools are {', '.join(sorted(tool_names))}"
            )
            return ParsedTurn((), "react", thought, problem)
        try:
            arguments = loads_lenient(raw_input)
        except ValueError:
            arguments = {"_text": raw_input.strip("`\"' ")}
        if not isinstance(arguments, dict):
            arguments = {"_text": str(arguments)}
        return ParsedTurn((ToolCall(name, arguments),), "react", thought)

    calls, problem, spans = _calls_in(content, tool_names)
    if calls or problem:
        return ParsedTurn(tuple(calls), "json", _without(content, spans), "" if calls else problem)

    final = _FINAL.search(content)
    if final:
        return ParsedTurn((), "final_answer", final.group(1).strip())
    return ParsedTurn((), "none", content.strip())


def looks_like_a_call(text: str) -> bool:
    """A cut-off or broken call is still a call, never an answer: `{"name": "search", ...`."""
    stripped = text.lstrip("`json \n")
    return stripped.startswith("{") and '"name"' in stripped[:40]


def without_echoed_results(answer: str, results: Sequence[str]) -> str:
    """The answer less the lines it copied verbatim from the tool results it was shown.

    The 1.5B model often answers and then pastes the search results under the answer; the user
    already sees them in the trace, and the copy buries the answer.
    """
    shown = [
        line.strip().removesuffix("…").strip()
        for result in results
        for line in result.splitlines()
        if len(line.strip()) >= 30
    ]

    def copied(line: str) -> bool:  # whole, or cut where the result was shortened, or cut short
        line = line.strip()
        return len(line) >= 30 and any(
            line.startswith(result) or result.startswith(line) for result in shown
        )

    kept = [line for line in answer.splitlines() if not copied(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() or answer.strip()
