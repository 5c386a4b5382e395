"""GPU power limits as a decision of the integer program (issue 12 item 2 and item 5).

A limit set on the GPU (`nvidia-smi -pl`) is a hard cap: throughput, latency and power come from the
estimation core's power-limit model, and a server's nameplate falls by (TDP - limit) per GPU, so
site and rack budgets count less. The figures here are not hard-coded answers: each test compares a
plan with another solve, the catalog, or the rule itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from planner.api import loaded_from_dict, solve
from planner.candidates.generate import evaluate_configurations
from planner.catalog import load_catalog
from planner.cli.main import main
from planner.errors import InfeasibleError, InputError
from planner.gitops.diff import diff_plans
from planner.gitops.fmt import quantity
from planner.gitops.rederive import check_context, problem_violations
from planner.plan.figures import deployment_figures
from planner.plan.io import write_plan
from planner.problem.build import resolve_problem
from planner.schemas.plan import Plan
from planner.units import HOURS_PER_YEAR, W_PER_KW

pytestmark = pytest.mark.integration

LIMITS = [1.0, 0.85, 0.7]
H100 = "h100-sxm"


def scenario(*, fractions: list[float] | None = None, cap_kw: float | None = None, objective: str = "min_tco",
             peak: float = 20.0) -> dict[str, Any]:
    """Llama 3.3 70B chat on DGX H100 servers (8 x 700 W GPUs, 10.2 kW nameplate)."""
    doc: dict[str, Any] = {
        "name": "power-limits",
        "workloads": [{"name": "chat", "model": "llama-3.3-70b", "precisions": ["fp8"],
                       "traffic": {"peak_requests_per_s": peak, "input_tokens": {"mean": 1000, "p95": 3000},
                                   "output_tokens": {"mean": 300, "p95": 800}},
                       "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 60}}],
        "hardware": {"gpus": [H100]}, "objective": objective}
    if fractions is not None:
        doc["hardware"]["power_limit_fractions"] = fractions
    if cap_kw is not None:
        doc["site"] = {"power_cap_kw": cap_kw}
    return doc


@cache
def _solved(fractions: tuple[float, ...] | None, cap_kw: float | None, objective: str) -> Plan:
    return solve(scenario(fractions=None if fractions is None else list(fractions), cap_kw=cap_kw,
                          objective=objective), analysis=False)


def plan_of(*, fractions: list[float] | None = None, cap_kw: float | None = None, objective: str = "min_tco") -> Plan:
    return _solved(None if fractions is None else tuple(fractions), cap_kw, objective)


def h100_server() -> tuple[float, int, float]:
    """The catalog's DGX H100: nameplate W, GPUs per server, GPU TDP W."""
    g = load_catalog().gpu(H100)
    assert g.server is not None
    return g.server.max_power_w, g.server.gpus_per_server, g.tdp_w


def tight_cap_kw() -> float:
    """A site cap just below the fewest full-TDP servers the workload needs (min_gpus buys the fewest)."""
    fewest = plan_of(objective="min_gpus").totals.servers
    return (fewest * h100_server()[0] - 500.0) / 1000.0


# -- the decision ----------------------------------------------------------------------------------

def test_a_cap_the_full_tdp_fleet_cannot_meet_is_met_by_setting_limits() -> None:
    cap_kw = tight_cap_kw()
    with pytest.raises(InfeasibleError) as err:
        plan_of(cap_kw=cap_kw)
    # the infeasibility answer offers power limits (verified by a solve), applied just below
    assert any("power-capped (hardware.power_limit_fractions" in line for line in err.value.explanation)
    plan = plan_of(fractions=LIMITS, cap_kw=cap_kw)
    max_w, per_server, tdp_w = h100_server()
    assert plan.totals.it_power_nameplate_w <= cap_kw * 1000.0
    for d in plan.deployments:  # every deployment states its limit, one the scenario offers, below TDP here
        assert d.power_limit_w in {round(f * tdp_w) for f in LIMITS}
        assert d.power_limit_w < tdp_w
    for s in plan.servers:  # the rule: nameplate falls by (TDP - limit) per GPU, the rest unchanged
        assert s.power_limit_w is not None
        assert s.server_max_power_w == pytest.approx(max_w - per_server * (tdp_w - s.power_limit_w))
    assert plan.totals.it_power_nameplate_w == pytest.approx(sum(s.servers * s.server_max_power_w
                                                                 for s in plan.servers))
    assert all(r.power_limit_w == plan.servers[0].power_limit_w for r in plan.racks)


