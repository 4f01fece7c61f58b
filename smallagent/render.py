"""What the CLI shows, other than a run's trace (trace.py): the doctor's checks, ingest reports and
progress, search hits, index facts, pull progress, task progress and tables; and their JSON.

Every function takes the values a box returned and a console; none of them decides anything. The
values' types are imported for the type checker only, so that `smallagent --help` does not load
the boxes that make them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table as RichTable

from smallagent.config import Settings
from smallagent.paths import display_path

if TYPE_CHECKING:
    from smallagent.doctor import Check
    from smallagent.history import EnergyTotal, Entry
    from smallagent.index import IndexSummary
    from smallagent.ingest import IngestReport
    from smallagent.ingest import Progress as IngestProgress
    from smallagent.ollama_model import PullProgress
    from smallagent.retrieval import Hit
    from smallagent.tasks.report import Table
    from smallagent.tasks.runlog import TaskResult
    from smallagent.types import ModelInfo


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


# ---------------------------------------------------------------- doctor

_CHECK_LABEL = {"ok": "[green]  ok  [/]", "warn": "[yellow] warn [/]", "fail": "[red] FAIL [/]"}


def doctor_header(out: Console, version: str, settings: Settings) -> None:
    out.print(f"[bold]smallagent {version}[/] doctor")
    for name in ("ollama_host", "model", "index_dir"):
        out.print(
            f"  [dim]{name} = {getattr(settings, name)}  (from {settings.source_of(name)})[/]"
        )


def doctor_json(version: str, settings: Settings, checks: Sequence[Check]) -> str:
    return json.dumps(
        {
            "version": version,
            "settings": {
                name: {"value": str(getattr(settings, name)), "source": settings.source_of(name)}
                for name in ("ollama_host", "model", "index_dir")
            },
            "checks": [asdict(finding) for finding in checks],
            "ready": all(finding.status != "fail" for finding in checks),
        }
    )


def check(out: Console, finding: Check) -> None:
    out.print(f"{_CHECK_LABEL[finding.status]} [bold]{finding.name}[/]: {finding.detail}")
    if finding.fix:
        out.print(f"{'':7}[cyan]fix:[/] {finding.fix}", soft_wrap=True)


# ---------------------------------------------------------------- ingest


@contextmanager
def ingest_progress(out: Console) -> Iterator[Callable[[IngestProgress], None]]:
    """A transient bar: scanning, then embedding: files in the index of all, and the chunks
    embedded so far with their rate (the bar moves every few chunks, not only per file)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("scanning", total=None, chunks=0, rate="")

        def on_progress(update: IngestProgress) -> None:
            description = "scanning" if update.phase == "scan" else "embedding"
            rate = update.chunks / update.embed_seconds if update.embed_seconds > 0 else 0.0
            progress.update(
                task,
                description=description,
                completed=update.done,
                total=update.total,
                chunks=update.chunks,
                rate=f"{rate:.1f} chunks/s" if rate else "",
            )

        yield on_progress


def ingest_report_json(name: str, directory: Path, report: IngestReport) -> str:
    energy = report.embedding_energy
    return json.dumps(
        {
            "index": name,
            "directory": str(directory),
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "skipped": [{"path": str(item.path), "reason": item.reason} for item in report.skipped],
            "failed": [{"path": str(item.path), "reason": item.reason} for item in report.failed],
            "warnings": [
                {"path": str(item.path), "reason": item.reason} for item in report.warnings
            ],
            "chunks_added": report.chunks_added,
            "chunks_removed": report.chunks_removed,
            "tokens_embedded": report.tokens_embedded,
            "seconds": round(report.seconds, 3),
            "embed_seconds": round(report.embed_seconds, 3),
            "embedding_wh": round(energy.watt_hours, 6) if energy else 0.0,
            "embedding_energy_source": energy.source if energy else "",
            "rechunked_from": report.rechunked_from,
        }
    )


def ingest_report(out: Console, name: str, directory: Path, report: IngestReport) -> None:
    table = RichTable(title=f"index {name} ({display_path(directory)})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, object]] = [
        ("files added", report.added),
        ("files updated", report.updated),
        ("files unchanged", report.unchanged),
        ("files removed", report.removed),
        ("files skipped", len(report.skipped)),
        ("files failed", len(report.failed)),
        ("files with warnings", len(report.warnings)),
        ("chunks added / removed", f"{report.chunks_added} / {report.chunks_removed}"),
        ("tokens embedded", report.tokens_embedded),
        ("seconds (embedding)", f"{report.seconds:.1f} ({report.embed_seconds:.1f})"),
    ]
    if report.embedding_energy is not None:
        energy = report.embedding_energy
        rows.append(("embedding energy", f"{energy.watt_hours:.4f} Wh, {energy.source}"))
    for label, value in rows:
        table.add_row(label, str(value))
    out.print(table)
    if report.rechunked_from is not None:
        out.print(
            f"  every file was chunked again: the index was chunked by an older chunker "
            f"(version {report.rechunked_from})"
        )
    problems = [
        *(("skipped", item) for item in report.skipped),
        *(("failed", item) for item in report.failed),
        *(("warning", item) for item in report.warnings),
    ]
    for kind, item in problems[:25]:
        out.print(f"  [yellow]{kind}[/] {display_path(item.path)}: {item.reason}")
    if len(problems) > 25:
        out.print(f"  … and {len(problems) - 25} more")


