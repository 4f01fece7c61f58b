from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smallagent import energy
from smallagent.energy import EnergyCounter, NvmlEnergy, rapl_source


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


class FakeNvml:
    """Stands in for libnvidia-ml: two GPUs whose counters the test moves (millijoules)."""

    def __init__(self, counters: list[int]) -> None:
        self.counters = counters

    def nvmlDeviceGetCount_v2(self, count: Any) -> int:
        count._obj.value = len(self.counters)
        return 0

    def nvmlDeviceGetHandleByIndex_v2(self, index: int, handle: Any) -> int:
        handle._obj.value = index + 1  # NVML handles are opaque pointers; never NULL
        return 0

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any, energy: Any) -> int:
        value = self.counters[handle.value - 1]
        if value < 0:
            return 3  # NVML_ERROR_NOT_SUPPORTED
        energy._obj.value = value
        return 0


def test_nvml_sums_the_gpus_energy_counters() -> None:
    fake = FakeNvml([1_000, 2_500])
    counter = NvmlEnergy(fake)
    assert counter.millijoules() == 3_500
    fake.counters[1] += 7_000
    assert counter.millijoules() == 10_500


def test_nvml_without_an_energy_counter_is_not_a_source() -> None:
    with pytest.raises(OSError, match="no GPU reports its energy"):
        NvmlEnergy(FakeNvml([-1]))
    with pytest.raises(OSError):
        NvmlEnergy(FakeNvml([]))


def test_the_metered_model_adds_what_every_counter_moved_during_each_call() -> None:
    from smallagent.assistant import MeteredModel
    from smallagent.types import Message, ModelReply, Usage

    cpu, gpu = [100.0], [50.0]

    class Model:
        name = "m"

        def chat(self, messages: object, tools: object = (), purpose: str = "tool") -> ModelReply:
            cpu[0] += 3.0  # joules spent while the model answered
            gpu[0] += 40.0
            return ModelReply(Message("assistant", "hi"), Usage(), "m")

    counters = [EnergyCounter("RAPL", lambda: cpu[0]), EnergyCounter("NVML", lambda: gpu[0])]
    metered = MeteredModel(Model(), counters)
    metered.chat([])
    metered.chat([])
    assert metered.joules == pytest.approx(86.0)
    assert metered.measured_by == "RAPL + NVML"
    assert MeteredModel(Model(), []).joules is None  # nothing readable: the figure is modeled
