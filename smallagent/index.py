"""The on-disk index: FAISS vectors plus a SQLite database of documents, chunks and an FTS5 table.

Layout of `indexes/NAME/` (docs/index-format.md has the whole format and its guarantees):
  meta.sqlite          documents, chunks, chunks_fts, and `state`: what built the index, which
                       generation is current, that generation's row counts and the size and CRC-32
                       of its vectors file
  vectors-<gen>.faiss  IndexIDMap2 over a flat inner-product index; ids are chunk ids
  manifest.json        a readable mirror of `state`; any writer rewrites it when it disagrees
  .lock                held (flock) by the one writer

Crash safety: a commit first writes the next vectors file (temp, fsync, rename), then commits the
SQLite transaction that names it. A crash before the commit leaves the previous generation in force
and an orphan file that the next writer deletes; a reader only ever sees a committed pair.

Damage (a garbled database page, a flipped byte in a vectors file, counts that disagree) is
reported as IndexDamagedError with a hint that works: `ingest --rebuild` always repairs, starting
from nothing when the database itself cannot be trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
import urllib.parse
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Literal, cast

from smallagent.chunking import CHUNKER_VERSION, Chunk, ChunkingConfig
from smallagent.errors import IndexDamagedError, IndexStoreError
from smallagent.paths import atomic_write_bytes

FORMAT_VERSION = 1
DATABASE = "meta.sqlite"
MANIFEST = "manifest.json"
LOCK = ".lock"
NORM_TOLERANCE = 0.01  # embedders emit unit vectors; a stored one this far from 1 was damaged

BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,  -- a BLOB of the raw bytes when the name is not valid UTF-8
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
"""
# One statement each: a rebuild drops and recreates them inside its transaction.
FTS_SCHEMA = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, heading, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
)""",
    """CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
END""",
    """CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
    VALUES ('delete', old.id, old.text, old.heading);
END""",
)
SCHEMA = BASE_SCHEMA + "".join(f"{statement};\n" for statement in FTS_SCHEMA)


@dataclass(frozen=True)
class IndexSpec:
    """What built an index; opening it with anything else would mix incomparable vectors."""

    embedder: str
    dimension: int
    max_tokens: int
    overlap_tokens: int
    format_version: int = FORMAT_VERSION
    chunker_version: int = CHUNKER_VERSION

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


@dataclass(frozen=True)
class Finding:
    """One result of `check_index`: damage makes the index unusable, a note is repaired by the
    next ingest on its own."""

    verdict: Literal["ok", "note", "damage"]
    message: str


def validate_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name or name in (".", ".."):
        raise IndexStoreError(
            f"bad index name {name!r}", hint="use letters, digits, '-', '_' (no slashes)"
        )
    return name


def index_directory(index_dir: Path, name: str) -> Path:
    return index_dir / validate_name(name)


def repair_hint(name: str) -> str:
    return (
        f"`smallagent index check {name}` lists the damage; "
        f"`smallagent --index {name} ingest FOLDER... --rebuild` repairs it (re-embeds every file)"
    )


def _damaged(name: str, what: str) -> IndexDamagedError:
    return IndexDamagedError(f"index {name} is damaged: {what}", hint=repair_hint(name))


# --- file names -------------------------------------------------------------------------------


def _path_key(path: str) -> str | bytes:
    """How a file name is stored: text when it is valid UTF-8, else its raw bytes (a BLOB).

    `os` hands undecodable bytes over as lone surrogates (`bad\\udcff.txt`), which SQLite cannot
    take as text; the bytes keep the name exact, and a name has one form only, so UNIQUE holds.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _path_of(stored: str | bytes) -> str:
    return os.fsdecode(stored) if isinstance(stored, bytes) else stored


# --- files and connections --------------------------------------------------------------------


