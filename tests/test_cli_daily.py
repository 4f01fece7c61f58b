"""Daily use through the CLI (issue 13): global options on either side of the command, exit codes,
--json output and errors, the history behind `logs`, and every command the README and the hints
print, run."""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from smallagent.cli import GLOBAL_OPTIONS_WITH_VALUE, app, hoist_global_options
from smallagent.config import history_path
from smallagent.history import HistoryLog
from tests.test_history import entry

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def only_json(result: Result) -> object:
    """stdout holds exactly one JSON document, and nothing else."""
    return json.loads(result.stdout)


# ------------------------------------------------------------------ options, exit codes, help


def test_global_options_mean_the_same_before_and_after_the_command(isolated_env: Path) -> None:
    place = str(isolated_env / "idx")
    before = runner.invoke(
        app, ["--index", "notes", "-m", "qwen:1b", "--index-dir", place, "config", "show", "--json"]
    )
    after = runner.invoke(
        app,
        ["config", "show", "--json", "--index", "notes", "--model=qwen:1b", "--index-dir", place],
    )
    assert before.exit_code == after.exit_code == 0, before.output
    assert only_json(before) == only_json(after)
    rows = {row["name"]: row for row in only_json(after)["settings"]}  # type: ignore[index]
    assert rows["index"] == {"name": "index", "value": "notes", "source": "--index"}
    assert rows["model"]["source"] == "--model" and rows["model"]["value"] == "qwen:1b"
    assert rows["index_dir"]["value"] == place


def test_hoisting_leaves_what_follows_a_double_dash() -> None:
    assert hoist_global_options(["ask", "-q", "--", "--model"]) == ["ask", "-q", "--", "--model"]
    assert hoist_global_options(["logs", "--no-log", "-n", "3"]) == ["--no-log", "logs", "-n", "3"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--index", "../etc", "search", "x"],
        ["search", "x", "--index", "../etc"],
        ["search", "x", "-k", "0"],
        ["search", "  "],
        ["ask", ""],
        ["logs", "-n", "0"],
        ["ask", "-m", "a,b", "hi"],
        ["search", "x", "--no-such-flag"],
    ],
)
def test_bad_input_exits_2_in_one_line(isolated_env: Path, argv: list[str]) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_help_lists_exit_codes_version_and_completion(isolated_env: Path) -> None:
    from smallagent import __version__

    long, short = runner.invoke(app, ["--help"]), runner.invoke(app, ["-h"])
    assert long.exit_code == short.exit_code == 0
    assert long.output == short.output
    assert f"smallagent {__version__}" in long.output
    flat = " ".join(long.output.split())
    assert "Exit codes: 0 done · 1 a failure while working" in flat
    assert "2 bad input or usage" in flat and "130 interrupted (Ctrl-C)" in flat
    assert "--install-completion" in flat and "--version" in flat
    assert runner.invoke(app, ["ask", "-h"]).exit_code == 0


def test_dash_h_is_help_for_every_command(isolated_env: Path) -> None:
    commands = every_command()
    assert len(commands) > 20
    for words in commands:
        short, long = (
            runner.invoke(app, [*words.split(), "-h"]),
            runner.invoke(app, [*words.split(), "--help"]),
        )
        assert short.exit_code == long.exit_code == 0, words
        assert short.output == long.output, words


def test_shell_completion_completes_commands_and_options(isolated_env: Path) -> None:
    """What `--install-completion` installs (and `--show-completion` prints) calls the command
    back with these variables; its answers are the completions."""
    import os
    import subprocess
    import sys

    def complete(words: str) -> list[str]:
        command = Path(sys.executable).with_name("smallagent")
        variables = {"_SMALLAGENT_COMPLETE": "complete_bash", "COMP_WORDS": words,
                     "COMP_CWORD": str(len(words.split()) - 1)}  # fmt: skip
        done = subprocess.run([command], env={**os.environ, **variables}, capture_output=True,
                              text=True, timeout=60, check=True)  # fmt: skip
        return done.stdout.split()

    assert complete("smallagent ind") == ["index"]
    assert complete("smallagent index i") == ["info"]
    assert complete("smallagent --index") == ["--index", "--index-dir"]


# ------------------------------------------------------------------ --json everywhere


