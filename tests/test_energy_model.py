from __future__ import annotations

import pytest

from smallagent.agent import Step
from smallagent.energy import (
    EnergySettings,
    ecologits_gpu_wh,
    parse_parameter_size,
    run_energy,
)
from smallagent.trace import cache_reuse
from smallagent.types import Usage

SETTINGS = EnergySettings(device_watts=10.0, device_label="10 W", grid_gco2_per_kwh=500.0)


def test_model_energy_comes_from_durations_not_token_counts() -> None:
    usage = Usage(prompt_tokens=5000, generated_tokens=100, prompt_eval_s=0.6, eval_s=3.0, load_s=2)
    energy = run_energy(usage, tool_seconds=0.36, settings=SETTINGS, small_params_billion=1.5)
    assert energy.model_wh == pytest.approx(10 * 3.6 / 3600)
    assert energy.tools_wh == pytest.approx(10 * 0.36 / 3600)
    assert energy.load_wh == pytest.approx(10 * 2 / 3600)
    assert energy.total_wh == pytest.approx(energy.model_wh + energy.tools_wh)
    assert energy.gco2e == pytest.approx(energy.total_wh / 1000 * 500)
    assert energy.model_source == "modeled: 10 W x 3.6 s reported by Ollama"


def test_measured_energy_wins_when_there_is_a_counter() -> None:
    energy = run_energy(Usage(eval_s=1), 0, SETTINGS, 1.5, measured_joules=36.0)
    assert (energy.model_wh, energy.model_source) == (0.01, "measured (RAPL)")


def test_70b_comparison_uses_the_same_method_for_both_models() -> None:
    energy = run_energy(Usage(generated_tokens=1000), 0, SETTINGS, 1.5)
    assert energy.reference_wh == pytest.approx(ecologits_gpu_wh(70, 1000, 1))
    assert energy.small_model_same_method_wh == pytest.approx(ecologits_gpu_wh(1.5, 1000, 1))
    assert 85 < (energy.saving_percent or 0) < 90
    assert run_energy(Usage(generated_tokens=1), 0, SETTINGS, None).saving_percent is None


def test_ecologits_regression_values() -> None:
    # 70B in fp16 needs 3 GPUs of 80 GB; batch 64 is EcoLogits' own data-centre assumption.
    per_token_70b = 1.1665273170451914e-06 * 0.98886 * 70 + 4.052928146734005e-05
    assert ecologits_gpu_wh(70, 1, 1) == pytest.approx(3 * per_token_70b, rel=1e-4)
    assert ecologits_gpu_wh(70, 1, 64) < ecologits_gpu_wh(70, 1, 1)
    assert ecologits_gpu_wh(1.5, 10, 1) == pytest.approx(10 * ecologits_gpu_wh(1.5, 1, 1))


@pytest.mark.parametrize(
    ("text", "billions"),
    [("630.17M", 0.63017), ("1.5B", 1.5), ("70B", 70.0), ("", None), ("xB", None)],
)
def test_parameter_sizes(text: str, billions: float | None) -> None:
    assert parse_parameter_size(text) == (pytest.approx(billions) if billions else None)


def _step(tokens: int, seconds: float) -> Step:
    return Step(1, "tool", "", None, "json", "", Usage(tokens, 1, seconds, 0.1), 1.0)


def test_cache_reuse_is_estimated_from_durations() -> None:
    # Step 1 computed all its 1000 tokens; step 2 only 200 new ones: 1000 of 2200 were cached.
    assert cache_reuse([_step(1000, 1.0), _step(1200, 0.2)]) == pytest.approx(1000 / 2200)
    # Step 1 hit an earlier run's cache: the slower step sets the rate, and the estimate stays
    # a lower bound instead of collapsing to 0.
    assert cache_reuse([_step(600, 0.05), _step(800, 1.6)]) == pytest.approx(1 - 825 / 1400)
    assert cache_reuse([_step(1000, 1.0)]) is None