def _connect(path: Path, mode: Literal["ro", "rw", "create"]) -> sqlite3.Connection:
    if mode == "create":
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
    else:
        uri = f"file:{urllib.parse.quote(str(path))}?mode={mode}"
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")
    # Check each b-tree cell as it is read: a garbled page then fails the query that touches it
    # ("malformed") instead of silently dropping rows from its answer. Costs little; the full
    # scan (quick_check) is left to writers and `index check`, since it grows with the index.
    connection.execute("PRAGMA cell_size_check=ON")
    return connection


def _database_error(name: str, error: sqlite3.DatabaseError) -> IndexStoreError:
    """What a failed SQLite call means for the user: damage, a full disk, or a busy index."""
    code = getattr(error, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")):
        return IndexStoreError(
            f"cannot use index {name}: {error}",
            hint="check the free space and permissions of the index directory, then try again",
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return IndexStoreError(
            f"index {name} is busy: {error}", hint="another process holds it; try again"
        )
    return _damaged(name, f"{DATABASE}: {error}")  # corrupt, not a database, tables missing


@contextlib.contextmanager
def _guard(name: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as error:
        raise _database_error(name, error) from None


def _read_state(connection: sqlite3.Connection) -> dict[str, str]:
    try:
        rows = connection.execute("SELECT key, value FROM state").fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return {}  # a database no ingest has committed to yet
        raise
    return {str(key): str(value) for key, value in rows}


def _spec_from_state(state: dict[str, str], directory: Path) -> IndexSpec:
    try:
        return IndexSpec(
            embedder=state["embedder"],
            dimension=int(state["dimension"]),
            max_tokens=int(state["max_tokens"]),
            overlap_tokens=int(state["overlap_tokens"]),
            format_version=int(state["format_version"]),
            # recorded since version 2: an index without it was chunked by version 1
            chunker_version=int(state.get("chunker_version", "1")),
        )
    except (KeyError, ValueError):
        raise IndexDamagedError(
            f"index {directory.name} holds no complete committed generation",
            hint=f"`smallagent --index {directory.name} ingest FOLDER...` builds it "
            "(add --rebuild if it had files before)",
        ) from None


@dataclass(frozen=True)
class _Recorded:
    """What a generation's state says about itself (None: written before it was recorded)."""

    generation: int
    documents: int | None
    chunks: int | None
    vectors_bytes: int | None
    vectors_crc32: str | None

    @classmethod
    def of(cls, state: dict[str, str], name: str) -> _Recorded:
        def number(key: str) -> int | None:
            return int(state[key]) if key in state else None

        try:
            return cls(
                int(state.get("generation", "0")),
                number("documents"),
                number("chunks"),
                number("vectors_bytes"),
                state.get("vectors_crc32"),
            )
        except ValueError:
            raise _damaged(name, "its state table holds a non-number") from None


def _vectors_path(directory: Path, generation: int) -> Path:
    return directory / f"vectors-{generation}.faiss"


_VERIFIED: set[tuple[int, int, int, int, str]] = set()  # vectors files whose checksum matched


def _crc32_of(handle: IO[bytes]) -> str:
    handle.seek(0)
    crc = 0
    while block := handle.read(1 << 20):
        crc = zlib.crc32(block, crc)
    return f"{crc:08x}"


def _read_vectors(
    handle: IO[bytes] | None, name: str, dimension: int, recorded: _Recorded, always: bool = False
) -> Any:
    """Load a generation's vectors from its open file, verified first: size, then CRC-32 (once per
    process and file), so that garbled bytes never reach FAISS or a search; then the count."""
    import faiss

    if handle is None:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    filename = _vectors_path(Path(), recorded.generation).name
    info = os.fstat(handle.fileno())
    if recorded.vectors_bytes is not None and info.st_size != recorded.vectors_bytes:
        raise _damaged(
            name,
            f"{filename} is {info.st_size} bytes, its generation says {recorded.vectors_bytes}",
        )
    if recorded.vectors_crc32 is not None:
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, recorded.vectors_crc32)
        if always or key not in _VERIFIED:
            if _crc32_of(handle) != recorded.vectors_crc32:
                raise _damaged(name, f"{filename} does not match its recorded CRC-32")
            _VERIFIED.add(key)
    handle.seek(0)
    try:
        reader = cast(Any, faiss).PyCallbackIOReader(handle.read)  # the type stub omits it
        vectors = faiss.read_index(reader)
    except RuntimeError as error:
        raise _damaged(name, f"cannot read {filename}: {str(error).splitlines()[0]}") from None
    if vectors.d != dimension:
        raise _damaged(name, f"{filename} holds {vectors.d}-dim vectors, the index {dimension}")
    if recorded.chunks is not None and vectors.ntotal != recorded.chunks:
        raise _damaged(
            name, f"{filename} holds {vectors.ntotal} vectors for {recorded.chunks} chunks"
        )
    return vectors


# --- reading ----------------------------------------------------------------------------------


class IndexReader:
    """A consistent, read-only view of one generation: the SQLite snapshot that names it and its
    vectors file, held open from the start, so commits that delete old files cannot take it away.
    A reader sees the index as it was when opened (or last refreshed) until it closes; `refresh()`
    moves it to the newest committed generation."""

    def __init__(self, directory: Path) -> None:
        database = directory / DATABASE
        if not database.is_file():
            raise IndexStoreError(
                f"no index at {directory}",
                hint=f"create it with `smallagent --index {directory.name} ingest FOLDER`",
            )
        self.directory = directory
        self.name = directory.name
        with _guard(self.name):
            self._db = _connect(database, "ro")
        self._vectors_file: IO[bytes] | None = None
        self._vectors: Any = None
        self.generation = -1
        try:
            self._pin()
        except BaseException:
            self.close()
            raise

    def _pin(self) -> None:
        """Take a snapshot at the newest committed generation and open its vectors file (kept
        as it is when the reader already holds that generation: same generation, same data)."""
        missing = -1
        for _ in range(10):
            with _guard(self.name):
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._db.execute("BEGIN")  # one snapshot until the next refresh
                state = _read_state(self._db)
            spec = _spec_from_state(state, self.directory)
            recorded = _Recorded.of(state, self.name)
            if recorded.generation == self.generation:
                return
            path = _vectors_path(self.directory, recorded.generation)
            try:
                handle = path.open("rb") if recorded.generation else None
            except FileNotFoundError:
                if missing == recorded.generation:
                    raise _damaged(self.name, f"{path.name} is missing") from None
                missing = recorded.generation  # two commits since our snapshot began: look again
                continue
            if self._vectors_file is not None:
                self._vectors_file.close()
            self._vectors_file, self._vectors = handle, None
            self.spec, self._recorded, self.generation = spec, recorded, recorded.generation
            self.updated_at = float(state.get("updated_at", "0"))
            return
        raise IndexStoreError(f"index {self.name} changed too often to be read", hint="try again")

    def refresh(self) -> bool:
        """Follow the newest committed generation; True when the view moved. Raises when the
        index was rebuilt with other settings, since the caller's query embedder no longer fits."""
        generation, spec = self.generation, self.spec
        self._pin()
        if self.spec != spec:
            raise IndexStoreError(
                f"index {self.name} was rebuilt with {_describe(self.spec)} while in use",
                hint="start again to search the rebuilt index",
            )
        return self.generation != generation

    @property
    def vectors(self) -> Any:
        if self._vectors is None:
            self._vectors = _read_vectors(
                self._vectors_file, self.name, self.spec.dimension, self._recorded
            )
        return self._vectors

    def close(self) -> None:
        if self._vectors_file is not None:
            self._vectors_file.close()
        self._db.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counts(self) -> tuple[int, int]:
        with _guard(self.name):
            documents = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(documents), int(chunks)

    def documents(self) -> list[StoredDocument]:
        with _guard(self.name):
            rows = self._db.execute(
                "SELECT id, path, size, mtime_ns, sha256, kind, chunk_count FROM documents"
            ).fetchall()
        return [StoredDocument(row[0], _path_of(row[1]), *row[2:]) for row in rows]

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with _guard(self.name):
            rows = self._db.execute(
                "SELECT c.id, d.path, c.text, c.heading, c.page, c.start_char, c.end_char "
                f"FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
                list(ids),
            ).fetchall()
        return {row[0]: StoredChunk(row[0], _path_of(row[1]), *row[2:]) for row in rows}

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

    def exact(
        self, phrases: Sequence[str], k: int, in_heading: bool = False
    ) -> list[tuple[int, float]]:
        """Chunk ids containing any of the phrases word for word (e.g. `QX-7731` as `qx 7731`);
        with `in_heading`, only chunks whose section heading holds one."""
        quoted = [" ".join(fts_terms(phrase)) for phrase in phrases]
        expression = " OR ".join(f'"{phrase}"' for phrase in quoted if phrase)
        if expression and in_heading:
            expression = f"heading : ({expression})"
        return self._match(expression, k) if expression else []

    def places_holding(self, phrase: str, limit: int = 10_000) -> dict[str, list[int]]:
        """The documents holding the phrase word for word (as `exact` matches it), each with the
        pages that hold it, in order ([] for a document without pages)."""
        quoted = " ".join(fts_terms(phrase))
        if not quoted:
            return {}
        with _guard(self.name):
            rows = self._db.execute(
                "SELECT DISTINCT d.path, c.page FROM chunks_fts "
                "JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
                "WHERE chunks_fts MATCH ? LIMIT ?",
                (f'"{quoted}"', limit),
            ).fetchall()
        places: dict[str, set[int]] = {}
        for path, page in rows:
            pages = places.setdefault(_path_of(path), set())
            if page is not None:
                pages.add(int(page))
        return {path: sorted(pages) for path, pages in places.items()}

    def contains_word(self, word: str) -> bool:
        """Whether any chunk holds the word; words of four letters or more also match as a prefix
        of four-fifths of them ("injur" for "injury" finds "injured", "mean" finds "meaning")."""
        terms = fts_terms(word)
        if len(terms) != 1:
            return False
        return bool(self._match(_word_expression(terms[0]), 1))

    def chunks_containing(self, word: str) -> int:
        """How many chunks hold the word, matched as `contains_word` matches it: how common it is
        in this index, for weighting rare words above common ones."""
        terms = fts_terms(word)
        if len(terms) != 1:
            return 0
        with _guard(self.name):
            row = self._db.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                (_word_expression(terms[0]),),
            ).fetchone()
        return int(row[0])

    def _match(self, expression: str, k: int) -> list[tuple[int, float]]:
        with _guard(self.name):
            rows = self._db.execute(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY bm25(chunks_fts) LIMIT ?",
                (expression, k),
            ).fetchall()
        return [(int(rowid), -float(score)) for rowid, score in rows]


def word_stem(term: str) -> str:
    """What a word is matched by: words of four letters or more by four-fifths of them, so
    "injury" matches "injured" and "meaning" matches "mean".

    >>> word_stem("injury"), word_stem("cat")
    ('injur', 'cat')
    """
    return term[: max(4, len(term) * 4 // 5)] if len(term) >= 4 else term


def _word_expression(term: str) -> str:
    return f'"{word_stem(term)}"*' if len(term) >= 4 else f'"{term}"'


def fts_terms(query: str) -> list[str]:
    """Words of a query, safe to quote for FTS5 (quotes and operators dropped)."""
    import re

    seen: dict[str, None] = {}
    for word in re.findall(r"\w+", query.lower()):
        seen.setdefault(word, None)
    return list(seen)


# --- writing ----------------------------------------------------------------------------------


def _index_files(directory: Path) -> list[Path]:
    """Every file an index keeps in its folder, its lock aside."""
    names = {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", f"{DATABASE}-journal", MANIFEST}
    return [
        path
        for path in directory.iterdir()
        if path.name in names
        or (path.name.startswith("vectors-") and path.suffix == ".faiss")
        or (path.name.startswith(".") and ".tmp-" in path.name)
    ]


def _manifest_bytes(state: dict[str, str]) -> bytes:
    return json.dumps(state, indent=2, sort_keys=True).encode() + b"\n"


def _read_manifest(directory: Path) -> dict[str, str] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


class IndexWriter:
    """The single writer: stages changes in one SQLite transaction and commits them with a new
    vectors generation. Use through `open_writer`.

    Opening verifies the index: SQLite's quick_check, the row counts against the current
    generation's, and the vectors file's size and CRC-32. Damage stops the writer with
    IndexDamagedError, unless it rebuilds: then a database that cannot be trusted is deleted and
    the index starts from nothing (`started_over` says so)."""

    def __init__(self, directory: Path, spec: IndexSpec, rebuild: bool) -> None:
        self.directory = directory
        self.name = directory.name
        self.spec = spec
        self.started_over = False
        try:
            try:
                self._open(rebuild)
            except IndexDamagedError:
                if not rebuild:
                    raise
                self.close()
                for path in _index_files(directory):
                    path.unlink(missing_ok=True)
                self.started_over = True
                self._open(rebuild)
        except BaseException:
            self.close()  # a refused writer must not keep its write lock on the database
            raise

    def _open(self, rebuild: bool) -> None:
        with _guard(self.name):
            self._db = _connect(self.directory / DATABASE, "create")
            self._db.executescript(SCHEMA)
            state = _read_state(self._db)
            if state and not rebuild:
                existing = _spec_from_state(state, self.directory)
                if existing != self.spec:
                    raise IndexStoreError(
                        f"index {self.name} was built with {_describe(existing)}; "
                        f"this ingest uses {_describe(self.spec)}",
                        hint="re-run with --rebuild to re-embed everything with the new settings",
                    )
            verdict = self._db.execute("PRAGMA quick_check(5)").fetchall()
            if verdict != [("ok",)]:
                raise _damaged(self.name, f"{DATABASE} fails its quick check ({verdict[0][0]})")
            recorded = _Recorded.of(state, self.name)
            self.generation = recorded.generation
            self._remove_orphans()
            self._db.execute("BEGIN IMMEDIATE")
            if rebuild or not state:
                self._clear()
                self.vectors = _read_vectors(None, self.name, self.spec.dimension, recorded)
            else:
                chunks = self._verify_counts(recorded)
                self.vectors = self._load_current_vectors(recorded, chunks)
        # A new or rebuilt index commits even when empty; one made before checksums were recorded
        # commits once to record them.
        self.pending = rebuild or not state or recorded.vectors_crc32 is None
        self._sync_manifest(state)

    def _clear(self) -> None:
        """Empty every table; the FTS table is dropped and made again, in case it was damaged."""
        for statement in (
            "DROP TRIGGER IF EXISTS chunks_fts_insert",
            "DROP TRIGGER IF EXISTS chunks_fts_delete",
            "DROP TABLE IF EXISTS chunks_fts",
            "DELETE FROM chunks",
            "DELETE FROM documents",
            *FTS_SCHEMA,
        ):
            self._db.execute(statement)

    def _counts(self) -> tuple[int, int]:
        documents = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(documents), int(chunks)

    def _verify_counts(self, recorded: _Recorded) -> int:
        documents, chunks = self._counts()
        for what, actual, expected in (
            ("documents", documents, recorded.documents),
            ("chunks", chunks, recorded.chunks),
        ):
            if expected is not None and actual != expected:
                raise _damaged(self.name, f"{actual} {what} in {DATABASE}, {expected} recorded")
        return chunks

    def _load_current_vectors(self, recorded: _Recorded, chunks: int) -> Any:
        path = _vectors_path(self.directory, self.generation)
        try:
            handle = path.open("rb") if self.generation else None
        except FileNotFoundError:
            raise _damaged(self.name, f"{path.name} is missing") from None
        try:
            vectors = _read_vectors(handle, self.name, self.spec.dimension, recorded)
        finally:
            if handle is not None:
                handle.close()
        if vectors.ntotal != chunks:
            raise _damaged(
                self.name, f"{path.name} holds {vectors.ntotal} vectors, {chunks} chunks"
            )
        return vectors

    def _sync_manifest(self, state: dict[str, str]) -> None:
        """The manifest mirrors the committed state; a crash after a commit can leave it stale."""
        if not state:
            (self.directory / MANIFEST).unlink(missing_ok=True)  # nothing committed to mirror
        elif _read_manifest(self.directory) != state:
            with contextlib.suppress(OSError):  # a mirror only: the next writer tries again
                atomic_write_bytes(self.directory / MANIFEST, _manifest_bytes(state))

    def _remove_orphans(self) -> None:
        for path in self.directory.glob("vectors-*.faiss"):
            number = path.stem.split("-", 1)[1]
            if number.isdigit() and int(number) > self.generation:
                path.unlink(missing_ok=True)  # written by a crashed commit, never named
        for path in self.directory.glob(".*.tmp-*"):
            path.unlink(missing_ok=True)

    def known_documents(self) -> dict[str, StoredDocument]:
        with _guard(self.name):
            rows = self._db.execute(
                "SELECT id, path, size, mtime_ns, sha256, kind, chunk_count FROM documents"
            ).fetchall()
        documents = [StoredDocument(row[0], _path_of(row[1]), *row[2:]) for row in rows]
        return {document.path: document for document in documents}

    def remove_document(self, path: str) -> int:
        """Drop a document and its chunks; returns how many chunks went."""
        key = _path_key(path)
        with _guard(self.name):
            ids = [
                row[0]
                for row in self._db.execute(
                    "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                    "WHERE d.path = ?",
                    (key,),
                )
            ]
            if ids:
                import numpy as np

                self.vectors.remove_ids(np.asarray(ids, dtype="int64"))
            self._db.execute("DELETE FROM documents WHERE path = ?", (key,))
        self.pending = True
        return len(ids)

    def touch_document(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content, new timestamp: remember it so the next run skips the hash too."""
        with _guard(self.name):
            self._db.execute(
                "UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?",
                (size, mtime_ns, _path_key(path)),
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
    ) -> int:
        """Store a document (replacing any earlier version); returns how many old chunks went."""
        import numpy as np

        removed = self.remove_document(path)
        with _guard(self.name):
            cursor = self._db.execute(
                "INSERT INTO documents (path, size, mtime_ns, sha256, kind, chunk_count, "
                "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_path_key(path), size, mtime_ns, sha256, kind, len(chunks), time.time()),
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
        return removed

    def commit(self) -> None:
        """Make everything staged so far durable and visible, atomically."""
        if not self.pending:
            return
        import faiss

        with _guard(self.name):
            documents, chunks = self._counts()
        if self.vectors.ntotal != chunks:  # a bug in this module, never a state to commit
            raise RuntimeError(f"{self.vectors.ntotal} vectors staged for {chunks} chunks")
        next_generation = self.generation + 1
        vectors_path = _vectors_path(self.directory, next_generation)
        data = faiss.serialize_index(self.vectors).tobytes()
        try:
            atomic_write_bytes(vectors_path, data)
        except OSError as error:
            raise IndexStoreError(
                f"cannot write {vectors_path}: {error.strerror}",
                hint="free some disk space, then ingest again (committed work is kept)",
            ) from None
        state = {
            **{key: str(value) for key, value in asdict(self.spec).items()},
            "generation": str(next_generation),
            "updated_at": repr(time.time()),
            "documents": str(documents),
            "chunks": str(chunks),
            "vectors_bytes": str(len(data)),
            "vectors_crc32": f"{zlib.crc32(data):08x}",
        }
        with _guard(self.name):
            self._db.executemany(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(state.items()),
            )
            self._db.execute("COMMIT")
        previous, self.generation = self.generation, next_generation
        self.pending = False
        self._sync_manifest(state)
        for path in self.directory.glob("vectors-*.faiss"):
            number = path.stem.split("-", 1)[1]
            if number.isdigit() and int(number) < previous:
                path.unlink(missing_ok=True)  # readers pin theirs open; one older is kept anyway
        with _guard(self.name):
            self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        database = getattr(self, "_db", None)
        if database is None:
            return
        with contextlib.suppress(sqlite3.Error):
            if database.in_transaction:
                database.execute("ROLLBACK")  # anything not committed is dropped, never half-kept
        with contextlib.suppress(sqlite3.Error):
            database.close()


def _describe(spec: IndexSpec) -> str:
    return (
        f"{spec.embedder} ({spec.dimension} dims, chunks of {spec.max_tokens} tokens, "
        f"overlap {spec.overlap_tokens}, chunker {spec.chunker_version}, "
        f"format {spec.format_version})"
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
            with contextlib.suppress(IndexStoreError):
                summaries.append(summarize(directory))
    return summaries


def summarize(directory: Path) -> IndexSummary:
    with IndexReader(directory) as reader:
        documents, chunks = reader.counts()
        size = sum(path.stat().st_size for path in directory.iterdir() if path.is_file())
        return IndexSummary(
            directory.name, directory, reader.spec, documents, chunks, size, reader.updated_at
        )


# --- the full check ---------------------------------------------------------------------------


def check_index(directory: Path) -> list[Finding]:
    """Verify everything `smallagent index check` promises, reading every byte of the index:
    SQLite's integrity_check, the FTS index against the chunks table, the row counts against the
    generation's, the vectors file's size and CRC-32, FAISS ids against chunk ids, and that every
    vector has unit length. It changes nothing; it holds the writer lock so no ingest runs
    meanwhile."""
    if not (directory / DATABASE).is_file():
        raise IndexStoreError(
            f"no index at {directory}",
            hint=f"create it with `smallagent --index {directory.name} ingest FOLDER`",
        )
    findings: list[Finding] = []
    with writer_lock(directory):
        try:
            connection = _connect(directory / DATABASE, "rw")
        except sqlite3.DatabaseError as error:
            return [Finding("damage", f"{DATABASE} cannot be opened: {error}")]
        try:
            _check_database(connection, directory, findings)
        except sqlite3.DatabaseError as error:
            findings.append(Finding("damage", f"{DATABASE}: {error}"))
        except IndexStoreError as error:
            findings.append(Finding("damage", error.message))
        finally:
            connection.close()
    return findings


def _check_database(connection: sqlite3.Connection, directory: Path, out: list[Finding]) -> None:
    import numpy as np

    name = directory.name
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check(10)")]
    if problems != ["ok"]:
        out.append(Finding("damage", f"{DATABASE} fails integrity_check: {'; '.join(problems)}"))
        return  # nothing read from it can be trusted
    out.append(Finding("ok", f"{DATABASE} passes integrity_check"))
    state = _read_state(connection)
    spec = _spec_from_state(state, directory)
    recorded = _Recorded.of(state, name)

    connection.execute("BEGIN")
    try:
        connection.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as error:
        out.append(Finding("damage", f"the full-text index disagrees with the chunks: {error}"))
    else:
        out.append(Finding("ok", "the full-text index matches the chunks"))
    finally:
        connection.execute("ROLLBACK")

    orphans = connection.execute("PRAGMA foreign_key_check(chunks)").fetchall()
    documents = connection.execute("SELECT count(*) FROM documents").fetchone()[0]
    chunk_ids = np.asarray(
        [row[0] for row in connection.execute("SELECT id FROM chunks ORDER BY id")], dtype="int64"
    )
    promised = connection.execute("SELECT coalesce(sum(chunk_count), 0) FROM documents").fetchone()
    counts_ok = True
    if orphans:
        out.append(Finding("damage", f"{len(orphans)} chunks belong to no document"))
        counts_ok = False
    if promised[0] != len(chunk_ids):
        out.append(
            Finding("damage", f"documents list {promised[0]} chunks, {len(chunk_ids)} exist")
        )
        counts_ok = False
    for what, actual, expected in (
        ("documents", documents, recorded.documents),
        ("chunks", len(chunk_ids), recorded.chunks),
    ):
        if expected is not None and actual != expected:
            out.append(Finding("damage", f"{actual} {what}, generation records {expected}"))
            counts_ok = False
    if counts_ok:
        out.append(Finding("ok", f"{documents} documents, {len(chunk_ids)} chunks, as recorded"))

    _check_vectors(directory, spec, recorded, chunk_ids, out)
    _check_leftovers(directory, state, recorded, out)


def _check_vectors(
    directory: Path, spec: IndexSpec, recorded: _Recorded, chunk_ids: Any, out: list[Finding]
) -> None:
    import faiss
    import numpy as np

    path = _vectors_path(directory, recorded.generation)
    if recorded.generation == 0:
        handle = None
    else:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            out.append(Finding("damage", f"{path.name} is missing"))
            return
    try:
        vectors = _read_vectors(handle, directory.name, spec.dimension, recorded, always=True)
    except IndexDamagedError as error:
        out.append(Finding("damage", error.message.split(": ", 1)[1]))
        return
    finally:
        if handle is not None:
            handle.close()
    checksum = "CRC-32 matches" if recorded.vectors_crc32 else "no checksum recorded (older)"
    out.append(Finding("ok", f"{path.name}: {recorded.vectors_bytes} bytes, {checksum}"))

    ids = faiss.vector_to_array(vectors.id_map).astype("int64")
    without_chunk = np.setdiff1d(ids, chunk_ids).size
    without_vector = np.setdiff1d(chunk_ids, ids).size
    if without_chunk or without_vector or ids.size != np.unique(ids).size:
        out.append(
            Finding(
                "damage",
                f"vector ids disagree with chunk ids: {without_chunk} vectors without a chunk, "
                f"{without_vector} chunks without a vector",
            )
        )
    else:
        out.append(Finding("ok", f"{ids.size} vectors, one per chunk"))
    if vectors.ntotal:
        matrix = vectors.index.reconstruct_n(0, vectors.ntotal).astype("float64")
        with np.errstate(all="ignore"):
            norms = np.linalg.norm(matrix, axis=1)
        bad = ~np.isfinite(norms) | (np.abs(norms - 1) > NORM_TOLERANCE)
        if bad.any():
            worst = norms[bad][np.argmax(np.abs(np.nan_to_num(norms[bad] - 1, nan=np.inf)))]
            out.append(
                Finding(
                    "damage",
                    f"{int(bad.sum())} vectors are not of unit length (worst norm {worst:.3g}); "
                    "they would top or vanish from every search",
                )
            )
        else:
            out.append(Finding("ok", "every vector has unit length"))


def _check_leftovers(
    directory: Path, state: dict[str, str], recorded: _Recorded, out: list[Finding]
) -> None:
    manifest = _read_manifest(directory)
    if manifest != state:
        shown = "missing or unreadable" if manifest is None else "out of date"
        out.append(Finding("note", f"{MANIFEST} is {shown}; the next ingest rewrites it"))
    leftovers = sorted(
        path.name
        for path in _index_files(directory)
        if (path.name.startswith(".") and ".tmp-" in path.name)
        or (
            path.suffix == ".faiss"
            and path.stem.split("-", 1)[1].isdigit()
            and int(path.stem.split("-", 1)[1]) > recorded.generation
        )
    )
    if leftovers:
        out.append(
            Finding(
                "note",
                f"left by an interrupted ingest: {', '.join(leftovers)}; the next ingest removes "
                "them",
            )
        )