def test_json_errors_are_one_object_on_stdout(isolated_env: Path, ollama_dev: ModuleType) -> None:
    host = f"127.0.0.1:{ollama_dev.free_port()}"
    for argv, code in [
        (["search", "x", "-k", "0", "--json"], 2),
        (["--index", "../x", "index", "list", "--json"], 2),
        (["--ollama-host", host, "models", "list", "--json"], 1),
        (["--ollama-host", host, "models", "show", "qwen2.5:3b", "--json"], 1),
        (["logs", "--json", "--bogus"], 2),
    ]:
        result = runner.invoke(app, argv)
        assert result.exit_code == code, (argv, result.output)
        error = only_json(result)
        assert isinstance(error, dict) and set(error) == {"error", "hint", "exit_code"}
        assert error["exit_code"] == code


def every_command() -> dict[str, Any]:
    """Each command and group of the app by its words (`models list`; "" is the app itself)."""
    found: dict[str, Any] = {}

    def walk(command: Any, words: list[str]) -> None:
        found[" ".join(words)] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


def commands_with_json() -> set[str]:
    """Every command (or group, like `logs`) that takes --json."""
    return {
        words
        for words, command in every_command().items()
        if any("--json" in getattr(param, "opts", ()) for param in command.params)
    }


def answers_the_code(request: dict[str, object]) -> Iterator[dict[str, object] | float]:
    """A stand-in model that answers at once, whatever it is asked."""
    from tests.standin_ollama import chunk, final

    yield chunk(json.dumps({"tool": "final_answer", "input": "The code is TW-8841."}))
    yield final(prompt_tokens=80, generated=9)


def task_file(folder: Path) -> Path:
    """A task file of one task, `Which code`, that answers_the_code passes."""
    tasks = folder / "tasks.yaml"
    tasks.write_text(
        "defaults: {tools: []}\ntasks:\n"
        "  - {id: code, prompt: Which code, checks: {contains: [TW-8841]}}\n"
    )
    return tasks


def test_every_json_output_is_json_and_nothing_else(tiny_index: Path) -> None:
    """Each command's --json, run for real (against the stand-in server where it needs one):
    stdout parses as one JSON document, or as JSON lines for the streams (ask, run)."""
    from tests.standin_ollama import MODEL, StandInOllama

    record("What unlocks calibration?", MODEL, 1_800_000_000.0)
    tasks = task_file(tiny_index.parent)

    runs = {
        "doctor": ["doctor", "--skip-embedder"],
        "ask": ["ask", "--no-shell", "What is the service code?"],
        "run": ["run", str(tasks)],
        "models list": ["models", "list"],
        "models show": ["models", "show", MODEL],
        "ingest": ["ingest", str(tiny_index)],
        "search": ["search", "service code"],
        "index list": ["index", "list"],
        "index info": ["index", "info", "tiny"],
        "config show": ["config", "show"],
        "logs": ["logs"],
        "logs energy": ["logs", "energy"],
    }
    assert set(runs) == commands_with_json()  # a new --json command needs a line here
    streams = {"ask", "run"}
    with StandInOllama(answers_the_code) as standin:
        for name, argv in runs.items():
            global_options = ["--ollama-host", standin.host, "--model", MODEL, "--index", "tiny"]
            result = runner.invoke(app, [*global_options, *argv, "--json"])
            assert result.exit_code in {0, 1}, (name, result.output)
            if name in streams:
                lines = result.stdout.splitlines()
                assert lines and all(isinstance(json.loads(line), dict) for line in lines), name
            else:
                assert isinstance(only_json(result), dict | list), name


