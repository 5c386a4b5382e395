"""planner.core.disaggregated and the prefill-pool queueing (planner.candidates.queueing): the physics the
disaggregated serving decision rests on, checked against the aggregated core on the same configurations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from planner.calibration.coefficients import load_calibration
from planner.candidates.queueing import prefill_pool_max_rate, prefill_pool_ttft_quantile
from planner.catalog.loader import load_catalog
from planner.core.disaggregated import (
    KV_TRANSFER_SETUP_S,
    SCALE_OUT_LATENCY_S,
    decode_replica,
    kv_transfer_s,
    prefill_replica,
)
from planner.core.inputs import build_inputs, estimate_arrays

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def sources() -> tuple[Any, Any]:
    return load_catalog(), load_calibration()[0]


def _x(sources: tuple[Any, Any], tp: list[float], batch: list[float], budget: list[float], n_in: float = 8000,
       n_out: float = 300) -> dict[str, Any]:
    n = len(tp)
    cols = {"model": np.full(n, "llama-3.3-70b"), "gpu": np.full(n, "h100-sxm"), "precision": np.full(n, "fp8"),
            "engine": np.full(n, "vllm"), "tp": np.array(tp), "pp": np.ones(n), "input_tokens": np.full(n, n_in),
            "output_tokens": np.full(n, n_out), "batch_size": np.array(batch), "prefill_chunk_tokens": np.array(budget)}
    x, problem = build_inputs(cols, *sources)
    assert (problem == "").all()
    return x


def test_decode_steps_carry_no_prompt_chunks(sources: tuple[Any, Any]) -> None:
    x = _x(sources, [4, 4, 8, 8], [16, 64, 32, 128], [512, 512, 2048, 2048])
    agg = estimate_arrays(x)
    dec = decode_replica(x, x["coefficients"])
    # no prefill interference: ITL p95 within 5 % of the decode-only step, below the aggregated replica's
    assert np.all(dec["itl_p95_s"] <= agg["decode_step_s"] * 1.05)
    assert np.all(dec["itl_p95_s"] < agg["itl_p95_s"])
    assert np.all(dec["requests_per_s"] > agg["requests_per_s"])
    # the same KV memory: every sequence holds its whole context
    assert np.array_equal(dec["max_batch_size"], agg["max_batch_size"])


def test_prefill_replica_rate_and_transfer(sources: tuple[Any, Any]) -> None:
    x = _x(sources, [2, 4, 8], [1, 1, 1], [8192, 8192, 8192])
    pf = prefill_replica(x, x["coefficients"])
    # saturated: a whole budget per step
    assert np.allclose(pf["requests_per_s"] * 8000 * pf["step_s"], 8192)
    assert np.allclose(pf["service_s"] * pf["requests_per_s"], 1.0)
    assert np.all(np.diff(pf["prefill_s"]) < 0)  # more tensor parallelism, a faster prompt
    assert np.all(pf["ttft_s"] == pf["prefill_s"] + pf["kv_transfer_s"])
    # the KV cache goes over one NIC per GPU: twice the GPUs, half the transfer (beyond the setup and latency)
    fixed_s = KV_TRANSFER_SETUP_S.value + SCALE_OUT_LATENCY_S.value
    moved = pf["kv_transfer_s"] - fixed_s
    assert moved[0] == pytest.approx(2 * moved[1]) and moved[1] == pytest.approx(2 * moved[2])
    # linear in the prompt: 8000 tokens of a 70B GQA model (320 KiB each at bf16 KV) over 2 x 50 GB/s x 0.8
    per_token = x["kv_bytes_per_token"][0] * x["kv_scale"][0]
    assert moved[0] == pytest.approx(8000 * per_token / (2 * 50e9 * 0.8))
    assert kv_transfer_s(x, np.full(3, 16000.0))[0] - fixed_s == pytest.approx(2 * moved[0])


def test_the_transfer_takes_the_servers_link_and_latency(sources: tuple[Any, Any]) -> None:
    x = _x(sources, [2, 2], [1, 1], [8192, 8192])
    per_token = x["kv_bytes_per_token"][0] * x["kv_scale"][0]
    link = np.array([50e9, 25e9])  # DGX H100 (8 x 400 Gb/s) and DGX A100 (8 x 200 Gb/s) per GPU, bytes/s
    latency = np.array([2e-6, 20e-6])
    pf = prefill_replica({**x, "scale_out_bytes_per_s_per_gpu": link, "scale_out_latency_s": latency},
                         x["coefficients"])
    expected = 8000 * per_token / (2 * link * 0.8) + KV_TRANSFER_SETUP_S.value + latency
    assert pf["kv_transfer_s"] == pytest.approx(expected)
    assert pf["kv_transfer_s"][1] > pf["kv_transfer_s"][0]  # half the link: (nearly) twice the transfer
    assert np.all(pf["ttft_s"] == pf["prefill_s"] + pf["kv_transfer_s"])


def test_prefill_pool_max_rate_meets_the_limit() -> None:
    solo = np.array([0.5, 0.5, 1.9, 2.5])
    service = np.array([0.3, 0.05, 0.3, 0.3])
    top = 0.85 / service
    rate = prefill_pool_max_rate(np.full(4, 2.0), solo, service, 0.95, top)
    ttft = prefill_pool_ttft_quantile(rate, solo, service, 0.95)
    assert np.all(ttft[:3] <= 2.0 + 1e-9)
    assert rate[3] == 0.0  # even an idle replica misses it
    assert rate[1] == top[1]  # short service: the utilization cap binds first
    interior = prefill_pool_ttft_quantile(rate[[0, 2]] * 1.001, solo[[0, 2]], service[[0, 2]], 0.95)
    assert np.all(interior > 2.0)
    assert np.all(np.diff(prefill_pool_ttft_quantile(np.linspace(0, 3, 7), 0.5, 0.3, 0.95)) >= 0)


def test_decode_rows_have_no_ttft_even_without_prefill_columns() -> None:
    from planner.candidates.disaggregated import ttft_quantile_rows

    decode_only = {"role": np.array(["decode", "decode"]), "ttft_solo_p95_s": np.zeros(2),
                   "prefill_service_s": np.zeros(2)}  # no prefill_solo_mean_s: no prefill row was evaluated
    assert ttft_quantile_rows(decode_only, np.array([0, 1]), np.array([3.0, 5.0]), 0.5).tolist() == [0.0, 0.0]


def test_the_tie_rule_ranks_aggregated_serving_first() -> None:
    from types import SimpleNamespace

    from planner.candidates.generate import Candidates
    from planner.optimize.ties import candidate_ranks

    n = 4
    cols = {"workload": np.full(n, "w"), "gpu": np.array(["a100", "a100", "h100", "h100"]),
            "precision": np.full(n, "fp8"), "tp": np.array([1, 2, 1, 8]), "pp": np.ones(n, dtype=int),
            "batch_size": np.array([8, 16, 32, 64]), "role": np.array(["prefill", "decode", "aggregated", "decode"])}
    ranks = candidate_ranks(SimpleNamespace(cand=Candidates(cols), memo={}))  # type: ignore[arg-type]
    assert ranks[2] == 1  # the aggregated configuration first, though its GPU sorts after the others'
    assert sorted(ranks) == [1, 2, 3, 4]
