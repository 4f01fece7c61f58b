"""Ending a request that will not end: the cap, the loop detector, the clock, Ctrl-C.

Against a stand-in server on loopback that streams forever (tests/standin_ollama.py); the real
server's side of it is in tests/integration/test_generation_real.py.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from smallagent.cli import app
from smallagent.errors import (
    GenerationTimeoutError,
    OllamaUnavailableError,
    RequestInterrupted,
)
from smallagent.ollama_model import OllamaModel
from smallagent.types import Message
from tests.standin_ollama import (
    MODEL,
    PULL_FAILURE,
    StandInOllama,
    chunk,
    distinct_words,
    final,
    honours_the_cap,
    looping,
    slow_words,
    stalled,
)

runner = CliRunner()
QUESTION = [Message("user", "What is the answer?")]


def ask(host: str, *options: str) -> tuple[int, list[dict[str, Any]], str]:
    """`smallagent ask --json`: the exit code, the JSON events on stdout, and stderr."""
    result = runner.invoke(
        app, ["--ollama-host", host, "--model", MODEL, "ask", "--json", "--no-shell", *options,
              "What is the answer?"],
    )  # fmt: skip
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, events, result.stderr


def gone_soon_after(standin: StandInOllama, since: float, within_s: float = 2.0) -> bool:
    """The stand-in saw the client close the connection (so a real server stops generating)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if any(moment >= since for moment in standin.disconnects):
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------- the model, request by request


def test_a_server_that_ignores_num_predict_is_cut_at_the_cap() -> None:
    with StandInOllama(distinct_words) as standin:
        model = OllamaModel(standin.host, MODEL, caps={"plan": 40, "tool": 30, "answer": 20})
        started = time.monotonic()
        reply = model.chat(QUESTION, purpose="tool")
        assert standin.chats[0]["options"]["num_predict"] == 30
        assert reply.done_reason == "length"
        assert reply.detail == "cut at the 30-token cap for a tool step"
        assert reply.message.content.startswith("w1 w2 w3 ")
        assert reply.usage.estimated and reply.usage.generated_tokens == 32
        assert gone_soon_after(standin, started)


def test_ollamas_own_stop_at_the_cap_keeps_its_counters() -> None:
    with StandInOllama(honours_the_cap) as standin:
        model = OllamaModel(standin.host, MODEL, caps={"plan": 25, "tool": 30, "answer": 20})
        reply = model.chat(QUESTION, purpose="plan")
        assert standin.chats[0]["options"]["num_predict"] == 25
        assert (reply.done_reason, reply.detail) == (
            "length",
            "cut at the 25-token cap for a plan step",
        )
        assert not reply.usage.estimated
        assert (reply.usage.generated_tokens, reply.usage.eval_s) == (25, 1.0)


def test_a_loop_is_stopped_long_before_the_cap() -> None:
    with StandInOllama(looping) as standin:
        model = OllamaModel(standin.host, MODEL, caps={"plan": 4000})
        started = time.monotonic()
        reply = model.chat(QUESTION, purpose="plan")
        assert reply.done_reason == "repetition"
        assert reply.detail.endswith("it kept repeating 'Let me look that up . Let me'")
        assert reply.usage.generated_tokens < 40
        assert reply.message.content.startswith("Let me look that up. Let me look that up.")
        assert gone_soon_after(standin, started)


def test_a_request_past_its_time_is_still_generating_not_unreachable() -> None:
    with StandInOllama(slow_words) as standin:
        model = OllamaModel(standin.host, MODEL, timeout_s=0.5, caps={"plan": 100_000})
        started = time.monotonic()
        with pytest.raises(GenerationTimeoutError) as raised:
            model.chat(QUESTION, purpose="plan")
        error = raised.value
        assert error.message.startswith("the model was still generating after 0.5")
        assert " s / " in error.message and "tokens" in error.message
        assert "cannot reach" not in error.message
        assert error.exit_code == 124
        assert error.spent is not None and error.spent.estimated
        assert error.spent.generated_tokens >= 5
        assert error.spent.eval_s > 0.2
        assert time.monotonic() - started < 2.0
        assert gone_soon_after(standin, started)


def test_a_server_that_sends_nothing_times_out_as_still_generating() -> None:
    with StandInOllama(stalled) as standin:
        model = OllamaModel(standin.host, MODEL, timeout_s=0.5)
        with pytest.raises(GenerationTimeoutError, match=r"after 0\.\d+ s / 0 tokens \(no token"):
            model.chat(QUESTION)


