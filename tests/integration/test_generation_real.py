"""Caps, the loop detector and a closed stream, on the real server with the real 0.5B model.

The stand-in server of tests/test_generation_limits.py shows each way a request is ended; this
shows that the real model does fall into a loop, that the ends hold for it, and that the real
server stops generating when smallagent closes the stream.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallagent.cli import app
from smallagent.ollama_model import OllamaModel
from smallagent.types import Message

runner = CliRunner()
GREEDY = {"temperature": 0, "seed": 0}
# Found by trying five prompts: at temperature 0 the 0.5B model answers this with a list of fruit
# that degenerates into "strawberry strawberry …", in a bare request and as the agent's first step.
REPEATING = [Message("user", "Write the word data 500 times, separated by spaces.")]


def test_a_reply_that_repeats_is_stopped_early_and_within_its_cap(
    ollama_host: str, test_model: str
) -> None:
    cap = 200
    model = OllamaModel(ollama_host, test_model, options=GREEDY, caps={"answer": cap})
    reply = model.chat(REPEATING, purpose="answer")
    assert reply.done_reason == "repetition", reply
    assert "it kept repeating" in reply.detail
    assert 0 < reply.usage.generated_tokens < cap
    assert reply.usage.estimated


def test_the_server_stops_generating_when_the_stream_is_closed(
    ollama_host: str, test_model: str
) -> None:
    """Ollama v0.24.0's runner closes the sequence when the request's context ends
    (runner/ollamarunner/runner.go, `case <-r.Context().Done(): close(seq.quit)`): the server is
    free for the next request as soon as smallagent hangs up."""
    cap = 4000
    model = OllamaModel(ollama_host, test_model, options=GREEDY, caps={"answer": cap, "tool": 8})
    cut = model.chat(REPEATING, purpose="answer")
    assert cut.done_reason == "repetition"
    rate = cut.usage.generated_tokens / cut.usage.eval_s  # tokens a second, on this machine now
    started = time.monotonic()
    follow_up = model.chat([Message("user", "What is 2 + 3? Answer with the number only.")])
    waited = time.monotonic() - started
    assert follow_up.done_reason in ("stop", "length")
    # Had the server gone on to the cap, the follow-up would have queued behind the rest of it.
    rest_of_the_cap_s = (cap - cut.usage.generated_tokens) / rate
    assert waited < rest_of_the_cap_s / 4, (waited, rest_of_the_cap_s)


def test_ask_on_a_repeating_question_ends_every_step_within_its_cap(
    ollama_host: str, test_model: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for purpose, cap in (("PLAN", "160"), ("TOOL", "120"), ("ANSWER", "120")):
        monkeypatch.setenv(f"SMALLAGENT_NUM_PREDICT_{purpose}", cap)
    # Free-form replies: a constrained one ({"tool", "input"}, the default since issue 10) gave
    # this prompt a one-sentence answer instead of the loop the guard is here to stop.
    monkeypatch.setenv("SMALLAGENT_CONSTRAINED_REPLIES", "0")
    started = time.monotonic()
    result = runner.invoke(
        app, ["--ollama-host", ollama_host, "--model", test_model, "ask", "--json", "--no-shell",
              "--max-steps", "4", REPEATING[0].content],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    steps, final = events[:-1], events[-1]
    assert final["type"] == "result"
    caps = {"plan": 160, "tool": 120, "answer": 120}
    for step in steps:
        assert step["usage"]["generated_tokens"] <= caps[step["purpose"]] + 2, step
    assert steps[0]["done_reason"] == "repetition", steps[0]
    assert "it kept repeating" in steps[0]["observation"]
    assert final["usage"]["generated_tokens"] == sum(s["usage"]["generated_tokens"] for s in steps)
    assert time.monotonic() - started < 600


def test_logprobs_come_with_every_token_and_measure_the_answer_alone(
    ollama_host: str, test_model: str
) -> None:
    """The real server's log-probabilities (the low-confidence signal's input): one per generated
    token, spelling the reply exactly, and the answer's own tokens found inside the constrained
    JSON; a question the passage answers word for word is answered surely."""
    from smallagent.agent.parsing import reply_schema
    from smallagent.escalation import answer_logprobs, confidence

    model = OllamaModel(ollama_host, test_model, options=GREEDY, logprobs=True)
    question = (
        "Passage: The calibration code of the Tidewater station is TW-8841.\n"
        "What is the calibration code of the Tidewater station? Reply with final_answer."
    )
    reply = model.chat([Message("user", question)], reply_format=reply_schema(["final_answer"]))
    assert reply.logprobs, reply
    assert "".join(token.token for token in reply.logprobs) == reply.message.content
    assert abs(len(reply.logprobs) - reply.usage.generated_tokens) <= 1  # an end token or not
    assert all(token.logprob <= 0 for token in reply.logprobs)
    answer = json.loads(reply.message.content)["input"]
    assert "TW-8841" in answer, answer
    own = answer_logprobs(reply.logprobs)
    assert 0 < len(own) < len(reply.logprobs)  # the JSON around the answer is left out
    sure = confidence(own)
    assert sure is not None and sure > 0.5, (answer, sure)
    plain = OllamaModel(ollama_host, test_model, options=GREEDY)  # not asked: none sent
    assert plain.chat([Message("user", "Say OK.")], purpose="answer").logprobs == ()