def test_doctor_json_with_the_server_down(isolated_env: Path, ollama_dev: ModuleType) -> None:
    host = f"127.0.0.1:{ollama_dev.free_port()}"
    result = runner.invoke(app, ["--ollama-host", host, "doctor", "--skip-embedder", "--json"])
    assert result.exit_code == 1
    report = only_json(result)
    assert isinstance(report, dict) and report["ready"] is False
    assert report["checks"][0]["name"] == "Ollama server"
    assert report["checks"][0]["status"] == "fail"


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory, onnx_cache: Path) -> Path:
    """A two-file index named `tiny`, built once through the CLI; tests get a copy."""
    root = tmp_path_factory.mktemp("tiny")
    docs = root / "docs"
    docs.mkdir()
    (docs / "calibration.md").write_text(
        "# Calibration\n\nThe service code TW-8841 unlocks the factory calibration menu.\n"
    )
    (docs / "tea.txt").write_text("Green tea is made from unoxidised leaves.\n")
    index_dir = str(root / "indexes")
    result = runner.invoke(app, ["ingest", str(docs), "--index", "tiny", "--index-dir", index_dir])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def tiny_index(isolated_env: Path, built_index: Path) -> Path:
    """./indexes/tiny (a copy) and ./docs, the folder it was built from."""
    shutil.copytree(built_index / "indexes", isolated_env / "indexes")
    shutil.copytree(built_index / "docs", isolated_env / "docs")
    return isolated_env / "docs"


def test_index_list_info_and_config_json(tiny_index: Path) -> None:
    listed = only_json(runner.invoke(app, ["index", "list", "--json"]))
    assert isinstance(listed, list) and [row["name"] for row in listed] == ["tiny"]
    info = only_json(runner.invoke(app, ["index", "info", "tiny", "--json"]))
    assert isinstance(info, dict) and (info["documents"], info["max_tokens"]) == (2, 256)
    shown = only_json(runner.invoke(app, ["config", "show", "--json"]))
    assert isinstance(shown, dict)
    assert shown["index_dir"] == str(tiny_index.parent / "indexes")


def test_indexes_are_found_from_a_subfolder(
    tiny_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_index)  # below the folder that holds indexes/
    result = runner.invoke(app, ["search", "service code", "--index", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    hits = only_json(result)
    assert isinstance(hits, list) and hits[0]["path"].endswith("calibration.md")


def test_chunk_tokens_above_the_embedder_limit_is_refused(tiny_index: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tiny_index), "--chunk-tokens", "512"])
    assert result.exit_code == 2
    assert "embeds at most 256 word pieces" in result.output


def test_an_index_from_an_older_chunker_says_so_and_its_ingest_chunks_again(
    tiny_index: Path, built_index: Path
) -> None:
    """./indexes/tiny is a copy: its files are those of the folder it was built from."""
    from tests.test_ingest import as_built_by_chunker_1

    as_built_by_chunker_1(tiny_index.parent / "indexes" / "tiny")
    before = runner.invoke(app, ["index", "info", "tiny"])
    assert "overlap 32, chunker 1 (older than this version's 2" in " ".join(before.output.split())
    elsewhere = runner.invoke(app, ["ingest", str(tiny_index), "--index", "tiny"])
    assert elsewhere.exit_code == 1
    assert "2 of its files are outside the folders given" in " ".join(elsewhere.output.split())
    again = runner.invoke(app, ["ingest", str(built_index / "docs"), "--index", "tiny"])
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "every file was chunked again: the index was chunked by an older chunker" in said
    after = runner.invoke(app, ["index", "info", "tiny"])
    assert "overlap 32, chunker 2" in after.output and "older" not in after.output


# ------------------------------------------------------------------ logs


def record(question: str, model: str, at: float) -> None:
    with HistoryLog(history_path()) as log:
        log.record(entry(question, model, at))


def test_logs_list_search_filter_and_energy(isolated_env: Path) -> None:
    record("What unlocks calibration?", "qwen2.5-coder:1.5b", 1_800_000_000.0)
    record("Why is the sky blue?", "qwen2.5-coder:0.5b", 1_800_000_100.0)
    newest = only_json(runner.invoke(app, ["logs", "-n", "1", "--json"]))
    assert isinstance(newest, list) and [e["question"] for e in newest] == ["Why is the sky blue?"]
    found = only_json(runner.invoke(app, ["logs", "-q", "calibration", "--json"]))
    assert isinstance(found, list) and [e["model"] for e in found] == ["qwen2.5-coder:1.5b"]
    by_model = only_json(runner.invoke(app, ["logs", "--json", "-m", "qwen2.5-coder:0.5b"]))
    assert isinstance(by_model, list) and len(by_model) == 1
    totals = only_json(runner.invoke(app, ["logs", "energy", "--json"]))
    assert isinstance(totals, list) and {t["model"] for t in totals} == {
        "qwen2.5-coder:1.5b",
        "qwen2.5-coder:0.5b",
    }
    shown = runner.invoke(app, ["logs", "energy"])
    assert shown.exit_code == 0 and "70B" in shown.output
    text = runner.invoke(app, ["logs"])
    assert text.exit_code == 0 and "Why is the sky blue?" in text.output


