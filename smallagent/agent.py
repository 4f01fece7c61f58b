"""The ReAct loop, pure: a Model and a mapping of tools in, Step events and a Result out.

No printing, no files, no Ollama here. Model mistakes (no call, malformed call, unknown tool, bad
arguments, a failing tool) become observations that say what was wrong and how to retry; too many
in a row end the run. Bugs propagate.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from smallagent.parsing import FINAL_ANSWER_TOOL, ParsedTurn, parse_turn
from smallagent.prompts import (
    ANSWER_SYSTEM,
    CUT_REMINDER,
    FOLLOW_UP,
    FORMAT_REMINDER,
    NO_EVIDENCE_REMINDER,
)
from smallagent.tools import Tool, ToolArgumentError, ToolRefused
from smallagent.types import Message, Model, Purpose, ToolCall, Usage

StepKind = Literal["tool", "answer", "format", "error", "repeat"]
StopReason = Literal["answer", "max_steps", "max_failures", "budget", "max_seconds"]
# How a reply stopped early ends (Ollama's "length", or smallagent's own), in words.
CUT_SHORT = {
    "length": "it reached the token cap",
    "repetition": "it kept repeating itself",
    "time_limit": "the time for the question ran out",
}


# The answer request's reply, when replies are constrained: the answer and nothing else.
ANSWER_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


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
    purpose: Purpose = "tool"  # what the request was for, which set its cap
    done_reason: str = ""  # how the reply ended: "stop", or why it was stopped early


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
    # Restating the question after each result keeps a small model from drifting into new
    # searches once the answer is in front of it (0.5B searched the same thing 7 times without).
    follow_up: str = FOLLOW_UP
    # A tool run with the question itself before the model's first turn (the assistant names
    # its search tool): the model starts from evidence instead of spending a turn, and a prose
    # plan, asking for it.
    first_call: str = ""
    # Force every reply with tools on offer into {"tool": NAME, "input": TEXT} by a JSON schema
    # (Ollama's `format`): no prose plan, no call the parser cannot read.
    constrained: bool = False


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


def _looks_like_a_call(text: str) -> bool:
    """A cut-off or broken call is still a call, never an answer: `{"name": "search", ...`."""
    stripped = text.lstrip("`json \n")
    return stripped.startswith("{") and '"name"' in stripped[:40]


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
        out_of_time: Callable[[], bool] = lambda: False,
        settle: Callable[[str], str] = lambda question: "",
        review: Callable[[str, str, Sequence[Step]], str] = lambda question, answer, steps: "",
    ) -> None:
        self.model = model
        self.tools = dict(tools)
        self.config = config
        self.over_budget = over_budget
        self.out_of_time = out_of_time
        # An answer that needs no model: the assistant's verdict on the question itself (e.g. it
        # names something no document mentions), or "" to let the model work.
        self.settle = settle
        # The assistant's second look at a finished answer: a replacement (e.g. "not found" for
        # an answer drawn from passages that are not about the question), or "" to keep it.
        self.review = review
        self.clock = clock
        self.messages: list[Message] = [
            Message("system", system_prompt),
            *history,
            Message("user", question),
        ]
        self.question = question
        self.result: Result | None = None
        self._calls_made: set[str] = set()
        self._evidence_reminded = False
        self._searched_for_the_model = False

    def __iter__(self) -> Iterator[Step]:
        steps: list[Step] = []
        usage = Usage()
        forms: Counter[str] = Counter()
        failures = 0
        native = self.config.native_tools and not self.config.constrained
        tool_specs = [tool.spec for tool in self.tools.values()] if native else []
        schema = reply_schema(list(self.tools)) if self.config.constrained else None
        stop: StopReason = "max_steps"
        answer = ""
        force_answer = False
        if self.config.first_call in self.tools:
            steps.append(self._first_call())
            yield steps[-1]
        settled = self.settle(self.question)
        for number in range(1, self.config.max_steps + 1 if not settled else 1):
            messages, specs = self.messages, tool_specs
            purpose: Purpose = "plan" if number == 1 else "tool"
            constraint = {"reply_format": schema} if schema else {}
            if force_answer:
                # The model asked again for what it already has. Ask for the answer alone, in a
                # fresh request that holds only the results and the question: with the tool
                # chatter in view, a 0.5B model kept writing the same call.
                messages, specs, purpose = self._answer_request(steps), [], "answer"
                constraint = {"reply_format": ANSWER_SCHEMA} if schema else {}
            started = self.clock()
            reply = self.model.chat(messages, specs, purpose=purpose, **constraint)
            model_seconds = self.clock() - started
            usage = usage + reply.usage
            turn = parse_turn(reply.message, self.tools.keys())
            text = reply.message.content.strip()
            if force_answer and turn.calls and turn.calls[0].name == FINAL_ANSWER_TOOL:
                text = str(next(iter(turn.calls[0].arguments.values()), "")).strip()
                turn = ParsedTurn((), "forced_answer", text)  # {"answer": ...}, constrained
            elif force_answer and not turn.calls and text and not _looks_like_a_call(text):
                turn = ParsedTurn((), "forced_answer", text)
            elif force_answer:
                turn = ParsedTurn((), turn.form, text, "asked for the answer, got another call")
            forms[turn.form] += 1
            seen_tools = any(step.kind == "tool" for step in steps)
            cut = ""
            if reply.done_reason in CUT_SHORT:
                # A reply stopped early is a mistake to tell the model about, not an answer; a
                # whole call it made before the stop still runs (unless the time is up).
                whole_call = turn.calls and not turn.problem and reply.done_reason != "time_limit"
                cut = "" if whole_call else reply.detail or CUT_SHORT[reply.done_reason]
            step = self._step(number, turn, reply.usage, model_seconds, seen_tools, cut)
            step = replace(step, purpose=purpose, done_reason=reply.done_reason)
            if step.form == "fallback_search" and step.call is not None:
                forms[step.form] += 1
                turn = ParsedTurn((step.call,), "fallback_search", "")  # history: the search
            self.messages.append(self._as_history(reply.message, turn))
            steps.append(step)
            yield step
            if step.kind == "answer":
                stop, answer = "answer", _without_echoed_results(step.observation, steps)
                break
            failures = failures + 1 if step.kind in ("format", "error", "repeat") else 0
            force_answer = step.kind == "repeat"
            self.messages.append(
                Message("tool", step.observation, tool_name=step.call.name if step.call else "")
            )
            if reply.done_reason == "time_limit" or self.out_of_time():
                stop = "max_seconds"
                break
            if failures >= self.config.max_consecutive_failures:
                stop = "max_failures"
                break
            if self.over_budget(usage):
                stop = "budget"
                break
        if settled:
            steps.append(Step(1, "answer", settled, None, "settled", settled, Usage(), 0.0))
            yield steps[-1]
            stop, answer = "answer", settled
        if stop != "answer":
            answer = self._best_partial(steps)
        elif not settled and (verdict := self.review(self.question, answer, steps)):
            number = steps[-1].number + 1
            steps.append(Step(number, "answer", verdict, None, "reviewed", verdict, Usage(), 0.0))
            yield steps[-1]
            answer = verdict
        self.result = Result(
            answer=answer,
            complete=stop == "answer",
            stop_reason=stop,
            steps=tuple(steps),
            usage=usage,
            forms=dict(forms),
            messages=tuple(self.messages[1:]),
        )

    def _first_call(self) -> Step:
        """Step 0: the loop runs `first_call` with the question and puts what it returns into
        the question's own message, so the model's first turn reads evidence, not a bare question.

        Shown as a call the model never made, the 1.5B model searched again for the same thing.
        """
        name = self.config.first_call
        call = ToolCall(name, {self.tools[name].required[0]: self.question})
        step = self._step(0, ParsedTurn((call,), "retrieve_first", ""), Usage(), 0.0, False)
        found = step.observation.removesuffix(self.config.follow_up.format(question=self.question))
        self.messages[-1] = Message(
            "user",
            f"{self.question}\n\n{name} results for the question:\n{found}"
            + self.config.follow_up.format(question=self.question),
        )
        return step

    def _answer_request(self, steps: Sequence[Step]) -> list[Message]:
        suffix = self.config.follow_up.format(question=self.question)
        results = "\n\n".join(
            step.observation.removesuffix(suffix) for step in steps if step.kind == "tool"
        )
        return [
            Message("system", ANSWER_SYSTEM),
            Message("user", f"Tool results:\n{results}\n\nQuestion: {self.question}"),
        ]

    def _as_history(self, message: Message, turn: ParsedTurn) -> Message:
        """What the model is shown of its own turn next time: only the call that was run.

        Small models write a plan, the call, then imagined results and a second call; replayed
        verbatim, that text steers them into writing it again. The bare call, rendered by the chat
        template the way the model emits calls, keeps the history short, true and cache-stable.
        A constrained reply is already the bare call, in the form the model is asked to write.
        """
        if turn.calls and not turn.problem and not self.config.constrained:
            return Message("assistant", "", tool_calls=(turn.calls[0],))
        return message

    def _needs_evidence(self, seen_tools: bool) -> bool:
        """An answer before any tool result is sent back once: a 1.5B model, reminded only of the
        format, answered a question about the docs with an invented code instead of searching."""
        if seen_tools or self._evidence_reminded or len(self.tools) < 2:
            return False
        self._evidence_reminded = True
        return True

    def _search_for_the_model(self, seen_tools: bool) -> bool:
        """Reminded and still answering blind: the loop searches with the question itself.

        The 1.5B model answered "how long does the battery last" with a numbered list of
        generic factors through both reminders; given the passages it answers from them.
        """
        if seen_tools or self._searched_for_the_model or "search" not in self.tools:
            return False
        self._searched_for_the_model = True
        return True

    def _fallback(self, turn: ParsedTurn) -> ParsedTurn:
        return ParsedTurn(
            (ToolCall("search", {"query": self.question}),), "fallback_search", turn.text
        )

    def run(self) -> Result:
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def _step(
        self,
        number: int,
        turn: ParsedTurn,
        usage: Usage,
        model_seconds: float,
        seen_tools: bool,
        cut_short: str = "",
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

        def unsupported() -> Step | None:
            """An answer with no tool result behind it: remind once, then search for it once."""
            if self._needs_evidence(seen_tools):
                return make("format", NO_EVIDENCE_REMINDER)
            if self._search_for_the_model(seen_tools):
                return self._step(number, self._fallback(turn), usage, model_seconds, seen_tools)
            return None

        if cut_short:
            return make("error", CUT_REMINDER.format(detail=cut_short))
        if turn.problem:
            return make("error", f"Error: {turn.problem}. Fix the call and try again.")
        if not turn.calls:
            if turn.form == "forced_answer" or (turn.text and seen_tools):
                return make("answer", turn.text)
            if not turn.text or (number == 1 and turn.form != "final_answer"):
                return make("format", FORMAT_REMINDER)
            return unsupported() or make("answer", turn.text)  # reminded already: take the prose
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
            answer = str(prepared.get("answer", ""))
            return unsupported() or make("answer", answer, dropped_arguments=tuple(dropped))
        # The same call however it was written: {"_text": q}, {"query": q} and {"query": q, "k": 4}
        signature = json.dumps(
            [call.name, {**tool.defaults, **prepared}], sort_keys=True, default=str
        )
        if signature in self._calls_made:
            return make(
                "repeat",
                f"You already called {call.name} with these arguments; the result is above.",
            )
        started = self.clock()
        try:
            observation = tool.function(**prepared)
        except ToolRefused as refusal:
            return make("error", f"Refused: {refusal}.", tool_seconds=self.clock() - started)
        except Exception as error:  # a failing tool is an observation, not a crash
            return make(
                "error",
                f"Error: {call.name} failed ({type(error).__name__}: {error}).",
                tool_seconds=self.clock() - started,
            )
        self._calls_made.add(signature)  # only calls that ran and answered count as repeats
        return make(
            "tool",
            _clip(observation, self.config.observation_chars)
            + self.config.follow_up.format(question=self.question),
            tool_seconds=self.clock() - started,
            dropped_arguments=tuple(dropped),
        )

    def _best_partial(self, steps: Sequence[Step]) -> str:
        """What the tools found beats what the model said: its words may predate any evidence."""
        suffix = self.config.follow_up.format(question=self.question)
        for step in reversed(steps):
            if step.kind == "tool":
                return "What was found so far:\n" + step.observation.removesuffix(suffix)
        for step in reversed(steps):
            if step.thought.strip():
                return step.thought.strip()
        return ""


def _without_echoed_results(answer: str, steps: Sequence[Step]) -> str:
    """The answer less the lines it copied verbatim from tool results.

    The 1.5B model often answers and then pastes the search results under the answer; the user
    already sees them in the trace, and the copy buries the answer.
    """
    results = [
        line.strip().removesuffix("…").strip()
        for step in steps
        if step.kind == "tool"
        for line in step.observation.splitlines()
        if len(line.strip()) >= 30
    ]

    def copied(line: str) -> bool:  # whole, or cut where the result was shortened, or cut short
        line = line.strip()
        return len(line) >= 30 and any(
            line.startswith(result) or result.startswith(line) for result in results
        )

    kept = [line for line in answer.splitlines() if not copied(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() or answer.strip()
