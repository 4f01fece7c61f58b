"""Scripted task files for `smallagent run`: load and validate, run, check, record, report.

A task file is read and checked in full before any model is asked anything, so a typo in task 40
does not surface after an hour of runs. Results go to a JSONL file one line per finished task,
flushed and fsynced, so an interruption costs at most the task that was running and `--resume`
picks up the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from smallagent.errors import ModelNotFoundError, OllamaUnavailableError, SmallagentError
from smallagent.shell import Mode, ShellPolicy, read_only_verdict

TOOL_NAMES = ("search", "read_file", "shell")
SHELL_MODES: Mapping[str, Mode] = {"read-only": "read-only", "off": "off", "allow": "allow-all"}
CHECK_KINDS = ("contains", "contains_any", "regex", "equals", "cites", "command")
Status = Literal["pass", "fail", "error"]


class TaskFileError(SmallagentError):
    """The task file cannot be run as written; nothing has run yet."""

    exit_code = 2


@dataclass(frozen=True)
class TaskSettings:
    model: str | None = None
    index: str | None = None
    tools: tuple[str, ...] = TOOL_NAMES
    shell: str = "read-only"
    max_steps: int = 8
    temperature: float = 0.0
    seed: int = 0
    num_ctx: int = 8192
    workdir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class Check:
    kind: str
    values: tuple[str, ...]  # one value for regex, equals and command


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    settings: TaskSettings
    checks: tuple[Check, ...] = ()

    def fingerprint(self) -> str:
        """Changes when anything but the model changes, so --resume reruns an edited task."""
        described = {
            "prompt": self.prompt,
            "settings": {**asdict(replace(self.settings, model=None)), "workdir": "."},
            "checks": [asdict(check) for check in self.checks],
        }
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading and validation


def load_task_file(path: Path, allow_shell: bool = False) -> list[Task]:
    """Every task in `path`, validated; a TaskFileError naming the task and the field otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaskFileError(f"no task file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(f"cannot read {path}: {error}") from None
    data = _parse(text, path)
    if not isinstance(data, dict):
        raise TaskFileError(f"{path}: the top level must be a mapping with `tasks`")
    unknown = set(data) - {"defaults", "tasks"}
    if unknown:
        raise TaskFileError(f"{path}: unknown top-level field(s) {', '.join(sorted(unknown))}")
    base = TaskSettings(workdir=path.parent.resolve())
    defaults = _settings(data.get("defaults") or {}, base, f"{path}: defaults", path.parent)
    entries = data.get("tasks")
    if not isinstance(entries, list) or not entries:
        raise TaskFileError(f"{path}: `tasks` must be a non-empty list")
    tasks: list[Task] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        where = f"{path}: task {position}"
        if not isinstance(entry, dict):
            raise TaskFileError(f"{where}: each task must be a mapping with `id` and `prompt`")
        task_id = entry.get("id")
        if not isinstance(task_id, str | int) or not str(task_id).strip():
            raise TaskFileError(f"{where}: `id` is missing or empty")
        task_id = str(task_id).strip()
        where = f"{path}: task {task_id!r}"
        if task_id in seen:
            raise TaskFileError(f"{where}: `id` is used twice")
        seen.add(task_id)
        prompt = entry.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise TaskFileError(f"{where}: `prompt` is missing or empty")
        unknown = set(entry) - {"id", "prompt", "checks", *TaskSettings.__dataclass_fields__}
        if unknown:
            raise TaskFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        overrides = {
            key: value for key, value in entry.items() if key not in ("id", "prompt", "checks")
        }
        settings = _settings(overrides, defaults, where, path.parent)
        checks = _checks(entry.get("checks") or {}, where)
        for check in checks:
            if check.kind == "command":
                _check_command_allowed(check.values[0], settings.workdir, allow_shell, where)
        if settings.shell == "allow" and not allow_shell:
            raise TaskFileError(
                f"{where}: `shell: allow` lets the model run any command",
                hint="pass --allow-shell to consent, or use shell: read-only",
            )
        tasks.append(Task(task_id, prompt.strip(), settings, checks))
    return tasks


def _parse(text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise TaskFileError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TaskFileError(f"{path}: not valid YAML{where}: {problem}") from None


def _settings(raw: Any, base: TaskSettings, where: str, root: Path) -> TaskSettings:
    if not isinstance(raw, dict):
        raise TaskFileError(f"{where}: settings must be a mapping")
    unknown = set(raw) - set(TaskSettings.__dataclass_fields__)
    if unknown:
        raise TaskFileError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in ("model", "index"):
        if name in raw:
            values[name] = _text(raw[name], where, name)
    if "tools" in raw:
        tools = raw["tools"]
        if not isinstance(tools, list) or not all(isinstance(tool, str) for tool in tools):
            raise TaskFileError(f"{where}: `tools` must be a list of names")
        bad = [tool for tool in tools if tool not in TOOL_NAMES]
        if bad:
            raise TaskFileError(
                f"{where}: `tools`: unknown tool {bad[0]!r}; choose from {', '.join(TOOL_NAMES)}"
            )
        values["tools"] = tuple(dict.fromkeys(tools))
    if "shell" in raw:
        if raw["shell"] not in SHELL_MODES:
            raise TaskFileError(
                f"{where}: `shell` must be one of {', '.join(SHELL_MODES)}, not {raw['shell']!r}"
            )
        values["shell"] = raw["shell"]
    for name, low in (("max_steps", 1), ("seed", 0), ("num_ctx", 1024)):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise TaskFileError(f"{where}: `{name}` must be a whole number >= {low}")
            values[name] = value
    if "temperature" in raw:
        value = raw["temperature"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
            raise TaskFileError(f"{where}: `temperature` must be a number from 0 to 2")
        values["temperature"] = float(value)
    if "workdir" in raw:
        directory = (root / _text(raw["workdir"], where, "workdir")).resolve()
        if not directory.is_dir():
            raise TaskFileError(f"{where}: `workdir` {directory} is not a directory")
        values["workdir"] = directory
    return replace(base, **values)


def _text(value: Any, where: str, name: str) -> str:
    if (
        not isinstance(value, str | int | float)
        or isinstance(value, bool)
        or not str(value).strip()
    ):
        raise TaskFileError(f"{where}: `{name}` must be a non-empty string")
    return str(value).strip()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | int | float) else value
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(item, str | int | float) and str(item) for item in items)
    ):
        raise TaskFileError(f"{where} must be a string or a non-empty list of strings")
    return tuple(str(item) for item in items)


