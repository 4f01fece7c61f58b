"""Task files, checks, the JSONL results log and --resume, reports and exit codes.

The model is not involved here: an executor stand-in returns results, so what is tested is the
runner's own bookkeeping. tests/integration/test_tasks_real.py runs a task file on the real model.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smallagent.cli import app
from smallagent.tasks.checks import Check, CheckOutcome, command_runner, evaluate, normalise
from smallagent.tasks.report import exit_code, report_json, report_markdown, summarise
from smallagent.tasks.runlog import ResultsLog, TaskResult, resume_plan
from smallagent.tasks.runner import run_tasks
from smallagent.tasks.taskfile import Task, TaskFileError, load_task_file

runner = CliRunner()

GOOD = """\
defaults:
  index: docs
  max_steps: 4
tasks:
  - id: code
    prompt: What is the code?
    checks:
      contains: [TW-8841]
      cites: calibration.md
  - id: count
    prompt: How many files?
    tools: [shell]
    max_steps: 3
    checks:
      regex: '\\b5\\b'
      command: grep -q 5
"""


def write(tmp_path: Path, text: str, name: str = "tasks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_gives_defaults_overrides_and_checks(tmp_path: Path) -> None:
    code, count = load_task_file(write(tmp_path, GOOD))
    assert (code.id, code.prompt, code.index, code.options.max_steps) == (
        "code", "What is the code?", "docs", 4,
    )  # fmt: skip
    assert code.options.tools == ("search", "read_file", "shell")
    assert code.options.workdir == tmp_path.resolve()
    assert code.checks == (Check("contains", ("TW-8841",)), Check("cites", ("calibration.md",)))
    assert (count.options.tools, count.options.max_steps) == (("shell",), 3)
    assert [check.kind for check in count.checks] == ["regex", "command"]


def test_json_task_files_work_too(tmp_path: Path) -> None:
    document = {"tasks": [{"id": 1, "prompt": "Hi?", "checks": {"equals": "hello"}}]}
    (task,) = load_task_file(write(tmp_path, json.dumps(document), "tasks.json"))
    assert (task.id, task.checks) == ("1", (Check("equals", ("hello",)),))


TASK = "tasks:\n  - id: t1\n    prompt: Q?\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", "the top level must be a mapping"),
        ("tasks: []\n", "`tasks` must be a non-empty list"),
        ("task:\n  - id: a\n", "unknown top-level field(s) task"),
        ("tasks:\n  - prompt: Q?\n", "task 1: `id` is missing or empty"),
        ("tasks:\n  - just text\n", "task 1: each task must be a mapping"),
        (TASK + "  - id: t1\n    prompt: again\n", "task 't1': `id` is used twice"),
        ("tasks:\n  - id: t1\n", "task 't1': `prompt` is missing or empty"),
        (TASK + "    promt: typo\n", "task 't1': unknown field(s) promt"),
        (TASK + "    tools: [search, web]\n", "task 't1': `tools` has an unknown tool 'web'"),
        (TASK + "    tools: search\n", "task 't1': `tools` must be a list of names"),
        (TASK + "    shell: yes-please\n", "task 't1': `shell` must be one of"),
        (TASK + "    max_steps: 0\n", "task 't1': `max_steps` must be a whole number >= 1"),
        (TASK + "    temperature: hot\n", "task 't1': `temperature` must be a number from 0 to 2"),
        (TASK + "    workdir: nowhere\n", "task 't1': `workdir`"),
        (TASK + "    model: ''\n", "task 't1': `model` must be a non-empty string"),
        ("defaults:\n  max_step: 3\n" + TASK, "defaults: unknown setting(s) max_step"),
        (TASK + "    checks: [contains]\n", "task 't1': `checks` must be a mapping"),
        (TASK + "    checks:\n      startswith: a\n", "task 't1': unknown check 'startswith'"),
        (TASK + "    checks:\n      regex: '(unclosed'\n", "`checks.regex`: not a valid regular"),
        (TASK + "    checks:\n      contains: []\n", "`checks.contains` must be a string or"),
        (TASK + "    checks:\n      contains: {some: [a]}\n", "takes `all:` and/or `any:`"),
        (TASK + "    checks:\n      equals: [a, b]\n", "`checks.equals` must be a non-empty"),
        (TASK + "    checks:\n      command: grep a | wc -l\n", "`checks.command`: `|` is not"),
        (TASK + "    checks:\n      command: rm -rf x\n", "`rm` is not on the read-only allow"),
        (TASK + "    shell: allow\n", "task 't1': `shell: allow` lets the model run any"),
        ("tasks:\n  - id: [t1\n", "not valid YAML (line 3, column 1)"),
    ],
)
def test_each_mistake_is_named_with_its_task_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(TaskFileError) as caught:
        load_task_file(write(tmp_path, text))
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_bad_json_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match=r"not valid JSON \(line 1"):
        load_task_file(write(tmp_path, "{tasks: 1}", "tasks.json"))
    with pytest.raises(TaskFileError, match="no task file at"):
        load_task_file(tmp_path / "absent.yaml")


def test_allow_shell_is_the_consent_for_shell_allow_and_other_commands(tmp_path: Path) -> None:
    text = TASK + "    shell: allow\n    checks:\n      command: python3 -c pass\n"
    (task,) = load_task_file(write(tmp_path, text), allow_shell=True)
    assert task.options.shell == "allow"


def never_runs(command: str, stdin: str) -> int | None:
    raise AssertionError("no command check here")


@pytest.mark.parametrize(
    ("check", "answer", "passed", "detail"),
    [
        (
            Check("contains", ("TW-8841", "menu")),
            "The code tw-8841 opens the menu.",
            True,
            "all present",
        ),
        (Check("contains", ("TW-8841", "menu")), "It is TW-8841.", False, "missing 'menu'"),
        (Check("contains_any", ("deep sleep", "3.3 V")), "below 3.3 v", True, "one present"),
        (Check("contains_any", ("deep sleep",)), "no idea", False, "none present"),
        (Check("regex", (r"TW-\d{4}",)), "code **TW-8841**", True, "matched 'TW-8841'"),
        (Check("regex", (r"^\d+$",)), "five", False, r"no match for /^\d+$/"),
        (Check("equals", ("OK",)), "**ok**.", True, "equal"),
        (Check("equals", ("OK",)), "OK, done", False, "expected 'OK'"),
    ],
)
def test_answer_checks(check: Check, answer: str, passed: bool, detail: str) -> None:
    assert evaluate(check, answer, [], never_runs) == CheckOutcome(check.kind, passed, detail)


def test_cites_matches_the_end_of_the_cited_path() -> None:
    cited = ["/data/docs/calibration.md", "/data/docs/power.md:page 2"]
    check = Check("cites", ("docs/calibration.md",))
    assert evaluate(check, "", cited, never_runs).passed
    missing = evaluate(Check("cites", ("troubleshooting.md",)), "", cited, never_runs)
    assert not missing.passed and "missing troubleshooting.md" in missing.detail
    assert not evaluate(Check("cites", ("bration.md",)), "", cited, never_runs).passed


def test_command_checks_read_the_answer_on_stdin_in_the_workdir(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("TW-8841\n")
    run = command_runner(tmp_path, allow_shell=False)
    grep = Check("command", ("grep -q -F TW-8841",))
    assert evaluate(grep, "the code is TW-8841", [], run) == CheckOutcome(
        "command", True, "exit code 0"
    )
    assert evaluate(grep, "no code", [], run) == CheckOutcome("command", False, "exit code 1")
    in_workdir = Check("command", ("grep -q TW notes.md",))
    assert evaluate(in_workdir, "", [], run).passed


def test_normalise() -> None:
    assert normalise("  **TW-8841**.\n") == "tw-8841"
    assert normalise("`Five`  files!") == "five files"


def tasks_of(tmp_path: Path, count: int) -> list[Task]:
    text = "tasks:\n" + "".join(f"  - id: t{n}\n    prompt: Q{n}?\n" for n in range(count))
    return load_task_file(write(tmp_path, text))


def fake_execute(task: Task, model: str) -> TaskResult:
    return TaskResult(
        task.id, model, "pass", task.fingerprint(), answer=f"A for {task.id}", steps=2,
        tool_calls=1, prompt_tokens=100, generated_tokens=10, seconds=1.5, wh=0.01,
        energy_source="modeled: CPU", same_method_wh=0.002, reference_wh=0.1,
    )  # fmt: skip


def test_results_are_appended_as_each_task_ends_and_resume_skips_them(tmp_path: Path) -> None:
    tasks = tasks_of(tmp_path, 5)
    work = [(task, "m") for task in tasks]
    path = tmp_path / "out" / "results.jsonl"
    log = ResultsLog(path, resume=False)
    seen: list[str] = []

    def interrupted(task: Task, model: str) -> TaskResult:
        if task.id == "t2":
            lines = path.read_text().splitlines()
            assert [json.loads(line)["task_id"] for line in lines] == ["t0", "t1"]  # on disk now
            raise KeyboardInterrupt
        seen.append(task.id)
        return fake_execute(task, model)

    with pytest.raises(KeyboardInterrupt):
        run_tasks(work, interrupted, log.append)
    log.close()
    with path.open("a") as handle:  # a crash in the middle of writing a line
        handle.write('{"type": "task", "task_id": "t2", "mod')

    resumed = ResultsLog(path, resume=True)
    assert [r.task_id for r in resumed.done] == ["t0", "t1"]
    assert path.read_text().endswith("}\n")  # the cut line was removed, nothing else
    standing, todo = resume_plan(work, resumed.done)
    assert [r.task_id for r in standing] == ["t0", "t1"]
    assert [task.id for task, _ in todo] == ["t2", "t3", "t4"]
    run_tasks(todo, fake_execute, resumed.append)
    resumed.close()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["task_id"] for row in rows] == ["t0", "t1", "t2", "t3", "t4"]
    assert rows[0]["checks"] == [] and rows[0]["type"] == "task"


def test_an_edited_task_runs_again_on_resume(tmp_path: Path) -> None:
    (before,) = tasks_of(tmp_path, 1)
    done = [fake_execute(before, "m")]
    assert resume_plan([(before, "m")], done) == (done, [])
    (after,) = load_task_file(write(tmp_path, "tasks:\n  - id: t0\n    prompt: Changed?\n"))
    assert resume_plan([(after, "m")], done) == ([], [(after, "m")])
    assert resume_plan([(before, "other")], done) == ([], [(before, "other")])


EVERY_SETTING = """\
defaults:
  index: docs
  max_steps: 4
