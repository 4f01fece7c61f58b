"""The on-disk index: FAISS vectors plus a SQLite database of documents, chunks and an FTS5 table.

Layout of `indexes/NAME/`:
  meta.sqlite          documents, chunks, chunks_fts, and `state` (what built it, which generation)
  vectors-<gen>.faiss  IndexIDMap2 over a flat inner-product index; ids are chunk ids
  manifest.json        a readable mirror of `state`, rewritten after each commit
  .lock                held (flock) by the one writer

Crash safety: a commit first writes the next vectors file (temp, fsync, rename), then commits the
SQLite transaction that names it. A crash before the commit leaves the previous generation in force
and an orphan file that the next writer deletes; a reader only ever sees a committed pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smallagent.chunking import Chunk, ChunkingConfig
from smallagent.errors import IndexStoreError
from smallagent.paths import atomic_write_bytes

FORMAT_VERSION = 1
DATABASE = "meta.sqlite"
MANIFEST = "manifest.json"
LOCK = ".lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    heading TEXT NOT NULL,
    page INTEGER,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    token_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
    VALUES ('delete', old.id, old.text, old.heading);
END;
"""


@dataclass(frozen=True)
class IndexSpec:
    """What built an index; opening it with anything else would mix incomparable vectors."""

    embedder: str
    dimension: int
    max_tokens: int
    overlap_tokens: int
    format_version: int = FORMAT_VERSION

    @property
    def chunking(self) -> ChunkingConfig:
        return ChunkingConfig(self.max_tokens, self.overlap_tokens)


@dataclass(frozen=True)
class StoredDocument:
    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str
    kind: str
    chunk_count: int


@dataclass(frozen=True)
class StoredChunk:
    id: int
    path: str
    text: str
    heading: str
    page: int | None
    start: int
    end: int


@dataclass(frozen=True)
class IndexSummary:
    name: str
    directory: Path
    spec: IndexSpec
    documents: int
    chunks: int
    bytes_on_disk: int
    updated_at: float


def validate_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name or name in (".", ".."):
        raise IndexStoreError(
            f"bad index name {name!r}", hint="use letters, digits, '-', '_' (no slashes)"
        )
    return name


def index_directory(index_dir: Path, name: str) -> Path:
    return index_dir / validate_name(name)


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def _read_state(connection: sqlite3.Connection) -> dict[str, str]:
    try:
        return dict(connection.execute("SELECT key, value FROM state").fetchall())
    except sqlite3.DatabaseError:
        return {}


def _spec_from_state(state: dict[str, str], directory: Path) -> IndexSpec:
    try:
        return IndexSpec(
            embedder=state["embedder"],
            dimension=int(state["dimension"]),
            max_tokens=int(state["max_tokens"]),
            overlap_tokens=int(state["overlap_tokens"]),
            format_version=int(state["format_version"]),
        )
    except (KeyError, ValueError):
        raise IndexStoreError(
            f"{directory} is not a complete smallagent index",
            hint=f"remove it with `smallagent index rm {directory.name}` and ingest again",
        ) from None


def _load_vectors(directory: Path, generation: int, dimension: int) -> Any:
    import faiss

    if generation == 0:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    path = directory / f"vectors-{generation}.faiss"
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        raise IndexStoreError(
            f"cannot read {path}: {str(error).splitlines()[0]}",
            hint="ingest again with --rebuild",
        ) from None


