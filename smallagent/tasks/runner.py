"""Running a task file: which (task, model) pairs, each through the agent, one or several at a time.

Every result is recorded as its task ends (see runlog), so a run that stops part way has lost at
most the tasks that were running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

from smallagent.agent import Result, Step
from smallagent.assistant import Cascade, Outcome
from smallagent.config import Settings
from smallagent.energy import EnergySettings, RunEnergy
from smallagent.errors import ModelNotFoundError, OllamaUnreachableError, SmallagentError
from smallagent.escalation import Signal, checks_failed
from smallagent.retrieval import SourceRegistry
from smallagent.tasks.checks import CheckOutcome, command_runner, evaluate
from smallagent.tasks.runlog import AttemptRecord, Status, TaskResult
from smallagent.tasks.taskfile import Task, TaskFileError
from smallagent.types import Usage

Work = tuple[Task, str]  # a task, and the model that runs it
Execute = Callable[[Task, str], TaskResult]


def plan(
    tasks: Sequence[Task], only: Sequence[str] | None, models: Sequence[str], settings: Settings
) -> list[Work]:
    """The pairs to run, in order: the tasks (`only` these ids, when given) on each of `models`.

    Without `models`, each task runs on its own model, else the configured one; but a global
    `--model` flag beats the task file too.
    """
    if only is not None:
        unknown = [name for name in only if name not in {task.id for task in tasks}]
        if unknown:
            raise TaskFileError(f"--only: no task with id {', '.join(unknown)}")
        tasks = [task for task in tasks if task.id in only]
    if not models and settings.source_of("model") == "--model":
        models = [settings.model]
    if models:
        return [(task, model) for model in models for task in tasks]
    return [(task, task.model or settings.model) for task in tasks]


def in_plan_order(work: Sequence[Work], results: Sequence[TaskResult]) -> list[TaskResult]:
    """Results (recorded earlier, or in finishing order) in the order the plan lists them."""
    order = {(task.id, model): number for number, (task, model) in enumerate(work)}
    return sorted(results, key=lambda result: order[(result.task_id, result.model)])


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
    settings: Settings,
    allow_shell: bool,
    energy_settings: EnergySettings,
    escalate: tuple[str, ...] = (),
    escalate_on_checks: bool = True,
    reuse_findings: bool = False,
) -> Execute:
    """Runs one task on the real model through the same wiring as `smallagent ask`; with
    escalation (`escalate`, else the task's, else the setting), up the chain while a signal fires,
    the task's own failed checks among them unless `escalate_on_checks` is off."""

    def execute(task: Task, model: str) -> TaskResult:
        started = time.perf_counter()
        fingerprint = task.fingerprint()
        chain = escalate or task.options.escalate or settings.escalate
        options = replace(task.options, energy=energy_settings, escalate=chain)
        run_settings = replace(settings, model=model, index=task.index or settings.index)
        cascade = Cascade(run_settings, options, confirm=None, reuse_findings=reuse_findings)
        run_command = command_runner(options.workdir, allow_shell)
        judged: list[tuple[tuple[CheckOutcome, ...], str]] = []

        def judge(result: Result, sources: SourceRegistry) -> list[Signal]:
            cited = [source.path for source in sources.cited(result.answer)]
            try:
                outcomes = tuple(
                    evaluate(check, result.answer, cited, run_command) for check in task.checks
                )
            except SmallagentError as error:
                judged.append(((), error.message))
                return []
            judged.append((outcomes, ""))
            failed = checks_failed(outcomes) if escalate_on_checks else None
            return [failed] if failed is not None else []

        try:
            if "search" in options.tools and "search" not in cascade.first.tools:
                problem = "; ".join(cascade.notes) or "no search tool"
                return TaskResult(task.id, model, "error", fingerprint, error=problem)
            run = cascade.ask(task.prompt, judge=judge)
            steps: list[Step] = []
            try:
                steps.extend(step for step in run if isinstance(step, Step))
            except (OllamaUnreachableError, ModelNotFoundError):
                raise  # the run cannot proceed (see `guarded`)
            except SmallagentError as error:
                # e.g. a timeout, or a reply the server cut off: this task failed, with its cost;
                # a server that still answers runs the next one.
                usage, energy = cascade.spent(steps, error)
                return TaskResult(
                    task.id, model, "error", fingerprint, stop_reason="error",
                    **_spending(steps, usage, energy, started),
                    error=error.message,
                )  # fmt: skip
            outcome = run.outcome
            assert outcome is not None
            result = outcome.result
            outcomes, problem = judged[-1]
            passed = all(check.passed for check in outcomes)
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
                **_spending(steps, result.usage, outcome.energy, started),
                error=problem,
                answered_by=outcome.answered_by if chain else "",
                attempts=_attempts(outcome, judged) if chain else (),
                larger_wh=outcome.larger_wh if chain else 0.0,
                larger_source=outcome.larger_source if chain else "",
            )
        finally:
            cascade.close()

    def guarded(task: Task, model: str) -> TaskResult:
        try:
            return execute(task, model)
        except (OllamaUnreachableError, ModelNotFoundError, TaskFileError):
            raise  # the run cannot proceed: no point trying the next task
        except SmallagentError as error:  # e.g. this task's index is missing: the others may run
            return TaskResult(task.id, model, "error", task.fingerprint(), error=error.message)

    return guarded


def _attempts(
    outcome: Outcome, judged: Sequence[tuple[tuple[CheckOutcome, ...], str]]
) -> tuple[AttemptRecord, ...]:
    last = len(outcome.attempts) - 1
    return tuple(
        AttemptRecord(
            model=attempt.model,
            passed=not problem and all(check.passed for check in outcomes),
            signals=tuple(str(signal) for signal in attempt.signals),
            escalated=attempt.escalated and number < last,
            prompt_tokens=attempt.result.usage.prompt_tokens,
            generated_tokens=attempt.result.usage.generated_tokens,
            wh=attempt.energy.total_wh,
            confidence=attempt.confidence,
            requests=sum(1 for step in attempt.result.steps if step.model_seconds > 0),
        )
        for number, (attempt, (outcomes, problem)) in enumerate(
            zip(outcome.attempts, judged, strict=True)
        )
    )


def _spending(
    steps: Sequence[Step], usage: Usage, energy: RunEnergy, started: float
) -> dict[str, Any]:
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
