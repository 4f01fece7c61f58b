"""Paths as shown to a person, and files replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smallagent import paths
from smallagent.paths import atomic_write_bytes, display_path, replace_atomically, temporary_path


def test_display_path_is_relative_inside_the_root_and_unchanged_outside(tmp_path: Path) -> None:
    assert display_path(tmp_path / "docs" / "a.md", tmp_path) == "docs/a.md"
    assert display_path(f"{tmp_path}/a.md:page 3", tmp_path) == "a.md:page 3"
    assert display_path("/elsewhere/a.md", tmp_path) == "/elsewhere/a.md"


def test_display_path_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "indexes") == "indexes"


def test_an_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [path.name for path in tmp_path.iterdir()] == ["report.md"]


def test_the_new_bytes_reach_the_disk_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.onnx"
    temporary = temporary_path(target)
    temporary.write_bytes(b"exported")
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append("target exists" if target.exists() else "before the rename")
        real_fsync(descriptor)

    monkeypatch.setattr(paths.os, "fsync", fsync)
    replace_atomically(temporary, target)
    assert synced == ["before the rename", "target exists"]  # the file, then its directory
    assert target.read_bytes() == b"exported" and not temporary.exists()
