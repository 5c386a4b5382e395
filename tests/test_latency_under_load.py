"""planner.estimate(..., arrival_requests_per_s=...) and `planner estimate --arrival-requests-per-s`:
latency under Poisson arrivals from the same queueing model candidate generation sizes capacity
with (planner.candidates.queueing), saturation said instead of raised, and the prefix-cache hit rate."""

from __future__ import annotations

import json
import math

import pytest

from planner.cli.main import main
from planner.estimation import estimate

pytestmark = pytest.mark.integration

CHAT = {"input_tokens": 256, "output_tokens": 256, "batch_size": 64, "prefill_chunk_tokens": 2048}


def est(rate: float | None, **kw):
    return estimate("llama-3.1-8b", "h100-sxm", arrival_requests_per_s=rate, **(CHAT | kw))


def test_without_an_arrival_rate_nothing_changes():
    e = est(None)
    assert e.arrival_requests_per_s is None and e.saturated is None and e.ttft_p95_s is None
    assert e.batch_size == 64


def test_power_and_energy_are_at_the_served_load():
    """Under load the power is the draw at that load (busy 1 - exp(-b) of the time at the mean batch
    b, idle otherwise), not the concurrency cap's: it rises with the rate from idle towards the cap's
    draw, energy per token is that power over the served tokens, and its causes still sum to it."""
    cap = est(None)
    sat = cap.requests_per_s
    rates = [0.01 * sat, 0.2 * sat, 0.6 * sat, 0.9 * sat]
    loads = [est(r) for r in rates]
    powers = [e.power_total_w for e in loads]
    assert powers == sorted(powers) and len(set(powers)) == len(powers)
    assert 70.0 < powers[0] < 0.5 * cap.power_total_w  # H100 idle 70 W: mostly idle at 1 % load
    assert powers[-1] <= cap.peak_power_total_w * 1.0001
    for e in loads:
        assert e.peak_power_total_w == pytest.approx(cap.peak_power_total_w)
        assert e.energy_per_output_token_j == pytest.approx(e.power_total_w / e.output_tokens_per_s)
        assert sum(e.energy_breakdown_j_per_token.values()) == pytest.approx(e.energy_per_output_token_j)
        assert e.heat_btu_per_hr == pytest.approx(e.power_total_w * 3.412141633, rel=1e-6)
    # at a load whose mean batch is large the GPU is always busy: the draw is the core's at that batch
    busy = loads[-1]
    at_batch = estimate("llama-3.1-8b", "h100-sxm", **(CHAT | {"batch_size": round(busy.batch_size)}))
    assert busy.power_total_w == pytest.approx(at_batch.power_total_w, rel=0.03)


def test_saturated_keeps_the_cap_power():
    e = est(5.0 * est(1.0).requests_per_s)
    assert e.saturated and e.power_total_w == pytest.approx(est(None).power_total_w)


def test_latency_rises_with_load_and_the_batch_is_littles_law():
    sat = est(1.0).requests_per_s
    light, heavy = est(0.2 * sat), est(0.8 * sat)
    assert not light.saturated and not heavy.saturated
    assert light.ttft_p50_s <= light.ttft_p95_s <= light.ttft_p99_s
    assert light.ttft_p95_s < heavy.ttft_p95_s and light.itl_mean_s < heavy.itl_mean_s
    assert light.batch_size < heavy.batch_size <= 64
    assert heavy.output_tokens_per_s == pytest.approx(0.8 * sat * 256)
    assert heavy.concurrency_cap == 64 and heavy.requests_per_s == pytest.approx(sat)  # its meaning kept


def test_at_or_above_saturation_it_says_so():
    e = est(1e3)
    assert e.saturated and math.isinf(e.ttft_p95_s) and math.isfinite(e.itl_p95_s)
    assert any("at or above" in w for w in e.warnings)


def test_prefix_cache_hits_shorten_prefill():
    kw = {"input_tokens": 4000, "batch_size": None, "prefill_chunk_tokens": None}
    cold, warm = est(5.0, **kw), est(5.0, prefix_cache_hit_rate=0.75, **kw)
    assert warm.ttft_p50_s < cold.ttft_p50_s and warm.ttft_s < cold.ttft_s
    assert warm.memory_per_gpu_bytes == cold.memory_per_gpu_bytes  # cached tokens still hold KV memory


def test_candidates_and_estimate_share_the_queueing_model():
    """The capacity candidate generation gives a configuration meets its TTFT SLO in the estimate at
    that arrival rate, within the solver's tolerance."""
    import numpy as np

    from planner.candidates.queueing import max_rate_meeting, replica_load
    from planner.catalog import load_catalog
    from planner.core.inputs import build_inputs, estimate_arrays
    from planner.estimation import _calibration

    cols = {"model": np.array(["llama-3.1-8b"] * 2), "gpu": np.array(["h100-sxm"] * 2),
            "precision": np.array(["bf16"] * 2), "tp": np.ones(2), "pp": np.ones(2),
            "batch_size": np.array([64.0, 1.0]), "prefill_chunk_tokens": np.full(2, 2048.0),
            "engine": np.array(["vllm"] * 2), "input_tokens": np.full(2, 256.0), "output_tokens": np.full(2, 256.0)}
    x, _ = build_inputs(cols, load_catalog(), _calibration(None))
    out = estimate_arrays(x)
    at_c, at_1 = ({k: v[i:i + 1] for k, v in out.items()} for i in (0, 1))
    load = replica_load(at_1, at_c, np.array([256.0]), np.array([256.0]), 0.0)
    rate = float(max_rate_meeting(np.array([0.03]), load, 0.95)[0])
    assert rate > 0
    assert est(rate).ttft_p95_s == pytest.approx(0.03, rel=1e-3) or est(rate).ttft_p95_s < 0.03


