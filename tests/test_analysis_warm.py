"""What-if values and objective alternatives: warm-started re-solves under one deterministic rule.

The analysis re-solves start from the plan (planner.optimize.warm), what-ifs skip the tie-break pass,
and each re-solve may explore a node limit derived from the plan's own solve; a re-solve stopped by
it gives null and a note, never an unproven number. No fleet size switches the analysis off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.candidates.generate import generate_candidates
from planner.catalog.loader import load_catalog
from planner.optimize import analysis as an
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program, value
from planner.optimize.solve import solve_problem
from planner.optimize.warm import carried_over, config_keys, plan_replicas, start_values
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def problem(name: str):  # type: ignore[no-untyped-def]
    return resolve_problem(load_scenario(ROOT / "scenarios" / f"{name}.yaml", override=None), load_catalog(),
                           calibration=None)


@pytest.fixture(scope="module")
def multi():  # type: ignore[no-untyped-def]
    """multi-model-1mw: several binding limits, so several what-if re-solves."""
    p = problem("multi-model-1mw")
    cand = generate_candidates(p)
    m = build_program(p, cand)
    r = run_solver(m, "highs", 60.0)
    return p, cand, r


def test_start_values_reproduce_the_plan(multi) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = multi
    m = build_program(p, cand)
    start = start_values(m, plan_replicas(r.model))
    assert start == pytest.approx({v.name: float(v.varValue) for v in r.model.prob.variables()
                                   if v.varValue is not None and v.name in start}, abs=1e-6)
    assert all(v.varValue is None for v in m.prob.variables())  # the start does not leak into the model


def test_a_start_carries_over_by_configuration_not_by_row(multi) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = multi
    replicas = plan_replicas(r.model)
    keys = config_keys(cand)
    assert set(replicas) <= set(keys) and all(n > 0 for n in replicas.values())


def test_a_warm_start_is_used_by_highs(multi) -> None:  # type: ignore[no-untyped-def]
    """Stopping at the first plan, a warm-started solve returns the start's objective (the plan)."""
    p, cand, r = multi
    z = value(r.model.expr[an.OBJECTIVE_EXPR[p.objective]])
    m = build_program(p, cand)
    run_solver(m, "highs", 60.0, tie_break=False, start=start_values(m, plan_replicas(r.model)), first_plan=True,
               reprove=True)
    assert value(m.expr["objective"]) == pytest.approx(z, rel=1e-9)


def test_warm_node_limited_what_ifs_equal_cold_re_solves(multi) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = multi
    base = an.objective_per_year(p, r.model)
    binding = ["site_power", "budget", "racks_total"] + [f"inventory_{g.id}" for g in p.gpus]
    rule = an.rule_for(r, "highs", 60.0)
    warm = an.what_if(p, cand, an.solve_with("highs", 60.0, rule, tie_break=False), base, binding, [])
    cold = an.what_if(p, cand, an.solve_with("highs", 60.0), base, binding)
    assert len(warm) == len(cold) >= 2
    for w, c in zip(warm, cold, strict=True):
        assert w["limit"] == c["limit"]
        assert w["objective_delta"] == pytest.approx(c["objective_delta"], rel=1e-6, abs=1e-6)


def test_a_re_solve_stopped_by_its_node_limit_gives_null_and_a_note(multi, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = multi
    monkeypatch.setattr(an, "ANALYSIS_NODE_FLOOR", 0)
    monkeypatch.setattr(an, "ANALYSIS_NODE_FACTOR", 0)
    rule = an.rule_for(r, "highs", 60.0)
    assert rule.node_limit == 0
    notes: list[str] = []
    base = an.objective_per_year(p, r.model)
    cold = {w["limit"]: w["objective_delta"] for w in an.what_if(p, cand, an.solve_with("highs", 60.0), base, [])}
    out = an.what_if(p, cand, an.solve_with("highs", 60.0, rule, tie_break=False), base, [], notes)
    for w in out:
        if w["objective_delta"] is None:
            assert any(n.startswith(f"what-if {w['limit']} ") and "by its node limit 0" in n for n in notes), notes
        else:  # proven within the limit (presolve or the root alone): the exact value
            assert w["objective_delta"] == pytest.approx(cold[w["limit"]], rel=1e-6, abs=1e-6)


def test_no_fleet_size_switches_the_analysis_off() -> None:
    assert not hasattr(an, "MAX_CANDIDATES_FOR_RESOLVES")
    plan = solve_problem(problem("chatbot"))
    assert plan.analysis.what_if == "done" and plan.analysis.objective_alternatives == "done"
    assert {a.objective for a in plan.objective_alternatives} >= {plan.objective.name}


def test_the_plans_own_objective_row_is_the_plan(multi) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = multi
    rows = an.objective_alternatives(p, cand, an.solve_with("highs", 60.0, an.rule_for(r, "highs", 60.0)), r, [])
    own = next(row for row in rows if row["objective"] == p.objective)
    assert own["gpus"] == round(value(r.model.expr["gpus"]))
    assert own["it_power_max_w"] == pytest.approx(value(r.model.expr["it_power_max_w"]))


def test_warm_started_analysis_gives_the_same_plan_bytes_every_run() -> None:
    p = problem("multi-model-1mw")
    first, second = (solve_problem(p).model_dump(mode="json") for _ in range(2))
    for plan in (first, second):
        plan["solver"]["time_s"] = 0.0  # plan.json writes 0 (the one figure that is a measurement)
    assert first == second


def _table(rows: list[tuple[str, str, int, float]]):  # type: ignore[no-untyped-def]
    """A candidate table with the columns a configuration key and its capacity need."""
    from planner.candidates.generate import Candidates

    cols = {"workload": np.array([r[0] for r in rows]), "gpu": np.array([r[1] for r in rows]),
            "precision": np.array(["fp8"] * len(rows)), "tp": np.ones(len(rows), int), "pp": np.ones(len(rows), int),
            "batch_size": np.array([r[2] for r in rows]), "prefill_chunk_tokens": np.full(len(rows), 2048),
            "capacity_rps": np.array([r[3] for r in rows])}
    return Candidates(cols)


def test_a_pruned_configuration_carries_over_to_its_best_sibling_with_enough_replicas() -> None:
    old = _table([("a", "h100", 64, 10.0), ("b", "l40s", 32, 4.0)])
    new = _table([("a", "h100", 128, 7.5), ("a", "h100", 96, 6.0), ("b", "h200", 32, 9.0)])
    # the last key element is the GPU power limit (0: a table without the column runs at TDP)
    replicas = {("a", "h100", "fp8", 1, 1, 64, 2048, 0.0): 4, ("b", "l40s", "fp8", 1, 1, 32, 2048, 0.0): 3}
    out = carried_over(replicas, old, new, {"a": 1, "b": 0})
    # a: 3 serving replicas of 10 rps = 30 rps -> 4 of 7.5 rps, plus its 1 spare; b: no l40s row left
    assert out == {("a", "h100", "fp8", 1, 1, 128, 2048, 0.0): 5}