def _checks(raw: Any, where: str) -> tuple[Check, ...]:
    if not isinstance(raw, dict):
        raise TaskFileError(f"{where}: `checks` must be a mapping such as {{contains: [...]}}")
    checks: list[Check] = []
    for kind, value in raw.items():
        field_where = f"{where}: `checks.{kind}`"
        if kind not in CHECK_KINDS:
            raise TaskFileError(
                f"{where}: unknown check {kind!r}; choose from {', '.join(CHECK_KINDS)}"
            )
        if kind == "contains" and isinstance(value, dict):
            if set(value) - {"all", "any"} or not value:
                raise TaskFileError(f"{field_where} takes `all:` and/or `any:` lists")
            if "all" in value:
                checks.append(Check("contains", _strings(value["all"], f"{field_where}.all")))
            if "any" in value:
                checks.append(Check("contains_any", _strings(value["any"], f"{field_where}.any")))
            continue
        if kind in ("contains", "contains_any", "cites"):
            checks.append(Check(kind, _strings(value, field_where)))
            continue
        if not isinstance(value, str) or not value.strip():
            raise TaskFileError(f"{field_where} must be a non-empty string")
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as error:
                raise TaskFileError(
                    f"{field_where}: not a valid regular expression: {error}"
                ) from None
        checks.append(Check(kind, (value,)))
    return tuple(checks)


def _check_command_allowed(command: str, workdir: Path, allow_shell: bool, where: str) -> None:
    verdict = read_only_verdict(command, workdir)
    if verdict.allowed or (allow_shell and verdict.argv):
        return
    hint = "pass --allow-shell to consent" if verdict.argv else "write one plain command"
    raise TaskFileError(f"{where}: `checks.command`: {verdict.reason}", hint=hint)


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class CheckOutcome:
    kind: str
    passed: bool
    detail: str


def normalise(text: str) -> str:
    """Case, spacing, markdown emphasis and end punctuation ignored: `**TW-8841**.` == `tw-8841`."""
    text = re.sub(r"[*_`]+", "", text).casefold()
    return " ".join(text.split()).strip(" .!?;:,\"'")