def test_asks_chat_turns_and_run_tasks_are_logged_until_the_config_turns_it_off(
    isolated_env: Path,
) -> None:
    from tests.standin_ollama import MODEL, StandInOllama

    tasks = task_file(isolated_env)
    with StandInOllama(answers_the_code) as standin:
        server = ["--ollama-host", standin.host, "--model", MODEL]
        assert runner.invoke(app, [*server, "ask", "--no-shell", "Which code?"]).exit_code == 0
        chat = runner.invoke(app, [*server, "chat", "--no-shell"], input="first\nsecond\n/exit\n")
        assert chat.exit_code == 0, chat.output
        assert runner.invoke(app, [*server, "run", str(tasks)]).exit_code == 0
        (isolated_env / "smallagent.toml").write_text("history = false\n")
        assert runner.invoke(app, [*server, "ask", "--no-shell", "Not logged?"]).exit_code == 0
    entries = only_json(runner.invoke(app, ["logs", "--json"]))
    assert isinstance(entries, list)
    assert [(e["kind"], e["question"]) for e in reversed(entries)] == [
        ("ask", "Which code?"),
        ("chat", "first"),
        ("chat", "second"),
        ("run", "Which code"),
    ]
    for logged in entries:
        assert logged["answer"] == "The code is TW-8841." and logged["model"] == MODEL
        assert logged["steps"] >= 1 and logged["prompt_tokens"] >= 80
        assert logged["generated_tokens"] >= 9 and logged["seconds"] > 0
        assert logged["wh"] > 0 and logged["wh_method"].startswith("modeled: CPU")
        assert logged["gco2e"] > 0 and logged["reference_wh"] > logged["same_method_wh"] > 0
    states = [e["exit_state"] for e in reversed(entries)]
    assert states == ["answered", "answered", "answered", "passed"]


def test_ctrl_c_exits_130_and_is_logged_as_interrupted(isolated_env: Path) -> None:
    """A real SIGINT to a real `smallagent ask` while the model is still writing."""
    import signal
    import subprocess
    import sys
    import time

    from tests.standin_ollama import MODEL, StandInOllama, chunk

    def words_then_nothing(request: dict[str, Any]) -> Iterator[dict[str, Any] | float]:
        # A few words, then a model still thinking: the run cannot end before the signal
        # lands, whatever the token caps.
        for number in range(5):
            yield chunk(f"w{number} ")
        while True:
            yield 0.05

    with StandInOllama(words_then_nothing) as standin:
        command = [sys.executable, "-m", "smallagent", "--ollama-host", standin.host, "--model",
                   MODEL, "ask", "--no-shell", "Tell me everything."]  # fmt: skip
        # Ctrl-C as a terminal sends it: a suite run from a background job (`make test &`)
        # starts with SIGINT ignored, the child inherits that, and Python then installs no
        # KeyboardInterrupt handler: the signal was lost and the run went on (two fresh-clone
        # runs here, both started with nohup ... &).
        asking = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not standin.chats and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # some words streamed
        asking.send_signal(signal.SIGINT)
        _, stderr = asking.communicate(timeout=60)
    assert asking.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    entries = only_json(runner.invoke(app, ["logs", "--json"]))
    assert isinstance(entries, list) and entries[0]["exit_state"] == "interrupted"
    assert entries[0]["generated_tokens"] > 0  # what it spent before the stop is booked


def test_a_question_that_fails_is_logged_and_no_log_skips_it(
    isolated_env: Path, ollama_dev: ModuleType
) -> None:
    host = f"127.0.0.1:{ollama_dev.free_port()}"
    assert runner.invoke(app, ["--ollama-host", host, "ask", "hi there"]).exit_code == 1
    assert runner.invoke(app, ["--ollama-host", host, "ask", "not this", "--no-log"]).exit_code == 1
    entries = only_json(runner.invoke(app, ["logs", "--json"]))
    assert isinstance(entries, list) and [e["question"] for e in entries] == ["hi there"]
    assert entries[0]["exit_state"].startswith("error: cannot reach Ollama")


