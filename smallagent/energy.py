"""Energy: where a figure can come from on this machine (measured counters, or a model).

Later steps add the per-request estimate; this module stays pure apart from reading counters.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

RAPL_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class MeasurementSource:
    name: str
    available: bool
    detail: str


def rapl_source(root: Path = RAPL_ROOT) -> MeasurementSource:
    """CPU package energy counters (Intel RAPL; AMD exposes the same interface on Linux)."""
    counters = sorted(root.glob("intel-rapl:*/energy_uj")) if root.is_dir() else []
    readable = [path for path in counters if os.access(path, os.R_OK)]
    if readable:
        return MeasurementSource("RAPL", True, f"{len(readable)} readable counter(s) in {root}")
    if counters:
        return MeasurementSource("RAPL", False, f"counters in {root} are not readable by this user")
    return MeasurementSource("RAPL", False, "no powercap counters on this machine")


def nvml_source() -> MeasurementSource:
    """NVIDIA GPU energy through NVML, when the driver library is present."""
    for library in ("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", "/usr/lib64/libnvidia-ml.so.1"):
        if Path(library).exists():
            return MeasurementSource("NVML", True, library)
    if shutil.which("nvidia-smi"):
        return MeasurementSource("NVML", True, "nvidia-smi on PATH")
    return MeasurementSource("NVML", False, "no NVIDIA driver")


def measurement_sources() -> list[MeasurementSource]:
    return [rapl_source(), nvml_source()]


# --- CPU energy for work done on this machine (embedding) ---------------------------------------

# Modeled power of one busy server core: AMD EPYC 7763, 280 W TDP over 64 cores = 4.4 W per core
# (AMD product specification). A per-core TDP share is an upper-middle estimate: it ignores idle
# cores and DRAM, and is used only when no RAPL counter can be read.
WATTS_PER_BUSY_CORE = 280.0 / 64


@dataclass(frozen=True)
class EnergyFigure:
    joules: float
    source: str  # "measured (RAPL)" or "modeled (…)"

    @property
    def watt_hours(self) -> float:
        return self.joules / 3600.0


def read_rapl_microjoules(root: Path = RAPL_ROOT) -> int | None:
    """Sum of the package counters, or None where they cannot be read."""
    total = 0
    counters = sorted(root.glob("intel-rapl:*/energy_uj")) if root.is_dir() else []
    if not counters:
        return None
    try:
        for counter in counters:
            total += int(counter.read_text().strip())
    except (OSError, ValueError):
        return None
    return total


def cpu_energy(
    seconds: float, cores: int, rapl_start: int | None = None, rapl_end: int | None = None
) -> EnergyFigure:
    """Measured from RAPL readings around the work when both exist (and did not wrap), else
    modeled as busy cores x WATTS_PER_BUSY_CORE x seconds."""
    if rapl_start is not None and rapl_end is not None and rapl_end >= rapl_start:
        return EnergyFigure((rapl_end - rapl_start) / 1e6, "measured (RAPL)")
    joules = seconds * cores * WATTS_PER_BUSY_CORE
    return EnergyFigure(joules, f"modeled ({cores} cores x {WATTS_PER_BUSY_CORE:.1f} W)")
