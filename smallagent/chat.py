"""A conversation with the agent (`smallagent chat`): the commands a line may be, how a question
is read (one line, or several between triple quotes), which earlier turns the next question sees,
and the loop itself, which talks to the terminal and the agent through a `ChatHost`.

Ctrl-C while an answer is coming stops that answer (what was shown stays) and the chat goes on;
at the prompt it only says how to leave (/exit or Ctrl-D).

A finished turn is kept as its question and its answer; its tool calls and results are not carried
over (they cost context, and the answer already says what they found). The next question sees the
most recent whole turns that fit half the context window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from smallagent.types import Message

if TYPE_CHECKING:
    from smallagent.agent import Result

Command = Literal["exit", "reset", "sources", "energy", "escalate", "help", "model", "unknown"]
COMMANDS = "/reset /sources /energy /escalate /exit /model NAME /help"
HELP = (
    'Ask a question on one line, or over several between """ and """.\n'
    "/reset forgets the earlier turns · /sources lists what was retrieved · /energy shows the last"
    " answer's energy · /escalate asks the last question again on the next larger model"
    " (--escalate) · /model NAME switches the model · /exit (or Ctrl-D) leaves.\n"
    "Ctrl-C stops an answer while it is written; the chat goes on."
)
QUOTES = '"""'
_COMMANDS: dict[str, Command] = {
    "/exit": "exit",
    "/quit": "exit",
    "/reset": "reset",
    "/sources": "sources",
    "/energy": "energy",
    "/escalate": "escalate",  # the last question again, on the next larger model
    "/help": "help",
    "/model": "model",
}


def command(line: str) -> Command | None:
    """The chat command `line` is, or None when it is a question.

    >>> command("/reset"), command("/quit"), command("/model qwen2.5:3b"), command("2 + 2?")
    ('reset', 'exit', 'model', None)
    """
    if not line.startswith("/"):
        return None
    return _COMMANDS.get(line.split()[0], "unknown")


def read_question(read_line: Callable[[str], str]) -> str:
    """One line, or the lines between triple quotes (which may share a line with the text):
    `\"\"\"first`, `second`, `third\"\"\"` read as 'first\\nsecond\\nthird'."""
    first = read_line("you> ").strip()
    if not first.startswith(QUOTES):
        return first
    body = first[len(QUOTES) :]
    if body.endswith(QUOTES):
        return body[: -len(QUOTES)].strip()
    lines = [body]
    while True:
        line = read_line("...  ")
        if line.rstrip().endswith(QUOTES):
            lines.append(line.rstrip()[: -len(QUOTES)])
            return "\n".join(lines).strip()
        lines.append(line)


def turn_messages(question: str, answer: str) -> list[Message]:
    """A finished turn as the next question sees it: the question and the answer only."""
    return [Message("user", question), Message("assistant", answer)]


def fit_history(history: list[Message], token_budget: int) -> list[Message]:
    """The most recent whole turns that fit the budget (about 4 characters a token)."""
    kept: list[Message] = []
    used = 0
    for first in range(len(history) - 2, -1, -2):
        pair = history[first : first + 2]
        cost = sum(len(message.content) for message in pair) // 4
        if used + cost > token_budget:
            break
        kept = pair + kept
        used += cost
    return kept


@dataclass
class Conversation:
    """The turns so far, and the last result (for /energy)."""

    token_budget: int
    history: list[Message] = field(default_factory=list)
    last: Result | None = None

    def context(self) -> list[Message]:
        """What the next question is asked after."""
        return fit_history(self.history, self.token_budget)

    def record(self, question: str, result: Result) -> None:
        self.history = [*self.history, *turn_messages(question, result.answer)]
        self.last = result

    def forget_last(self) -> None:
        """Drop the last turn (its question is asked again, on a larger model)."""
        self.history, self.last = self.history[:-2], None

    def reset(self) -> None:
        self.history, self.last = [], None


class ChatHost(Protocol):
    """What the loop needs of the terminal and the agent (the CLI provides it)."""

    def read_line(self, prompt: str) -> str:
        """The next line typed; EOFError at the end of input, KeyboardInterrupt on Ctrl-C."""
        ...

    def say(self, text: str) -> None: ...

    def answer(self, question: str, history: list[Message], escalate: bool = False) -> Result:
        """Answer one question, showing it as it goes; KeyboardInterrupt when stopped. With
        `escalate`, on the model after the one that answered last."""
        ...

    def cannot_escalate(self) -> str:
        """Why /escalate cannot ask a larger model now, or "" when it can."""
        ...

    def show_sources(self) -> None: ...

    def show_energy(self, result: Result) -> None: ...

    def switch_model(self, name: str) -> None:
        """Use model `name` from the next question on; a SmallagentError when it cannot."""
        ...


def run_chat(host: ChatHost, conversation: Conversation) -> None:
    """Read, answer, repeat, until /exit or the end of input."""
    from smallagent.errors import SmallagentError

    last_question = ""
    while True:
        try:
            line = read_question(host.read_line)
        except EOFError:
            return
        except KeyboardInterrupt:
            host.say("(/exit or Ctrl-D leaves)")
            continue
        if not line:
            continue
        action = command(line)
        if action == "exit":
            return
        if action == "reset":
            conversation.reset()
            host.say("history cleared")
        elif action == "sources":
            host.show_sources()
        elif action == "energy":
            if conversation.last is not None:
                host.show_energy(conversation.last)
        elif action == "help":
            host.say(HELP)
        elif action == "model":
            name = line.split(maxsplit=1)[1].strip() if len(line.split()) > 1 else ""
            if not name:
                host.say("usage: /model NAME")
                continue
            try:
                host.switch_model(name)
            except SmallagentError as error:
                host.say(f"error: {error.message}" + (f" ({error.hint})" if error.hint else ""))
            else:
                host.say(f"model: {name}")
        elif action == "unknown":
            host.say(f"commands: {COMMANDS}")
        elif action == "escalate" and not last_question:
            host.say("nothing to escalate yet: ask a question first")
        elif action == "escalate" and (problem := host.cannot_escalate()):
            host.say(problem)
        else:
            escalate = action == "escalate"
            if escalate:
                line = last_question
                conversation.forget_last()  # the same question again, not a follow-up
            try:
                result = host.answer(line, conversation.context(), escalate=escalate)
            except KeyboardInterrupt:
                host.say("stopped; the chat goes on")
                continue
            conversation.record(line, result)
            last_question = line
