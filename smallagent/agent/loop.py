"""The loop of one question, pure: a Model and a mapping of tools in, Step events and a Result out.

Ask the model, read its turn, run the one call it made, show it the result; until an answer or a
limit. The loop names no tool and holds no nudge: what else the model is told or asked comes
from the `Nudges` policy. A step that ends before a tool answers raises a `StepEnd` (a mistake,
a reminder, the answer), caught in one place. Model mistakes go back to the model as
observations, and too many in a row end the run; bugs propagate. No printing, no files, no Ollama.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from smallagent.agent.calls import Calls, check_turn
from smallagent.agent.nudges import Nudges
from smallagent.agent.parsing import FINAL_ANSWER_TOOL, ParsedTurn, parse_turn, reply_schema
from smallagent.agent.steps import (
    AgentConfig,
    Answered,
    Request,
    Result,
    Step,
    StepEnd,
    StepKind,
    StopReason,
)
from smallagent.tools import Tool
from smallagent.types import Message, Model, ModelReply, Usage


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
        self.model, self.tools, self.config, self.clock = model, dict(tools), config, clock
        self.over_budget, self.out_of_time = over_budget, out_of_time
        self.nudges = Nudges(config, self.tools, question, settle, review)
        self.calls = Calls(self.tools, config.observation_chars, clock)
        self.messages = [Message("system", system_prompt), *history, Message("user", question)]
        self.steps: list[Step] = []
        self.result: Result | None = None

    def __iter__(self) -> Iterator[Step]:
        usage, forms, failures = Usage(), Counter[str](), 0
        stop: StopReason = "max_steps"
        if first := self.nudges.first_call():
            self.steps.append(self._step(0, ParsedTurn((first,), "retrieve_first", "")))
            self.messages[-1] = self.nudges.question_with(self.steps[-1])
            yield self.steps[-1]
        settled = self.nudges.settled()
        for number in range(1, 1 if settled else self.config.max_steps + 1):
            last = number == self.config.max_steps
            request = self.nudges.request(self._request(number), self.steps, last)
            started = self.clock()
            reply = self.model.chat(
                request.messages, request.tools, purpose=request.purpose, **request.options
            )
            seconds, usage = self.clock() - started, usage + reply.usage
            turn = self.nudges.read(parse_turn(reply.message, self.tools), reply.message)
            step = self._step(number, turn, reply, model_seconds=seconds, purpose=request.purpose)
            forms.update(dict.fromkeys((turn.form, step.form), 1))  # a fallback counts both
            self.messages.append(self.nudges.history(reply.message, step))
            self.steps.append(step)
            yield step
            if step.kind == "answer":
                stop = "answer"
                break
            failures = failures + 1 if step.kind in ("format", "error", "repeat") else 0
            self.messages.append(self.nudges.after(step))
            if limit := self._limit(reply, failures, usage):
                stop = limit
                break
        if settled:
            self.steps.append(Step(1, "answer", settled, None, "settled", settled))
            yield self.steps[-1]
            stop = "answer"
        answer = self.nudges.answer(self.steps, done := stop == "answer")
        if done and (reviewed := self.nudges.review(answer, self.steps)):
            self.steps.append(reviewed)
            yield reviewed
            answer = reviewed.observation
        steps, conversation = tuple(self.steps), tuple(self.messages[1:])
        self.result = Result(answer, done, stop, steps, usage, dict(forms), conversation)

    def run(self) -> Result:
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def _request(self, number: int) -> Request:
        native = self.config.native_tools and not self.config.constrained
        specs = [tool.spec for tool in self.tools.values()] if native else []
        schema = reply_schema(list(self.tools)) if self.config.constrained else None
        return Request(self.messages, specs, "plan" if number == 1 else "tool", schema)

    def _step(
        self, number: int, turn: ParsedTurn, reply: ModelReply | None = None, **facts: Any
    ) -> Step:
        """What one turn comes to: the result of the one call it made, or the StepEnd it raised."""
        call, form, seconds = turn.calls[0] if turn.calls else None, turn.form, 0.0
        kind: StepKind = "tool"
        if reply is not None:
            facts.update(usage=reply.usage, done_reason=reply.done_reason, logprobs=reply.logprobs)
        try:
            check_turn(turn, reply)
            if call is None or call.name == FINAL_ANSWER_TOOL:
                answer, dropped = self.calls.answer(call) if call else (turn.text, ())
                if not (fallback := self.nudges.check_answer(turn, number, self.steps)):
                    raise Answered(answer, dropped)
                call, form = fallback, "fallback_search"
            observation, dropped, seconds = self.calls.run(call)
        except StepEnd as end:
            kind, observation, seconds, dropped = end.kind, str(end), end.tool_seconds, end.dropped
        facts.update(tool_seconds=seconds, dropped_arguments=dropped)
        return Step(number, kind, turn.text, call, form, observation, **facts)

    def _limit(self, reply: ModelReply, failures: int, usage: Usage) -> StopReason | None:
        if reply.done_reason == "time_limit" or self.out_of_time():
            return "max_seconds"
        if failures >= self.config.max_consecutive_failures:
            return "max_failures"
        return "budget" if self.over_budget(usage) else None
