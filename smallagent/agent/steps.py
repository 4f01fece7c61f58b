"""What the loop works with and gives back: its settings, the request it makes, the `Step` events
and the `Result`, and the exceptions that end a step before a tool has answered.

Like mini-swe-agent's `FormatError`, each exception carries what the model is told: the loop
catches them in one place and turns them into the step's kind and observation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from smallagent.agent.prompts import FOLLOW_UP
from smallagent.types import Message, Purpose, TokenLogprob, ToolCall, ToolSpec, Usage

StepKind = Literal["tool", "answer", "format", "error", "repeat"]
StopReason = Literal["answer", "max_steps", "max_failures", "budget", "max_seconds"]


@dataclass(frozen=True)
class AgentConfig:
    max_steps: int = 8
    max_consecutive_failures: int = 3
    observation_chars: int = 2400  # about 600 tokens: keeps each step's prompt growth bounded
    native_tools: bool = True  # pass tool schemas to the model; the text protocol is always parsed
    # Restating the question after each result keeps a small model from drifting into new
    # searches once the answer is in front of it (0.5B searched the same thing 7 times without).
    follow_up: str = FOLLOW_UP
    # The tool the nudges search the documents with, named by the assistant ("" for none): run
    # with the question before the first turn (retrieve_first), and when the model keeps
    # answering without evidence. The loop itself never names a tool.
    search_tool: str = ""
    # Search with the question before the model's first turn: the model starts from evidence
    # instead of spending a turn, and a prose plan, asking for it.
    retrieve_first: bool = False
    # Force every reply with tools on offer into {"tool": NAME, "input": TEXT} by a JSON schema
    # (Ollama's `format`): no prose plan, no call the parser cannot read.
    constrained: bool = False
    # The last request the step budget allows asks for the answer alone (tools withheld), so the
    # run ends with an answer: a model a larger one follows is judged on its answer, and its
    # budget is kept short (Settings.escalate_within).
    answer_last: bool = False


@dataclass(frozen=True)
class Request:
    """One request to the model: what it is shown and offered, what for, and the reply's form."""

    messages: Sequence[Message]
    tools: Sequence[ToolSpec]
    purpose: Purpose
    reply_format: Mapping[str, object] | None = None

    @property
    def options(self) -> dict[str, Any]:
        """The keyword a constrained request adds to `Model.chat` (none otherwise)."""
        return {"reply_format": self.reply_format} if self.reply_format else {}


@dataclass(frozen=True)
class Step:
    number: int
    kind: StepKind
    thought: str  # the model's own words this step (reasoning, or the answer)
    call: ToolCall | None
    form: str  # how the call was written: native, fenced_json, json, react, ...
    observation: str  # what the tool returned, or what went wrong; never the loop's follow-up
    # The model's request this step; none for a step the loop made alone.
    usage: Usage = field(default_factory=Usage)
    model_seconds: float = 0.0
    tool_seconds: float = 0.0
    dropped_arguments: tuple[str, ...] = ()
    purpose: Purpose = "tool"  # what the request was for, which set its cap
    done_reason: str = ""  # how the reply ended: "stop", or why it was stopped early
    logprobs: tuple[TokenLogprob, ...] = ()  # the reply's tokens, when the model gave them


@dataclass(frozen=True)
class Result:
    answer: str
    complete: bool
    stop_reason: StopReason
    steps: tuple[Step, ...]
    usage: Usage
    forms: Mapping[str, int] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()  # the conversation, for the next turn of a chat


class StepEnd(Exception):
    """A step over before a tool answered; the message is what the model is told."""

    kind: StepKind = "error"

    def __init__(self, message: str, tool_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.tool_seconds = tool_seconds
        self.dropped: tuple[str, ...] = ()


class Mistake(StepEnd):
    """The model's mistake (a cut-off reply, a malformed or refused call, a failing tool)."""


class Reminder(StepEnd):
    """A nudge that sends the turn back: no call, no evidence, or a call already made."""

    def __init__(self, message: str, kind: StepKind = "format") -> None:
        super().__init__(message)
        self.kind = kind


class Answered(StepEnd):
    """The model's answer, taken; the message is the answer."""

    kind: StepKind = "answer"

    def __init__(self, answer: str, dropped: Sequence[str] = ()) -> None:
        super().__init__(answer)
        self.dropped = tuple(dropped)