class IndexReader:
    """A consistent, read-only view: the SQLite state and the vectors file it names."""

    def __init__(self, directory: Path) -> None:
        database = directory / DATABASE
        if not database.is_file():
            raise IndexStoreError(
                f"no index at {directory}",
                hint=f"create it with `smallagent ingest FOLDER --index {directory.name}`",
            )
        self.directory = directory
        self.name = directory.name
        self._db = _connect(database, read_only=True)
        self._db.execute("BEGIN")  # one snapshot for the life of the reader
        state = _read_state(self._db)
        self.spec = _spec_from_state(state, directory)
        self.generation = int(state.get("generation", "0"))
        self.updated_at = float(state.get("updated_at", "0"))
        self._vectors: Any = None

    @property
    def vectors(self) -> Any:
        if self._vectors is None:
            self._vectors = _load_vectors(self.directory, self.generation, self.spec.dimension)
        return self._vectors

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counts(self) -> tuple[int, int]:
        documents = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(documents), int(chunks)

    def documents(self) -> list[StoredDocument]:
        rows = self._db.execute(
            "SELECT id, path, size, mtime_ns, sha256, kind, chunk_count FROM documents"
        ).fetchall()
        return [StoredDocument(*row) for row in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT c.id, d.path, c.text, c.heading, c.page, c.start_char, c.end_char "
            f"FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            list(ids),
        ).fetchall()
        return {row[0]: StoredChunk(*row) for row in rows}

    def dense(self, query_vector: Any, k: int) -> list[tuple[int, float]]:
        """Chunk ids by cosine similarity (vectors are unit length, so inner product)."""
        import numpy as np

        if self.vectors.ntotal == 0:
            return []
        query = np.asarray(query_vector, dtype="float32").reshape(1, -1)
        scores, ids = self.vectors.search(query, min(k, self.vectors.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def keyword(self, query: str, k: int) -> list[tuple[int, float]]:
        """Chunk ids by BM25 over the FTS5 table; any word of the query may match."""
        terms = fts_terms(query)
        return self._match(" OR ".join(f'"{term}"' for term in terms), k) if terms else []

    def exact(self, phrases: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids containing any of the phrases word for word (e.g. `QX-7731` as `qx 7731`)."""
        quoted = [" ".join(fts_terms(phrase)) for phrase in phrases]
        expression = " OR ".join(f'"{phrase}"' for phrase in quoted if phrase)
        return self._match(expression, k) if expression else []

    def _match(self, expression: str, k: int) -> list[tuple[int, float]]:
        rows = self._db.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts) LIMIT ?",
            (expression, k),
        ).fetchall()
        return [(int(rowid), -float(score)) for rowid, score in rows]


def fts_terms(query: str) -> list[str]:
    """Words of a query, safe to quote for FTS5 (quotes and operators dropped)."""
    import re

    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", query.lower()):
        seen.setdefault(word, None)
    return list(seen)


class IndexWriter:
    """The single writer: stages changes in one SQLite transaction and commits them with a new
    vectors generation. Use through `open_writer`."""

    def __init__(self, directory: Path, spec: IndexSpec, rebuild: bool) -> None:
        self.directory = directory
        self.spec = spec
        self._db = _connect(directory / DATABASE, read_only=False)
        self._db.executescript(SCHEMA)
        state = _read_state(self._db)
        if state and not rebuild:
            existing = _spec_from_state(state, directory)
            if existing != spec:
                raise IndexStoreError(
                    f"index {directory.name} was built with {_describe(existing)}; "
                    f"this ingest uses {_describe(spec)}",
                    hint="re-run with --rebuild to re-embed everything with the new settings",
                )
        self.generation = int(state.get("generation", "0"))
        self._remove_orphans()
        self._db.execute("BEGIN IMMEDIATE")
        if rebuild or not state:
            self._db.execute("DELETE FROM chunks")
            self._db.execute("DELETE FROM documents")
            self.vectors = _load_vectors(directory, 0, spec.dimension)
        else:
            self.vectors = _load_vectors(directory, self.generation, spec.dimension)
        self.pending = rebuild or not state

    def _remove_orphans(self) -> None:
        for path in self.directory.glob("vectors-*.faiss"):
            number = path.stem.split("-", 1)[1]
            if number.isdigit() and int(number) > self.generation:
                path.unlink(missing_ok=True)  # written by a crashed commit, never named
        for path in self.directory.glob(".*.tmp-*"):
            path.unlink(missing_ok=True)

    def known_documents(self) -> dict[str, StoredDocument]:
        rows = self._db.execute(
            "SELECT id, path, size, mtime_ns, sha256, kind, chunk_count FROM documents"
        ).fetchall()
        return {row[1]: StoredDocument(*row) for row in rows}

    def remove_document(self, path: str) -> int:
        ids = [
            row[0]
            for row in self._db.execute(
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.path = ?",
                (path,),
            )
        ]
        if ids:
            import numpy as np

            self.vectors.remove_ids(np.asarray(ids, dtype="int64"))
        self._db.execute("DELETE FROM documents WHERE path = ?", (path,))
        self.pending = True
        return len(ids)

    def touch_document(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content, new timestamp: remember it so the next run skips the hash too."""
        self._db.execute(
            "UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
        )
        self.pending = True

    def add_document(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        sha256: str,
        kind: str,
        chunks: Sequence[Chunk],
        vectors: Any,
    ) -> None:
        import numpy as np

        self.remove_document(path)
        cursor = self._db.execute(
            "INSERT INTO documents (path, size, mtime_ns, sha256, kind, chunk_count, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, size, mtime_ns, sha256, kind, len(chunks), time.time()),
        )
        document_id = cursor.lastrowid
        ids: list[int] = []
        for ordinal, chunk in enumerate(chunks):
            row = self._db.execute(
                "INSERT INTO chunks (document_id, ordinal, text, heading, page, start_char, "
                "end_char, token_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    document_id,
                    ordinal,
                    chunk.text,
                    chunk.heading,
                    chunk.page,
                    chunk.start,
                    chunk.end,
                    chunk.token_count,
                ),
            )
            assert row.lastrowid is not None
            ids.append(row.lastrowid)
        if ids:
            matrix = np.ascontiguousarray(vectors, dtype="float32")
            if matrix.shape != (len(ids), self.spec.dimension):
                raise ValueError(f"vectors of shape {matrix.shape} for {len(ids)} chunks")
            self.vectors.add_with_ids(matrix, np.asarray(ids, dtype="int64"))
        self.pending = True

    def commit(self) -> None:
        """Make everything staged so far durable and visible, atomically."""
        if not self.pending:
            return
        import faiss

        next_generation = self.generation + 1
        vectors_path = self.directory / f"vectors-{next_generation}.faiss"
        atomic_write_bytes(vectors_path, faiss.serialize_index(self.vectors).tobytes())
        state = {
            **{key: str(value) for key, value in asdict(self.spec).items()},
            "generation": str(next_generation),
            "updated_at": repr(time.time()),
        }
        self._db.executemany(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(state.items()),
        )
        self._db.execute("COMMIT")
        previous, self.generation = self.generation, next_generation
        self.pending = False
        atomic_write_bytes(self.directory / MANIFEST, json.dumps(state, indent=2).encode() + b"\n")
        for path in self.directory.glob("vectors-*.faiss"):
            number = path.stem.split("-", 1)[1]
            if number.isdigit() and int(number) < previous:
                path.unlink(missing_ok=True)  # keep one older file for readers mid-open
        self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")  # anything not committed is dropped, never half-kept
        self._db.close()


def _describe(spec: IndexSpec) -> str:
    return (
        f"{spec.embedder} ({spec.dimension} dims, chunks of {spec.max_tokens} tokens, "
        f"overlap {spec.overlap_tokens}, format {spec.format_version})"
    )


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK).open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise IndexStoreError(
                f"index {directory.name} is being written by another process (pid {holder})",
                hint="wait for that ingest to finish, then run this one again",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def open_writer(directory: Path, spec: IndexSpec, rebuild: bool = False) -> Iterator[IndexWriter]:
    """Lock the index and hand out its writer; what was not committed is rolled back on exit."""
    with writer_lock(directory):
        writer = IndexWriter(directory, spec, rebuild)
        try:
            yield writer
        finally:
            writer.close()


def list_indexes(index_dir: Path) -> list[IndexSummary]:
    summaries = []
    if not index_dir.is_dir():
        return []
    for directory in sorted(index_dir.iterdir()):
        if directory.is_dir() and (directory / DATABASE).is_file():
            with contextlib.suppress(IndexStoreError, sqlite3.DatabaseError):
                summaries.append(summarize(directory))
    return summaries


def summarize(directory: Path) -> IndexSummary:
    with IndexReader(directory) as reader:
        documents, chunks = reader.counts()
        size = sum(path.stat().st_size for path in directory.iterdir() if path.is_file())
        return IndexSummary(
            directory.name, directory, reader.spec, documents, chunks, size, reader.updated_at
        )
