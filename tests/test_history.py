"""The history log: what it records, how it is searched and totalled, and that kill -9 during a
write never corrupts it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from smallagent.energy import default_energy_settings, run_energy
from smallagent.history import Entry, HistoryLog, question_entry
from smallagent.types import Usage


def entry(question: str, model: str = "qwen2.5:3b", at: float = 1_700_000_000.0) -> Entry:
    return Entry(
        kind="ask",
        question=question,
        answer=f"the answer to {question}",
        model=model,
        steps=2,
        prompt_tokens=500,
        generated_tokens=50,
        seconds=3.0,
        wh=0.01,
        wh_method="modeled: CPU",
        gco2e=0.0048,
        same_method_wh=0.002,
        reference_wh=0.018,
        exit_state="answered",
        sources=("calibration.md",),
        at=at,
    )


def test_entries_come_back_newest_first_whole(tmp_path: Path) -> None:
    with HistoryLog(tmp_path / "h.sqlite") as log:
        first = log.record(entry("first", at=1_700_000_000.0))
        log.record(entry("second", at=1_700_000_100.0))
        found = log.recent(10)
    assert [item.question for item in found] == ["second", "first"]
    assert found[1] == replace(entry("first"), id=first)


def test_full_text_search_and_model_filter(tmp_path: Path) -> None:
    with HistoryLog(tmp_path / "h.sqlite") as log:
        log.record(entry("What is the service code TW-8841?"))
        log.record(entry("Why is the sky blue?", model="qwen2.5-coder:0.5b"))
        assert [e.question for e in log.recent(5, query="TW-8841")] == [
            "What is the service code TW-8841?"
        ]
        assert [e.question for e in log.recent(5, query='sky "blue')] == ["Why is the sky blue?"]
        assert [e.model for e in log.recent(5, model="qwen2.5-coder:0.5b")] == [
            "qwen2.5-coder:0.5b"
        ]
        assert log.recent(5, query="volcano") == []


def test_energy_totals_per_day_and_model(tmp_path: Path) -> None:
    day = time.mktime((2026, 11, 25, 12, 0, 0, 0, 0, -1))
    with HistoryLog(tmp_path / "h.sqlite") as log:
        log.record(entry("a", at=day))
        log.record(entry("b", at=day + 60))
        log.record(entry("c", model="small", at=day + 86400))
        totals = log.energy_totals()
    assert [(t.day, t.model, t.entries) for t in totals] == [
        ("2026-11-25", "qwen2.5:3b", 2),
        ("2026-11-26", "small", 1),
    ]
    assert totals[0].wh == pytest.approx(0.02)
    assert totals[0].reference_wh == pytest.approx(0.036)
    assert totals[0].generated_tokens == 100


def test_question_entry_takes_the_run_energy_figures() -> None:
    usage = Usage(prompt_tokens=532, generated_tokens=51, prompt_eval_s=11.06, eval_s=2.54)
    energy = run_energy(usage, 0.4, default_energy_settings(2), 1.8)
    made = question_entry("chat", "q", "a", "m", 2, usage, 14.0, energy, "answered", ["x.md"])
    assert (made.wh, made.gco2e, made.reference_wh) == (
        energy.total_wh,
        energy.gco2e,
        energy.reference_wh,
    )
    assert made.same_method_wh == energy.small_model_same_method_wh
    assert made.wh_method == energy.method and made.sources == ("x.md",)


WRITER = """
import sys
from smallagent.history import Entry, HistoryLog
log = HistoryLog(__import__("pathlib").Path(sys.argv[1]))
number = 0
while True:
    number += 1
    log.record(Entry(kind="ask", question=f"q{number} " + "x" * 20000, answer="a" * 20000,
        model="m", steps=1, prompt_tokens=1, generated_tokens=1, seconds=0.1, wh=0.001,
        wh_method="modeled", gco2e=0.0, same_method_wh=0.0, reference_wh=0.0,
        exit_state="answered"))
"""


def test_kill_9_mid_write_leaves_a_sound_log(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    for round_number in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
        deadline = time.monotonic() + 60
        before = 0
        with HistoryLog(path) as log:
            before = len(log.recent(100_000))
        while time.monotonic() < deadline:  # wait until it is writing steadily
            time.sleep(0.05 + 0.03 * round_number)
            with HistoryLog(path) as log:
                if len(log.recent(100_000)) >= before + 5:
                    break
        writer.send_signal(signal.SIGKILL)
        assert writer.wait() == -signal.SIGKILL
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute("SELECT question, answer FROM entries").fetchall()
        # FTS5's own check of its index against the entries (raises on a mismatch)
        connection.execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
        connection.close()
        assert len(rows) >= before + 5
        written = [(q, a) for q, a in rows if not q.startswith("after kill")]
        assert all(len(q) > 20000 and a == "a" * 20000 for q, a in written), "a half-written entry"
        with HistoryLog(path) as log:  # and it takes more entries after
            log.record(entry(f"after kill {round_number}", at=time.time() + 3600))
            assert log.recent(1)[0].question == f"after kill {round_number}"
