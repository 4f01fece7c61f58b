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
