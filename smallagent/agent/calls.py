"""Running the one call a step makes: its arguments prepared, a repeat refused, a failing tool
turned into the model's mistake, the result capped.

A `StepEnd` raised here (steps.py) is what the model is told instead of a result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from smallagent.agent import prompts
from smallagent.agent.parsing import ParsedTurn
from smallagent.agent.steps import Mistake, Reminder
from smallagent.tools import Tool, ToolArgumentError, ToolRefused
from smallagent.types import ModelReply, ToolCall


class Calls:
    """The tool calls of one question; each runs once, a second time it is a repeat."""

    def __init__(
        self, tools: Mapping[str, Tool], observation_chars: int, clock: Callable[[], float]
    ) -> None:
        self.tools = tools
        self.observation_chars = observation_chars
        self.clock = clock
        self._made: set[str] = set()  # only calls that ran and answered count as repeats

    def prepare(self, call: ToolCall) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The call's arguments coerced to the tool's types, and the unknown ones dropped."""
        tool, arguments = self.tools[call.name], dict(call.arguments)
        if "_text" in arguments and tool.required:
            arguments[tool.required[0]] = arguments.pop("_text")
        try:
            prepared, dropped = tool.prepare(arguments)
        except ToolArgumentError as error:
            raise Mistake(prompts.BAD_ARGUMENTS.format(error=error, tool=call.name)) from None
        return prepared, tuple(dropped)

    def answer(self, call: ToolCall) -> tuple[str, tuple[str, ...]]:
        """The answer given through the answer tool, and the arguments dropped."""
        prepared, dropped = self.prepare(call)
        return str(prepared.get("answer", "")), dropped

    def run(self, call: ToolCall) -> tuple[str, tuple[str, ...], float]:
        """The tool's result (capped), the arguments dropped, and the seconds it took."""
        prepared, dropped = self.prepare(call)
        tool = self.tools[call.name]
        # The same call however it was written: {"_text": q}, {"query": q} and {"query": q, "k": 4}
        signature = json.dumps(
            [call.name, {**tool.defaults, **prepared}], sort_keys=True, default=str
        )
        if signature in self._made:
            raise Reminder(prompts.ALREADY_CALLED.format(tool=call.name), kind="repeat")
        started = self.clock()
        try:
            observation = tool.function(**prepared)
        except ToolRefused as refusal:
            raise Mistake(prompts.REFUSED.format(refusal=refusal), self.clock() - started) from None
        except Exception as error:  # a failing tool is an observation, not a crash
            kind = type(error).__name__
            failed = prompts.TOOL_FAILED.format(tool=call.name, kind=kind, error=error)
            raise Mistake(failed, self.clock() - started) from None
        self._made.add(signature)
        if len(observation) > (limit := self.observation_chars):
            cut = prompts.OBSERVATION_CUT.format(limit=limit, length=len(observation))
            observation = observation[:limit] + cut
        return observation, dropped, self.clock() - started


def check_turn(turn: ParsedTurn, reply: ModelReply | None) -> None:
    """A turn the loop cannot use is the model's mistake: a malformed call, or a reply stopped
    early (an answer cut short is not the answer; a whole call made before the stop still runs,
    unless the time is up)."""
    cut = reply.done_reason if reply is not None else ""
    if cut in prompts.CUT_SHORT and (not turn.calls or turn.problem or cut == "time_limit"):
        detail = reply.detail if reply is not None and reply.detail else prompts.CUT_SHORT[cut]
        raise Mistake(prompts.CUT_REMINDER.format(detail=detail))
    if turn.problem:
        raise Mistake(prompts.FIX_THE_CALL.format(problem=turn.problem))
