"""Objective alternatives: an objective whose optimal plans are another's is not re-solved, and a power
objective may start from another power objective's plan; the rows are the same as with one re-solve each."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.candidates.generate import generate_candidates
from planner.catalog.loader import load_catalog
from planner.optimize import analysis as an
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def solved():  # type: ignore[no-untyped-def]
    p = resolve_problem(load_scenario(ROOT / "scenarios" / "one-70b-vs-four-8b.yaml", override=None), load_catalog(),
                        calibration=None)
    cand = generate_candidates(p)
    r = run_solver(build_program(p, cand), "highs", 60.0)
    return p, cand, r


def test_min_carbon_reuses_the_min_energy_plan_and_matches_its_own_re_solve(solved) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = solved
    calls: list[str] = []
    base = an.solve_with("highs", 60.0, an.rule_for(r, "highs", 60.0))

    def counting(q, c, also=()):  # type: ignore[no-untyped-def]
        calls.append(q.objective)
        return base(q, c, also=also)

    rows = {row["objective"]: row for row in an.objective_alternatives(p, cand, counting, r, [])}
    assert "min_carbon" not in calls and calls.count("min_energy") == 1
    own = an.solve_with("highs", 60.0)(p.with_objective("min_carbon"), cand)  # a cold re-solve of its own
    assert rows["min_carbon"]["co2e_t_per_year"] == pytest.approx(own.model.expr["co2e_t_per_year"].value(), rel=1e-9)
    assert rows["min_carbon"]["gpus"] == rows["min_energy"]["gpus"]
    assert {k: v for k, v in rows["min_carbon"].items() if k != "objective"} == \
        {k: v for k, v in rows["min_energy"].items() if k != "objective"}


def test_a_better_start_is_chosen_by_its_objective(solved) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = solved
    from planner.optimize.warm import plan_replicas

    power = an.solve_with("highs", 60.0)(p.with_objective("min_power"), cand)
    m = build_program(p.with_objective("min_power"), cand)
    start = an._best_start(m, [plan_replicas(r.model), plan_replicas(power.model)])
    assert start == an._best_start(m, [plan_replicas(power.model)])