def test_ask_dash_reads_the_question_from_stdin(isolated_env: Path, ollama_dev: ModuleType) -> None:
    host = f"127.0.0.1:{ollama_dev.free_port()}"
    runner.invoke(app, ["--ollama-host", host, "ask", "-"], input="from stdin\n")
    entries = only_json(runner.invoke(app, ["logs", "--json"]))
    assert isinstance(entries, list) and entries[0]["question"] == "from stdin"


# ------------------------------------------------------------------ README and hint commands

# Commands that need the model or the server: checked for parsing only, by Click itself (every
# option known and given its value, the arguments counted), without running them.
NEEDS_THE_SERVER = {"ask", "chat", "run", "doctor", "models"}
PLACEHOLDERS = [
    (r"\[([^\]]*)\]", r"\1"),  # an optional part: included
    (r"FILE\.json\|\.md", "report.md"),
    (r"FILE\.jsonl", "results.jsonl"),
    (r"\bFILE\b", "trace.jsonl"),
    (r"ID,\.\.", "count"),
    (r"\bTASKS\b", "examples/tasks.yaml"),
    (r"\bFOLDER(\.\.\.)?", "DOCS"),
    (r"~/notes|examples/docs", "DOCS"),
    (r"\bNAME\b|\{name\}|\{directory\.name\}", "tiny"),
    (r"\{model\}|\{settings\.model\}|\{missing\[0\]\}", "qwen2.5:3b"),
    (r"\bM\b", "qwen2.5:3b"),
    (r"\bN\b", "2"),
]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
        lines = block.splitlines()
        for number, line in enumerate(lines):
            command = line.strip().removeprefix("$ ").removeprefix(".venv/bin/")
            if not command.startswith("smallagent "):
                continue
            for more in lines[number + 1 :]:  # continued with `\`, or a synopsis's next line
                if not (command.endswith("\\") or more.startswith("    [")):
                    break
                command = command.rstrip("\\") + " " + more.strip()
            commands.append(command)
    return commands


