"""`smallagent chat`: which earlier turns a question sees, the chat's commands, and the loop
through the CLI against a stand-in Ollama server (tests/standin_ollama.py)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smallagent.agent import Result
from smallagent.chat import (
    HELP,
    Conversation,
    command,
    fit_history,
    read_question,
    run_chat,
    turn_messages,
)
from smallagent.cli import app
from smallagent.errors import ModelNotFoundError
from smallagent.types import Message, Usage
from tests.standin_ollama import MODEL, StandInOllama, chunk, final


def turn(question: str, answer: str) -> list[Message]:
    return turn_messages(question, answer)


def test_a_turn_is_kept_as_its_question_and_answer() -> None:
    assert turn_messages("Q?", "A.") == [Message("user", "Q?"), Message("assistant", "A.")]


def test_the_most_recent_whole_turns_that_fit_are_kept() -> None:
    old = turn("o" * 400, "a" * 400)  # 200 tokens at 4 characters a token
    middle = turn("m" * 200, "b" * 200)  # 100 tokens
    recent = turn("r" * 80, "c" * 80)  # 40 tokens
    history = [*old, *middle, *recent]
    assert fit_history(history, 1000) == history
    assert fit_history(history, 140) == [*middle, *recent]
    assert fit_history(history, 139) == recent  # a turn is kept whole or not at all
    assert fit_history(history, 39) == []
    assert fit_history([], 100) == []


def test_a_gap_does_not_skip_to_an_older_turn_that_would_fit() -> None:
    history = [*turn("s", "t"), *turn("x" * 800, "y" * 800), *turn("r", "c")]
    assert fit_history(history, 10) == turn("r", "c")


def result(answer: str) -> Result:
    return Result(answer, True, "answer", (), Usage())


def test_a_conversation_records_turns_and_resets() -> None:
    conversation = Conversation(token_budget=1000)
    assert conversation.context() == [] and conversation.last is None
    first = result("Paris.")
    conversation.record("Capital of France?", first)
    assert conversation.context() == turn("Capital of France?", "Paris.")
    assert conversation.last is first
    conversation.record("And of Italy?", result("Rome."))
    assert conversation.context() == [*turn("Capital of France?", "Paris."),
                                      *turn("And of Italy?", "Rome.")]  # fmt: skip
    conversation.reset()
    assert conversation.context() == [] and conversation.last is None


def test_commands() -> None:
    assert [command(line) for line in ("/exit", "/quit", "/reset", "/sources", "/energy")] == [
        "exit", "exit", "reset", "sources", "energy",
    ]  # fmt: skip
    assert command("/help") == "help"  # issue 13: was unknown
    assert command("/model qwen2.5:3b") == "model"
    assert command("/bogus") == "unknown"
    assert command("what does /etc/hosts hold?") is None


ANSWERS = {"What is the code?": "The code is TW-8841.", "What does it do?": "It opens the menu."}


def answers_at_once(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    question = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
    answer = ANSWERS.get(question, "Nothing yet.")
    call = {"function": {"name": "final_answer", "arguments": {"answer": answer}}}
    yield chunk(tool_calls=[call])
    yield final(generated=12)


def test_chat_carries_turns_until_reset(isolated_env: Path) -> None:
    lines = ["What is the code?", "/energy", "/bogus", "What does it do?", "/reset", "Again?"]
    with StandInOllama(answers_at_once) as standin:
        outcome = CliRunner().invoke(
            app,
            ["--ollama-host", standin.host, "--model", MODEL, "chat", "--no-shell"],
            input="\n".join([*lines, "/exit"]) + "\n",
        )
    assert outcome.exit_code == 0, outcome.output
    # The first request of each question (the loop may ask again, e.g. for evidence): what
    # the model was shown of the conversation before the question itself.
    firsts = [chat["messages"] for chat in standin.chats if chat["messages"][-1]["role"] == "user"]
    seen = [[(m["role"], m["content"]) for m in messages[1:]] for messages in firsts]
    assert seen == [
        [("user", "What is the code?")],
        [("user", "What is the code?"), ("assistant", "The code is TW-8841."),
         ("user", "What does it do?")],
        [("user", "Again?")],
    ]  # fmt: skip
    output = outcome.output
    assert "commands: /reset /sources /energy /escalate /exit" in output
    assert "history cleared" in output
    assert output.count("energy 0.") == 4  # after each of the three answers, and for /energy


def test_triple_quotes_read_a_question_of_several_lines() -> None:
    def reader(lines: list[str]):  # type: ignore[no-untyped-def]
        given = iter(lines)
        return lambda prompt: next(given)

    assert read_question(reader(["  plain  "])) == "plain"
    assert read_question(reader(['"""one line"""'])) == "one line"
    assert read_question(reader(['"""first', "  second", 'third"""'])) == "first\n  second\nthird"
    assert read_question(reader(['"""', "body", '"""'])) == "body"


class FakeHost:
    """A scripted terminal and agent: lines in, what was said and asked recorded."""

    def __init__(self, lines: list[str | type[BaseException]], stop_on: str = "") -> None:
        self.lines = iter(lines)
        self.said: list[str] = []
        self.asked: list[tuple[str, int]] = []
        self.models: list[str] = []
        self.stop_on = stop_on

    def read_line(self, prompt: str) -> str:
        line = next(self.lines, EOFError)
        if isinstance(line, type):
            raise line()
        return line

    def say(self, text: str) -> None:
        self.said.append(text)

    larger_models = 0  # how many models /escalate can still go up to

    def answer(self, question: str, history: list[Message], escalate: bool = False) -> Result:
        self.asked.append((question + (" (escalated)" if escalate else ""), len(history)))
        if escalate:
            self.larger_models -= 1
        if question == self.stop_on:
            raise KeyboardInterrupt  # Ctrl-C while the answer is written
        return result(f"answer to {question}")

    def cannot_escalate(self) -> str:
        return "" if self.larger_models > 0 else "no larger model to ask"

    def show_sources(self) -> None:
        self.said.append("<sources>")

    def show_energy(self, result: Result) -> None:
        self.said.append(f"<energy of {result.answer}>")

    def switch_model(self, name: str) -> None:
        if name == "missing:1b":
            raise ModelNotFoundError("not on the server: missing:1b", hint="pull it")
        self.models.append(name)


def test_ctrl_c_stops_an_answer_and_the_chat_goes_on() -> None:
    host = FakeHost(["first", "slow one", KeyboardInterrupt, "/energy", "after"], "slow one")
    run_chat(host, Conversation(token_budget=1000))
    # the stopped question is not carried into the next one's history
    assert host.asked == [("first", 0), ("slow one", 2), ("after", 2)]
    assert host.said == [
        "stopped; the chat goes on",
        "(/exit or Ctrl-D leaves)",
        "<energy of answer to first>",
    ]


def test_ctrl_c_keeps_what_was_shown_of_the_reply() -> None:
    """The live view is erased when it closes; a reply stopped by Ctrl-C is printed as it stood,
    since no step will print it. A finished reply leaves nothing behind (its step prints it)."""
    from rich.console import Console

    from smallagent.trace import LiveReply

    def after_the_view(stop: bool) -> str:
        """What the terminal keeps once the live view is erased (after its last line-erase)."""
        console = Console(file=io.StringIO(), width=80, force_terminal=True)
        with contextlib.suppress(KeyboardInterrupt), LiveReply(console) as live:
            for piece in ("The service ", "code is\n", "TW-88"):
                live.add(piece)
            if stop:
                raise KeyboardInterrupt
        kept = console.file.getvalue().rsplit("\x1b[2K", 1)[1]  # type: ignore[attr-defined]
        return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", kept)

    assert after_the_view(stop=True) == "The service code is\nTW-88\n"
    assert after_the_view(stop=False) == ""


def test_help_model_and_multiline_in_the_loop() -> None:
    lines: list[str | type[BaseException]] = [
        "/help", "/model", "/model missing:1b", "/model qwen2.5:3b", '"""a', 'b"""', "/exit", "x",
    ]  # fmt: skip
    host = FakeHost(lines)
    run_chat(host, Conversation(token_budget=1000))
    assert host.said == [
        HELP,
        "usage: /model NAME",
        "error: not on the server: missing:1b (pull it)",
        "model: qwen2.5:3b",
    ]
    assert host.models == ["qwen2.5:3b"]
    assert host.asked == [("a\nb", 0)]  # and nothing after /exit


def test_escalate_asks_the_last_question_again_in_place_of_its_answer() -> None:
    host = FakeHost(["/escalate", "first", "second", "/escalate", "/escalate"])
    host.larger_models = 1
    conversation = Conversation(token_budget=1000)
    run_chat(host, conversation)
    assert host.said == ["nothing to escalate yet: ask a question first", "no larger model to ask"]
    # the escalated question sees the history before its first asking, not its own answer
    assert host.asked == [("first", 0), ("second", 2), ("second (escalated)", 2)]
    contents = [message.content for message in conversation.history]
    assert contents == ["first", "answer to first", "second", "answer to second"]  # once, not twice
