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


# Worked out by hand from EcoLogits' published model, not from this code's constants:
# - one GPU's energy per generated token, `gpu_energy` in ecologits/impacts/llm.py
#   (github.com/genai-impact/ecologits): ALPHA x exp(BETA x batch) x active params (billions)
#   + GAMMA, in Wh, with ALPHA = 1.1665273170451914e-06, BETA = -0.011205921025579175 and
#   GAMMA = 4.052928146734005e-05;
# - the GPUs that hold the weights, docs/methodology/llm_inference.md ("Estimating the number of
#   active GPUs"): ceil(1.2 x params x 16 bits / 8 / 80 GB).
PUBLISHED = [
    # params (B), batch, generated tokens, GPUs, Wh per GPU per token
    (70.0, 1, 336, 3, 1.2127626059219872e-04),  # 1.2 x 70 x 2 = 168 GB
    (70.0, 64, 1000, 3, 8.038825356247888e-05),  # EcoLogits' own data-centre batch
    (1.5, 1, 336, 1, 4.2259573877158444e-05),
    (40.0, 1, 10, 2, 8.667041239583071e-05),  # 96 GB: two GPUs
]


@pytest.mark.parametrize(("params", "batch", "tokens", "gpus", "per_token"), PUBLISHED)
def test_ecologits_gpu_energy_matches_the_published_model(
    params: float, batch: int, tokens: int, gpus: int, per_token: float
) -> None:
    assert ecologits_gpu_wh(params, tokens, batch) == pytest.approx(
        tokens * gpus * per_token, rel=1e-9
    )


def test_the_70b_figure_in_the_readme_is_the_published_models() -> None:
    # README: "same 336 generated tokens, EcoLogits GPU model at batch 1: 70B 0.1222 Wh".
    assert round(ecologits_gpu_wh(70, 336, 1), 4) == 0.1222
    assert ecologits_gpu_wh(70, 1, 64) < ecologits_gpu_wh(70, 1, 1)


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