def hint_commands() -> list[str]:
    """Every `smallagent ...` the code prints: in backticks, or a whole string (an f-string's
    fields kept as {name})."""
    found = []
    for path in sorted((ROOT / "smallagent").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = set()  # docstrings, and the pieces of an f-string (read whole below)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                skip.add(id(body[0].value))
            if isinstance(node, ast.JoinedStr):
                skip.update(id(part) for part in node.values)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value
                    if isinstance(part, ast.Constant)
                    else f"{{{ast.unparse(part.value)}}}"
                    for part in node.values
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            quoted = re.findall(r"`(smallagent [^`]+)`", text)
            whole = [text.split("  ")[0]] if text.startswith("smallagent ") else []
            found += [c for c in quoted + whole if re.match(r"smallagent (-|[a-z]+\b(?!:))", c)]
    return sorted(set(found))


def concrete(command: str, docs: Path) -> list[list[str]]:
    """A documented command as argv lists to run: placeholders filled, `a | b` alternatives."""
    for pattern, value in PLACEHOLDERS:
        command = re.sub(pattern, value, command)
    words = shlex.split(command.replace("DOCS", str(docs)), comments=True)[1:]
    if "|" not in words:
        return [words]
    alternatives, current = [], []
    for word in [*words, "|"]:
        if word == "|":
            alternatives.append(current)
            current = list(alternatives[0][:-1]) if alternatives else []
        else:
            current.append(word)
    return alternatives


def parses(argv: list[str]) -> None:
    """Click parses argv as `smallagent` would, down to the command; nothing runs."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    context = command.make_context("smallagent", hoist_global_options(argv))
    rest = [*context._protected_args, *context.args]
    while isinstance(command, TyperGroup) and rest:
        name, sub, rest = command.resolve_command(context, rest)
        assert sub is not None, argv
        context = sub.make_context(name, rest, parent=context)
        rest = [*context._protected_args, *context.args] if isinstance(sub, TyperGroup) else []
        command = sub  # type: ignore[assignment]


def verb(argv: list[str]) -> str:
    """The command's name: the first word after the global options (moved to the front)."""
    words = iter(hoist_global_options(argv))
    for word in words:
        if word in GLOBAL_OPTIONS_WITH_VALUE:
            next(words)
        elif not word.startswith("-"):
            return word
    return ""


def test_every_readme_and_hint_command_runs(tiny_index: Path) -> None:
    commands = readme_commands() + hint_commands()
    assert len(readme_commands()) >= 12 and len(hint_commands()) >= 6
    assert "smallagent --index tiny ingest FOLDER" in [
        re.sub(r"\{directory\.name\}", "tiny", c) for c in hint_commands()
    ]
    removals = []
    for command in commands:
        for argv in concrete(command, tiny_index):
            if verb(argv) in NEEDS_THE_SERVER:
                parses(argv)
            elif verb(argv) == "index" and "rm" in argv:
                removals.append(argv)
            else:
                result = runner.invoke(app, ["--index-dir", "indexes", *argv])
                assert result.exit_code == 0, (command, argv, result.output)
    for argv in removals:  # last: they delete the index the others use
        result = runner.invoke(app, ["--index-dir", "indexes", *argv])
        assert result.exit_code == 0, (argv, result.output)


def test_models_list_and_show_against_a_standin_server(isolated_env: Path) -> None:
    from tests.standin_ollama import MODEL, StandInOllama, final

    with StandInOllama(lambda request: iter([final()])) as standin:
        host = ["--ollama-host", standin.host]
        listed = runner.invoke(app, ["models", "list", "--json", *host])
        shown = runner.invoke(app, ["models", "show", MODEL, "--json", *host])
        table = runner.invoke(app, ["models", "list", *host])
    row = {
        "name": MODEL,
        "size_bytes": 0,
        "parameters": "1.5B",
        "quantization": "Q4_K_M",
        "context_length": 32768,
        "capabilities": ["completion", "tools"],
        "family": "qwen2",
    }
    assert only_json(listed) == [row]
    assert only_json(shown) == row
    assert table.exit_code == 0
    assert re.search(
        r"standin:1b\s+0\.0 GB\s+1\.5B\s+Q4_K_M\s+32768\s+completion, tools", table.output
    )


def test_model_pull_sums_its_layers_into_one_bar() -> None:
    """Ollama streams each layer's bytes on their own; the bar shows them summed, over every
    layer seen so far, instead of starting again at each layer (a scripted pull, no server)."""
    import io

    from ollama import ProgressResponse
    from rich.console import Console

    from smallagent import render
    from smallagent.ollama_model import OllamaServer, PullTotals

    def layer(digest: str, completed: int, total: int) -> ProgressResponse:
        return ProgressResponse(
            status=f"pulling {digest[:12]}", digest=f"sha256:{digest}", completed=completed,
            total=total,
        )  # fmt: skip

    events = [
        ProgressResponse(status="pulling manifest"),
        layer("aaaa", 0, 2000),
        layer("aaaa", 1000, 2000),
        layer("bbbb", 0, 1000),  # a second layer: the total grows
        layer("aaaa", 2000, 2000),
        layer("bbbb", 1000, 1000),
        ProgressResponse(status="verifying sha256 digest"),
        ProgressResponse(status="success"),
    ]

    class ScriptedClient:
        def pull(self, name: str, stream: bool) -> Iterator[ProgressResponse]:
            assert (name, stream) == ("qwen2.5:3b", True)
            return iter(events)

    server = OllamaServer("http://127.0.0.1:9")
    server._client = ScriptedClient()
    updates = list(server.pull("qwen2.5:3b"))
    totals, seen = PullTotals(), []
    for update in updates:
        totals.add(update)
        seen.append((totals.status, totals.completed, totals.total))
    assert seen == [
        ("pulling manifest", 0, 0),
        ("pulling 1 layer", 0, 2000),
        ("pulling 1 layer", 1000, 2000),
        ("pulling 2 layers", 1000, 3000),
        ("pulling 2 layers", 2000, 3000),
        ("pulling 2 layers", 3000, 3000),
        ("verifying sha256 digest", 3000, 3000),
        ("success", 3000, 3000),
    ]
    out = Console(file=io.StringIO(), width=100)
    with render.pull_progress(out, "qwen2.5:3b") as show:
        for update in updates:
            show(update)
    assert re.match(r"qwen2\.5:3b: success ━+ 3\.0/3\.0 kB", out.file.getvalue())  # type: ignore[attr-defined]
