"""Power, energy and heat of the estimate against hand calculations and their bounds."""

from __future__ import annotations

import pytest

from planner.errors import InputError
from planner.estimation import estimate, estimate_table

BTU_PER_HR_PER_W = 3.412142  # NIST SP 811: 1 Btu_IT/h = 0.2930711 W


def test_heat_is_power_times_3_412142():
    e = estimate("llama-3.1-70b", "h100-sxm", precision="fp16", tp=4, batch_size=8, input_tokens=4096,
                 output_tokens=512)
    assert e.heat_btu_per_hr == pytest.approx(e.power_total_w * BTU_PER_HR_PER_W, rel=1e-12)


def test_table_heat_is_power_times_3_412142():
    t = estimate_table([{"model": "llama-3.1-8b", "gpu": "l4", "precision": "fp8", "tp": 1, "pp": 1,
                         "batch_size": 4, "input_tokens": 500, "output_tokens": 200, "engine": "vllm"}])
    assert t["heat_btu_per_hr"][0] == pytest.approx(t["power_total_w"][0] * BTU_PER_HR_PER_W, rel=1e-12)


def test_totals_are_per_gpu_times_gpus_and_energy_is_power_over_tokens():
    e = estimate("llama-3.1-70b", "a100-sxm-80gb", tp=4, pp=2, batch_size=32, input_tokens=2000,
                 output_tokens=300)
    assert e.power_total_w == pytest.approx(8 * e.power_per_gpu_w)
    assert e.energy_per_output_token_j == pytest.approx(e.power_total_w / e.output_tokens_per_s)
    assert e.requests_per_s == pytest.approx(e.output_tokens_per_s / 300)


@pytest.mark.parametrize(("gpu", "batch"), [("h100-sxm", 1), ("h100-sxm", 64), ("l4", 1), ("mi300x", 16)])
def test_power_within_idle_and_tdp_and_peak_at_least_average(gpu, batch):
    from planner.catalog.loader import load_catalog

    g = load_catalog().gpu(gpu)
    e = estimate("llama-3.1-8b", gpu, precision="fp8" if gpu != "l4" else "bf16", batch_size=batch,
                 input_tokens=1000, output_tokens=200)
    assert g.idle_w <= e.power_per_gpu_w <= g.tdp_w
    assert e.power_total_w <= e.peak_power_total_w <= g.tdp_w * e.num_gpus


def test_power_limit_caps_average_and_peak():
    e = estimate("llama-3.1-8b", "h100-sxm", input_tokens=1000, output_tokens=200, power_limit_w=400)
    assert 70 <= e.power_per_gpu_w <= 400
    assert e.peak_power_total_w <= 400


def test_decode_at_batch_1_draws_well_below_tdp():
    # issue 2: H100 draws roughly 300 W at batch 1 in decode, far from its 700 W TDP
    e = estimate("llama-3.1-8b", "h100-sxm", batch_size=1, input_tokens=500, output_tokens=500)
    assert e.power_per_gpu_w < 0.75 * 700


@pytest.mark.parametrize("limit_w", [-5.0, 0.0, 30.0])
def test_power_limit_below_idle_is_refused(limit_w):
    with pytest.raises(InputError):
        estimate("llama-3.1-8b", "h100-sxm", input_tokens=1000, output_tokens=200, power_limit_w=limit_w)
