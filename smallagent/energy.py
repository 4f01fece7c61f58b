"""Energy: where a figure can come from on this machine (measured counters, or a model).

Pure functions over Ollama's usage figures, the readers of the two counters a machine may offer
(RAPL: CPU packages, /sys/class/powercap; NVML: NVIDIA GPUs, through ctypes), and the one way work
is measured with them: `EnergyMeter.measuring()` around the work (a model call, an embedding
batch), which also times it.
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smallagent.errors import OptionError
from smallagent.types import Message, Model, ModelReply, Purpose, ToolSpec, Usage

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
    """NVIDIA GPU energy through NVML: available when a GPU answers the energy query."""
    if NvmlEnergy.open() is not None:
        return MeasurementSource("NVML", True, "GPU energy counters readable through NVML")
    if shutil.which("nvidia-smi"):
        return MeasurementSource("NVML", False, "NVIDIA driver present, but no GPU reports energy")
    return MeasurementSource("NVML", False, "no NVIDIA driver")


def measurement_sources() -> list[MeasurementSource]:
    return [rapl_source(), nvml_source()]


NVML_LIBRARY = "libnvidia-ml.so.1"
NVML_SUCCESS = 0


class NvmlEnergy:
    """Energy used by every NVIDIA GPU since the driver loaded, through NVML's
    nvmlDeviceGetTotalEnergyConsumption (millijoules; Volta and newer).

    Read through ctypes so that no NVIDIA Python package is needed; `library` is the loaded
    libnvidia-ml (a stand-in in tests). `open()` gives None where there is no driver or no GPU.
    """

    def __init__(self, library: Any) -> None:
        self._library = library
        count = ctypes.c_uint(0)
        if library.nvmlDeviceGetCount_v2(ctypes.byref(count)) != NVML_SUCCESS:
            raise OSError("nvmlDeviceGetCount_v2 failed")
        self._handles = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            if library.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != NVML_SUCCESS:
                raise OSError(f"nvmlDeviceGetHandleByIndex_v2({index}) failed")
            self._handles.append(handle)
        if not self._handles or self.millijoules() is None:
            raise OSError("no GPU reports its energy")

    @classmethod
    def open(cls) -> NvmlEnergy | None:
        try:
            library = ctypes.CDLL(NVML_LIBRARY)
            if library.nvmlInit_v2() != NVML_SUCCESS:
                return None
            return cls(library)
        except (OSError, AttributeError):
            return None

    def millijoules(self) -> int | None:
        total = 0
        for handle in self._handles:
            energy = ctypes.c_ulonglong(0)
            status = self._library.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(energy))
            if status != NVML_SUCCESS:
                return None
            total += energy.value
        return total


@dataclass(frozen=True)
class EnergyCounter:
    """One monotonic counter: its name and a reader that returns joules, or None when unreadable."""

    name: str
    read_joules: Callable[[], float | None]


def energy_counters(rapl_root: Path = RAPL_ROOT, gpus: bool = True) -> list[EnergyCounter]:
    """The counters this machine can read right now: RAPL (CPU packages), and with `gpus` NVML
    (NVIDIA GPUs)."""
    counters = []
    if read_rapl_microjoules(rapl_root) is not None:

        def rapl() -> float | None:
            value = read_rapl_microjoules(rapl_root)
            return None if value is None else value / 1e6

        counters.append(EnergyCounter("RAPL", rapl))
    nvml = NvmlEnergy.open() if gpus else None
    if nvml is not None:

        def gpu() -> float | None:
            value = nvml.millijoules()
            return None if value is None else value / 1e3

        counters.append(EnergyCounter("NVML", gpu))
    return counters


@dataclass
class Metered:
    """One block of work: how long it took, and the joules its counters moved (None: none of
    them gave a reading, so the figure must be modeled)."""

    seconds: float = 0.0
    joules: float | None = None


class EnergyMeter:
    """Reads its counters around each block of work; `joules` adds up every block since `reset`
    (None when there is no counter to read). Work that fails or is interrupted is counted too:
    its energy was spent all the same."""

    def __init__(self, counters: Sequence[EnergyCounter]) -> None:
        self.counters = list(counters)
        self.measured_by = " + ".join(counter.name for counter in self.counters)
        self.joules: float | None = None
        self.reset()

    def reset(self) -> None:
        self.joules = 0.0 if self.counters else None

    @contextmanager
    def measuring(self) -> Iterator[Metered]:
        block = Metered()
        before = [counter.read_joules() for counter in self.counters]
        started = time.perf_counter()
        try:
            yield block
        finally:
            block.seconds = time.perf_counter() - started
            after = [counter.read_joules() for counter in self.counters]
            moved = [
                end - start
                for start, end in zip(before, after, strict=True)
                if start is not None and end is not None and end >= start  # unread, or wrapped
            ]
            block.joules = sum(moved) if moved else None
            if self.joules is not None and block.joules is not None:
                self.joules += block.joules


class MeteredModel:
    """A model whose every call is measured by an `EnergyMeter` over this machine's counters
    (RAPL, NVML) where they can be read."""

    def __init__(self, inner: Model, counters: Sequence[EnergyCounter] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.meter = EnergyMeter(energy_counters() if counters is None else counters)

    def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        purpose: Purpose = "tool",
        reply_format: Mapping[str, Any] | None = None,
    ) -> ModelReply:
        # Passed on only when set: a model that never constrains replies need not know the word.
        constraint = {"reply_format": reply_format} if reply_format else {}
        with self.meter.measuring():
            return self.inner.chat(messages, tools, purpose=purpose, **constraint)


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


def cpu_energy(work: Metered, cores: int) -> EnergyFigure:
    """Measured where the counters moved during the work, else modeled as busy cores x
    WATTS_PER_BUSY_CORE x seconds."""
    if work.joules is not None:
        return EnergyFigure(work.joules, "measured (RAPL)")
    joules = work.seconds * cores * WATTS_PER_BUSY_CORE
    return EnergyFigure(joules, f"modeled ({cores} cores x {WATTS_PER_BUSY_CORE:.1f} W)")


# --- inference: this run, and what a 70B model would have used -----------------------------------

# EcoLogits' regression of GPU energy per generated token on active parameters (ecologits/impacts/
# llm.py, `gpu_energy`; fitted on ML.ENERGY leaderboard measurements): Wh per token on one GPU =
# ALPHA * exp(BETA * batch) * params_billion + GAMMA. EcoLogits itself assumes batch 64 in a data
# centre; local inference runs one request at a time, so the comparison below uses batch 1 for
# both models, and counts only the GPUs needed to hold fp16 weights (1.2 x params x 2 bytes per
# 80 GB GPU, as EcoLogits does). Server, cooling (PUE) and embodied impacts are left out, for both.
ECOLOGITS_GPU_ENERGY_ALPHA = 1.1665273170451914e-06
ECOLOGITS_GPU_ENERGY_BETA = -0.011205921025579175
ECOLOGITS_GPU_ENERGY_GAMMA = 4.052928146734005e-05
ECOLOGITS_GPU_MEMORY_GB = 80
REFERENCE_PARAMS_BILLION = 70.0
# World average carbon intensity of electricity generation, 2023: about 480 gCO2e/kWh (Ember,
# Global Electricity Review 2024). Configurable: a local grid can be 20 or 800.
DEFAULT_GRID_GCO2_PER_KWH = 480.0


@dataclass(frozen=True)
class EnergySettings:
    device_watts: float  # power of the device running the model while it computes
    device_label: str
    grid_gco2_per_kwh: float = DEFAULT_GRID_GCO2_PER_KWH
    batch_size: int = 1
    reference_params_billion: float = REFERENCE_PARAMS_BILLION

    def __post_init__(self) -> None:
        if self.device_watts <= 0:
            raise OptionError("device_watts", "must be positive")
        if self.grid_gco2_per_kwh < 0:
            raise OptionError("grid_gco2_per_kwh", "must not be negative")


def default_energy_settings(cores: int | None = None) -> EnergySettings:
    count = cores or os.cpu_count() or 1
    return EnergySettings(
        device_watts=count * WATTS_PER_BUSY_CORE,
        device_label=f"CPU, {count} cores x {WATTS_PER_BUSY_CORE:.1f} W",
    )


def energy_settings(
    device_watts: float | None = None, grid_gco2_per_kwh: float | None = None
) -> EnergySettings:
    """The defaults, with the device's power and the grid's carbon intensity where given."""
    energy = default_energy_settings()
    if device_watts is not None:
        energy = replace(energy, device_watts=device_watts, device_label=f"{device_watts:g} W")
    if grid_gco2_per_kwh is not None:
        energy = replace(energy, grid_gco2_per_kwh=grid_gco2_per_kwh)
    return energy


def parse_parameter_size(text: str) -> float | None:
    """Ollama's `parameter_size` in billions.

    >>> parse_parameter_size("630.17M"), parse_parameter_size("1.5B"), parse_parameter_size("?")
    (0.63017, 1.5, None)
    """
    cleaned = text.strip().upper()
    scale = {"K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3}.get(cleaned[-1:] if cleaned else "")
    try:
        return float(cleaned[:-1]) * scale if scale else None
    except ValueError:
        return None


def ecologits_gpu_wh(params_billion: float, generated_tokens: int, batch_size: int = 1) -> float:
    """GPU energy for generating tokens, EcoLogits' regression, GPUs for fp16 weights included."""
    per_token = (
        ECOLOGITS_GPU_ENERGY_ALPHA
        * math.exp(ECOLOGITS_GPU_ENERGY_BETA * batch_size)
        * params_billion
        + ECOLOGITS_GPU_ENERGY_GAMMA
    )
    gpus = max(1, math.ceil(1.2 * params_billion * 2 / ECOLOGITS_GPU_MEMORY_GB))
    return generated_tokens * per_token * gpus


