"""The results of a run: one record per finished task, appended to a JSONL file and fsynced as
each task ends, so an interruption costs at most the task that was running and `--resume` picks up
the rest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from smallagent.tasks.checks import CheckOutcome
from smallagent.tasks.taskfile import Task, TaskFileError

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class AttemptRecord:
    """One model's attempt at a task when it escalates: its checks, signals and cost."""

    model: str
    passed: bool
    signals: tuple[str, ...]  # "name: detail" of every signal that fired
    escalated: bool
    prompt_tokens: int
    generated_tokens: int
    wh: float
    # How sure the model was of its answer (escalation.answer_confidence), when it was asked.
    confidence: float | None = None
    requests: int = 0  # the model requests the attempt made


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
    # With escalation: the model whose answer was judged, and each model's attempt (the task's
    # tokens and Wh above are their sums).
    answered_by: str = ""
    attempts: tuple[AttemptRecord, ...] = ()
    larger_wh: float = 0.0  # the task on the chain's largest model alone: measured, or modeled
    larger_source: str = ""

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
        fields["attempts"] = tuple(
            AttemptRecord(**{**attempt, "signals": tuple(attempt["signals"])})
            for attempt in row.get("attempts", ())
        )
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
