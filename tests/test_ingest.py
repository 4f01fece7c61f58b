"""Ingest into a real FAISS + SQLite index on tmp_path, with the real embedder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from smallagent.chunking import ChunkingConfig
from smallagent.errors import IndexStoreError
from smallagent.index import IndexReader, IndexSpec, open_writer, writer_lock
from smallagent.ingest import IngestOptions, ingest
from smallagent.retrieval import Retriever
from tests.conftest import make_pdf

FACTS = {
    "zebra.md": "# Zebras\n\nZebras are African equines with black-and-white striped coats.\n",
    "volcano.txt": "Mount Etna is an active stratovolcano on the east coast of Sicily.\n",
    "tea.rst": "Tea\n===\n\nGreen tea is made from unoxidised leaves of Camellia sinensis.\n",
}


def _corpus(root: Path, files: dict[str, str] = FACTS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _ingested(tmp_path: Path, embedder: Any) -> tuple[Path, Path]:
    """FACTS ingested into tmp_path/idx: (the folder, the index)."""
    corpus, index = _corpus(tmp_path / "docs"), tmp_path / "idx"
    ingest(index, embedder, IngestOptions(roots=(corpus,)))
    return corpus, index


def _consistent(directory: Path) -> tuple[int, int]:
    """Every vector has a chunk row and every chunk row a vector; returns (documents, chunks)."""
    import numpy as np

    with IndexReader(directory) as reader:
        documents, chunks = reader.counts()
        vectors = reader.vectors
        assert vectors.ntotal == chunks
        ids = set(np.asarray([vectors.id_map.at(i) for i in range(vectors.ntotal)]).tolist())
        rows = set(reader._db.execute("SELECT id FROM chunks").fetchall())
        assert ids == {row[0] for row in rows}
        return documents, chunks


def test_first_ingest_then_search_finds_the_fact(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "docs")
    index = tmp_path / "indexes" / "default"
    report = ingest(index, embedder, IngestOptions(roots=(corpus,)))
    assert (report.added, report.updated, report.unchanged, report.removed) == (3, 0, 0, 0)
    assert report.chunks_added == 3
    assert _consistent(index) == (3, 3)
    with IndexReader(index) as reader:
        hits = Retriever(reader, embedder).search("Which volcano is in Sicily?", k=2)
    assert hits[0].path == str(corpus / "volcano.txt")
    assert hits[0].rank == 1


def test_incremental_add_change_delete_and_unchanged(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "docs")
    index = tmp_path / "idx"
    options = IngestOptions(roots=(corpus,))
    ingest(index, embedder, options)

    again = ingest(index, embedder, options)
    assert (again.added, again.updated, again.unchanged, again.tokens_embedded) == (0, 0, 3, 0)

    (corpus / "new.md").write_text("Saturn has the most prominent ring system.\n")
    (corpus / "zebra.md").write_text("# Zebras\n\nZebras sleep standing up.\n")
    (corpus / "tea.rst").unlink()
    (corpus / "volcano.txt").touch()  # new mtime, same content: hashed, not re-embedded
    os.utime(corpus / "volcano.txt", ns=(time.time_ns(), time.time_ns() + 10**9))
    changed = ingest(index, embedder, options)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (1, 1, 1, 1)
    assert changed.chunks_added == 2
    assert _consistent(index) == (3, 3)
    with IndexReader(index) as reader:
        paths = {document.path for document in reader.documents()}
        assert paths == {str(corpus / name) for name in ("new.md", "zebra.md", "volcano.txt")}
        hits = Retriever(reader, embedder).search("How do zebras sleep?", k=1)
        assert "standing up" in hits[0].text

    quiet = ingest(index, embedder, options)
    assert quiet.unchanged == 3 and quiet.tokens_embedded == 0


def test_ingesting_another_folder_keeps_the_first(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    first = _corpus(tmp_path / "a")
    second = _corpus(tmp_path / "b", {"x.txt": "Lichens are symbioses of fungi and algae.\n"})
    index = tmp_path / "idx"
    ingest(index, embedder, IngestOptions(roots=(first,)))
    report = ingest(index, embedder, IngestOptions(roots=(second, tmp_path / "missing")))
    assert report.removed == 0
    assert _consistent(index) == (4, 4)


def test_a_different_embedder_or_chunking_is_refused_until_rebuild(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    corpus, index = _ingested(tmp_path, embedder)
    other_chunking = IngestOptions(roots=(corpus,), chunking=ChunkingConfig(128, 16))
    with pytest.raises(IndexStoreError, match="chunks of 256 tokens") as caught:
        ingest(index, embedder, other_chunking)
    assert "re-run with --rebuild" in caught.value.hint
    other_model = IndexSpec("other-model", 384, 256, 32)
    with (
        pytest.raises(IndexStoreError, match="was built with all-MiniLM-L6-v2"),
        open_writer(index, other_model),
    ):
        pass
    rebuilt = ingest(
        index,
        embedder,
        IngestOptions(roots=(corpus,), chunking=ChunkingConfig(128, 16), rebuild=True),
    )
    assert rebuilt.added == 3
    with IndexReader(index) as reader:
        assert reader.spec.max_tokens == 128
    assert _consistent(index) == (3, 3)


def as_built_by_chunker_1(index: Path) -> None:
    """What an index from before chunker 2 holds: no `chunker_version` in its state or manifest."""
    import json
    import sqlite3

    with contextlib.closing(sqlite3.connect(index / "meta.sqlite")) as database, database:
        database.execute("DELETE FROM state WHERE key = 'chunker_version'")
    manifest = json.loads((index / "manifest.json").read_text())
    del manifest["chunker_version"]
    (index / "manifest.json").write_text(json.dumps(manifest))


def test_an_index_from_an_older_chunker_searches_and_its_next_ingest_chunks_again(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from smallagent.chunking import CHUNKER_VERSION
    from smallagent.index import summarize
    from smallagent.render import index_info

    corpus, index = _ingested(tmp_path, embedder)
    as_built_by_chunker_1(index)
    with IndexReader(index) as reader:
        assert reader.spec.chunker_version == 1
        hits = Retriever(reader, embedder).search("Which volcano is in Sicily?", k=1)
    assert hits[0].path == str(corpus / "volcano.txt")
    shown = " ".join(index_info(summarize(index)))
    assert "chunker 1 (older than this version's 2: searches work; the next ingest" in shown
    # Nothing changed on disk, yet every file is chunked again: a rebuild, never a mix.
    report = ingest(index, embedder, IngestOptions(roots=(corpus,)))
    assert report.rechunked_from == 1
    assert (report.added, report.unchanged, report.chunks_added) == (3, 0, 3)
    with IndexReader(index) as reader:
        assert reader.spec.chunker_version == CHUNKER_VERSION
    assert _consistent(index) == (3, 3)
    assert ingest(index, embedder, IngestOptions(roots=(corpus,))).rechunked_from is None


def test_an_older_chunker_with_files_outside_the_folders_given_is_refused_not_mixed(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    first = _corpus(tmp_path / "first")
    second = _corpus(tmp_path / "second", {"owl.md": "# Owls\n\nOwls hunt at night.\n"})
    index = tmp_path / "idx"
    ingest(index, embedder, IngestOptions(roots=(first, second)))
    as_built_by_chunker_1(index)
    with pytest.raises(IndexStoreError, match="older chunker") as caught:
        ingest(index, embedder, IngestOptions(roots=(first,)))  # a rebuild would drop owl.md
    assert str(second / "owl.md") in caught.value.message
    assert "ingest all of its folders at once" in caught.value.hint
    with IndexReader(index) as reader:
        assert reader.spec.chunker_version == 1 and reader.counts() == (4, 4)  # untouched
    report = ingest(index, embedder, IngestOptions(roots=(first, second)))
    assert (report.rechunked_from, report.added) == (1, 4)


def test_a_second_writer_gets_a_clear_message(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus(tmp_path / "docs")
    index = tmp_path / "idx"
    with writer_lock(index), pytest.raises(IndexStoreError, match="being written by another"):
        ingest(index, embedder, IngestOptions(roots=(corpus,)))


def test_unreadable_and_unusable_files_are_reported_not_fatal(
    tmp_path: Path,
    embedder,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    corpus = _corpus(tmp_path / "docs")
    (corpus / "empty.txt").write_text("")
    (corpus / "secret.txt").write_text("locked away")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    assert report.added == 3
    assert [(item.path.name, item.reason) for item in report.skipped] == [
        ("empty.txt", "empty file")
    ]
    assert [(item.path.name, item.reason) for item in report.failed] == [
        ("secret.txt", "cannot read: Permission denied")
    ]


def test_a_pdf_whose_words_run_together_is_indexed_with_a_warning(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    corpus = _corpus(tmp_path / "docs")
    glued = "BesideLinux,Debianprovidesacomplete,binarydistributionforthefollowingkernels. " * 8
    make_pdf(corpus / "glued.pdf", [glued])
    report = ingest(tmp_path / "idx", embedder, IngestOptions(roots=(corpus,)))
    assert report.added == 4 and report.skipped == []
    assert [(item.path.name, item.reason) for item in report.warnings] == [
        (
            "glued.pdf",
            "words look run together (100% of 8 words are 20+ letters); indexed anyway, "
            "but search may miss them",
        )
    ]


def test_an_empty_folder_makes_an_empty_index(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir()
    report = ingest(tmp_path / "idx", embedder, IngestOptions(roots=(tmp_path / "empty",)))
    assert (report.added, report.chunks_added) == (0, 0)
    with IndexReader(tmp_path / "idx") as reader:
        assert reader.counts() == (0, 0)
        assert Retriever(reader, embedder).search("anything") == []


KILLABLE_INGEST = """
import sys
from pathlib import Path
from smallagent.embeddings import SentenceTransformerEmbedder
from smallagent.ingest import IngestOptions, ingest

