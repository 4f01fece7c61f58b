"""The nudges: everything the loop tells or asks a small model besides its own turns and the
tools' results, and when. One policy object per question, holding its own latches.

Each nudge answers something Qwen2.5-Coder 0.5B/1.5B actually did (docs/benchmarks.md): the
search with the question before its first turn (retrieve-first), the question restated after
each result, the reminder when it answers with no evidence, the search run for it when it keeps
answering blind, the answer asked for alone after it repeats a call, and the answer settled
without it or put in place of its own on review. The assistant names the search tool
(`AgentConfig.search_tool`); the loop names none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from smallagent.agent.parsing import (
    ANSWER_SCHEMA,
    FINAL_ANSWER_TOOL,
    ParsedTurn,
    looks_like_a_call,
    without_echoed_results,
)
from smallagent.agent.prompts import (
    ANSWER_REQUEST,
    ANSWER_SYSTEM,
    FIRST_RESULTS,
    FORMAT_REMINDER,
    NO_EVIDENCE_REMINDER,
)
from smallagent.agent.steps import AgentConfig, Reminder, Request, Step
from smallagent.tools import Tool
from smallagent.types import Message, ToolCall


class Nudges:
    """The nudge policy of one question: asked by the loop before, during and after each turn."""

    def __init__(
        self,
        config: AgentConfig,
        tools: Mapping[str, Tool],
        question: str,
        settle: Callable[[str], str],
        review: Callable[[str, str, Sequence[Step]], str],
    ) -> None:
        self.config = config
        self.tools = tools
        self.question = question
        # An answer that needs no model: the assistant's verdict on the question itself (e.g. it
        # names something no document mentions), or "" to let the model work.
        self.settle = settle
        # The assistant's second look at a finished answer: a replacement (e.g. "not found" for
        # an answer drawn from passages that are not about the question), or "" to keep it.
        self.reviewer = review
        self.follow_up = config.follow_up.format(question=question)
        self._reminded = False  # the no-evidence reminder is given once
        self._searched = False  # and the search run for the model, once
        self._answer_only = False  # the next request asks for the answer alone

    # Before the first turn.

    def first_call(self) -> ToolCall | None:
        """Retrieve-first: the search, with the question, that runs as step 0."""
        return self._search() if self.config.retrieve_first else None

    def question_with(self, first: Step) -> Message:
        """The question's own message with what step 0 found, so the model's first turn reads
        evidence, not a bare question. Shown as a call the model never made, the 1.5B model
        searched again for the same thing."""
        tool = first.call.name if first.call else ""
        found = FIRST_RESULTS.format(question=self.question, tool=tool, found=first.observation)
        return Message("user", found + self.follow_up)

    def settled(self) -> str:
        return self.settle(self.question)

    # Each turn.

    def request(self, request: Request, steps: Sequence[Step], last: bool = False) -> Request:
        """After a repeated call, a fresh request for the answer alone, holding only the results
        and the question: with the tool chatter in view, a 0.5B model kept writing the same call.
        The same on the budget's `last` request when the config says `answer_last`."""
        self._answer_only = self._answer_only or (last and self.config.answer_last)
        if not self._answer_only:
            return request
        results = "\n\n".join(step.observation for step in steps if step.kind == "tool")
        messages = [
            Message("system", ANSWER_SYSTEM),
            Message("user", ANSWER_REQUEST.format(results=results, question=self.question)),
        ]
        return Request(messages, [], "answer", ANSWER_SCHEMA if request.reply_format else None)

    def read(self, turn: ParsedTurn, message: Message) -> ParsedTurn:
        """The reply to an answer request is the answer ({"answer": ...} when constrained);
        another call there is a mistake."""
        if not self._answer_only:
            return turn
        text = message.content.strip()
        if turn.calls and turn.calls[0].name == FINAL_ANSWER_TOOL:
            answer = str(next(iter(turn.calls[0].arguments.values()), "")).strip()
            return ParsedTurn((), "forced_answer", answer)
        if not turn.calls and text and not looks_like_a_call(text):
            return ParsedTurn((), "forced_answer", text)
        return ParsedTurn((), turn.form, text, "asked for the answer, got another call")

    def check_answer(self, turn: ParsedTurn, number: int, steps: Sequence[Step]) -> ToolCall | None:
        """An answer from the model (prose, or the answer tool): None takes it; a `Reminder`
        sends it back; a call returned is the search to run in its place.

        Prose in the first turn is a plan, not an answer. An answer before any tool result is
        sent back once: a 1.5B model, reminded only of the format, answered a question about the
        docs with an invented code instead of searching. Reminded and still answering blind, it
        gets the search with the question: the 1.5B model answered "how long does the battery
        last" with a numbered list of generic factors through both reminders; given the passages
        it answers from them.
        """
        seen_tools = any(step.kind == "tool" for step in steps)
        if not turn.calls:
            if turn.form == "forced_answer" or (turn.text and seen_tools):
                return None
            if not turn.text or (number == 1 and turn.form != "final_answer"):
                raise Reminder(FORMAT_REMINDER)
        if seen_tools:
            return None
        if not self._reminded and len(self.tools) >= 2:
            self._reminded = True
            raise Reminder(NO_EVIDENCE_REMINDER)
        if not self._searched and self.config.search_tool in self.tools:
            self._searched = True
            return self._search()
        return None

    # After each turn.

    def history(self, message: Message, step: Step) -> Message:
        """What the model is shown of its own turn next time: only the call that was run.

        Small models write a plan, the call, then imagined results and a second call; replayed
        verbatim, that text steers them into writing it again. The bare call, rendered by the chat
        template the way the model emits calls, keeps the history short, true and cache-stable.
        A constrained reply is already the bare call, in the form the model is asked to write.
        """
        if step.call is not None and not self.config.constrained:
            return Message("assistant", "", tool_calls=(step.call,))
        return message

    def after(self, step: Step) -> Message:
        """After a step that did not answer: its observation as the model reads it (a result
        with the question restated); and after a repeat, the next request asks for the answer."""
        self._answer_only = step.kind == "repeat"
        follow_up = self.follow_up if step.kind == "tool" else ""
        return Message(
            "tool", step.observation + follow_up, tool_name=step.call.name if step.call else ""
        )

    def answer(self, steps: Sequence[Step], complete: bool) -> str:
        """The run's answer: the model's, less the lines it copied from the results it was shown
        (the 1.5B model pastes them under its answer); a settled one as it was given.

        Short of an answer, what the tools found beats what the model said: its words may
        predate any evidence.
        """
        if complete and steps[-1].form == "settled":
            return steps[-1].observation
        if complete:
            shown = [step.observation + self.follow_up for step in steps if step.kind == "tool"]
            return without_echoed_results(steps[-1].observation, shown)
        for step in reversed(steps):
            if step.kind == "tool":
                return "What was found so far:\n" + step.observation
        return next((step.thought.strip() for step in reversed(steps) if step.thought.strip()), "")

    def review(self, answer: str, steps: Sequence[Step]) -> Step | None:
        """The assistant's verdict in place of the model's answer, as a step of its own (no
        model call); None when the answer stands or was settled without the model."""
        if steps[-1].form == "settled" or not (
            verdict := self.reviewer(self.question, answer, steps)
        ):
            return None
        return Step(steps[-1].number + 1, "answer", verdict, None, "reviewed", verdict)

    def _search(self) -> ToolCall | None:
        """The search tool called with the question, if the assistant gave the loop one."""
        name = self.config.search_tool
        if name not in self.tools:
            return None
        return ToolCall(name, {self.tools[name].required[0]: self.question})
