"""Energy and FLOPs by phase and by cause (issue 14 item 1): the physical power terms split
energy per output token into static, memory, compute and communication parts that sum to it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.catalog.loader import load_catalog
from planner.core.constants import MEMORY_ENERGY, fixed
from planner.core.features import memory_energy_j_per_byte
from planner.estimation import BREAKDOWN, estimate, estimate_table
from planner.units import J_PER_KWH

pytestmark = pytest.mark.unit

PARTS = tuple(f"energy_{k}_j_per_token" for k in BREAKDOWN)


def _dynamic(e):
    b = e.energy_breakdown_j_per_token
    return b["memory"] + b["compute"] + b["communication"]


def test_70b_16bit_batch_1_on_h100_is_memory_energy():
    e = estimate("llama-3.1-70b", "h100-sxm", precision="bf16", tp=2, batch_size=1, input_tokens=1000,
                 output_tokens=200)
    assert e.energy_breakdown_j_per_token["memory"] >= 0.8 * _dynamic(e)


def test_energy_per_token_falls_with_batch_and_memory_share_with_it():
    es = [estimate("llama-3.1-70b", "h100-sxm", precision="bf16", tp=4, batch_size=b, input_tokens=1000,
                   output_tokens=200) for b in (1, 4, 16, 64)]
    j = [e.energy_per_output_token_j for e in es]
    assert all(a > b for a, b in itertools.pairwise(j)), j
    decode = [e.decode_energy_per_token_j for e in es]
    assert all(a > b for a, b in itertools.pairwise(decode)), decode
    share = [e.energy_breakdown_j_per_token["memory"] / _dynamic(e) for e in es]
    assert all(a > b for a, b in itertools.pairwise(share)), share


def test_parts_sum_to_the_total_and_derived_figures_follow():
    e = estimate("qwen3-30b-a3b", "h100-sxm", precision="fp8", tp=2, batch_size=32, input_tokens=2000,
                 output_tokens=300)
    assert sum(e.energy_breakdown_j_per_token.values()) == pytest.approx(e.energy_per_output_token_j, rel=1e-9)
    assert set(e.energy_breakdown_j_per_token) == {"static", "memory", "compute", "communication"}
    assert e.kwh_per_million_output_tokens == pytest.approx(e.energy_per_output_token_j * 1e6 / J_PER_KWH)
    assert e.output_tokens_per_s_per_w == pytest.approx(e.output_tokens_per_s / e.power_total_w)
    g = load_catalog().gpu("h100-sxm")
    assert e.node_power_w > e.power_per_gpu_w * g.server.gpus_per_server  # GPUs plus the server's share
    assert e.to_dict()["energy_breakdown_j_per_token"] == e.energy_breakdown_j_per_token


def test_flops_by_phase_follow_the_parameter_count():
    e = estimate("llama-3.1-8b", "h100-sxm", precision="bf16", batch_size=1, input_tokens=1000, output_tokens=100)
    active = load_catalog().model("llama-3.1-8b").params_active_b * 1e9
    # 2 FLOP per parameter per token (less the input embedding lookup), plus attention
    assert 1.6 * active < e.decode_flops_per_token < 2.5 * active
    assert 1000 * 1.6 * active < e.prefill_flops < 1000 * 2.5 * active
    # a prefix-cache hit removes computed prompt tokens
    hit = estimate("llama-3.1-8b", "h100-sxm", precision="bf16", batch_size=1, input_tokens=1000, output_tokens=100,
                   prefix_cache_hit_rate=0.5)
    assert hit.prefill_flops == pytest.approx(e.prefill_flops / 2, rel=0.01)
    assert hit.prefill_energy_j < e.prefill_energy_j


def test_tensor_parallel_adds_communication_energy_only_with_peers():
    one = estimate("llama-3.1-8b", "h100-sxm", batch_size=16, input_tokens=1000, output_tokens=200)
    four = estimate("llama-3.1-8b", "h100-sxm", tp=4, batch_size=16, input_tokens=1000, output_tokens=200)
    assert one.energy_breakdown_j_per_token["communication"] == 0.0
    assert four.energy_breakdown_j_per_token["communication"] > 0.0


def test_breakdown_is_finite_for_every_configuration_that_fits():
    cat = load_catalog()
    rows = [{"model": m, "gpu": g, "precision": p, "tp": tp, "batch_size": b, "input_tokens": n_in,
             "output_tokens": n_out}
            for m in ("llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b")
            for g in ("h100-sxm", "a100-sxm-80gb", "l40s", "b200", "mi300x", "l4")
            for p in ("bf16", "fp8", "int4") for tp in (1, 2, 8) for b in (1, 64, None)
            for n_in, n_out in ((128, 128), (8000, 500))]
    t = estimate_table(rows, catalog=cat)
    ok = (t["problem"] == "") & t["fits_memory"]
    assert ok.sum() > 100
    cols = [*PARTS, "prefill_flops", "decode_flops_per_token", "prefill_energy_j", "decode_energy_per_token_j",
            "kwh_per_million_output_tokens", "output_tokens_per_s_per_w", "node_power_w"]
    sub = t.loc[ok, cols].to_numpy(dtype=float)
    assert np.isfinite(sub).all() and (sub >= 0).all()
    total = t.loc[ok, list(PARTS)].sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, t.loc[ok, "energy_per_output_token_j"].to_numpy(), rtol=1e-9)


def test_memory_energy_prior_is_the_published_device_figure_plus_the_on_chip_path():
    for tech, c in MEMORY_ENERGY.items():
        assert memory_energy_j_per_byte(tech) == pytest.approx((c.value + fixed("onchip_movement_j_per_bit")) * 8)
    # HBM3 ~10 pJ/bit end to end: inside the 5-20 pJ/bit published for HBM3/HBM3E systems
    assert 5e-12 <= memory_energy_j_per_byte("hbm3") / 8 <= 20e-12
    assert memory_energy_j_per_byte(None) == pytest.approx(memory_energy_j_per_byte("hbm3"))


def test_power_limit_bounds_power_and_the_parts_still_sum():
    free = estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, batch_size=256, input_tokens=2000,
                    output_tokens=200)
    capped = estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, batch_size=256, input_tokens=2000,
                      output_tokens=200, power_limit_w=350)
    assert capped.power_per_gpu_w <= 350 + 1e-9
    assert capped.output_tokens_per_s <= free.output_tokens_per_s
    assert sum(capped.energy_breakdown_j_per_token.values()) == pytest.approx(capped.energy_per_output_token_j)


def test_tensor_parallel_over_pcie_runs_the_all_reduce_below_the_link_figure():
    from planner.core.features import allreduce_efficiency, gpu_features

    cat = load_catalog()
    pcie, nvlink = cat.gpu("l40s"), cat.gpu("h100-sxm")
    assert allreduce_efficiency(pcie.interconnect.kind) == fixed("pcie_allreduce_efficiency") < 1.0
    assert allreduce_efficiency(nvlink.interconnect.kind) == 1.0
    share = fixed("pcie_allreduce_efficiency")
    assert gpu_features(pcie)["allreduce_bytes_per_s"] == pytest.approx(share * pcie.interconnect_bytes_per_s)
    assert gpu_features(nvlink)["allreduce_bytes_per_s"] == nvlink.interconnect_bytes_per_s
