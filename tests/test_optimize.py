"""The fleet optimizer: every shipped scenario, plan self-consistency, optimality, monotonicity."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog import load_catalog
from planner.cli.main import main
from planner.errors import InfeasibleError
from planner.optimize.solve import solve_scenario
from planner.plan.io import dump_plan

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
MEANT_INFEASIBLE = {"infeasible-power-cap"}

SMALL = {
    "name": "small",
    "workloads": [{"name": "chat", "model": "llama-3.1-8b",
                   "traffic": {"peak_requests_per_s": 30, "input_tokens": 1000, "output_tokens": 200},
                   "slo": {"ttft_p95_ms": 1000, "itl_p95_ms": 40}, "precisions": ["bf16"]}],
    "hardware": {"gpus": ["h100-sxm"]},
    "site": {"power_cap_kw": 100},
    "objective": "min_gpus",
}


def write(tmp_path: Path, doc: dict, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def check_plan_consistency(plan, scenario_doc: dict) -> None:  # type: ignore[no-untyped-def]
    """Recompute every constraint from the plan's own numbers."""
    site = scenario_doc.get("site", {})
    for w in scenario_doc["workloads"]:
        need = w["traffic"]["peak_requests_per_s"] * (1 + w.get("headroom", 0.0))
        k = w.get("redundancy", 0)
        ds = [d for d in plan.deployments if d.workload == w["name"]]
        spare = sum(k * d.capacity_requests_per_s / d.replicas for d in ds)
        assert sum(d.capacity_requests_per_s for d in ds) - spare >= need * (1 - 1e-6)
        for d in ds:
            if w.get("slo", {}).get("itl_p95_ms"):
                assert d.itl_p95_s * 1e3 <= w["slo"]["itl_p95_ms"] * (1 + 1e-6)
            if w.get("slo", {}).get("ttft_p95_ms"):
                assert d.ttft_p95_s * 1e3 <= w["slo"]["ttft_p95_ms"] * (1 + 1e-6)
            assert d.gpus == d.replicas * d.tp * d.pp
    for sg in plan.servers:
        used = sum(d.gpus for d in plan.deployments if d.gpu == sg.gpu)
        assert used <= sg.servers * sg.gpus_per_server
    total_nameplate = sum(sg.servers * sg.server_max_power_w for sg in plan.servers)
    assert math.isclose(total_nameplate, plan.totals.it_power_nameplate_w, rel_tol=1e-6)
    if site.get("power_cap_kw"):
        assert total_nameplate <= site["power_cap_kw"] * 1e3 * (1 + 1e-9)
    if site.get("racks"):
        assert plan.totals.racks <= site["racks"]
    for rack in plan.racks:
        assert rack.power_nameplate_w <= rack.usable_cap_w * (1 + 1e-9)
    assert sum(r.servers for r in plan.racks) == plan.totals.servers
    assert plan.totals.it_power_avg_w <= plan.totals.it_power_max_w * (1 + 1e-9)
    assert plan.totals.it_power_max_w <= plan.totals.it_power_nameplate_w
    assert math.isclose(plan.totals.heat_btu_per_hr, plan.totals.it_power_max_w * 3.412142, rel_tol=1e-9)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_solves_or_explains(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(path.read_text())
    if doc["name"] in MEANT_INFEASIBLE:
        assert main(["solve", str(path), "--no-write"]) == 3
        err = capsys.readouterr().err
        assert "infeasible" in err and "Traceback" not in err
        assert "kW" in err or "SLO" in err
        return
    plan = solve_scenario(path)
    assert plan.status == "optimal"
    check_plan_consistency(plan, doc)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    p = write(tmp_path, SMALL)
    a = dump_plan(solve_scenario(p))
    b = dump_plan(solve_scenario(p))
    assert a == b


def _knapsack_min_servers(cands: list[tuple[int, float]], need: float, per_server: int) -> int:
    """Brute force: the fewest servers whose GPUs, split into replicas of any candidates, reach `need`."""
    for servers in range(1, 200):
        g = servers * per_server
        best = [0.0] * (g + 1)
        for used in range(1, g + 1):
            for size, cap in cands:
                if size <= used:
                    best[used] = max(best[used], best[used - size] + cap)
        if best[g] >= need - 1e-9:
            return servers
    raise AssertionError("no solution")


def test_min_gpus_matches_brute_force(tmp_path: Path) -> None:
    from planner.candidates.generate import generate_candidates
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    cat = load_catalog()
    p = write(tmp_path, SMALL)
    problem = resolve_problem(load_scenario(p), cat)
    assert problem.gpu_ids == ("h100-sxm",)
    cand = generate_candidates(problem)
    pairs = [(int(n), float(c)) for n, c in zip(cand.columns["num_gpus"], cand.columns["capacity_rps"], strict=True)]
    expected = _knapsack_min_servers(pairs, 30.0, cat.gpu("h100-sxm").server.gpus_per_server)
    plan = solve_scenario(p)
    assert plan.totals.servers == expected


def test_more_demand_never_lowers_objective(tmp_path: Path) -> None:
    values = []
    for rps in (5, 30, 60, 120):
        doc = {**SMALL, "objective": "min_tco"}
        doc["workloads"] = [{**SMALL["workloads"][0], "traffic": {**SMALL["workloads"][0]["traffic"],
                                                                  "peak_requests_per_s": rps}}]
        values.append(solve_scenario(write(tmp_path, doc, f"d{rps}.yaml")).objective["value"])
    assert all(b >= a * (1 - 1e-9) for a, b in zip(values, values[1:], strict=False))


def test_looser_cap_never_raises_objective(tmp_path: Path) -> None:
    values = []
    for cap_kw in (25, 40, 80, 400):
        doc = {**SMALL, "objective": "min_tco", "hardware": {"gpus": ["h100-sxm", "l40s", "a100-sxm-80gb"]},
               "site": {"power_cap_kw": cap_kw}}
        try:
            values.append(solve_scenario(write(tmp_path, doc, f"c{cap_kw}.yaml")).objective["value"])
        except InfeasibleError:
            values.append(math.inf)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(values, values[1:], strict=False))
    assert math.isfinite(values[-1])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(low=st.floats(1, 150), extra=st.floats(0, 150))