def test_cli_json_has_the_load_fields_and_nulls_when_saturated(capsys):
    args = ["estimate", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "256", "--output-tokens", "256",
            "--batch-size", "64", "--format", "json"]
    assert main([*args, "--arrival-requests-per-s", "5"]) == 0
    ok = json.loads(capsys.readouterr().out)
    assert ok["saturated"] is False and ok["ttft_p95_s"] > ok["ttft_p50_s"] > 0 and ok["batch_size"] < 64
    assert main([*args, "--arrival-requests-per-s", "1000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["saturated"] is True and doc["ttft_p95_s"] is None and doc["itl_mean_s"] > 0


def _workload_capacity(traffic: dict) -> float:
    """The best capacity per GPU of a one-workload scenario's candidates (llama-3.1-8b on h100-sxm, TTFT SLO)."""
    from pathlib import Path

    from planner.candidates.generate import workload_candidates
    from planner.catalog import load_catalog
    from planner.problem.build import resolve_problem
    from planner.scenario.load import LoadedScenario
    from planner.schemas.scenario import Scenario

    doc = {"name": "t", "workloads": [{"name": "w", "model": "llama-3.1-8b", "precisions": ["fp8"],
                                       "traffic": {"peak_requests_per_s": 1.0, **traffic},
                                       "slo": {"ttft_p95_ms": 400, "itl_p95_ms": 60}}],
           "hardware": {"gpus": ["h100-sxm"]}, "site": {"rack_power_cap_kw": 1000, "racks": 1000}}
    loaded = LoadedScenario(Scenario.model_validate(doc), Path("t.yaml"), None, repr(doc).encode())
    p = resolve_problem(loaded, load_catalog(), calibration=None)
    assert p.workloads[0].prefix_cache_hit_rate == traffic.get("prefix_cache_hit_rate", 0.0)
    cols, _, _ = workload_candidates(p, p.workloads[0])
    return float((cols["capacity_rps"] / cols["num_gpus"]).max())


def test_scenario_prefix_cache_hits_and_output_spread_move_capacity():
    """A prefix-cache hit rate (traffic key) frees prefill work: more capacity per GPU for long
    prompts; exponential-like output lengths (p95 = 3 x mean) wait longer for slots than fixed ones."""
    base = {"input_tokens": 6000, "output_tokens": 200}
    cold = _workload_capacity(base)
    assert _workload_capacity(base | {"prefix_cache_hit_rate": 0.8}) > 1.2 * cold
    fixed_out = _workload_capacity({"input_tokens": 500, "output_tokens": 300})
    spread = _workload_capacity({"input_tokens": 500, "output_tokens": {"mean": 300, "p95": 900}})
    assert spread <= fixed_out


def test_candidates_carry_the_load_model():
    """queueing.ttft_from_candidates (what plan_builder reports at the routed load) gives each
    candidate's TTFT p95 at its capacity from the queue_* columns, and less below it."""
    from pathlib import Path

    import numpy as np

    from planner.candidates.generate import generate_candidates
    from planner.candidates.queueing import ttft_from_candidates
    from planner.catalog import load_catalog
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    chatbot = Path(__file__).resolve().parents[1] / "scenarios" / "chatbot.yaml"
    p = resolve_problem(load_scenario(chatbot, override=None), load_catalog(), calibration=None)
    c = generate_candidates(p).columns
    rows = np.arange(len(c["workload"]))
    assert np.allclose(ttft_from_candidates(c, rows, c["capacity_rps"], 0.95), c["ttft_p95_s"], rtol=1e-12)
    assert np.all(ttft_from_candidates(c, rows, 0.5 * c["capacity_rps"], 0.95) <= c["ttft_p95_s"])


def test_compare_under_load_reports_the_estimates_power():
    """planner compare under an arrival rate gives the power and energy planner.estimate gives there."""
    from planner.comparison import compare

    rate = 0.3 * est(1.0).requests_per_s
    e = estimate("llama-3.1-8b", "h100-sxm", arrival_requests_per_s=rate, input_tokens=256, output_tokens=256)
    row = compare(models=["llama-3.1-8b"], gpus=["h100-sxm"], precisions=["bf16"], input_tokens=256,
                  output_tokens=256, arrival_requests_per_s=rate).iloc[0]
    assert row["power_total_w"] == pytest.approx(e.power_total_w, rel=1e-9)
    assert row["energy_per_output_token_j"] == pytest.approx(e.energy_per_output_token_j, rel=1e-9)
    assert row["energy_static_j_per_token"] == pytest.approx(e.energy_breakdown_j_per_token["static"], rel=1e-9)
    assert row["power_total_w"] < est(None).power_total_w
