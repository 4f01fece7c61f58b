"""A conversation with the agent (`smallagent chat`): the commands a line may be, and which
earlier turns the next question sees.

A finished turn is kept as its question and its answer; its tool calls and results are not carried
over (they cost context, and the answer already says what they found). The next question sees the
most recent whole turns that fit half the context window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from smallagent.types import Message

if TYPE_CHECKING:
    from smallagent.agent import Result

Command = Literal["exit", "reset", "sources", "energy", "escalate", "unknown"]
COMMANDS = "/reset /sources /energy /escalate /exit"
_COMMANDS: dict[str, Command] = {
    "/exit": "exit",
    "/quit": "exit",
    "/reset": "reset",
    "/sources": "sources",
    "/energy": "energy",
    "/escalate": "escalate",  # the last question again, on the next larger model
}


def command(line: str) -> Command | None:
    """The chat command `line` is, or None when it is a question.

    >>> command("/reset"), command("/quit"), command("/help"), command("what is 2 + 2?")
    ('reset', 'exit', 'unknown', None)
    """
    if not line.startswith("/"):
        return None
    return _COMMANDS.get(line, "unknown")


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
