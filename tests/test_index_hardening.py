"""Issue 14: every bad input, damaged file and long-lived reader, built in a temp folder."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from smallagent.documents import UnusableFile, load_document, printable_path, scan


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