def test_the_capped_plan_passes_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = scenario(fractions=LIMITS, cap_kw=tight_cap_kw())
    plan = solve(doc)  # with the analysis, as `planner solve` writes it
    path = tmp_path / "power-limits.yaml"
    path.write_text(yaml.safe_dump(doc))
    write_plan(plan, tmp_path / "plan.json")
    code = main(["check", str(path), "--plan", str(tmp_path / "plan.json")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "power_limit" not in out + err


def test_without_a_binding_cap_limits_stay_at_tdp_unless_lower_is_cheaper() -> None:
    tdp_w = h100_server()[2]
    # min_gpus: a lower limit never saves a GPU, so the tie rule keeps the full TDP
    assert {d.power_limit_w for d in plan_of(fractions=LIMITS, objective="min_gpus").deployments} == {tdp_w}
    full = plan_of()
    limited = plan_of(fractions=LIMITS)
    assert limited.objective.value <= full.objective.value * (1 + 1e-9)
    if any(d.power_limit_w != tdp_w for d in limited.deployments):
        assert limited.objective.value < full.objective.value  # a limit only where it lowers the objective


def test_plan_power_and_energy_use_the_limited_values() -> None:
    plan = plan_of(fractions=LIMITS, cap_kw=tight_cap_kw())
    loaded = loaded_from_dict(scenario(fractions=LIMITS, cap_kw=tight_cap_kw()))
    p = resolve_problem(loaded, load_catalog())
    w, g = p.workloads[0], p.gpu(H100)
    for d in plan.deployments:
        configs: dict[str, np.ndarray] = {"gpu": np.array([d.gpu, d.gpu]), "precision": np.array([d.precision] * 2),
                                          "power_limit_w": np.array([d.power_limit_w, g.tdp_w])}
        configs |= {k: np.full(2, float(getattr(d, k))) for k in ("tp", "pp", "batch_size", "prefill_chunk_tokens")}
        ev = evaluate_configurations(p, w, configs)
        at_limit, at_tdp = ({k: float(v[i]) for k, v in ev.points.items()} for i in (0, 1))
        want = deployment_figures(w, g, at_limit, d.replicas, d.demand_requests_per_s, d.ttft_p95_s)
        assert d.power_max_w == pytest.approx(want["power_max_w"], rel=1e-5)
        assert d.power_avg_w == pytest.approx(want["power_avg_w"], rel=1e-5)
        assert d.power_nameplate_w == pytest.approx(want["power_nameplate_w"], rel=1e-5)
        # the same configuration at TDP draws more and its servers' nameplate is higher
        tdp = deployment_figures(w, g, at_tdp, d.replicas, d.demand_requests_per_s, d.ttft_p95_s)
        assert tdp["power_max_w"] > d.power_max_w
        assert tdp["power_nameplate_w"] > d.power_nameplate_w
    # energy follows the (limited) average power
    assert plan.totals.annual_energy_kwh == pytest.approx(plan.totals.it_power_avg_w * HOURS_PER_YEAR / W_PER_KW,
                                                          rel=1e-6)


def test_a_scenario_without_the_key_runs_every_gpu_at_tdp() -> None:
    plan = plan_of()
    tdp_w = h100_server()[2]
    assert {d.power_limit_w for d in plan.deployments} == {tdp_w}
    assert all(s.power_limit_w is None for s in plan.servers)
    assert "power_limit_w" not in plan.model_dump_json(include={"servers", "racks"})
    assert not any(a.name == "GPU power limits offered" for a in plan.assumptions)


# -- the problem -------------------------------------------------------------------------------------

def _problem(fractions: list[float], gpus: list[str]):  # type: ignore[no-untyped-def]
    doc = scenario(fractions=fractions)
    doc["hardware"]["gpus"] = gpus
    return resolve_problem(loaded_from_dict(doc), load_catalog())


def test_a_limit_below_the_gpus_minimum_is_not_offered_and_the_notes_say_so() -> None:
    catalog = load_catalog()
    low = catalog.gpu(H100).power_limit_min_w
    assert low is not None
    p = _problem([1.0, 0.5, 0.25], [H100])  # 350 W and 175 W; the H100 SXM accepts 200 W and up
    assert p.gpu(H100).offered_limits_w == (700.0, 350.0)
    assert any("175 W is not offered" in n and f"{low.value:g} W" in n for n in p.notes)
    assert {s.key for s in p.pools} == {H100, f"{H100}-pl350w"}


def test_a_gpu_without_a_catalogued_minimum_runs_at_tdp_only() -> None:
    catalog = load_catalog()
    without = next(g.id for g in catalog.gpus.values() if g.power_limit_min_w is None and g.price
                   and g.server is not None and g.segment == "datacenter")
    p = _problem(LIMITS, [without])
    assert p.gpu(without).offered_limits_w == (catalog.gpu(without).tdp_w,)
    assert any(n.startswith(f"{without}: runs at its full TDP") for n in p.notes)
    assert not p.power_limited


@pytest.mark.parametrize(("fractions", "said"), [([1.2], "(0, 1]"), ([0.0], "(0, 1]"), ([], "at least one"),
                                                 ([-0.5, 1.0], "(0, 1]")])
def test_bad_fractions_are_refused_naming_the_key(fractions: list[float], said: str) -> None:
    with pytest.raises(InputError) as err:
        loaded_from_dict(scenario(fractions=fractions))
    text = str(err.value)
    assert "power_limit_fractions" in text and said in text and "fix" in text


def test_fractions_are_sorted_and_deduplicated() -> None:
    loaded = loaded_from_dict(scenario(fractions=[0.7, 1.0, 0.7, 0.85]))
    assert loaded.scenario.hardware.power_limit_fractions == [1.0, 0.85, 0.7]


# -- review: diff -------------------------------------------------------------------------------------

def test_diff_shows_a_changed_limit() -> None:
    before = plan_of(fractions=LIMITS, cap_kw=tight_cap_kw())
    d = before.deployments[0]
    after = before.model_copy(update={"deployments": [d.model_copy(update={"power_limit_w": 595.0})]})
    change = diff_plans(before, after).deployments
    assert [(c.action, [f.field for f in c.fields]) for c in change] == [("change", ["power_limit_w"])]
    assert (change[0].fields[0].before, change[0].fields[0].after) == (d.power_limit_w, 595.0)
    assert quantity("power_limit_w", 595.0) == "595 W"  # a GPU's limit in watts, not a fleet's kW
    # a plan written before the field existed (no limit recorded) is no change
    old = before.model_copy(update={"deployments": [d.model_copy(update={"power_limit_w": None})]})
    assert diff_plans(old, before).deployments == ()


def test_check_refuses_a_limit_the_scenario_does_not_offer() -> None:
    doc = scenario(fractions=LIMITS, cap_kw=tight_cap_kw())
    plan = plan_of(fractions=LIMITS, cap_kw=tight_cap_kw())
    ctx = check_context(loaded_from_dict(doc), load_catalog())
    assert problem_violations(plan, ctx) == []
    d = plan.deployments[0]
    tampered = plan.model_copy(update={"deployments": [d.model_copy(update={"power_limit_w": 650.0})]})
    lines = problem_violations(tampered, ctx)
    assert any("power_limit_w 650 is not a limit the scenario offers" in line for line in lines), lines


def test_idle_gpus_of_one_type_in_two_power_limit_pools_count_once() -> None:
    """A GPU type run at two power limits has two server groups; its idle GPUs are the groups' GPUs together
    less its deployments' (each group less every deployment of the type counted the used GPUs twice and
    made the spare draw negative)."""
    from types import SimpleNamespace

    from planner.plan.figures import spare_power_w

    servers = [SimpleNamespace(gpu="h100-sxm", gpus=8), SimpleNamespace(gpu="h100-sxm", gpus=8)]
    deployments = [SimpleNamespace(gpu="h100-sxm", gpus=8), SimpleNamespace(gpu="h100-sxm", gpus=6)]
    assert spare_power_w(deployments, servers, {"h100-sxm": 100.0}) == 200.0  # type: ignore[arg-type]
    one_pool = [SimpleNamespace(gpu="h100-sxm", gpus=16)]
    assert spare_power_w(deployments, one_pool, {"h100-sxm": 100.0}) == 200.0  # type: ignore[arg-type]