tasks:
  - id: plain
    prompt: What is the code?
    checks:
      contains: [TW-8841]
  - id: every-setting
    prompt: How many files?
    model: qwen2.5-coder:1.5b
    tools: [shell, read_file, shell]
    shell: allow
    temperature: 1
    seed: 7
    num_ctx: 4096
    workdir: sub
    checks:
      regex: '\\b5\\b'
"""


def test_fingerprints_stay_the_same_so_old_results_files_still_resume(tmp_path: Path) -> None:
    # Recorded before the task settings became config.AskOptions: a results file written by an
    # earlier version must still match its tasks, or --resume would run them all again.
    (tmp_path / "sub").mkdir()
    plain, every = load_task_file(write(tmp_path, EVERY_SETTING), allow_shell=True)
    assert (plain.fingerprint(), every.fingerprint()) == ("f7d13e6c5dd62a67", "54e52bf92e7ec80e")


def test_a_directory_is_not_a_results_file(tmp_path: Path) -> None:
    for resume in (False, True):
        with pytest.raises(TaskFileError, match="is a directory"):
            ResultsLog(tmp_path, resume=resume)


def test_existing_results_are_not_overwritten_without_resume(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"type": "task"}\n')
    with pytest.raises(TaskFileError, match="already holds results"):
        ResultsLog(path, resume=False)
    assert path.read_text() == '{"type": "task"}\n'


def test_parallel_runs_record_every_task(tmp_path: Path) -> None:
    work = [(task, "m") for task in tasks_of(tmp_path, 6)]
    recorded: list[TaskResult] = []
    # Each task waits until three are running at once: run one at a time, the barrier breaks.
    together = threading.Barrier(3, timeout=10)

    def in_threes(task: Task, model: str) -> TaskResult:
        together.wait()
        return fake_execute(task, model)

    results = run_tasks(work, in_threes, recorded.append, parallel=3)
    assert sorted(r.task_id for r in results) == [f"t{n}" for n in range(6)]
    assert recorded == results


def test_totals_are_the_sums_and_the_exit_code_follows_the_statuses(tmp_path: Path) -> None:
    tasks = tasks_of(tmp_path, 3)
    results = [fake_execute(task, model) for model in ("small", "big") for task in tasks]
    failed = TaskResult(
        "t9", "big", "fail", "x", steps=4, prompt_tokens=7, wh=0.5, same_method_wh=0.1,
        reference_wh=1, energy_source="measured (RAPL)",
    )  # fmt: skip
    results.append(failed)
    totals = summarise(results)
    assert (totals["tasks"], totals["passed"], totals["failed"], totals["errors"]) == (7, 6, 1, 0)
    assert totals["prompt_tokens"] == 6 * 100 + 7
    assert totals["wh"] == pytest.approx(6 * 0.01 + 0.5)
    assert totals["wh_per_passed_task"] == pytest.approx(totals["wh"] / 6)
    # Like with like: EcoLogits' figure for these models against its figure for 70B, never the
    # locally measured Wh against the 70B model's.
    assert totals["saving_percent"] == pytest.approx(100 * (1 - 0.112 / 1.6))
    assert totals["energy_sources"] == ["measured (RAPL)", "modeled: CPU"]
    assert exit_code(results[:6]) == 0
    assert exit_code(results) == 1
    assert exit_code([TaskResult("t", "m", "error", "x", error="boom")]) == 1
    assert exit_code([]) == 1

    document = json.loads(report_json(results, Path("tasks.yaml")))
    assert document["summary"] == json.loads(json.dumps(totals))
    assert set(document["by_model"]) == {"small", "big"}
    assert document["by_model"]["big"]["tasks"] == 4
    markdown = report_markdown(results, Path("tasks.yaml"))
    assert "| t9 | big | fail | 4 |" in markdown
    assert "| small | 3/3 |" in markdown and "| big | 3/4 |" in markdown
    assert "0.5600 Wh (measured (RAPL); modeled: CPU)" in markdown
    assert "0.1120 Wh on these models, 1.6000 Wh on a 70B model (93% less)" in markdown
    assert "- `t9` on big: fail" in markdown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_a_bad_task_file_exits_2_before_anything_runs(tmp_path: Path) -> None:
    bad = write(tmp_path, TASK + "    checks:\n      regex: '('\n")
    outcome = runner.invoke(app, ["run", str(bad)])
    assert outcome.exit_code == 2
    assert "task 't1': `checks.regex`" in outcome.output
    assert "Traceback" not in outcome.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--report", "out.txt"], "use a .json or .md file"),
        (["--resume"], "--resume needs --results"),
        (["--only", "nope"], "--only: no task with id nope"),
        (["--parallel", "0"], "--parallel must be at least 1"),
    ],
)
def test_cli_bad_options_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    outcome = runner.invoke(app, ["run", str(write(tmp_path, TASK)), *extra])
    assert outcome.exit_code == 2
    assert message in outcome.output


def test_cli_server_down_exits_2(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    outcome = runner.invoke(app, ["--ollama-host", host, "run", str(write(tmp_path, TASK))])
    assert outcome.exit_code == 2
    assert "Traceback" not in outcome.output
    assert outcome.output.startswith("error:")
