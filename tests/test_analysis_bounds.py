"""The separable relaxation (planner.optimize.warm.separable): a proven lower bound on the fleet's
optimum and a start; the gap a plan reports is the gap proven, whichever proof gave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.candidates.generate import generate_candidates
from planner.catalog.loader import load_catalog
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program, value
from planner.optimize.solve import _bound_of
from planner.optimize.warm import separable, start_values
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def program(name: str):  # type: ignore[no-untyped-def]
    p = resolve_problem(load_scenario(ROOT / "scenarios" / f"{name}.yaml", override=None), load_catalog(),
                        calibration=None)
    return build_program(p, generate_candidates(p))


@pytest.mark.parametrize("name", ["chatbot", "multi-model-1mw", "one-70b-vs-four-8b"])
def test_the_separable_bound_is_below_the_optimum(name: str) -> None:
    m = program(name)
    sep = separable(m, _bound_of("highs", 60.0))
    r = run_solver(m, "highs", 60.0, tie_break=False)
    assert r.status == "optimal" and sep.lower_bound is not None
    assert sep.lower_bound <= value(m.expr["objective"]) * (1 + 1e-9)
    # every workload gets replicas in the start
    assert {k[0] for k in sep.replicas} == {w.name for w in m.problem.workloads}


def test_the_solvers_dual_bound_is_the_objective_less_its_constant() -> None:
    m = program("chatbot")
    r = run_solver(m, "highs", 60.0, tie_break=False)
    constant = float(getattr(m.expr["objective"], "constant", 0.0))
    assert r.dual_bound is not None
    assert r.dual_bound + constant == pytest.approx(value(m.expr["objective"]), rel=1e-8)


def test_a_bound_that_proves_the_start_stops_the_solve_at_once() -> None:
    """Given the optimum as the lower bound, the start (the optimal plan) is within the gap: the solve
    stops with it, calls it optimal, and reports the gap that bound proves."""
    m = program("multi-model-1mw")
    run_solver(m, "highs", 60.0, tie_break=False)
    z = value(m.expr["objective"])
    start = {v.name: float(v.varValue) for v in m.prob.variables() if v.varValue is not None}
    m2 = build_program(m.problem, m.cand)
    r = run_solver(m2, "highs", 60.0, tie_break=False, start=start, lower_bound=z, gap_rel=1e-6)
    assert r.status == "optimal"
    assert value(m2.expr["objective"]) == pytest.approx(z, rel=1e-6)
    assert r.mip_gap is not None and 0.0 <= r.mip_gap <= 1e-6


def test_start_values_of_the_separable_plan_are_consistent() -> None:
    m = program("one-70b-vs-four-8b")
    sep = separable(m, _bound_of("highs", 60.0))
    start = start_values(m, sep.replicas)
    assert all(start[v.name] >= 0 for v in m.prob.variables() if v.name in start)
    assert {name for name in start if name.startswith("servers_")}  # servers derived from the replicas