def evaluate(
    check: Check,
    answer: str,
    cited_paths: Sequence[str],
    run_command: Callable[[str, str], int | None],
) -> CheckOutcome:
    """One check on one answer. `run_command(command, stdin)` gives an exit code (None: killed)."""
    folded = answer.casefold()
    if check.kind in ("contains", "contains_any"):
        missing = [value for value in check.values if value.casefold() not in folded]
        if check.kind == "contains":
            detail = f"missing {', '.join(map(repr, missing))}" if missing else "all present"
            return CheckOutcome(check.kind, not missing, detail)
        found = len(missing) < len(check.values)
        return CheckOutcome(check.kind, found, "one present" if found else "none present")
    if check.kind == "regex":
        match = re.search(check.values[0], answer)
        detail = f"matched {match.group(0)!r}" if match else f"no match for /{check.values[0]}/"
        return CheckOutcome(check.kind, match is not None, detail)
    if check.kind == "equals":
        equal = normalise(answer) == normalise(check.values[0])
        return CheckOutcome(
            check.kind, equal, "equal" if equal else f"expected {check.values[0]!r}"
        )
    if check.kind == "cites":
        missing = [
            wanted
            for wanted in check.values
            if not any(_same_file(path, wanted) for path in cited_paths)
        ]
        shown = ", ".join(cited_paths) or "nothing"
        detail = f"cited {shown}" + (f"; missing {', '.join(missing)}" if missing else "")
        return CheckOutcome(check.kind, not missing, detail)
    exit_code = run_command(check.values[0], answer)
    detail = "killed by the timeout" if exit_code is None else f"exit code {exit_code}"
    return CheckOutcome(check.kind, exit_code == 0, detail)


def _same_file(cited: str, wanted: str) -> bool:
    cited_parts, wanted_parts = Path(cited).parts, Path(wanted).parts
    return bool(wanted_parts) and cited_parts[-len(wanted_parts) :] == wanted_parts


def command_runner(workdir: Path, allow_shell: bool) -> Callable[[str, str], int | None]:
    """Runs a check's command the way the shell tool would: no shell, confined, timed, capped.

    The answer arrives on the command's standard input, so `grep -q TW-8841` checks it.
    """
    policy = ShellPolicy(workdir, "allow-all" if allow_shell else "read-only")

    def run(command: str, answer: str) -> int | None:
        verdict = policy.decide(command)
        if not verdict.allowed:
            raise SmallagentError(f"check command refused: {verdict.reason}")
        return policy.run(verdict.argv, stdin_text=answer, confined=verdict.confined).exit_code

    return run


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    model: str
    status: Status
    fingerprint: str
    answer: str = ""
    complete: bool = False
    stop_reason: str = ""
    checks: tuple[CheckOutcome, ...] = ()
    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    wh: float = 0.0
    energy_source: str = ""
    gco2e: float = 0.0
    # The same generated tokens priced by one method (EcoLogits' GPU model) for this model and for
    # the 70B reference: the comparison is between these two, never with `wh`, measured locally.
    same_method_wh: float = 0.0
    reference_wh: float = 0.0
    error: str = ""

    def row(self) -> dict[str, Any]:
        return {"type": "task", **asdict(self)}

    def why(self) -> str:
        """Why it did not pass: the error, or the checks that failed."""
        failed = (f"{check.kind}: {check.detail}" for check in self.checks if not check.passed)
        return self.error or "; ".join(failed)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TaskResult:
        fields = {key: value for key, value in row.items() if key in cls.__dataclass_fields__}
        fields["checks"] = tuple(CheckOutcome(**check) for check in row.get("checks", ()))
        return cls(**fields)


