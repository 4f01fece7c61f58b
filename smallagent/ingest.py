"""The incremental pipeline: what changed -> chunks -> vectors -> index, committed in checkpoints.

Unchanged files cost a stat (size and mtime match) or a hash (content matches); changed files
replace their chunks; files gone from an ingested folder leave the index. Progress is reported
through a callback; nothing here prints.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from smallagent.chunking import Chunk, ChunkingConfig, WordPieceCounter, chunk_document
from smallagent.config import Settings
from smallagent.documents import (
    DEFAULT_MAX_FILE_BYTES,
    Document,
    FoundFile,
    Skipped,
    UnusableFile,
    load_document,
    run_together_warning,
    scan,
)
from smallagent.embeddings import Embedder, EmbedderId, Precision, resolve_model_location
from smallagent.energy import EnergyFigure, EnergyMeter, cpu_energy, energy_counters
from smallagent.errors import IndexStoreError
from smallagent.index import IndexReader, IndexSpec, open_writer


@dataclass(frozen=True)
class IngestOptions:
    roots: tuple[Path, ...]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    rebuild: bool = False
    checkpoint_every_s: float = 30.0  # the most work a crash can cost
    embed_batch_chunks: int = 256
    progress_every_chunks: int = 32  # the progress bar moves this often while embedding


@dataclass(frozen=True)
class Progress:
    """`done` files of `total` are in the index (their chunks embedded); `chunks` chunks are
    embedded so far, in `embed_seconds` of embedding."""

    phase: Literal["scan", "embed"]
    done: int
    total: int
    chunks: int = 0
    embed_seconds: float = 0.0


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)
    warnings: list[Skipped] = field(default_factory=list)  # indexed, but the text looks wrong
    chunks_added: int = 0
    chunks_removed: int = 0  # of files removed, unusable now, or replaced by a new version
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedding_energy: EnergyFigure | None = None
    started_over: bool = False  # --rebuild found the index damaged and began from nothing
    rechunked_from: int | None = None  # the older chunker version every file was chunked again from


def _under(path: str, roots: Sequence[Path]) -> bool:
    return any(path == str(root) or path.startswith(str(root) + os.sep) for root in roots)


def _older_chunker(directory: Path, spec: IndexSpec, roots: Sequence[Path]) -> int | None:
    """The chunker version of an index built as `spec` says in all but that, else None.

    Its chunks were cut another way, so every file is chunked again (a rebuild) rather than new
    chunks mixed with old ones. That needs every file it holds: when some lie outside `roots`,
    which a rebuild would drop, the ingest is refused with the folders to give instead.
    """
    try:
        reader = IndexReader(directory)
    except IndexStoreError:
        return None  # no index yet, or one the writer will say what is wrong with
    with reader:
        built = reader.spec
        if built == spec or replace(built, chunker_version=spec.chunker_version) != spec:
            return None
        outside = sorted(doc.path for doc in reader.documents() if not _under(doc.path, roots))
    if outside:
        raise IndexStoreError(
            f"index {directory.name} was chunked by an older chunker (version "
            f"{built.chunker_version}, now {spec.chunker_version}): every file must be chunked "
            f"again, and {len(outside)} of its files are outside the folders given, "
            f"such as {outside[0]}",
            hint=f"ingest all of its folders at once: `smallagent --index {directory.name} "
            "ingest FOLDER... --rebuild`",
        )
    return built.chunker_version


@dataclass
class _Pending:
    found: FoundFile
    sha256: str
    document: Document
    chunks: list[Chunk]
    is_new: bool


def ingest(
    index_directory: Path,
    embedder: Embedder,
    options: IngestOptions,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    roots = tuple(Path(os.path.abspath(root)) for root in options.roots)
    scanned = scan(roots, options.include, options.exclude, options.max_file_bytes)
    report.skipped.extend(scanned.skipped)
    # A root that is missing (or cannot be searched) removes nothing.
    existing_roots = [root for root in roots if os.path.exists(root)]
    on_progress(Progress("scan", len(scanned.files), len(scanned.files)))

    spec = IndexSpec(
        embedder=embedder.name,
        dimension=embedder.dimension,
        max_tokens=options.chunking.max_tokens,
        overlap_tokens=options.chunking.overlap_tokens,
    )
    counter = WordPieceCounter(resolve_model_location(embedder.identity.model))
    cores = os.cpu_count() or 1
    meter = EnergyMeter(energy_counters(gpus=False))  # embedding runs on the CPU

    report.rechunked_from = (
        None if options.rebuild else _older_chunker(index_directory, spec, existing_roots)
    )
    rebuild = options.rebuild or report.rechunked_from is not None
    with open_writer(index_directory, spec, rebuild=rebuild) as writer:
        report.started_over = writer.started_over
        known = writer.known_documents()
        found_paths = {str(found.path) for found in scanned.files}
        for path in sorted(set(known) - found_paths):
            if _under(path, existing_roots):
                report.chunks_removed += writer.remove_document(path)
                report.removed += 1

        to_process: list[tuple[FoundFile, bytes, str]] = []
        for found in scanned.files:
            previous = known.get(str(found.path))
            if previous and (previous.size, previous.mtime_ns) == (found.size, found.mtime_ns):
                report.unchanged += 1
                continue
            try:
                data = found.path.read_bytes()
            except OSError as error:
                report.failed.append(Skipped(found.path, f"cannot read: {error.strerror}"))
                continue
            digest = hashlib.sha256(data).hexdigest()
            if previous and previous.sha256 == digest:
                writer.touch_document(str(found.path), found.size, found.mtime_ns)
                report.unchanged += 1
                continue
            to_process.append((found, data, digest))

        batch: list[_Pending] = []
        last_commit = time.monotonic()
        files_embedded = 0

        def embedded_so_far() -> None:
            on_progress(Progress("embed", files_embedded, len(to_process), report.chunks_added,
                                 report.embed_seconds))  # fmt: skip

        def embed(texts: list[str]) -> Any:
            """The vectors of `texts`, reporting progress every few chunks."""
            import numpy

            step = options.progress_every_chunks
            parts, started = [], time.perf_counter()
            for first in range(0, len(texts), step):
                parts.append(embedder.embed(texts[first : first + step]))
                embedded = report.chunks_added + first + len(parts[-1])
                seconds = report.embed_seconds + time.perf_counter() - started
                on_progress(Progress("embed", files_embedded, len(to_process), embedded, seconds))
            return numpy.concatenate(parts)

        def flush() -> None:
            nonlocal last_commit, files_embedded
            texts = [chunk.embedding_text for pending in batch for chunk in pending.chunks]
            vectors = None
            if texts:
                with meter.measuring() as work:
                    vectors = embed(texts)
                figure = cpu_energy(work, cores)
                previous_joules = report.embedding_energy.joules if report.embedding_energy else 0
                total_joules = previous_joules + figure.joules
                report.embedding_energy = EnergyFigure(total_joules, figure.source)
                report.embed_seconds += work.seconds
            offset = 0
            for pending in batch:
                count = len(pending.chunks)
                report.chunks_removed += writer.add_document(
                    str(pending.found.path),
                    pending.found.size,
                    pending.found.mtime_ns,
                    pending.sha256,
                    pending.document.kind,
                    pending.chunks,
                    vectors[offset : offset + count] if vectors is not None else None,
                )
                offset += count
                report.chunks_added += count
                report.tokens_embedded += sum(chunk.token_count for chunk in pending.chunks)
                if pending.is_new:
                    report.added += 1
                else:
                    report.updated += 1
                files_embedded += 1
            batch.clear()
            if not rebuild and time.monotonic() - last_commit >= options.checkpoint_every_s:
                writer.commit()
                last_commit = time.monotonic()

        for found, data, digest in to_process:
            try:
                document = load_document(found.path, data)
                chunks = chunk_document(document, counter, options.chunking)
            except Exception as error:  # one file's content never stops the ingest
                if isinstance(error, UnusableFile):
                    report.skipped.append(Skipped(found.path, str(error)))
                else:
                    reason = f"cannot index: {type(error).__name__}: {error}"
                    report.failed.append(Skipped(found.path, reason))
                if str(found.path) in known:  # its old chunks describe content that is gone
                    report.chunks_removed += writer.remove_document(str(found.path))
                    report.removed += 1
                files_embedded += 1  # done with: nothing of it to embed
            else:
                if warning := run_together_warning(document):
                    report.warnings.append(Skipped(found.path, warning))
                is_new = str(found.path) not in known
                batch.append(_Pending(found, digest, document, chunks, is_new))
                if sum(len(pending.chunks) for pending in batch) >= options.embed_batch_chunks:
                    flush()
            embedded_so_far()
        flush()
        embedded_so_far()
        writer.commit()
    report.seconds = time.perf_counter() - started
    return report


def choose_precision(
    directory: Path, asked: Precision | None, settings: Settings, rebuild: bool
) -> Precision:
    """--precision, else a configured one, else the existing index's own, else the default.

    An index built at fp32 stays fp32 when the default changes: adding files to it must not turn
    into a refusal that asks for --rebuild.
    """
    if asked is not None:
        return asked
    if settings.source_of("embedding_precision") != "default" or rebuild:
        return settings.embedding_precision
    try:
        reader = IndexReader(directory)
    except IndexStoreError:
        return settings.embedding_precision
    with reader:
        return EmbedderId.parse(reader.spec.embedder).precision
