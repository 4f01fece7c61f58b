"""The history log behind `smallagent logs`: every ask, chat turn and run task, in SQLite.

One row per question answered (or not): what was asked and answered, by which model, in how many
steps, tokens and seconds, the energy with where its figure came from, the sources cited, and how
it ended. The file lives in the user data directory (config.history_path).

A crash never corrupts it: the database is in WAL mode with `synchronous=FULL`, and each entry is
written in one transaction, so a process killed mid-write (kill -9) leaves the log as it was
before that entry or with the entry whole, never half of one (tests/test_history.py kills a real
writer). The log imports nothing of smallagent's flow: callers hand it finished `Entry` values.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from smallagent.errors import SmallagentError

if TYPE_CHECKING:
    from smallagent.energy import RunEnergy
    from smallagent.types import Usage

Kind = Literal["ask", "chat", "run"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    model TEXT NOT NULL,
    steps INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    generated_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    wh REAL NOT NULL,
    wh_method TEXT NOT NULL,
    gco2e REAL NOT NULL,
    same_method_wh REAL NOT NULL,
    reference_wh REAL NOT NULL,
    sources TEXT NOT NULL,
    exit_state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries(at);
CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(
    question, answer, content='entries', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS entries_fts_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts(rowid, question, answer) VALUES (new.id, new.question, new.answer);
END;
"""


@dataclass(frozen=True)
class Entry:
    """One question and how it went. `wh` is this machine's figure (measured or modeled, as
    `wh_method` says); `same_method_wh` and `reference_wh` price the same generated tokens with
    EcoLogits' GPU model for this model and for a 70B one (energy.RunEnergy), like with like."""

    kind: Kind
    question: str
    answer: str
    model: str
    steps: int
    prompt_tokens: int
    generated_tokens: int
    seconds: float
    wh: float
    wh_method: str
    gco2e: float
    same_method_wh: float
    reference_wh: float
    exit_state: str  # answered, incomplete: <why>, error: <message>, interrupted
    sources: tuple[str, ...] = ()
    at: float = field(default_factory=time.time)
    id: int | None = None

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "sources": list(self.sources)}


@dataclass(frozen=True)
class EnergyTotal:
    """Entries of one day and model, summed; the gCO2e are each entry's own grid intensity."""

    day: str
    model: str
    entries: int
    generated_tokens: int
    wh: float
    gco2e: float
    same_method_wh: float
    reference_wh: float

    def row(self) -> dict[str, Any]:
        return asdict(self)


class HistoryError(SmallagentError):
    """The history log cannot be opened or read."""


class HistoryLog:
    """The log at `path`; opened per command, closed after it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise HistoryError(
                f"cannot open the history log {path}: {error}",
                hint="turn it off with --no-log or `history = false` in the config file",
            ) from None

    def __enter__(self) -> HistoryLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, entry: Entry) -> int:
        """Append one entry in one transaction; returns its id."""
        values = entry.row()
        values.pop("id")
        values["sources"] = json.dumps(values["sources"], ensure_ascii=False)
        names = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute(f"INSERT INTO entries ({names}) VALUES ({marks})", values)
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise HistoryError(f"cannot write the history log {self.path}: {error}") from None
        return int(cursor.lastrowid or 0)

    def recent(
        self, limit: int = 20, query: str | None = None, model: str | None = None
    ) -> list[Entry]:
        """The latest entries, newest first: those matching `query` (full-text, FTS5 syntax
        with each word taken literally) and `model`, when given."""
        where, parameters = [], []
        if query:
            where.append("id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
            parameters.append(fts_query(query))
        if model:
            where.append("model = ?")
            parameters.append(model)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            f"SELECT * FROM entries {clause} ORDER BY at DESC, id DESC LIMIT ?",
            [*parameters, limit],
        )
        return [_entry(row) for row in rows]

    def energy_totals(self, model: str | None = None) -> list[EnergyTotal]:
        """Wh, gCO2e and the 70B comparison per day (local time) and model, oldest day first."""
        clause = "WHERE model = ?" if model else ""
        rows = self._read(
            "SELECT date(at, 'unixepoch', 'localtime') AS day, model, count(*), "
            "sum(generated_tokens), sum(wh), sum(gco2e), sum(same_method_wh), sum(reference_wh) "
            f"FROM entries {clause} GROUP BY day, model ORDER BY day, model",
            [model] if model else [],
        )
        return [
            EnergyTotal(
                day=str(row[0]),
                model=str(row[1]),
                entries=int(row[2]),
                generated_tokens=int(row[3] or 0),
                wh=float(row[4] or 0),
                gco2e=float(row[5] or 0),
                same_method_wh=float(row[6] or 0),
                reference_wh=float(row[7] or 0),
            )
            for row in rows
        ]

    def _read(self, sql: str, parameters: Sequence[Any]) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise HistoryError(f"cannot read the history log {self.path}: {error}") from None


def fts_query(text: str) -> str:
    """Each word of `text` as a quoted FTS5 term, so punctuation never reads as syntax.

    >>> fts_query('TW-8841 "calibration"')
    '"TW-8841" "calibration"'
    """
    words = text.replace('"', " ").split()
    return " ".join(f'"{word}"' for word in words) or '""'


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values["sources"] = tuple(json.loads(values["sources"]))
    return Entry(**values)


def question_entry(
    kind: Kind,
    question: str,
    answer: str,
    model: str,
    steps: int,
    usage: Usage,
    seconds: float,
    energy: RunEnergy,
    exit_state: str,
    sources: Sequence[str] = (),
) -> Entry:
    """An entry from what one question returned and spent (ask and chat; run has its own)."""
    return Entry(
        kind=kind,
        question=question,
        answer=answer,
        model=model,
        steps=steps,
        prompt_tokens=usage.prompt_tokens,
        generated_tokens=usage.generated_tokens,
        seconds=seconds,
        wh=energy.total_wh,
        wh_method=energy.method,
        gco2e=energy.gco2e,
        same_method_wh=energy.small_model_same_method_wh or 0.0,
        reference_wh=energy.reference_wh,
        exit_state=exit_state,
        sources=tuple(sources),
    )