class ResultsLog:
    """The JSONL results file: appended and fsynced as each task ends."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.done: list[TaskResult] = []
        if path.is_dir():
            raise TaskFileError(f"--results {path} is a directory, not a .jsonl file")
        if resume:
            self.done = self._read_and_repair()
        elif path.exists() and path.stat().st_size > 0:
            raise TaskFileError(
                f"{path} already holds results",
                hint="pass --resume to continue that run, or choose another --results file",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")
        except OSError as error:
            raise TaskFileError(f"cannot write --results {path}: {error.strerror}") from None

    def _read_and_repair(self) -> list[TaskResult]:
        """Finished results; a line cut short by a crash is dropped from the file."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
        results = []
        for number, line in enumerate(keep.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if row.get("type") == "task":
                    results.append(TaskResult.from_row(row))
            except (json.JSONDecodeError, TypeError) as error:
                raise TaskFileError(
                    f"{self.path}: line {number} is not a result: {error}"
                ) from None
        if len(keep) < len(data):
            with self.path.open("r+b") as handle:  # the partial line is lost work, not data
                handle.truncate(len(keep))
                os.fsync(handle.fileno())
        return results

    def append(self, result: TaskResult) -> None:
        self._handle.write(json.dumps(result.row(), ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


# ---------------------------------------------------------------- running

Execute = Callable[[Task, str], TaskResult]


def resume_plan(
    work: Sequence[tuple[Task, str]], done: Iterable[TaskResult]
) -> tuple[list[TaskResult], list[tuple[Task, str]]]:
    """The recorded results that still stand for `work`, and the (task, model) pairs left to run.

    A result stands when its task, model and the task's text as written now all match.
    """
    wanted = {(task.id, model, task.fingerprint()): (task, model) for task, model in work}
    standing = [r for r in done if (r.task_id, r.model, r.fingerprint) in wanted]
    finished = {(r.task_id, r.model, r.fingerprint) for r in standing}
    return standing, [pair for key, pair in wanted.items() if key not in finished]


def run_tasks(
    work: Sequence[tuple[Task, str]],
    execute: Execute,
    record: Callable[[TaskResult], None],
    parallel: int = 1,
) -> list[TaskResult]:
    """Runs each pair, recording every result as it ends (in finishing order)."""
    results: list[TaskResult] = []
    if parallel <= 1:
        for task, model in work:
            result = execute(task, model)
            record(result)
            results.append(result)
        return results
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = [pool.submit(execute, task, model) for task, model in work]
        for future in as_completed(futures):  # recorded as each ends, not in submission order
            result = future.result()
            record(result)
            results.append(result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: no new task starts
    return results


def assistant_executor(
    settings: Any, allow_shell: bool, energy_options: Mapping[str, Any]
) -> Execute:
    """Runs one task on the real model through the same wiring as `smallagent ask`."""
    from smallagent.assistant import AskOptions, build_assistant

    def execute(task: Task, model: str) -> TaskResult:
        task_settings = task.settings
        started = time.perf_counter()
        fingerprint = task.fingerprint()
        shell_mode = SHELL_MODES[task_settings.shell]
        options = AskOptions(
            max_steps=task_settings.max_steps,
            shell_mode=shell_mode,
            workdir=task_settings.workdir,
            num_ctx=task_settings.num_ctx,
            temperature=task_settings.temperature,
            seed=task_settings.seed,
            tools=frozenset(task_settings.tools),
            **energy_options,
        )
        run_settings = replace(settings, model=model, index=task_settings.index or settings.index)
        assistant = build_assistant(run_settings, options, confirm=None)
        try:
            if "search" in task_settings.tools and "search" not in assistant.tools:
                problem = "; ".join(assistant.notes) or "no search tool"
                return TaskResult(task.id, model, "error", fingerprint, error=problem)
            run = assistant.ask(task.prompt)
            steps: list[Any] = []
            try:
                steps.extend(run)
            except (OllamaUnavailableError, ModelNotFoundError):
                raise  # the run cannot proceed (see `guarded`)
            except SmallagentError as error:  # e.g. a timeout: this task failed, with its cost
                usage, energy = assistant.spent(steps, error)
                return TaskResult(
                    task.id, model, "error", fingerprint, stop_reason="error",
                    **_spending(steps, usage, energy, started),
                    error=error.message,
                )  # fmt: skip
            result = run.result
            assert result is not None
            energy = assistant.energy(result)
            cited = [source.path for source in assistant.sources.cited(result.answer)]
            run_command = command_runner(task_settings.workdir, allow_shell)
            try:
                outcomes = tuple(
                    evaluate(check, result.answer, cited, run_command) for check in task.checks
                )
            except SmallagentError as error:
                outcomes, problem = (), error.message
            else:
                problem = ""
            passed = all(outcome.passed for outcome in outcomes)
            status: Status = "error" if problem else ("pass" if passed else "fail")
            return TaskResult(
                task_id=task.id,
                model=model,
                status=status,
                fingerprint=fingerprint,
                answer=result.answer,
                complete=result.complete,
                stop_reason=result.stop_reason,
                checks=outcomes,
                **_spending(steps, result.usage, energy, started),
                error=problem,
            )
        finally:
            assistant.close()

    def guarded(task: Task, model: str) -> TaskResult:
        try:
            return execute(task, model)
        except (OllamaUnavailableError, ModelNotFoundError, TaskFileError):
            raise  # the run cannot proceed: no point trying the next task
        except SmallagentError as error:  # e.g. this task's index is missing: the others may run
            return TaskResult(task.id, model, "error", task.fingerprint(), error=error.message)

    return guarded


def _spending(steps: Sequence[Any], usage: Any, energy: Any, started: float) -> dict[str, Any]:
    """A task's work and cost, the same fields whether it finished or failed part way."""
    return {
        "steps": len(steps),
        "tool_calls": sum(1 for step in steps if step.kind == "tool"),
        "prompt_tokens": usage.prompt_tokens,
        "generated_tokens": usage.generated_tokens,
        "seconds": time.perf_counter() - started,
        "wh": energy.total_wh,
        "energy_source": energy.method,
        "gco2e": energy.gco2e,
        "same_method_wh": energy.small_model_same_method_wh or 0.0,
        "reference_wh": energy.reference_wh,
    }


# ---------------------------------------------------------------- summaries and reports

TOTALLED = ("steps", "tool_calls", "prompt_tokens", "generated_tokens", "seconds", "wh", "gco2e",
            "same_method_wh", "reference_wh")  # fmt: skip


def summarise(results: Sequence[TaskResult]) -> dict[str, Any]:
    """Totals are plain sums of the per-task figures, so a report can be checked by adding up."""
    passed = sum(result.status == "pass" for result in results)
    totals: dict[str, Any] = {
        "tasks": len(results),
        "passed": passed,
        "failed": sum(result.status == "fail" for result in results),
        "errors": sum(result.status == "error" for result in results),
        "pass_rate": passed / len(results) if results else 0.0,
    }
    for name in TOTALLED:
        totals[name] = sum(getattr(result, name) for result in results)
    totals["wh_per_passed_task"] = totals["wh"] / passed if passed else None
    same, reference = totals["same_method_wh"], totals["reference_wh"]
    totals["saving_percent"] = 100 * (1 - same / reference) if reference and same else None
    totals["energy_sources"] = sorted({result.energy_source for result in results} - {""})
    return totals


def by_model(results: Sequence[TaskResult]) -> dict[str, dict[str, Any]]:
    models = list(dict.fromkeys(result.model for result in results))
    return {model: summarise([r for r in results if r.model == model]) for model in models}


def exit_code(results: Sequence[TaskResult]) -> int:
    return 0 if results and all(result.status == "pass" for result in results) else 1


def report_json(results: Sequence[TaskResult], source: Path) -> str:
    document = {
        "task_file": str(source),
        "summary": summarise(results),
        "by_model": by_model(results),
        "tasks": [result.row() for result in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def report_markdown(results: Sequence[TaskResult], source: Path) -> str:
    lines = [f"# smallagent run: {source.name}", ""]
    lines += ["| task | model | status | steps | tools | prompt tok | gen tok | s | Wh |"]
    lines += ["|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r.task_id} | {r.model} | {r.status} | {r.steps} | {r.tool_calls} | "
            f"{r.prompt_tokens} | {r.generated_tokens} | {r.seconds:.1f} | {r.wh:.4f} |"
        )
    lines += ["", "| model | pass rate | prompt tok | gen tok | s | Wh | Wh per passed task |"]
    lines += ["|---|---:|---:|---:|---:|---:|---:|"]
    for model, totals in by_model(results).items():
        per_pass = totals["wh_per_passed_task"]
        lines.append(
            f"| {model} | {totals['passed']}/{totals['tasks']} | {totals['prompt_tokens']} | "
            f"{totals['generated_tokens']} | {totals['seconds']:.1f} | {totals['wh']:.4f} | "
            f"{'—' if per_pass is None else f'{per_pass:.4f}'} |"
        )
    totals = summarise(results)
    lines += ["", energy_summary(totals)]
    failing = [r for r in results if r.status != "pass"]
    if failing:
        lines += ["", "## Not passed", ""]
        for r in failing:
            lines.append(f"- `{r.task_id}` on {r.model}: {r.status} — {r.why()}")
    return "\n".join(lines) + "\n"


def energy_summary(totals: Mapping[str, Any]) -> str:
    """What was spent and where the figure came from, then the like-for-like 70B comparison."""
    sources = "; ".join(totals["energy_sources"]) or "no model energy recorded"
    line = f"Energy: {totals['wh']:.4f} Wh ({sources}), {totals['gco2e']:.3f} gCO2e."
    if totals["saving_percent"] is not None:
        line += (
            f" The same {totals['generated_tokens']} generated tokens priced with EcoLogits' GPU"
            f" model at batch 1: {totals['same_method_wh']:.4f} Wh on these models,"
            f" {totals['reference_wh']:.4f} Wh on a 70B model"
            f" ({totals['saving_percent']:.0f}% less)."
        )
    return line
