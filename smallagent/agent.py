"""The ReAct loop, pure: a Model and a mapping of tools in, Step events and a Result out.

No printing, no files, no Ollama here. Model mistakes (no call, malformed call, unknown tool, bad
arguments, a failing tool) become observations that say what was wrong and how to retry; too many
in a row end the run. Bugs propagate.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from smallagent.parsing import ParsedTurn, parse_turn
from smallagent.tools import Tool, ToolArgumentError
from smallagent.types import Message, Model, ToolCall, Usage

StepKind = Literal["tool", "answer", "format", "error"]
StopReason = Literal["answer", "max_steps", "max_failures", "budget"]
FINAL_ANSWER_TOOL = "final_answer"

FORMAT_REMINDER = (
    "No tool was called. To use a tool, reply with only a JSON object such as "
    '{"name": "search", "arguments": {"query": "..."}}. '
    "If you already know the answer, reply with the answer itself, citing passages as [n]."
)


@dataclass(frozen=True)
class Step:
    number: int
    kind: StepKind
    thought: str  # the model's own words this step (reasoning, or the answer)
    call: ToolCall | None
    form: str  # how the call was written: native, fenced_json, json, react, ...
    observation: str
    usage: Usage
    model_seconds: float
    tool_seconds: float = 0.0
    dropped_arguments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    answer: str
    complete: bool
    stop_reason: StopReason
    steps: tuple[Step, ...]
    usage: Usage
    forms: Mapping[str, int] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()  # the conversation, for the next turn of a chat


@dataclass(frozen=True)
class AgentConfig:
    max_steps: int = 8
    max_consecutive_failures: int = 3
    observation_chars: int = 2400  # about 600 tokens: keeps each step's prompt growth bounded
    native_tools: bool = True  # pass tool schemas to the model; the text protocol is always parsed


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[observation cut to {limit} of {len(text)} characters]"


class AgentRun:
    """One question through the loop. Iterate it for Steps; `result` is set when it ends."""

    def __init__(
        self,
        model: Model,
        tools: Mapping[str, Tool],
        system_prompt: str,
        question: str,
        config: AgentConfig = AgentConfig(),
        history: Sequence[Message] = (),
        over_budget: Callable[[Usage], bool] = lambda usage: False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self.tools = dict(tools)
        self.config = config
        self.over_budget = over_budget
        self.clock = clock
        self.messages: list[Message] = [
            Message("system", system_prompt),
            *history,
            Message("user", question),
        ]
        self.result: Result | None = None

    def __iter__(self) -> Iterator[Step]:
        steps: list[Step] = []
        usage = Usage()
        forms: Counter[str] = Counter()
        failures = 0
        tool_specs = [tool.spec for tool in self.tools.values()] if self.config.native_tools else []
        stop: StopReason = "max_steps"
        answer = ""
        for number in range(1, self.config.max_steps + 1):
            started = self.clock()
            reply = self.model.chat(self.messages, tool_specs)
            model_seconds = self.clock() - started
            usage = usage + reply.usage
            turn = parse_turn(reply.message, self.tools.keys())
            forms[turn.form] += 1
            self.messages.append(self._as_history(reply.message, turn))
            step = self._step(number, turn, reply.usage, model_seconds, bool(steps))
            steps.append(step)
            yield step
            if step.kind == "answer":
                stop, answer = "answer", step.observation
                break
            failures = failures + 1 if step.kind in ("format", "error") else 0
            self.messages.append(
                Message("tool", step.observation, tool_name=step.call.name if step.call else "")
            )
            if failures >= self.config.max_consecutive_failures:
                stop = "max_failures"
                break
            if self.over_budget(usage):
                stop = "budget"
                break
        if stop != "answer":
            answer = self._best_partial(steps)
        self.result = Result(
            answer=answer,
            complete=stop == "answer",
            stop_reason=stop,
            steps=tuple(steps),
            usage=usage,
            forms=dict(forms),
            messages=tuple(self.messages[1:]),
        )

    @staticmethod
    def _as_history(message: Message, turn: ParsedTurn) -> Message:
        """What the model is shown of its own turn next time: only the call that was run.

        Small models write a plan, the call, then imagined results and a second call; replayed
        verbatim, that text steers them into writing it again. The bare call, rendered by the chat
        template the way the model emits calls, keeps the history short, true and cache-stable.
        """
        if turn.calls and not turn.problem:
            return Message("assistant", "", tool_calls=(turn.calls[0],))
        return message

    def run(self) -> Result:
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def _step(
        self, number: int, turn: ParsedTurn, usage: Usage, model_seconds: float, seen_tools: bool
    ) -> Step:
        def make(kind: StepKind, observation: str, **extra: object) -> Step:
            return Step(
                number=number,
                kind=kind,
                thought=turn.text,
                call=turn.calls[0] if turn.calls else None,
                form=turn.form,
                observation=observation,
                usage=usage,
                model_seconds=model_seconds,
                **extra,  # type: ignore[arg-type]
            )

        if turn.problem:
            return make("error", f"Error: {turn.problem}. Fix the call and try again.")
        if not turn.calls:
            if turn.form == "final_answer" or (turn.text and seen_tools):
                return make("answer", turn.text)
            if turn.text and number > 1:
                return make("answer", turn.text)  # reminded once already: take the prose
            return make("format", FORMAT_REMINDER)
        call = turn.calls[0]  # one call per step keeps small models on track
        tool = self.tools[call.name]
        arguments = dict(call.arguments)
        if "_text" in arguments and tool.required:
            arguments[tool.required[0]] = arguments.pop("_text")
        try:
            prepared, dropped = tool.prepare(arguments)
        except ToolArgumentError as error:
            return make("error", f"Error: {error}. Call {call.name} again with valid arguments.")
        if call.name == FINAL_ANSWER_TOOL:
            return make("answer", str(prepared.get("answer", "")), dropped_arguments=tuple(dropped))
        started = self.clock()
        try:
            observation = tool.function(**prepared)
        except Exception as error:  # a failing tool is an observation, not a crash
            return make(
                "error",
                f"Error: {call.name} failed ({type(error).__name__}: {error}).",
                tool_seconds=self.clock() - started,
            )
        return make(
            "tool",
            _clip(observation, self.config.observation_chars),
            tool_seconds=self.clock() - started,
            dropped_arguments=tuple(dropped),
        )

    @staticmethod
    def _best_partial(steps: Sequence[Step]) -> str:
        for step in reversed(steps):
            if step.thought.strip():
                return step.thought.strip()
        for step in reversed(steps):
            if step.kind == "tool":
                return "What was found so far:\n" + step.observation
        return ""