def test_property_more_demand_never_lowers_objective(tmp_path: Path, low: float, extra: float) -> None:
    def objective(rps: float, name: str) -> float:
        doc = {**SMALL, "objective": "min_tco"}
        doc["workloads"] = [{**SMALL["workloads"][0], "traffic": {**SMALL["workloads"][0]["traffic"],
                                                                  "peak_requests_per_s": rps}}]
        return solve_scenario(write(tmp_path, doc, name), analysis=False).objective["value"]

    assert objective(low + extra, "hi.yaml") >= objective(low, "lo.yaml") * (1 - 1e-9)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cap_kw=st.floats(10, 300), extra_kw=st.floats(0, 300))
def test_property_looser_cap_never_raises_objective(tmp_path: Path, cap_kw: float, extra_kw: float) -> None:
    def objective(cap: float, name: str) -> float:
        doc = {**SMALL, "objective": "min_tco", "hardware": {"gpus": ["h100-sxm", "l40s", "a100-sxm-80gb"]},
               "site": {"power_cap_kw": cap}}
        try:
            return solve_scenario(write(tmp_path, doc, name), analysis=False).objective["value"]
        except InfeasibleError:
            return math.inf

    assert objective(cap_kw + extra_kw, "loose.yaml") <= objective(cap_kw, "tight.yaml") * (1 + 1e-9)


def test_tight_power_cap_explains_needed_kw(tmp_path: Path) -> None:
    doc = {**SMALL, "site": {"power_cap_kw": 5}}
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(write(tmp_path, doc))
    text = " ".join(exc.value.explanation)
    assert "kW datacenter IT power" in text


def test_unmeetable_slo_names_best_latency(tmp_path: Path) -> None:
    doc = {**SMALL}
    doc["workloads"] = [{**SMALL["workloads"][0], "slo": {"itl_p95_ms": 0.5}}]
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(write(tmp_path, doc))
    text = " ".join(exc.value.explanation)
    assert "best achievable" in text and "ITL p95 SLO 0.5 ms" in text


def test_cbc_fallback_agrees_with_highs(tmp_path: Path) -> None:
    from planner.errors import InputError
    from planner.optimize.backend import _solver

    try:
        _solver("cbc", 10.0)
    except InputError:
        pytest.skip("CBC is not installed with this PuLP (pip install 'pulp[cbc]')")
    p = write(tmp_path, {**SMALL, "objective": "min_tco"})
    highs = solve_scenario(p, analysis=False)
    cbc = solve_scenario(p, solver="cbc", analysis=False)
    assert cbc.solver.name == "cbc" and cbc.status in ("optimal", "feasible")
    assert cbc.objective["value"] == pytest.approx(highs.objective["value"], rel=1e-3)


def test_time_limit_is_reported_honestly(capsys: pytest.CaptureFixture[str]) -> None:
    # A time limit may give a feasible plan with its gap, or no plan at all: never "infeasible".
    path = ROOT / "scenarios" / "multi-model-1mw.yaml"
    rc = main(["solve", str(path), "--no-write", "--no-analysis", "--time-limit", "0.01", "--format", "json"])
    out = capsys.readouterr()
    assert rc in (0, 1) and "Traceback" not in out.err
    if rc == 0:
        import json

        plan = json.loads(out.out)
        assert plan["status"] in ("optimal", "feasible")
        if plan["status"] == "feasible":
            assert plan["solver"]["mip_gap"] is None or plan["solver"]["mip_gap"] >= 0
    else:
        assert "before finding any plan" in out.err and "--time-limit" in out.err


def test_infeasible_racks_offer_bigger_circuits_or_more_racks(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "scenarios" / "colo-retrofit-20kw.yaml").read_text())
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = 150
    doc["workloads"][0]["traffic"]["average_requests_per_s"] = 60
    doc["site"]["racks"] = 1000
    needed = solve_scenario(write(tmp_path, doc), analysis=False).totals.racks
    doc["site"]["racks"] = max(needed - 2, 1)  # two racks short, whatever the estimates give
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(write(tmp_path, doc), analysis=False)
    text = "\n".join(exc.value.explanation)
    assert "racks (site.racks)" in text and "rack circuits 20 ->" in text


def test_workload_engine_selects_its_calibration(tmp_path: Path) -> None:
    # TRT-LLM's calibrated per-sequence overhead is far below vLLM's: the same traffic needs fewer GPUs
    base = {**SMALL, "workloads": [{**SMALL["workloads"][0], "precisions": ["fp8"],
                                    "traffic": {"peak_requests_per_s": 100, "input_tokens": 1000,
                                                "output_tokens": 300}}]}
    trt = {**base, "workloads": [{**base["workloads"][0], "engine": "trt-llm"}]}
    vllm_plan = solve_scenario(write(tmp_path, base, "v.yaml"), analysis=False)
    trt_plan = solve_scenario(write(tmp_path, trt, "t.yaml"), analysis=False)
    assert trt_plan.deployments[0].engine == "trt-llm" and vllm_plan.deployments[0].engine == "vllm"
    assert sum(d.gpus for d in trt_plan.deployments) <= sum(d.gpus for d in vllm_plan.deployments)
