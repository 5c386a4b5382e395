"""Error you can plan with (issue 11 item 7): the shipped expected-error table is the one the leave-one-GPU-out
residuals give, estimates carry it, and workloads[].sizing_confidence sizes capacity so the SLOs hold at that
quantile of the error, reporting the GPUs it adds (measured by solving both ways)."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import planner
from planner.api import solve
from planner.calibration.expected_error import load_expected_error, lookup
from planner.candidates.generate import generate_candidates
from planner.catalog import load_catalog
from planner.errors import InputError
from planner.plan.io import dump_plan
from planner.problem.build import resolve_problem
from planner.scenario.load import loaded_from_document
from planner.schemas.expected_error import ERROR_METRICS, MetricError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"


def _doc(confidence: float | None = None) -> dict[str, Any]:
    doc = yaml.safe_load(CHATBOT.read_text(encoding="utf-8"))
    doc.pop("overrides", None)
    if confidence is not None:
        doc["workloads"][0]["sizing_confidence"] = confidence
    return doc


def _problem(doc: dict[str, Any]) -> Any:
    raw = yaml.safe_dump(doc).encode()
    return resolve_problem(loaded_from_document(doc, raw, CHATBOT), load_catalog())


def test_shipped_table_is_regenerated() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "expected_error.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr + "\nrun python3 scripts/expected_error.py"


def test_lookup_falls_back_to_wider_groups_then_the_worst_held_out_gpu() -> None:
    cat, table = load_catalog(), load_expected_error()
    dense_8b = lookup(table, "hopper", cat.model("llama-3.1-8b"))
    assert dense_8b["throughput"].group == "hopper / dense / small"
    # TTFT is measured on A100 and L40S only: the H100 takes the worst held-out GPU's figure
    worst = table.worst_held_out_by_class["dense"]["ttft"]
    assert dense_8b["ttft"].group == f"worst held-out GPU for dense models ({worst.gpu})"
    assert dense_8b["ttft"].error == worst.error
    # a MoE model on a never-fitted architecture takes the worst held-out GPU of MoE points where there is one
    moe = lookup(table, "blackwell", cat.model("qwen3-235b-a22b"))
    assert moe["throughput"].error == table.worst_held_out_by_class["moe"]["throughput"].error
    # an architecture never fitted takes the worst held-out figure of every metric
    never = lookup(table, "blackwell", cat.model("llama-3.1-8b"))
    assert set(never) == set(ERROR_METRICS)
    assert all(e.group.startswith("worst held-out GPU") for e in never.values())
    # the worst held-out GPU has the largest 90th percentile of the GPUs with enough points
    p90 = [g.metrics["throughput"].p90_pct for g in table.groups if g.size_band == "*" and g.model_class == "*"
           and "throughput" in g.metrics]
    assert table.worst_held_out["throughput"].error.p90_pct >= max(p90) - 1e-9


def test_error_quantile_interpolates_between_the_stored_ones() -> None:
    e = MetricError(n=9, p50_pct=10.0, p80_pct=20.0, p90_pct=30.0, p95_pct=50.0)
    assert e.pct_at(0.9) == pytest.approx(30.0)
    assert e.pct_at(0.85) == pytest.approx(25.0)
    assert e.pct_at(0.925) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="outside"):
        e.pct_at(0.99)


def test_estimate_and_table_carry_the_expected_error() -> None:
    est = planner.estimate("llama-3.1-8b", "h100-sxm", input_tokens=512, output_tokens=128, batch_size=8)
    table = load_expected_error()
    want = lookup(table, "hopper", load_catalog().model("llama-3.1-8b"))
    assert set(est.expected_error) == set(ERROR_METRICS)
    for k, e in est.expected_error.items():
        assert e["p50_pct"] == want[k].error.p50_pct and e["p90_pct"] == want[k].error.p90_pct
        assert e["p50_pct"] <= e["p90_pct"] and e["group"] == want[k].group
    frame = planner.estimate_table([{"model": "llama-3.1-8b", "gpu": "h100-sxm", "input_tokens": 512,
                                     "output_tokens": 128, "batch_size": 8}])
    assert frame["expected_error_throughput_p90_pct"].iloc[0] == est.expected_error["throughput"]["p90_pct"]
    assert frame["expected_error_itl_group"].iloc[0] == est.expected_error["itl"]["group"]


def test_no_confidence_keeps_the_plan_free_of_margin_keys() -> None:
    text = dump_plan(solve(_doc()))
    assert "sizing_margin" not in text


def test_confidence_deflates_capacity_and_inflates_latency_per_candidate() -> None:
    p0, p9 = _problem(_doc()), _problem(_doc(0.9))
    w9 = p9.workloads[0]
    assert w9.sizing is not None and p0.workloads[0].sizing is None
    c0, c9 = generate_candidates(p0).columns, generate_candidates(p9).columns
    keys = ("gpu", "precision", "tp", "pp", "batch_size", "prefill_chunk_tokens", "power_limit_w")

    def index(c: dict[str, np.ndarray]) -> dict[tuple[Any, ...], int]:
        return {tuple(c[k][i] for k in keys): i for i in range(len(c["gpu"]))}

    i0, i9 = index(c0), index(c9)
    common = sorted(set(i0) & set(i9), key=str)
    assert common, "some operating point meets the SLOs both ways"
    slo_itl = w9.slo.itl_p95_s
    for key in common:
        f = w9.sizing.factors(str(key[0]))
        a, b = i0[key], i9[key]
        assert c9["capacity_rps"][b] <= c0["capacity_rps"][a] / f.throughput * (1 + 1e-9)
        assert c9["itl_p95_s"][b] * f.itl <= slo_itl * (1 + 1e-9)
    # the margin bites: some point's ITL meets the SLO at the point estimate and not at the 90th-percentile error
    assert any(c0["itl_p95_s"][i0[k]] * w9.sizing.factors(str(k[0])).itl > slo_itl for k in i0)


def test_plan_reports_the_margin_measured_by_solving_both_ways() -> None:
    point, sized = solve(_doc()), solve(_doc(0.9))
    margin = sized.totals.sizing_margin
    assert margin is not None
    assert margin.gpus_at_point_estimate == point.totals.gpus
    assert margin.gpus_added == sized.totals.gpus - point.totals.gpus
    assert margin.gpus_added >= 0 and sized.totals.gpus >= point.totals.gpus
    assert margin.objective_at_point_estimate == pytest.approx(point.objective.value, rel=1e-9)
    table, cat = load_expected_error(), load_catalog()
    for d in sized.deployments:
        m = d.sizing_margin
        assert m is not None and m.confidence == 0.9
        errors = lookup(table, cat.gpu(d.gpu).architecture, cat.model(d.model))
        assert m.throughput_factor == pytest.approx(1 + errors["throughput"].error.pct_at(0.9) / 100)
        assert m.ttft_factor == pytest.approx(1 + errors["ttft"].error.pct_at(0.9) / 100)
        assert d.demand_requests_per_s <= d.capacity_requests_per_s * (1 + 1e-9)
        # the SLOs hold with the latencies at the 90th-percentile error
        assert d.slo_ttft_p95_s is not None and d.slo_itl_p95_s is not None
        assert d.ttft_p95_s * m.ttft_factor <= d.slo_ttft_p95_s * (1 + 1e-6)
        assert d.itl_p95_s * m.itl_factor <= d.slo_itl_p95_s * (1 + 1e-6)


def test_confidence_out_of_range_names_the_key() -> None:
    with pytest.raises(InputError) as err:
        solve(_doc(0.99))
    assert "workloads[0].sizing_confidence" in str(err.value)


def test_the_cache_keeps_the_two_sizings_apart() -> None:
    p9 = _problem(_doc(0.9))
    w = p9.workloads[0]
    plain = dataclasses.replace(w, sizing=None)
    a = generate_candidates(p9, (w,)).columns["capacity_rps"]
    b = generate_candidates(p9, (plain,)).columns["capacity_rps"]
    assert not np.array_equal(np.sort(a), np.sort(b))
    assert copy.deepcopy(w.sizing) == w.sizing
