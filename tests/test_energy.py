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
    from smallagent.energy import MeteredModel
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
    assert metered.meter.joules == pytest.approx(86.0)
    assert metered.meter.measured_by == "RAPL + NVML"
    assert MeteredModel(Model(), []).meter.joules is None  # nothing readable: modeled


def test_the_meter_counts_work_that_fails_and_ignores_unread_or_wrapped_counters() -> None:
    from smallagent.energy import EnergyMeter

    cpu, gpu = [10.0], [5.0]
    meter = EnergyMeter(
        [EnergyCounter("RAPL", lambda: cpu[0]), EnergyCounter("NVML", lambda: gpu[0])]
    )
    with pytest.raises(RuntimeError), meter.measuring() as failed:
        cpu[0] += 2.0
        gpu[0] = 1.0  # wrapped around: not a reading
        raise RuntimeError("the work failed")
    assert failed.joules == 2.0 and failed.seconds >= 0
    assert meter.joules == 2.0
    with meter.measuring() as work:
        cpu[0] += 1.0
        gpu[0] += 4.0
    assert work.joules == 5.0 and meter.joules == 7.0
    meter.reset()
    assert meter.joules == 0.0

    unread = EnergyMeter([EnergyCounter("RAPL", lambda: None)])
    with unread.measuring() as nothing:
        pass
    assert nothing.joules is None and unread.joules == 0.0
    assert EnergyMeter([]).joules is None


def test_embedding_energy_is_measured_where_rapl_moved_else_modeled_from_seconds() -> None:
    from smallagent.energy import WATTS_PER_BUSY_CORE, Metered, cpu_energy

    assert cpu_energy(Metered(seconds=2.0, joules=30.0), cores=4) == energy.EnergyFigure(
        30.0, "measured (RAPL)"
    )
    modeled = cpu_energy(Metered(seconds=2.0, joules=None), cores=4)
    assert modeled.joules == pytest.approx(2.0 * 4 * WATTS_PER_BUSY_CORE)
    assert modeled.source == "modeled (4 cores x 4.4 W)"


def test_a_runs_energy_method_leaves_out_its_own_figures() -> None:
    from smallagent.energy import EnergySettings, run_energy
    from smallagent.types import Usage

    settings = EnergySettings(device_watts=10.0, device_label="10 W")
    assert run_energy(Usage(eval_s=3), 0, settings, None).method == "modeled: 10 W"
    measured = run_energy(Usage(eval_s=3), 0, settings, None, 36.0, "RAPL + NVML")
    assert measured.method == "measured (RAPL + NVML)"
    cut = run_energy(Usage(eval_s=3, estimated=True), 0, settings, None)
    assert cut.method == (
        "modeled: 10 W (partly estimated from elapsed time: a reply was cut short)"
    )