def report(progress):
    print(f"{progress.phase} {progress.done}", flush=True)

options = IngestOptions(roots=(Path(sys.argv[1]),), checkpoint_every_s=0.0, embed_batch_chunks=4)
ingest(Path(sys.argv[2]), SentenceTransformerEmbedder(), options, report)
print("finished", flush=True)
"""


def test_kill_9_mid_ingest_leaves_a_usable_index_and_the_next_run_finishes(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    files = {
        f"note{n:03}.txt": f"Note {n}: the code word is W{n * 7919}.\n" * 20 for n in range(80)
    }
    corpus = _corpus(tmp_path / "docs", files)
    index = tmp_path / "idx"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_INGEST, str(corpus), str(index)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("embed ") and int(line.split()[1]) >= 30:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    documents, chunks = _consistent(index)
    assert 0 < documents < 80
    report = ingest(index, embedder, IngestOptions(roots=(corpus,)))
    assert report.added == 80 - documents
    assert report.unchanged == documents
    documents, chunks = _consistent(index)
    assert documents == 80
    with IndexReader(index) as reader:
        assert sum(document.chunk_count for document in reader.documents()) == chunks
        hits = Retriever(reader, embedder).search("W" + str(79 * 7919), k=1)
        assert hits[0].path.endswith("note079.txt")


class CountingEmbedder:
    """The embedder's tokenizer (for chunking), unit vectors instead of its model: fast."""

    def __init__(self) -> None:
        from smallagent.embeddings import EmbedderId

        self.identity = EmbedderId("all-MiniLM-L6-v2")
        self.name = self.identity.recorded
        self.dimension = 4

    def embed(self, texts):  # type: ignore[no-untyped-def]
        import numpy as np

        vectors = np.zeros((len(texts), self.dimension), dtype="float32")
        vectors[:, 0] = 1.0
        return vectors


def test_progress_moves_per_chunk_embedded_and_says_done_only_when_it_is(tmp_path: Path) -> None:
    files = {f"n{n}.txt": f"Note {n} says the word is W{n}.\n" for n in range(6)}
    corpus = _corpus(tmp_path / "docs", files)
    updates = []
    options = IngestOptions(roots=(corpus,), progress_every_chunks=2)
    report = ingest(tmp_path / "idx", CountingEmbedder(), options, updates.append)
    embedding = [u for u in updates if u.phase == "embed"]
    # all six files fit one batch: before issue 13 the bar said 6/6 while they were embedded
    assert [u.chunks for u in embedding if 0 < u.chunks < report.chunks_added] == [2, 4]
    assert all(u.chunks == report.chunks_added for u in embedding if u.done == u.total)
    assert embedding[-1].done == embedding[-1].total == 6