@dataclass(frozen=True)
class RunEnergy:
    """The energy of answering one question, by part, with where each figure came from."""

    model_wh: float  # prompt evaluation + generation
    model_source: str
    # How model_wh was found, without this run's figures: "measured (RAPL)", "modeled: <device>";
    # and whether any of Ollama's figures were our estimate (a reply was cut short).
    model_method: str
    estimated: bool
    tools_wh: float  # retrieval (query embedding included) and commands, on this machine's CPU
    load_wh: float  # loading the model into memory: booked apart from the question
    grid_gco2_per_kwh: float
    small_params_billion: float | None
    reference_params_billion: float
    generated_tokens: int
    batch_size: int

    @property
    def total_wh(self) -> float:
        return self.model_wh + self.tools_wh

    @property
    def method(self) -> str:
        """Where model_wh came from, in a few words that sum up across runs (a task report)."""
        if self.estimated:
            return (
                f"{self.model_method} (partly estimated from elapsed time: a reply was cut short)"
            )
        return self.model_method

    @property
    def gco2e(self) -> float:
        return self.total_wh / 1000 * self.grid_gco2_per_kwh

    @property
    def reference_wh(self) -> float:
        return ecologits_gpu_wh(
            self.reference_params_billion, self.generated_tokens, self.batch_size
        )

    @property
    def small_model_same_method_wh(self) -> float | None:
        if self.small_params_billion is None:
            return None
        return ecologits_gpu_wh(self.small_params_billion, self.generated_tokens, self.batch_size)

    @property
    def saving_percent(self) -> float | None:
        small = self.small_model_same_method_wh
        if small is None or self.reference_wh <= 0:
            return None
        return 100.0 * (1.0 - small / self.reference_wh)


