"""kill -9 at random points of a re-ingest: after every kill the index is consistent (SQLite, FTS
and FAISS agree, counts match the generation), and the next ingest finishes the work.

The child counts the index's steps (each SQL statement, fsync, rename, unlink) and kills itself
with SIGKILL just before step N; a dry run counts the steps and gives the expected end state.
The kill points are drawn at random (seed printed; set SMALLAGENT_KILL_SEED to replay one,
SMALLAGENT_KILL_POINTS=1000 to try every step), and the two around the first COMMIT are always
among them: before it, and after it but before the manifest is written.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from smallagent.index import IndexReader, check_index
from smallagent.ingest import IngestOptions, ingest

KILL_POINTS = 24
ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import os, signal, sqlite3, sys
from pathlib import Path

import smallagent.index as index
from smallagent.embeddings import OnnxEmbedder, onnx_cache_path
from smallagent.ingest import IngestOptions, ingest

corpus, directory, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
steps = 0

def step(name):
    global steps
    steps += 1
    if steps == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if kill_at == 0:
        print(f"step {steps} {name}", flush=True)

class Counted:
    def __init__(self, connection):
        self._connection = connection
    def __getattr__(self, name):
        return getattr(self._connection, name)
    def execute(self, sql, *args):
        step("sql " + " ".join(sql.split())[:40])
        return self._connection.execute(sql, *args)
    def executemany(self, sql, *args):
        step("sql " + " ".join(sql.split())[:40])
        return self._connection.executemany(sql, *args)
    def executescript(self, sql):
        step("sql script")
        return self._connection.executescript(sql)

real_connect = index._connect
index._connect = lambda path, mode: Counted(real_connect(path, mode))
for name in ("fsync", "replace", "unlink"):
    def wrapped(*args, _real=getattr(os, name), _name=name):
        step(f"os.{_name} {Path(str(args[0])).name if not isinstance(args[0], int) else ''}")
        return _real(*args)
    setattr(os, name, wrapped)

embedder = OnnxEmbedder("all-MiniLM-L6-v2", onnx_cache_path("all-MiniLM-L6-v2"))
options = IngestOptions(roots=(corpus,), checkpoint_every_s=0.0, embed_batch_chunks=3)
ingest(directory, embedder, options)
print(f"finished {steps}", flush=True)
"""


def _files(version: int) -> dict[str, str]:
    """The corpus before (0) and after (1) the edits the re-ingest picks up."""
    files = {
        f"note{n:02}.txt": f"Note {n}: the code word for drawer {n} is W{n * 7919}.\n" * 3
        for n in range(14)
    }
    if version:
        for n in (1, 4, 7, 10, 13):
            files[f"note{n:02}.txt"] = f"Note {n}, revised: drawer {n} now holds Q{n * 104729}.\n"
        for n in (2, 5, 11):
            del files[f"note{n:02}.txt"]
        for n in range(5):
            files[f"new{n}.md"] = f"# New {n}\n\nAdded later: the new code is N{n * 1299709}.\n"
    return files


def _write(corpus: Path, files: dict[str, str]) -> None:
    for path in corpus.iterdir():
        if path.name not in files:
            path.unlink()
    for name, text in files.items():
        if not (corpus / name).exists() or (corpus / name).read_text() != text:
            (corpus / name).write_text(text)


def _contents(index: Path) -> dict[str, tuple[str, int]]:
    with IndexReader(index) as reader:
        return {
            Path(document.path).name: (document.sha256, document.chunk_count)
            for document in reader.documents()
        }


def _damage(index: Path) -> list[str]:
    return [finding.message for finding in check_index(index) if finding.verdict == "damage"]


def _run_child(corpus: Path, index: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(corpus), str(index), str(kill_at)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_kill_9_at_random_points_of_a_reingest_never_leaves_an_inconsistent_index(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
    onnx_cache: Path,
) -> None:
    started = time.monotonic()
    corpus = tmp_path / "docs"
    corpus.mkdir()
    _write(corpus, _files(0))
    pristine = tmp_path / "pristine"
    ingest(pristine, embedder, IngestOptions(roots=(corpus,)))
    before = _contents(pristine)
    _write(corpus, _files(1))
    os.utime(corpus / "note00.txt", ns=(time.time_ns(), time.time_ns() + 10**9))  # mtime only

    index = tmp_path / "idx"
    shutil.copytree(pristine, index)
    dry = _run_child(corpus, index, kill_at=0)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    total = int(lines[-1].split()[1])
    steps = [line.split(" ", 2)[2] for line in lines[:-1]]
    after = _contents(index)
    assert len(after) == 16 and after != before
    commits = [number for number, name in enumerate(steps, start=1) if name == "sql COMMIT"]
    assert len(commits) >= 3, "the re-ingest should checkpoint several times"

    seed = int(os.environ.get("SMALLAGENT_KILL_SEED", random.randrange(2**32)))
    count = min(total, int(os.environ.get("SMALLAGENT_KILL_POINTS", KILL_POINTS)))
    drawn = random.Random(seed).sample(range(1, total + 1), count)
    points = sorted({commits[0], commits[0] + 1, *drawn})
    replay = f"seed {seed} (SMALLAGENT_KILL_SEED={seed} replays it)"
    allowed = {name: {before.get(name), after.get(name)} for name in {*before, *after}}
    for kill_at in points:
        where = f"killed before step {kill_at}/{total} ({steps[kill_at - 1]}), {replay}"
        shutil.rmtree(index)
        shutil.copytree(pristine, index)
        killed = _run_child(corpus, index, kill_at)
        assert killed.returncode == -signal.SIGKILL, f"{where}: {killed.stderr}"

        assert _damage(index) == [], where  # SQLite, FTS, FAISS and the counts agree
        with IndexReader(index) as reader:
            assert reader.vectors.ntotal == reader.counts()[1], where
        for name, state in _contents(index).items():  # each file old or new, never half
            assert state in allowed[name], f"{where}: {name}"

        report = ingest(index, embedder, IngestOptions(roots=(corpus,)))
        assert report.failed == [], where
        assert _contents(index) == after, where
        findings = [f.message for f in check_index(index) if f.verdict != "ok"]
        assert findings == [], f"{where}: {findings}"  # the manifest and leftovers are mended
    elapsed = time.monotonic() - started
    print(f"{len(points)} kill points of {total} steps in {elapsed:.0f} s, {replay}")
