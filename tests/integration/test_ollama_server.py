"""smallagent against the real Ollama server and the real Qwen2.5-Coder-0.5B model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from smallagent.cli import app
from smallagent.errors import ModelNotFoundError
from smallagent.ollama_model import OllamaModel, OllamaServer
from smallagent.types import Message, ToolSpec

runner = CliRunner()
GREEDY = {"temperature": 0, "seed": 0}

WEATHER_TOOL = ToolSpec(
    name="get_weather",
    description="Get the current weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "description": "city name"}},
        "required": ["city"],
    },
)


def test_server_runs_the_pinned_ollama(ollama_host: str, ollama_dev: ModuleType) -> None:
    version = OllamaServer(ollama_host).version()
    if shutil.which("ollama") is None and not os.environ.get("SMALLAGENT_OLLAMA_BIN"):
        assert version == ollama_dev.OLLAMA_VERSION
    else:
        assert version.count(".") == 2


def test_model_is_registered_with_tools_capability(
    ollama_host: str, test_model: str, ollama_dev: ModuleType
) -> None:
    assert test_model in OllamaServer(ollama_host).model_names()
    info = OllamaModel(ollama_host, test_model).info()
    assert info.supports_tools
    assert info.family == "qwen2"
    assert info.quantization == "Q4_K_M"
    assert info.context_length == 32768
    shown = subprocess.run(
        [ollama_dev.ensure_binary(), "show", test_model],
        env={**os.environ, "OLLAMA_HOST": ollama_host.removeprefix("http://")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    capabilities = shown.split("Capabilities", 1)[1].split("Parameters", 1)[0].split()
    assert "tools" in capabilities


def test_chat_with_a_tool_comes_back_as_a_parsed_tool_call(
    ollama_host: str, test_model: str
) -> None:
    model = OllamaModel(ollama_host, test_model, options=GREEDY)
    reply = model.chat(
        [
            Message(
                role="system",
                content="You have no knowledge of current weather; you must call get_weather. "
                'Format: <tool_call>{"name": "...", "arguments": {...}}</tool_call>',
            ),
            Message(role="user", content="What is the weather in Paris?"),
        ],
        tools=[WEATHER_TOOL],
    )
    assert len(reply.message.tool_calls) == 1
    call = reply.message.tool_calls[0]
    assert call.name == "get_weather"
    assert set(call.arguments) == {"city"}
    assert "Paris" in str(call.arguments["city"])


def test_chat_reply_carries_ollamas_usage_figures(ollama_host: str, test_model: str) -> None:
    model = OllamaModel(ollama_host, test_model, options=GREEDY)
    reply = model.chat(
        [Message(role="user", content="What is 2 + 3? Answer with the number only.")]
    )
    assert reply.message.content.strip() == "5"
    assert reply.model == test_model
    assert reply.done_reason == "stop"
    usage = reply.usage
    assert usage.prompt_tokens > 10
    assert 1 <= usage.generated_tokens <= 5
    assert usage.prompt_eval_s > 0
    assert usage.eval_s > 0
    assert usage.total_s >= usage.prompt_eval_s + usage.eval_s
    assert usage.generation_tokens_per_s > 1


def test_a_missing_model_is_a_clear_error(ollama_host: str) -> None:
    with pytest.raises(ModelNotFoundError, match="is not on the Ollama server"):
        OllamaModel(ollama_host, "no-such-model:1b").chat([Message(role="user", content="hi")])
    result = runner.invoke(
        app, ["--ollama-host", ollama_host, "--model", "no-such-model:1b", "ask", "hi"]
    )
    assert result.exit_code == 1
    assert "hint: run `smallagent models pull no-such-model:1b`" in result.output


def test_cli_doctor_is_ready_against_the_real_server(
    ollama_host: str, test_model: str, isolated_env: Path
) -> None:
    result = runner.invoke(
        app, ["--ollama-host", ollama_host, "--model", test_model, "doctor", "--skip-embedder"]
    )
    assert result.exit_code == 0, result.output
    assert "Ollama server: version" in result.output
    assert f"Model: {test_model} (" in result.output
    assert "Tool calling: native tool calls" in result.output
    assert "Ready." in result.output


def test_cli_doctor_flags_a_missing_model(ollama_host: str, isolated_env: Path) -> None:
    result = runner.invoke(
        app, ["--ollama-host", ollama_host, "--model", "absent:7b", "doctor", "--skip-embedder"]
    )
    assert result.exit_code == 1
    assert "absent:7b is not on the server" in result.output
    assert "fix: smallagent models pull absent:7b" in result.output


def test_cli_ask_prints_the_reply_and_usage(
    ollama_host: str, test_model: str, isolated_env: Path
) -> None:
    trace = isolated_env / "trace.jsonl"
    arguments = ["--ollama-host", ollama_host, "--model", test_model, "ask", "--no-shell"]
    question = "What is 2 + 3? Answer with the number only."
    result = runner.invoke(app, [*arguments, "--trace", str(trace), question])
    assert result.exit_code == 0, result.output
    assert "note: no search tool: no index" in result.output  # told, not silently dropped
    assert "(reported by Ollama)" in result.output
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    final = events[-1]
    assert final["type"] == "result"
    assert "5" in final["answer"]
    assert final["usage"]["prompt_tokens"] > 0 and final["usage"]["generated_tokens"] > 0

    quiet = runner.invoke(app, [*arguments, "--quiet", question])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout.strip() == final["answer"].strip()  # same seed, same answer, nothing else


def test_cli_models_list(ollama_host: str, test_model: str, isolated_env: Path) -> None:
    result = runner.invoke(app, ["--ollama-host", ollama_host, "models", "list"])
    assert result.exit_code == 0
    assert test_model in result.output.split()
