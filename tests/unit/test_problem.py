"""The resolved problem: built once, in SI units, and the only input of every later stage."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_catalog
from planner.optimize.solve import solve_problem
from planner.problem.build import resolve_problem
from planner.problem.limits import ALL, FAMILIES, family_of, is_binding, limits_of
from planner.scenario.load import LoadedScenario
from planner.schemas.scenario import Scenario

pytestmark = pytest.mark.unit

DOC = {
    "name": "tiny",
    "workloads": [{"name": "chat", "model": "llama-3.1-8b", "precisions": ["fp8"], "redundancy": 1,
                   "headroom": 0.25,
                   "traffic": {"peak_requests_per_s": 8, "input_tokens": 500, "output_tokens": 100},
                   "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 50}}],
    "hardware": {"gpus": ["H100 SXM"], "inventory": {"h100-sxm": 64}},
    "site": {"power_cap_kw": 123.5, "racks": 4, "rack_power_cap_kw": 40, "breaker_derating": 0.8},
    "finance": {"budget_usd": 5e6, "colocation_usd_per_kw_month": 150},
    "objective": "min_tco",
}


def _problem(doc: dict = DOC):  # type: ignore[no-untyped-def]
    loaded = LoadedScenario(Scenario.model_validate(doc), Path("tiny.yaml"), None, yaml.safe_dump(doc).encode())
    return resolve_problem(loaded, load_catalog())


def test_every_figure_is_converted_once_into_si_units() -> None:
    p = _problem()
    assert p.site.power_cap_w == 123.5e3
    assert p.site.usable_rack_w == 40e3 * 0.8
    assert p.money.colocation_usd_per_w_year == pytest.approx(150 * 12 / 1e3)
    w = p.workloads[0]
    assert w.slo.ttft_p95_s == 2.0 and w.slo.itl_p95_s == 0.05
    assert w.required_requests_per_s == 8 * 1.25
    assert w.model_id == "llama-3.1-8b" and p.gpu_ids == ("h100-sxm",)  # names resolved once
    assert p.gpu("h100-sxm").inventory_gpus == 64


def test_peak_and_power_cap_reach_the_plan_unchanged() -> None:
    """peak_requests_per_s and site.power_cap_kw followed from YAML to plan.json: one conversion each."""
    plan = solve_problem(_problem(), analysis=False)
    by_name = {c.name: c for c in plan.constraints}
    assert by_name["site_power"].limit == 123.5e3 and by_name["site_power"].unit == "W"
    assert by_name["capacity_chat"].limit == 8 * 1.25
    assert sum(d.demand_requests_per_s for d in plan.deployments) == pytest.approx(8)
    assert plan.site["power_cap_kw"] == 123.5  # the scenario's own value, echoed


def test_no_stage_after_the_problem_reads_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _problem()
    solve_problem(p, analysis=False)  # lazy imports (scipy.special, highspy) read their own files once

    def refusing(real):  # type: ignore[no-untyped-def]
        def opener(*args: object, **kwargs: object) -> object:
            if args and str(args[0]) == os.devnull:  # the solver's banner goes to the null device
                return real(*args, **kwargs)
            raise AssertionError(f"a file was opened after the problem was resolved: {args[:1]}")
        return opener

    for target, name in ((builtins, "open"), (io, "open"), (os, "open"), (Path, "open"), (Path, "read_bytes"),
                         (Path, "read_text")):
        monkeypatch.setattr(target, name, refusing(getattr(target, name)))
    plan = solve_problem(p, analysis=True)
    assert plan.deployments and plan.analysis.what_if == "done"


def test_the_problem_is_immutable_and_relaxed_copies_leave_it_alone() -> None:
    p = _problem()
    with pytest.raises(AttributeError):
        p.site.power_cap_w = 1.0  # type: ignore[misc]
    bigger = p.with_site(power_cap_w=2e5)
    assert bigger.site.power_cap_w == 2e5 and p.site.power_cap_w == 123.5e3


def test_every_limit_the_problem_sets_has_a_record_and_a_constraint_name() -> None:
    p = _problem()
    names = {lim.name for _, lim in limits_of(p, FAMILIES)}
    assert names == {"capacity_chat", "site_power", "racks_total", "inventory_h100-sxm", "budget"}
    for name in names | {"rack_power_h100-sxm-r01", "itl_slo_chat"}:
        family = family_of(name)
        assert family is not None and family in ALL, name
        assert family.key_path and family.unit and family.label


@pytest.mark.parametrize(("sense_name", "value", "bound", "binding"), [
    ("site_power", 99.0, 100.0, True), ("site_power", 97.0, 100.0, False),
    ("capacity", 101.0, 100.0, True), ("capacity", 103.0, 100.0, False)])
def test_a_limit_binds_within_two_percent(sense_name: str, value: float, bound: float, binding: bool) -> None:
    family = next(f for f in FAMILIES if f.name == sense_name)
    assert is_binding(family, value, bound) is binding


def test_each_cap_relaxes_by_one_step_in_the_problem_not_in_the_scenario() -> None:
    p = _problem()
    for family, lim in limits_of(p, FAMILIES):
        if family.what_if is None:
            continue
        change, relaxed = family.what_if(p, lim)
        assert change and relaxed is not p
        assert [x.bound for _, x in limits_of(relaxed, (family,))] > [lim.bound], family.name
