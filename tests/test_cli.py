from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from smallagent import __version__
from smallagent.cli import app

runner = CliRunner()


def closed_port_host(ollama_dev: ModuleType) -> str:
    return f"127.0.0.1:{ollama_dev.free_port()}"


def test_version(isolated_env: Path) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"smallagent {__version__}"


def test_help_lists_the_commands(isolated_env: Path) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    panel = result.output[result.output.index("Commands") :]
    listed = re.findall(r"^│ (\w+) ", panel, re.MULTILINE)  # a row's first word: its command
    commands = ["doctor", "ask", "chat", "run", "ingest", "search", "models", "index", "config"]
    assert listed == [*commands, "logs"]


def modules_after_help() -> set[str]:
    """The modules a fresh interpreter holds once `smallagent --help` has run."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from smallagent.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(' '.join(sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(loaded.split())


def test_help_does_not_import_heavy_libraries() -> None:
    heavy = {"torch", "faiss", "sentence_transformers", "ollama", "httpx", "pypdf", "pypdfium2"}
    assert heavy & modules_after_help() == set()


def test_help_does_not_import_the_commands_modules() -> None:
    """Together they would add more than half again to every start (docs/benchmarks.md,
    "Start-up cost of imports"); each command imports its own when it runs."""
    ours = sorted(name for name in modules_after_help() if name.startswith("smallagent."))
    light = ["chat", "cli", "config", "embeddings", "energy", "errors", "paths", "render", "types"]
    assert ours == [f"smallagent.{name}" for name in light]


def test_doctor_with_server_down_prints_the_fix_and_exits_1(
    isolated_env: Path, ollama_dev: ModuleType
) -> None:
    host = closed_port_host(ollama_dev)
    result = runner.invoke(app, ["--ollama-host", host, "doctor", "--skip-embedder"])
    assert result.exit_code == 1
    assert f"cannot reach Ollama at http://{host}" in result.output
    assert "fix:" in result.output
    assert "Traceback" not in result.output
    assert "problem(s) to fix" in result.output


def test_ask_with_server_down_is_one_clean_error(
    isolated_env: Path, ollama_dev: ModuleType
) -> None:
    result = runner.invoke(app, ["--ollama-host", closed_port_host(ollama_dev), "ask", "hi"])
    assert result.exit_code == 1
    assert "error: cannot reach Ollama" in result.output
    assert "hint: start it with `ollama serve`" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_empty_question_is_refused(isolated_env: Path) -> None:
    result = runner.invoke(app, ["ask", "   "])
    assert result.exit_code == 2  # bad input (issue 13: was 1)
    assert "the question is empty" in result.output


def test_bad_config_exits_2_without_traceback(isolated_env: Path) -> None:
    (isolated_env / "smallagent.toml").write_text("modle = 1\n")
    result = runner.invoke(app, ["doctor", "--skip-embedder"])
    assert result.exit_code == 2
    assert "unknown setting(s) modle" in result.output
    assert "Traceback" not in result.output


def test_bad_host_flag_exits_2(isolated_env: Path) -> None:
    result = runner.invoke(app, ["--ollama-host", "ftp://nowhere", "models", "list"])
    assert result.exit_code == 2
    assert "cannot read Ollama host" in result.output


def test_console_script_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smallagent", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"smallagent {__version__}"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "5", "--seed", "-1"], "--seed must be a whole number >= 0"),
        (["--temperature", "5"], "--temperature must be a number from 0 to 2"),
        (["--max-steps", "0"], "--max-steps must be a whole number >= 1"),
        (["--num-ctx", "512"], "--num-ctx must be a whole number >= 1024"),
        (["--max-wh", "0"], "--max-wh must be positive"),
        (["--device-watts", "0"], "--device-watts must be positive"),
        (["--grid-intensity", "-1"], "--grid-intensity must not be negative"),
        (["--workdir", "nowhere"], "/nowhere is not a directory"),
        (["--no-shell", "--allow-shell"], "--no-shell and --allow-shell contradict each other"),
    ],
)
def test_ask_refuses_what_a_task_file_refuses(
    isolated_env: Path, flags: list[str], message: str
) -> None:
    # Checked by config.AskOptions before the server is asked anything: no server is running.
    result = runner.invoke(app, ["--ollama-host", "127.0.0.1:9", "ask", *flags, "hi"])
    assert result.exit_code == 2  # bad input (issue 13: was 1)
    first, *_ = result.output.splitlines()
    assert first.startswith("error: --") and first.endswith(message)


def test_a_reader_that_leaves_the_pipe_ends_the_run_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import smallagent.cli as cli

    def closed_pipe() -> None:
        raise BrokenPipeError(32, "Broken pipe")  # `smallagent ask ... | head` once head exits

    monkeypatch.setattr(cli, "app", closed_pipe)
    monkeypatch.setattr(cli.os, "dup2", lambda source, target: None)  # keep pytest's stdout
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 141
