"""Two small things every box needs of the file system: a path as a person reads it, and a file
replaced atomically (the whole new file or the whole old one, never half of either, even after a
power cut)."""

from __future__ import annotations

import os
from pathlib import Path


def printable_path(path: str | os.PathLike[str]) -> str:
    """A file name as text any terminal or JSON encoder takes: bytes that are not UTF-8 as `\\xNN`.

    Names are kept losslessly elsewhere (undecodable bytes as surrogate escapes, as `os` gives
    them); this is only for showing them:
    >>> printable_path("/docs/bad\\udcff.txt")
    '/docs/bad\\\\xff.txt'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def display_path(path: str | Path, root: Path | None = None) -> str:
    """`path` relative to `root` (the current directory by default) when it lies inside it, and
    printable (see `printable_path`).

    >>> display_path("/work/docs/a.md", Path("/work")), display_path("/etc/x", Path("/work"))
    ('docs/a.md', '/etc/x')
    """
    try:
        return printable_path(Path(path).relative_to(Path.cwd() if root is None else root))
    except ValueError:
        return printable_path(path)


def temporary_path(target: Path) -> Path:
    """Where a new version of `target` is written before it replaces it: a hidden sibling on the
    same file system (so the rename is atomic), named for this process."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_atomically(temporary: Path, target: Path) -> None:
    """Make a finished `temporary` file `target`: its bytes reach the disk before the rename, and
    the rename before this returns."""
    descriptor = os.open(temporary, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    temporary.replace(target)
    fsync_directory(target.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    temporary = temporary_path(path)
    with temporary.open("wb") as handle:
        handle.write(data)
    replace_atomically(temporary, path)