# ---------------------------------------------------------------- search and indexes


def hits_json(hits: Sequence[Hit]) -> str:
    text = json.dumps([asdict(hit) for hit in hits], ensure_ascii=False)
    # A file name that is not UTF-8 holds lone surrogates: written as JSON escapes (\udcff).
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def hits(out: Console, found: Sequence[Hit]) -> None:
    if not found:
        out.print("no hits")
    for hit in found:
        where = display_path(hit.path) + (f":page {hit.page}" if hit.page else "")
        snippet = " ".join(hit.text.split())
        out.print(
            f"[bold]{hit.rank}.[/] [cyan]{where}[/] [dim]score {hit.score:.4f}"
            f"{' · ' + hit.heading if hit.heading else ''}[/]"
        )
        out.print(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}", soft_wrap=True)


def index_line(summary: IndexSummary) -> str:
    return (
        f"{summary.name}\t{summary.documents} documents\t{summary.chunks} chunks\t"
        f"{summary.bytes_on_disk / 1e6:.1f} MB"
    )


def index_row(summary: IndexSummary) -> dict[str, Any]:
    spec = summary.spec
    return {
        "name": summary.name,
        "directory": str(summary.directory),
        "documents": summary.documents,
        "chunks": summary.chunks,
        "embedder": spec.embedder,
        "dimension": spec.dimension,
        "max_tokens": spec.max_tokens,
        "overlap_tokens": spec.overlap_tokens,
        "format_version": spec.format_version,
        "chunker_version": spec.chunker_version,
        "bytes": summary.bytes_on_disk,
        "updated_at": summary.updated_at,
    }


def index_info(summary: IndexSummary) -> list[str]:
    from smallagent.chunking import CHUNKER_VERSION  # not at start-up: see the module docstring

    spec = summary.spec
    chunker = f"chunker {spec.chunker_version}"
    if spec.chunker_version < CHUNKER_VERSION:
        chunker += (
            f" (older than this version's {CHUNKER_VERSION}: searches work; the next ingest of "
            "all its folders chunks every file again)"
        )
    updated = datetime.datetime.fromtimestamp(summary.updated_at).isoformat(timespec="seconds")
    facts: list[tuple[str, object]] = [
        ("name", summary.name),
        ("directory", display_path(summary.directory)),
        ("documents", summary.documents),
        ("chunks", summary.chunks),
        ("embedder", f"{spec.embedder} ({spec.dimension} dims)"),
        ("chunking", f"{spec.max_tokens} tokens, overlap {spec.overlap_tokens}, {chunker}"),
        ("format", spec.format_version),
        ("size", f"{summary.bytes_on_disk / 1e6:.1f} MB"),
        ("updated", updated),
    ]
    return [f"{label:10} {value}" for label, value in facts]


# ---------------------------------------------------------------- models


def model_row(info: ModelInfo, size_bytes: int) -> dict[str, Any]:
    return {
        "name": info.name,
        "size_bytes": size_bytes,
        "parameters": info.parameter_size,
        "quantization": info.quantization,
        "context_length": info.context_length,
        "capabilities": list(info.capabilities),
        "family": info.family,
    }


def models_table(out: Console, models: Sequence[tuple[ModelInfo, int]]) -> None:
    shown = RichTable(box=None, pad_edge=False)
    for name in ("name", "size", "parameters", "quantization", "context", "capabilities"):
        shown.add_column(name, justify="right" if name in ("size", "context") else "left")
    for info, size in models:
        shown.add_row(
            escape(info.name), f"{size / 1e9:.1f} GB", info.parameter_size, info.quantization,
            str(info.context_length or ""), ", ".join(info.capabilities),
        )  # fmt: skip
    out.print(shown)


@contextmanager
def pull_progress(out: Console, name: str) -> Iterator[Callable[[PullProgress], None]]:
    """One bar for the whole pull: the bytes of every layer seen so far, summed."""
    from smallagent.ollama_model import PullTotals  # not at start-up: see the module docstring

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())  # fmt: skip
    totals = PullTotals()
    with Progress(*columns, console=out) as progress:
        task = progress.add_task(name, total=None)

        def on_update(update: PullProgress) -> None:
            totals.add(update)
            progress.update(
                task,
                description=f"{name}: {totals.status}",
                completed=totals.completed,
                total=totals.total or None,
            )

        yield on_update


# ---------------------------------------------------------------- scripted runs

_STATUS_MARK = {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "error": "[red]error[/]"}