def test_ctrl_c_closes_the_stream_at_once_and_keeps_what_was_spent() -> None:
    pieces: list[str] = []

    def press_ctrl_c_on_the_fifth(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 5:
            raise KeyboardInterrupt

    with StandInOllama(slow_words) as standin:
        model = OllamaModel(standin.host, MODEL)
        model.on_text = press_ctrl_c_on_the_fifth
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt) as raised:
            model.chat(QUESTION)
        assert isinstance(raised.value, RequestInterrupted)
        assert raised.value.spent.generated_tokens == 5 and raised.value.spent.estimated
        assert pieces == ["w1 ", "w2 ", "w3 ", "w4 ", "w5 "]
        assert gone_soon_after(standin, started)


def test_tool_calls_and_counters_arrive_in_pieces() -> None:
    def two_calls(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        yield chunk("Looking. ")
        yield chunk(tool_calls=[{"function": {"name": "search", "arguments": {"query": "a"}}}])
        yield chunk(tool_calls=[{"function": {"name": "search", "arguments": {"query": "b"}}}])
        yield final("stop", prompt_tokens=321, generated=12)

    seen: list[str] = []
    with StandInOllama(two_calls) as standin:
        model = OllamaModel(standin.host, MODEL)
        model.on_text = seen.append
        reply = model.chat(QUESTION)
    assert [call.arguments["query"] for call in reply.message.tool_calls] == ["a", "b"]
    assert (reply.message.content, seen) == ("Looking. ", ["Looking. "])
    assert (reply.done_reason, reply.usage.prompt_tokens, reply.usage.generated_tokens) == (
        "stop",
        321,
        12,
    )
    assert not reply.usage.estimated


def test_a_reply_that_ends_without_its_final_chunk_is_a_server_error() -> None:
    def hang_up(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        yield chunk("half a reply, then the stream ends")

    with StandInOllama(hang_up) as standin, pytest.raises(OllamaUnavailableError) as raised:
        OllamaModel(standin.host, MODEL).chat(QUESTION)
    assert raised.value.message.endswith("ended the reply without its final chunk")
    assert raised.value.spent is not None and raised.value.spent.generated_tokens == 1


def test_a_stream_ollama_ended_for_repeating_itself_is_a_looping_reply_not_an_error() -> None:
    """Ollama's loop guard ends the stream after 31 chunks alike (spaces aside), silently:
    read as a reply that looped, as smallagent's own detector would have cut it."""

    def spaces(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        yield chunk('{"answer": "It is')
        for _ in range(31):
            yield chunk("\n ")

    with StandInOllama(spaces) as standin:
        reply = OllamaModel(standin.host, MODEL).chat(QUESTION)
    assert reply.done_reason == "repetition"
    assert reply.detail == "after 32 tokens Ollama stopped it: the same token 31 times in a row"
    assert reply.message.content.startswith('{"answer": "It is')
    assert reply.usage.estimated and reply.usage.generated_tokens == 32

    def fewer(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        yield chunk('{"answer": "It is')
        for _ in range(30):  # one short of the guard: a server that hung up
            yield chunk("\n ")

    with StandInOllama(fewer) as standin, pytest.raises(OllamaUnavailableError):
        OllamaModel(standin.host, MODEL).chat(QUESTION)


def test_a_refused_connection_and_an_unknown_host_say_cannot_reach(
    ollama_dev: ModuleType,
) -> None:
    refused = f"http://127.0.0.1:{ollama_dev.free_port()}"
    with pytest.raises(OllamaUnavailableError) as raised:
        OllamaModel(refused, MODEL).chat(QUESTION)
    assert raised.value.message == f"cannot reach Ollama at {refused} (connection refused)"
    assert raised.value.hint.startswith("start it with `ollama serve`")
    unknown = "http://no-such-host.invalid:11434"
    with pytest.raises(OllamaUnavailableError) as raised:
        OllamaModel(unknown, MODEL).chat(QUESTION)
    assert (
        raised.value.message == f"cannot reach Ollama at {unknown} (cannot resolve the host name)"
    )
    assert raised.value.hint.startswith("start it with `ollama serve`")


# ---------------------------------------------------------------- the CLI: message, exit, account


def test_ask_cut_at_the_cap_every_step_ends_incomplete_with_usage(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALLAGENT_NUM_PREDICT_PLAN", "40")
    monkeypatch.setenv("SMALLAGENT_NUM_PREDICT_TOOL", "30")
    with StandInOllama(distinct_words) as standin:
        code, events, stderr = ask(standin.host)
        caps = [chat["options"]["num_predict"] for chat in standin.chats]
    assert code == 0, stderr
    steps, result = events[:-1], events[-1]
    assert caps == [40, 30, 30]
    assert [(s["purpose"], s["kind"], s["done_reason"]) for s in steps] == [
        ("plan", "error", "length"),
        ("tool", "error", "length"),
        ("tool", "error", "length"),
    ]
    assert steps[0]["observation"] == (
        "Your reply was stopped early: cut at the 40-token cap for a plan step. Reply again, "
        "briefly: only one JSON tool call, or the answer itself in one or two sentences."
    )
    assert result["type"] == "result" and result["stop_reason"] == "max_failures"
    assert not result["complete"]
    assert result["usage"]["generated_tokens"] == 42 + 32 + 32
    assert result["usage"]["estimated"] is True
    assert result["energy"]["total_wh"] > 0
    assert "partly estimated from elapsed time" in result["energy"]["model_source"]


def test_ask_stuck_in_a_loop_is_stopped_and_told_so(isolated_env: Path) -> None:
    with StandInOllama(looping) as standin:
        code, events, stderr = ask(standin.host)
    assert code == 0, stderr
    steps, result = events[:-1], events[-1]
    assert [step["done_reason"] for step in steps] == ["repetition"] * 3
    assert "it kept repeating 'Let me look that up" in steps[0]["observation"]
    assert result["stop_reason"] == "max_failures"
    assert 0 < result["usage"]["generated_tokens"] < 3 * 40


def test_ask_past_the_request_timeout_is_an_error_event_with_usage(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALLAGENT_REQUEST_TIMEOUT", "1")
    trace = isolated_env / "trace.jsonl"
    with StandInOllama(slow_words) as standin:
        code, events, stderr = ask(standin.host, "--trace", str(trace))
    assert code == 124
    assert "error: the model was still generating after 1" in stderr
    assert "cannot reach" not in stderr
    assert "spent before it stopped 0 finished steps" in stderr
    assert len(events) == 1 and events[0]["type"] == "error"
    error = events[0]
    assert error["message"].startswith("the model was still generating after 1")
    assert error["exit_code"] == 124 and error["steps"] == 0
    assert error["usage"]["generated_tokens"] > 5 and error["usage"]["estimated"]
    assert error["energy"]["total_wh"] > 0 and error["model"] == MODEL
    assert [json.loads(line) for line in trace.read_text().splitlines()] == events


def test_ask_max_seconds_stops_the_question_with_a_partial_answer(isolated_env: Path) -> None:
    with StandInOllama(slow_words) as standin:
        started = time.monotonic()
        code, events, stderr = ask(standin.host, "--max-seconds", "1")
        took = time.monotonic() - started
    assert code == 0, stderr
    steps, result = events[:-1], events[-1]
    assert took < 5
    assert [step["done_reason"] for step in steps] == ["time_limit"]
    assert "the question's time ran out: the model was still generating" in steps[0]["observation"]
    assert (result["stop_reason"], result["complete"]) == ("max_seconds", False)
    assert result["usage"]["generated_tokens"] > 5


def test_ask_with_server_refusing_still_gets_the_hint_and_an_error_event(
    isolated_env: Path, ollama_dev: ModuleType
) -> None:
    code, events, stderr = ask(f"127.0.0.1:{ollama_dev.free_port()}")
    assert code == 1
    assert "error: cannot reach Ollama" in stderr and "(connection refused)" in stderr
    assert "hint: start it with `ollama serve`" in stderr
    assert [event["type"] for event in events] == ["error"]
    assert events[0]["usage"]["generated_tokens"] == 0 and events[0]["energy"]["total_wh"] == 0


def test_max_seconds_must_be_positive(isolated_env: Path) -> None:
    result = runner.invoke(app, ["ask", "--max-seconds", "0", "hi"])
    assert result.exit_code == 2  # bad input (issue 13): 2, not 1
    assert "--max-seconds must be positive" in result.output


def test_a_bad_cap_setting_is_a_config_error(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALLAGENT_NUM_PREDICT_TOOL", "5")
    result = runner.invoke(app, ["ask", "hi"])
    assert result.exit_code == 2
    assert "num_predict_tool must be a whole number of tokens, at least 16" in result.output


def test_run_records_a_timed_out_task_with_its_cost_and_goes_on(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALLAGENT_REQUEST_TIMEOUT", "1")
    tasks = isolated_env / "tasks.yaml"
    tasks.write_text(
        "defaults: {tools: [], max_steps: 2}\n"
        "tasks:\n  - {id: first, prompt: Say OK., checks: {equals: OK}}\n"
        "  - {id: second, prompt: Say OK again., checks: {equals: OK}}\n"
    )
    results = isolated_env / "results.jsonl"
    with StandInOllama(slow_words) as standin:
        outcome = runner.invoke(
            app, ["--ollama-host", standin.host, "--model", MODEL, "run", str(tasks),
                  "--results", str(results), "--report", str(isolated_env / "report.json")],
        )  # fmt: skip
    assert outcome.exit_code == 1, outcome.output
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(row["task_id"], row["status"]) for row in rows] == [
        ("first", "error"),
        ("second", "error"),
    ]
    for row in rows:
        assert row["error"].startswith("the model was still generating after 1")
        assert row["generated_tokens"] > 5 and row["wh"] > 0
        assert row["energy_source"].endswith(
            "(partly estimated from elapsed time: a reply was cut short)"
        )
    report = json.loads((isolated_env / "report.json").read_text())
    assert report["summary"]["wh"] == pytest.approx(sum(row["wh"] for row in rows))
    assert report["summary"]["generated_tokens"] == sum(row["generated_tokens"] for row in rows)


def test_pull_from_a_server_that_is_not_there_is_not_blamed_on_the_registry(
    isolated_env: Path, ollama_dev: ModuleType
) -> None:
    for host in (f"127.0.0.1:{ollama_dev.free_port()}", "no-such-host.invalid:11434"):
        result = runner.invoke(app, ["--ollama-host", host, "models", "pull", "qwen2.5:3b"])
        assert result.exit_code == 1
        assert "error: cannot reach Ollama" in result.output
        assert "could not pull" not in result.output


def test_a_pull_the_server_could_not_do_is_put_down_to_the_registry(isolated_env: Path) -> None:
    with StandInOllama(honours_the_cap) as standin:
        result = runner.invoke(app, ["--ollama-host", standin.host, "models", "pull", "qwen2.5:3b"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: could not pull qwen2.5:3b: Ollama at {standin.host} answered 500: "
        f"pull model manifest: {PULL_FAILURE}"
    )
    assert "hint: the Ollama registry may be unreachable" in result.stderr


def reads_a_new_line_each_step(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
    """A model that never answers: each step reads another line, 0.5 s prompt + 1 s generation."""
    step = sum(message["role"] == "assistant" for message in request["messages"]) + 1
    call = {
        "function": {"name": "read_file", "arguments": {"path": "notes.md", "start_line": step}}
    }
    yield chunk(tool_calls=[call])
    yield final(generated=20)


@pytest.mark.parametrize(
    ("max_wh", "steps", "stop"), [("2.5", 2, "budget"), ("100", 4, "max_steps")]
)
def test_max_wh_stops_the_question_once_its_energy_reaches_the_budget(
    isolated_env: Path, max_wh: str, steps: int, stop: str
) -> None:
    # 3600 W x 1.5 s of Ollama's reported compute = 1.5 Wh a step: over 2.5 Wh after step 2.
    (isolated_env / "notes.md").write_text("\n".join(f"line {n}" for n in range(1, 9)))
    with StandInOllama(reads_a_new_line_each_step) as standin:
        code, events, _ = ask(
            standin.host, "--workdir", str(isolated_env), "--max-steps", "4",
            "--device-watts", "3600", "--max-wh", max_wh,
        )  # fmt: skip
    assert code == 0
    result = events[-1]
    assert (result["type"], result["steps"], result["stop_reason"]) == ("result", steps, stop)
    assert result["complete"] is False


def test_run_records_a_task_whose_reply_was_cut_off_and_goes_on(isolated_env: Path) -> None:
    """A reply the server ended without its final chunk fails that task, not the task file: the
    server still answers, so the next task runs (only an unreachable server stops the run)."""
    requests: list[int] = []

    def hang_up_once(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        requests.append(1)
        if len(requests) == 1:
            yield chunk("half a reply, then the stream ends")
            return
        yield chunk('{"tool": "final_answer", "input": "It is 42."}')
        yield final("stop", prompt_tokens=60, generated=12)

    tasks = isolated_env / "tasks.yaml"
    tasks.write_text(
        "defaults:\n  tools: []\ntasks:\n"
        "  - id: first\n    prompt: What is the answer?\n    checks:\n      contains: ['42']\n"
        "  - id: second\n    prompt: What is the answer?\n    checks:\n      contains: ['42']\n",
        encoding="utf-8",
    )
    results = isolated_env / "results.jsonl"
    with StandInOllama(hang_up_once) as standin:
        outcome = runner.invoke(
            app, ["--ollama-host", standin.host, "--model", MODEL, "run", str(tasks),
                  "--results", str(results)],
        )  # fmt: skip
    assert outcome.exit_code == 1, outcome.output
    assert "Traceback" not in outcome.output
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    tasks_ran = [(row["task_id"], row["status"]) for row in rows if row.get("type") != "run"]
    assert tasks_ran == [("first", "error"), ("second", "pass")]
    assert "without its final chunk" in rows[-2]["error"]


def test_standin_keeps_a_client_reset_out_of_the_command_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A client that resets a kept-alive connection must not print a server traceback: under
    CliRunner the server thread's stderr is the command's output (a CI run failed on that)."""
    with StandInOllama(honours_the_cap) as standin:
        port = int(standin.host.rsplit(":", 1)[1])
        for _ in range(5):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n")
            client.recv(4096)
            client.sendall(b"GET /api/ver")  # half a request, then a reset (linger 0)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        time.sleep(0.2)
    assert "Traceback" not in capsys.readouterr().err
