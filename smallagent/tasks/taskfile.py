"""Task files for `smallagent run`: read, validated in full, before any model is asked anything,
so a typo in task 40 does not surface after an hour of runs."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from smallagent.config import AskOptions
from smallagent.errors import OptionError, SmallagentError
from smallagent.shell import read_only_verdict
from smallagent.tasks.checks import CHECK_KINDS, Check

# What a task file may set, for every task (`defaults:`) or one: the model and index, and the
# options of the question (config.AskOptions, which checks the values).
SETTINGS = ("model", "index", "tools", "shell", "max_steps", "temperature", "seed", "num_ctx",
            "workdir", "escalate")  # fmt: skip


class TaskFileError(SmallagentError):
    """The task file cannot be run as written; nothing has run yet."""

    exit_code = 2


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    options: AskOptions
    checks: tuple[Check, ...] = ()
    model: str | None = None  # None: the model of the run (--model, the config)
    index: str | None = None

    def fingerprint(self) -> str:
        """Changes when anything but the model changes, so --resume reruns an edited task.

        The settings are described as they were before the options moved to config.AskOptions,
        key for key, so results files written then still resume.
        """
        options = self.options
        settings = {
            "model": None,
            "index": self.index,
            "tools": list(options.tools),
            "shell": options.shell,
            "max_steps": options.max_steps,
            "temperature": options.temperature,
            "seed": options.seed,
            "num_ctx": options.num_ctx,
            "workdir": ".",
        }
        if options.escalate:  # only then, so results files written before it still resume
            settings["escalate"] = list(options.escalate)
        described = {
            "prompt": self.prompt,
            "settings": settings,
            "checks": [asdict(check) for check in self.checks],
        }
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Settings:
    """The settings in force for a task: the file's defaults, then the task's own."""

    model: str | None
    index: str | None
    options: AskOptions


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
    base = _Settings(None, None, AskOptions(workdir=path.parent.resolve()))
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
        unknown = set(entry) - {"id", "prompt", "checks", *SETTINGS}
        if unknown:
            raise TaskFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        overrides = {
            key: value for key, value in entry.items() if key not in ("id", "prompt", "checks")
        }
        settings = _settings(overrides, defaults, where, path.parent)
        checks = _checks(entry.get("checks") or {}, where)
        for check in checks:
            if check.kind == "command":
                _check_command_allowed(
                    check.values[0], settings.options.workdir, allow_shell, where
                )
        if settings.options.shell == "allow" and not allow_shell:
            raise TaskFileError(
                f"{where}: `shell: allow` lets the model run any command",
                hint="pass --allow-shell to consent, or use shell: read-only",
            )
        tasks.append(
            Task(task_id, prompt.strip(), settings.options, checks, settings.model, settings.index)
        )
    return tasks


def _parse(text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise TaskFileError(
                f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TaskFileError(f"{path}: not valid YAML{where}: {problem}") from None


def _settings(raw: Any, base: _Settings, where: str, root: Path) -> _Settings:
    if not isinstance(raw, dict):
        raise TaskFileError(f"{where}: settings must be a mapping")
    unknown = set(raw) - set(SETTINGS)
    if unknown:
        raise TaskFileError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    names = {name: _text(raw[name], where, name) for name in ("model", "index") if name in raw}
    values: dict[str, Any] = {
        name: raw[name]
        for name in ("shell", "max_steps", "temperature", "seed", "num_ctx", "escalate")
        if name in raw
    }  # fmt: skip
    if "tools" in raw:
        tools = raw["tools"]
        if not isinstance(tools, list) or not all(isinstance(tool, str) for tool in tools):
            raise TaskFileError(f"{where}: `tools` must be a list of names")
        values["tools"] = tuple(tools)
    if "workdir" in raw:
        values["workdir"] = (root / _text(raw["workdir"], where, "workdir")).resolve()
    options = _options(base.options, values, where)
    return replace(base, **names, options=options)


def _options(base: AskOptions, values: dict[str, Any], where: str) -> AskOptions:
    """`base` with `values`, which AskOptions checks; a refusal names the setting and the place."""
    try:
        return replace(base, **values)
    except OptionError as error:
        raise TaskFileError(f"{where}: `{error.name}` {error.requirement}") from None


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
