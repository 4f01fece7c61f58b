"""Issue 14: every bad input, damaged file and long-lived reader, built in a temp folder."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

import smallagent.index
import smallagent.ingest
from smallagent.cli import app
from smallagent.config import user_data_dir
from smallagent.documents import UnusableFile, load_document, scan
from smallagent.errors import IndexDamagedError, IndexStoreError
from smallagent.index import IndexReader, check_index
from smallagent.ingest import IngestOptions, ingest
from smallagent.paths import printable_path


def _noise_without_zeros(size: int, seed: int = 14) -> bytes:
    generator = random.Random(seed)
    return bytes(generator.randrange(1, 256) for _ in range(size))


ZEBRA = "Zebras are African equines with black-and-white striped coats. Caf\u00e9 au lait.\n" * 40


# --- what a file holds: encodings and binary content --------------------------------------------


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_utf16_and_utf32_text_is_read_with_or_without_a_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(ZEBRA.encode(encoding))  # "utf-16"/"utf-32" write a BOM, the others none
    assert load_document(path).sections[0].text == ZEBRA


def test_utf16_without_a_bom_in_another_script_is_read(tmp_path: Path) -> None:
    russian = "Зебры — африканские лошади с полосатой шкурой.\n" * 40  # noqa: RUF001
    path = tmp_path / "zebra.md"
    path.write_bytes(russian.encode("utf-16-le"))
    assert load_document(path).sections[0].text == russian


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        # random bytes with every zero removed: the old zero-byte sniff called this text
        (_noise_without_zeros(20_000), "binary content (12% control characters)"),
        (b"\x00\x01\x02binary", "binary content (40% control characters)"),  # as UTF-16-BE
        (bytes(range(1, 32)) * 10, "binary content (77% control characters)"),
        (b"\x89ELF\x02\x01\x01\x00" + b"\x00" * 64, "binary content"),
    ],
)
def test_binary_content_is_told_by_its_share_of_control_bytes(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(content)
    with pytest.raises(UnusableFile) as caught:
        load_document(path)
    assert str(caught.value) == reason


def test_text_with_tabs_escapes_and_form_feeds_is_still_text(tmp_path: Path) -> None:
    log = "\x1b[32mOK\x1b[0m\tstep one\n\x0cpage two\r\n" * 50
    path = tmp_path / "build.log"
    path.write_text(log)
    assert load_document(path).sections[0].text == log


# --- walking folders ----------------------------------------------------------------------------


def test_a_tree_1200_folders_deep_is_walked_without_recursion(tmp_path: Path) -> None:
    assert sys.getrecursionlimit() < 1200
    chain = [tmp_path / "deep"]
    for _ in range(1199):
        chain.append(chain[-1] / "d")
    for folder in chain:  # one by one: pathlib's own mkdir(parents=True) recurses too
        folder.mkdir()
    try:
        (chain[-1] / "bottom.txt").write_text("at the bottom")
        (tmp_path / "top.txt").write_text("at the top")
        result = scan([tmp_path])
        assert [found.path for found in result.files] == [
            chain[-1] / "bottom.txt",
            tmp_path / "top.txt",
        ]
        assert result.skipped == []
    finally:  # and so does shutil.rmtree, which would leave the tree behind in /tmp
        (chain[-1] / "bottom.txt").unlink(missing_ok=True)
        for folder in reversed(chain):
            folder.rmdir()


def _tree_with_closed_folders(root: Path) -> Path:
    docs = root / "docs"
    for name in ("open", "unlistable", "unsearchable"):
        (docs / name).mkdir(parents=True)
        (docs / name / "note.txt").write_text(f"a note in {name}")
    return docs


def test_folders_that_cannot_be_listed_or_searched_are_skipped_with_their_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root reads every folder, so the two calls that fail for other users are made to fail:
    os.scandir (no read permission) and the ignore-file check (no search permission, which made
    `Path.is_file` raise PermissionError instead of answering False)."""
    docs = _tree_with_closed_folders(tmp_path)
    real_scandir, real_is_file = os.scandir, Path.is_file

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "unlistable":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def is_file(self: Path) -> bool:
        if self.parent.name == "unsearchable":
            raise PermissionError(13, "Permission denied")
        return real_is_file(self)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "is_file", is_file)
    result = scan([docs])
    assert [found.path for found in result.files] == [docs / "open" / "note.txt"]
    assert [(item.path, item.reason) for item in result.skipped] == [
        (docs / "unlistable", "cannot list folder: Permission denied"),
        (docs / "unsearchable", "cannot read folder: Permission denied"),
    ]


