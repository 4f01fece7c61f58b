from __future__ import annotations

from pathlib import Path

import pytest

from smallagent import energy
from smallagent.energy import rapl_source


def test_rapl_found_when_counters_are_readable(tmp_path: Path) -> None:
    counter = tmp_path / "intel-rapl:0" / "energy_uj"
    counter.parent.mkdir()
    counter.write_text("123456\n")
    source = rapl_source(tmp_path)
    assert source.available
    assert "1 readable counter" in source.detail


def test_rapl_absent_without_powercap(tmp_path: Path) -> None:
    source = rapl_source(tmp_path / "missing")
    assert not source.available
    assert source.detail == "no powercap counters on this machine"


def test_rapl_unreadable_counters_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "intel-rapl:0" / "energy_uj"
    counter.parent.mkdir()
    counter.write_text("1\n")
    monkeypatch.setattr(energy.os, "access", lambda path, mode: False)
    assert "not readable" in rapl_source(tmp_path).detail