@contextmanager
def task_progress(out: Console, total: int, disable: bool) -> Iterator[Callable[[Any], None]]:
    """A transient bar over the tasks; `advance(result)` prints the task's line above it."""
    columns = (TextColumn("tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))  # fmt: skip
    with Progress(*columns, console=out, disable=disable, transient=True) as progress:
        bar = progress.add_task("", total=total)

        def advance(result: TaskResult) -> None:
            progress.console.print(
                f"{_STATUS_MARK[result.status]} {result.task_id} "
                f"({result.model}, {result.seconds:.1f} s)"
            )
            progress.advance(bar)

        yield advance


def table(out: Console, rows: Table) -> None:
    """One of the report's tables (tasks/report.py), on the terminal."""
    shown = RichTable(title=rows.title, title_justify="left")
    for number, name in enumerate(rows.columns):
        text = number < rows.left
        shown.add_column(name, justify="left" if text else "right", no_wrap=True)
    status = rows.columns.index("status") if "status" in rows.columns else None
    for row in rows.rows:
        cells = [escape(cell) for cell in row]
        if status is not None:
            cells[status] = _STATUS_MARK[row[status]]
        shown.add_row(*cells)
    out.print(shown)


def not_passed(out: Console, results: Sequence[TaskResult]) -> None:
    for r in results:
        if r.status != "pass":
            out.print(
                f"[red]{r.status}[/] {escape(r.task_id)} ({escape(r.model)}): {escape(r.why())}"
            )


# ---------------------------------------------------------------- settings and history


def settings_report(out: Console, report: dict[str, Any]) -> None:
    """`config show`: the settings as a table, then the paths."""
    shown = RichTable(box=None, pad_edge=False)
    for name in ("setting", "value", "from"):
        shown.add_column(name)
    for row in report["settings"]:
        shown.add_row(row["name"], escape(str(row["value"])), escape(row["source"]))
    out.print(shown)
    for item in report["config_files"]:
        state = "" if item["exists"] else " (absent)"
        out.print(f"config file  {escape(item['path'])}{state}")
    for label, key in (("index dir", "index_dir"), ("cache dir", "cache_dir"),
                       ("data dir", "data_dir"), ("history log", "history_log")):  # fmt: skip
        out.print(f"{label:12} {escape(report[key])}")


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at).isoformat(sep=" ", timespec="minutes")


def history(out: Console, entries: Sequence[Entry]) -> None:
    """`logs`: newest first, one entry in two lines."""
    if not entries:
        out.print("no entries in the history log")
    for entry in entries:
        out.print(
            f"[bold]#{entry.id}[/] [dim]{_when(entry.at)} · {entry.kind} · {escape(entry.model)} · "
            f"{entry.steps} steps · {entry.prompt_tokens}+{entry.generated_tokens} tok · "
            f"{entry.seconds:.1f} s · {entry.wh:.4f} Wh ({escape(entry.wh_method)}) · "
            f"{escape(entry.exit_state)}[/]"
        )
        answer = " ".join(entry.answer.split())
        out.print(f"  [cyan]?[/] {escape(' '.join(entry.question.split())[:200])}", soft_wrap=True)
        if answer:
            out.print(f"  [green]→[/] {escape(answer[:300])}", soft_wrap=True)


def energy_totals(out: Console, totals: Sequence[EnergyTotal]) -> None:
    """`logs energy`: per day and model, a total row, and where each column comes from."""
    if not totals:
        out.print("no entries in the history log")
        return
    shown = RichTable(title="energy by day and model", title_justify="left")
    columns = ("day", "model", "questions", "gen tok", "Wh", "gCO2e", "same tok, this model",
               "same tok, 70B")  # fmt: skip
    for number, name in enumerate(columns):
        shown.add_column(name, justify="left" if number < 2 else "right")
    for total in totals:
        shown.add_row(
            total.day, escape(total.model), str(total.entries), str(total.generated_tokens),
            f"{total.wh:.4f}", f"{total.gco2e:.3f}", f"{total.same_method_wh:.4f}",
            f"{total.reference_wh:.4f}",
        )  # fmt: skip
    wh = sum(total.wh for total in totals)
    same = sum(total.same_method_wh for total in totals)
    reference = sum(total.reference_wh for total in totals)
    shown.add_row(
        "all", "", str(sum(total.entries for total in totals)),
        str(sum(total.generated_tokens for total in totals)), f"{wh:.4f}",
        f"{sum(total.gco2e for total in totals):.3f}", f"{same:.4f}", f"{reference:.4f}",
    )  # fmt: skip
    out.print(shown)
    saving = f" ({100 * (1 - same / reference):.0f}% less)" if reference > 0 else ""
    out.print(
        "Wh and gCO2e: this machine's figures, measured or modeled as each entry says "
        "(`smallagent logs`). The last two columns price the same generated tokens with "
        f"EcoLogits' GPU model at batch 1 for these models and for a 70B one{saving}: "
        "like with like, not comparable with the local Wh.",
        soft_wrap=False,
    )