SCAN_AS_USER = """
import sys
from pathlib import Path
from smallagent.documents import scan
result = scan([Path(sys.argv[1])])
for found in result.files:
    print("file", found.path.relative_to(sys.argv[1]))
for item in result.skipped:
    print("skipped", item.path.relative_to(sys.argv[1]), item.reason)
"""


def test_closed_folders_as_a_real_non_root_user() -> None:
    """The same tree with real permissions, walked by uid 65534 (setpriv) when we are root."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot act as another user")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    scratch = Path(tempfile.mkdtemp())  # not under tmp_path: its parents are closed to others
    try:
        scratch.chmod(0o755)
        docs = _tree_with_closed_folders(scratch)
        for folder in docs.rglob("*"):
            folder.chmod(0o755 if folder.is_dir() else 0o644)
        docs.chmod(0o755)
        (docs / "unlistable").chmod(0o000)
        (docs / "unsearchable").chmod(0o444)
        walked = subprocess.run(
            [*prefix, sys.executable, "-c", SCAN_AS_USER, str(docs)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
        )
    finally:
        for folder in (scratch / "docs" / "unlistable", scratch / "docs" / "unsearchable"):
            folder.chmod(0o755)
        shutil.rmtree(scratch)
    assert walked.returncode == 0, walked.stderr
    assert walked.stdout.splitlines() == [
        "file open/note.txt",
        "skipped unlistable cannot list folder: Permission denied",
        "skipped unsearchable cannot read folder: Permission denied",
    ]


def test_names_that_are_not_utf8_print_escaped() -> None:
    name = os.fsdecode(b"/docs/bad\xff.txt")
    assert printable_path(name) == "/docs/bad\\xff.txt"
    assert printable_path(Path(name)) == "/docs/bad\\xff.txt"
    assert printable_path("/docs/caf\u00e9.txt") == "/docs/caf\u00e9.txt"


# --- through the CLI: bad inputs never stop an ingest -------------------------------------------

runner = CliRunner()


def _cli(*arguments: str) -> Result:
    result = runner.invoke(app, ["--index", "notes", *arguments])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _assert_sound(index: Path) -> None:
    """SQLite, FTS and FAISS agree and the manifest mirrors the state: nothing to report."""
    findings = check_index(index)
    assert [finding for finding in findings if finding.verdict != "ok"] == []


def test_every_bad_file_is_a_listed_skip_or_failure_and_the_index_stays_sound(
    isolated_env: Path, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = isolated_env / "docs"
    (docs / "closed").mkdir(parents=True)
    (docs / "closed" / "hidden.txt").write_text("never read")
    (docs / "zebra.txt").write_text(ZEBRA)
    (docs / "utf16.txt").write_bytes("Okapis live in the Ituri rainforest.\n".encode("utf-16"))
    (docs / "noise.txt").write_bytes(_noise_without_zeros(9000))
    (docs / "breaks-the-parser.md").write_text("# Fine\n\nBut the chunker fails on it.\n")
    bad_name = os.fsdecode(os.fsencode(docs) + b"/bad\xff.txt")
    Path(bad_name).write_text("Narwhals have a single long tusk.\n")
    real_scandir = os.scandir
    real_chunk = smallagent.ingest.chunk_document

    def scandir(path: Any = ".") -> Any:
        if not isinstance(path, int) and Path(path).name == "closed":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def chunk_document(document: object, *args: object) -> object:
        if Path(document.path).name == "breaks-the-parser.md":  # type: ignore[attr-defined]
            raise RecursionError("maximum recursion depth exceeded")
        return real_chunk(document, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(smallagent.ingest, "chunk_document", chunk_document)
    result = _cli("ingest", str(docs), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["removed"]) == (3, 0)
    assert [(item["path"], item["reason"]) for item in report["skipped"]] == [
        (str(docs / "closed"), "cannot list folder: Permission denied"),
        (str(docs / "noise.txt"), "binary content (12% control characters)"),
    ]
    assert [(item["path"], item["reason"]) for item in report["failed"]] == [
        (
            str(docs / "breaks-the-parser.md"),
            "cannot index: RecursionError: maximum recursion depth exceeded",
        )
    ]
    index = user_data_dir() / "indexes" / "notes"  # issue 13: no indexes/ near, so the data dir
    _assert_sound(index)
    with IndexReader(index) as reader:
        paths = sorted(document.path for document in reader.documents())
    assert paths == sorted([bad_name, str(docs / "utf16.txt"), str(docs / "zebra.txt")])
    assert Path(bad_name).read_text().startswith("Narwhals")  # the stored name opens the file

    strict = _cli("ingest", str(docs), "--strict")  # the parser failure is retried, and listed
    assert strict.exit_code == 1
    assert "failed docs/breaks-the-parser.md: cannot index: RecursionError" in strict.stdout

    # The name that once rolled back every later ingest: new files keep arriving.
    (docs / "later.txt").write_text("Axolotls regrow their limbs.\n")
    later = json.loads(_cli("ingest", str(docs), "--json").stdout)
    assert (later["added"], later["unchanged"]) == (1, 3)
    found = _cli("search", "narwhal tusk", "-k", "1")
    assert found.exit_code == 0
    assert found.stdout.startswith("1. docs/bad\\xff.txt")
    as_json = _cli("search", "narwhal tusk", "-k", "1", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)[0]["path"] == bad_name  # JSON-escaped: \udcff
    Path(bad_name).unlink()
    gone = json.loads(_cli("ingest", str(docs), "--json").stdout)
    assert (gone["removed"], gone["chunks_removed"]) == (1, 1)
    _assert_sound(index)
    sound = _cli("index", "check", "notes")
    assert (sound.exit_code, sound.stdout.splitlines()[-1]) == (0, "index notes is sound")
    ghost = _cli("index", "check", "ghost")
    assert ghost.exit_code == 1 and "error: no index at" in ghost.output
    assert not (user_data_dir() / "indexes" / "ghost").exists()


def test_an_updated_file_reports_the_chunks_it_replaced(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    long = docs / "long.md"
    long.write_text("".join(f"# Part {n}\n\n{ZEBRA}\n" for n in range(6)))
    first = ingest(tmp_path / "idx", embedder, IngestOptions(roots=(docs,)))
    assert first.chunks_added > 1
    long.write_text("# Short now\n\nOnly one chunk is left.\n")
    second = ingest(tmp_path / "idx", embedder, IngestOptions(roots=(docs,)))
    assert (second.updated, second.removed) == (1, 0)
    assert (second.chunks_added, second.chunks_removed) == (1, first.chunks_added)
    _assert_sound(tmp_path / "idx")


def test_the_search_tool_hands_the_model_a_name_it_can_send(tmp_path: Path) -> None:
    from smallagent.retrieval import Hit
    from smallagent.tools import SourceRegistry, make_search_tool

    name = os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff.txt")
    hit = Hit(1, 7, 0.5, 1, 1, name, None, "", "Narwhals have a single long tusk.", 0, 33)

    class Retriever:
        def search(self, query: str, k: int, not_text: list[str]) -> list[Hit]:
            return [hit]

        def absent_words(self, query: str) -> list[str]:
            return []

    sources = SourceRegistry()
    tool = make_search_tool(Retriever(), sources, tmp_path, chars=200)
    observation = tool.function(query="narwhal")
    observation.encode("utf-8")  # what the request to Ollama does; a lone surrogate raised here
    assert observation.startswith("[1] bad\\xff.txt: Narwhals")
    assert sources.by_number[1].label == printable_path(name)


# --- damage: detected, reported cleanly, repaired by --rebuild ----------------------------------

FACTS = {
    "etna.md": "# Etna\n\nMount Etna is an active stratovolcano on the east coast of Sicily.\n",
    "tea.txt": "Green tea is made from unoxidised leaves of Camellia sinensis.\n",
    **{
        f"note{n:02}.txt": f"Note {n}: the code word for drawer {n} is W{n * 7919}.\n" * 30
        for n in range(12)
    },
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, onnx_cache: Path) -> Path:
    """A small index built once at the default precision; each test damages its own copy."""
    from smallagent.embeddings import index_embedder

    root = tmp_path_factory.mktemp("pristine")
    for name, text in FACTS.items():
        (root / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / name).write_text(text)
    embedder = index_embedder("all-MiniLM-L6-v2", "int8")
    ingest(root / "indexes" / "notes", embedder, IngestOptions(roots=(root / "docs",)))
    ingest(root / "indexes" / "notes", embedder, IngestOptions(roots=(root / "docs",)))
    return root


@pytest.fixture
def damaged(isolated_env: Path, pristine: Path) -> Path:
    """A copy of the pristine index under the test's working folder: indexes/notes."""
    shutil.copytree(pristine / "docs", isolated_env / "docs")
    shutil.copytree(pristine / "indexes", isolated_env / "indexes")
    # The copied paths point into the pristine folder; re-ingest there, as the user would.
    return isolated_env / "indexes" / "notes"