def run_energy(
    usage: Usage,
    tool_seconds: float,
    settings: EnergySettings,
    small_params_billion: float | None,
    measured_joules: float | None = None,
    measured_by: str = "RAPL",
) -> RunEnergy:
    """Model energy from Ollama's durations (never token counts: cached prompt tokens cost no
    compute, and Ollama counts them anyway), measured instead where a counter was read."""
    compute_s = usage.prompt_eval_s + usage.eval_s
    if measured_joules is not None:
        model_wh, source = measured_joules / 3600, f"measured ({measured_by})"
        method = source
    else:
        method = f"modeled: {settings.device_label}"
        model_wh = settings.device_watts * compute_s / 3600
        timed_by = (
            "reported by Ollama, partly estimated from elapsed time (a reply was cut short)"
            if usage.estimated
            else "reported by Ollama"
        )
        source = f"modeled: {settings.device_label} x {compute_s:.1f} s {timed_by}"
    return RunEnergy(
        model_wh=model_wh,
        model_source=source,
        model_method=method,
        estimated=usage.estimated,
        tools_wh=settings.device_watts * tool_seconds / 3600,
        load_wh=settings.device_watts * usage.load_s / 3600,
        grid_gco2_per_kwh=settings.grid_gco2_per_kwh,
        small_params_billion=small_params_billion,
        reference_params_billion=settings.reference_params_billion,
        generated_tokens=usage.generated_tokens,
        batch_size=settings.batch_size,
    )


def energy_budget(
    max_wh: float | None, settings: EnergySettings, params_billion: float | None
) -> Callable[[Usage], bool]:
    """The loop's `over_budget`: true once the usage so far, modeled from Ollama's durations,
    reaches `max_wh`; never true without a budget."""

    def over_budget(usage: Usage) -> bool:
        if max_wh is None:
            return False
        return run_energy(usage, 0.0, settings, params_billion).total_wh >= max_wh

    return over_budget