def _garble(path: Path, offset: int, length: int) -> None:
    data = bytearray(path.read_bytes())
    noise = random.Random(offset).randbytes(length)
    data[offset : offset + length] = noise
    path.write_bytes(bytes(data))


def _page_holding(database: Path, needle: bytes) -> int:
    data = database.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    where = data.find(needle)
    assert where > 0, "the text is not in the main database file (still in the WAL?)"
    return where - where % page_size


def _truncate(index: Path) -> None:
    database = index / "meta.sqlite"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])


def _garble_header(index: Path) -> None:
    _garble(index / "meta.sqlite", 0, 100)


def _garble_a_middle_page(index: Path) -> None:
    database = index / "meta.sqlite"
    page = _page_holding(database, b"the code word for drawer 7 is W55433")
    assert page > 0
    _garble(database, page + 8, 4000)  # keeps the page header byte, scrambles the cells


def _garble_vectors(index: Path) -> None:
    vectors = max(index.glob("vectors-*.faiss"), key=lambda path: int(path.stem.split("-")[1]))
    _garble(vectors, vectors.stat().st_size // 2, 64)


def _delete_vectors(index: Path) -> None:
    for vectors in index.glob("vectors-*.faiss"):
        vectors.unlink()


def _drop_chunks_from_fts(index: Path) -> None:
    import sqlite3

    with sqlite3.connect(index / "meta.sqlite") as connection:
        connection.execute(
            "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
            "SELECT 'delete', id, text, heading FROM chunks WHERE text LIKE '%drawer 7 %'"
        )


DAMAGE = {
    "meta.sqlite truncated": (_truncate, "meta.sqlite"),
    "meta.sqlite header garbled": (_garble_header, "meta.sqlite: file is not a database"),
    "a page in the middle of meta.sqlite garbled": (_garble_a_middle_page, "meta.sqlite"),
    "bytes in the middle of the vectors file garbled": (
        _garble_vectors,
        "does not match its recorded CRC-32",
    ),
    "the vectors file deleted": (_delete_vectors, ".faiss is missing"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_detected_reported_cleanly_and_repaired_by_rebuild(
    damaged: Path, case: str
) -> None:
    damage, symptom = DAMAGE[case]
    damage(damaged)
    docs = str(damaged.parent.parent / "docs")

    search = _cli("search", "W55433")  # a query whose hit lies on the garbled page
    assert search.exit_code == 1
    assert "error: index notes is damaged" in search.output and symptom in search.output
    assert "--rebuild" in search.output  # the hint that works

    check = _cli("index", "check", "notes")
    assert check.exit_code == 1
    assert "damage" in check.stdout and symptom in check.stdout
    assert "error: index notes is damaged (" in check.output

    again = _cli("ingest", docs)  # no --rebuild: refused, never "unchanged"
    assert again.exit_code == 1
    assert "error: index notes is damaged" in again.output and "--rebuild" in again.output

    repaired = _cli("ingest", docs, "--rebuild", "--json")
    assert repaired.exit_code == 0, repaired.output
    assert json.loads(repaired.stdout)["added"] == len(FACTS)
    assert _cli("index", "check", "notes").stdout.endswith("index notes is sound\n")
    _assert_sound(damaged)
    found = _cli("search", "code word for drawer 7", "-k", "1", "--json")
    assert json.loads(found.stdout)[0]["path"].endswith("note07.txt")


def test_a_full_text_index_that_disagrees_with_the_chunks_is_found_by_check(
    damaged: Path,
) -> None:
    """quick_check cannot see this (every b-tree is intact), so ingest and search carry on;
    `index check` compares the FTS index with the chunks table and `--rebuild` remakes it."""
    _drop_chunks_from_fts(damaged)
    check = _cli("index", "check", "notes")
    assert check.exit_code == 1
    assert "the full-text index disagrees with the chunks" in check.stdout
    repaired = _cli("ingest", str(damaged.parent.parent / "docs"), "--rebuild")
    assert repaired.exit_code == 0, repaired.output
    _assert_sound(damaged)


def test_vectors_of_the_wrong_length_are_found_by_check(tmp_path: Path) -> None:
    """Vectors that were wrong before they were written pass the checksum; the norm check
    is what sees them (a huge norm tops every search)."""
    import numpy as np

    from smallagent.chunking import Chunk
    from smallagent.index import IndexSpec, open_writer

    vectors = np.eye(3, 8, dtype="float32")
    vectors[1] *= 3e37
    chunks = [Chunk(f"chunk {n}", "", None, 0, 7, 2) for n in range(3)]
    with open_writer(tmp_path / "idx", IndexSpec("test", 8, 256, 32)) as writer:
        writer.add_document("/doc", 1, 1, "x", "text", chunks, vectors)
        writer.commit()
    findings = check_index(tmp_path / "idx")
    assert [finding.message for finding in findings if finding.verdict == "damage"] == [
        "1 vectors are not of unit length (worst norm 3e+37); they would top or vanish from "
        "every search"
    ]


# --- the manifest follows the database ----------------------------------------------------------


def test_a_missing_or_stale_manifest_is_a_note_and_the_next_ingest_rewrites_it(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text(FACTS["tea.txt"])
    index = tmp_path / "idx"
    ingest(index, embedder, IngestOptions(roots=(docs,)))
    first = json.loads((index / "manifest.json").read_text())

    # A crash between the SQLite commit and the manifest write: the manifest stays behind.
    real_sync = smallagent.index.IndexWriter._sync_manifest

    def crash(self: smallagent.index.IndexWriter, state: dict[str, str]) -> None:
        if state.get("generation") == "2":
            raise KeyboardInterrupt
        real_sync(self, state)

    (docs / "etna.md").write_text(FACTS["etna.md"])
    with monkeypatch.context() as patch:
        patch.setattr(smallagent.index.IndexWriter, "_sync_manifest", crash)
        with pytest.raises(KeyboardInterrupt):
            ingest(index, embedder, IngestOptions(roots=(docs,)))
    assert json.loads((index / "manifest.json").read_text()) == first
    with IndexReader(index) as reader:
        assert (reader.generation, reader.counts()) == (2, (2, 2))  # the commit held
    assert [(f.verdict, f.message) for f in check_index(index) if f.verdict != "ok"] == [
        ("note", "manifest.json is out of date; the next ingest rewrites it")
    ]
    quiet = ingest(index, embedder, IngestOptions(roots=(docs,)))
    assert (quiet.unchanged, quiet.added) == (2, 0)
    assert json.loads((index / "manifest.json").read_text())["generation"] == "2"
    _assert_sound(index)

    (index / "manifest.json").unlink()
    assert [(f.verdict, f.message) for f in check_index(index) if f.verdict != "ok"] == [
        ("note", "manifest.json is missing or unreadable; the next ingest rewrites it")
    ]
    ingest(index, embedder, IngestOptions(roots=(docs,)))
    _assert_sound(index)


# --- long-lived readers -------------------------------------------------------------------------


def test_a_reader_opened_at_generation_1_survives_two_later_ingests(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from smallagent.retrieval import Retriever

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text(FACTS["tea.txt"])
    index = tmp_path / "idx"
    ingest(index, embedder, IngestOptions(roots=(docs,)))
    with IndexReader(index) as reader:  # like `chat`: opened once, vectors not yet loaded
        assert reader.generation == 1
        (docs / "etna.md").write_text(FACTS["etna.md"])
        ingest(index, embedder, IngestOptions(roots=(docs,)))
        (docs / "note07.txt").write_text(FACTS["note07.txt"])
        ingest(index, embedder, IngestOptions(roots=(docs,)))
        assert not (index / "vectors-1.faiss").exists()  # deleted by the third commit

        hits = Retriever(reader, embedder).search("Which volcano is in Sicily?", k=3)
        assert [Path(hit.path).name for hit in hits] == ["tea.txt"]  # its own generation
        assert reader.counts() == (1, 1)

        assert reader.refresh() is True
        assert reader.generation == 3
        hits = Retriever(reader, embedder).search("Which volcano is in Sicily?", k=1)
        assert Path(hits[0].path).name == "etna.md"
        assert reader.refresh() is False


def test_a_vectors_file_gone_for_good_is_damage_not_a_wrong_hint(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text(FACTS["tea.txt"])
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(docs,)))
    (tmp_path / "idx" / "vectors-1.faiss").unlink()
    with pytest.raises(
        IndexDamagedError, match=r"index idx is damaged: vectors-1\.faiss is missing"
    ):
        IndexReader(tmp_path / "idx")


def test_refresh_refuses_an_index_rebuilt_with_other_settings(
    tmp_path: Path,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    from smallagent.chunking import ChunkingConfig

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text(FACTS["tea.txt"])
    ingest(tmp_path / "idx", embedder, IngestOptions(roots=(docs,)))
    with IndexReader(tmp_path / "idx") as reader:
        rebuilt = IngestOptions(roots=(docs,), chunking=ChunkingConfig(128, 16), rebuild=True)
        ingest(tmp_path / "idx", embedder, rebuilt)
        with pytest.raises(IndexStoreError, match=r"was rebuilt with .* chunks of 128 tokens"):
            reader.refresh()
