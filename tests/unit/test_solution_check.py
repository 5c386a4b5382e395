"""A solution is trusted only when its values give the objective the solver reports.

HiGHS 1.16 was seen proving a better objective than a MIP start while handing the start back as
its solution (an analysis re-solve of multi-model-1mw, tests/test_analysis_warm.py). The backend
compares the returned values' objective with the reported one and solves again without the start
when they disagree."""

from __future__ import annotations

import pytest

from planner.optimize import backend
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program, value

pytestmark = pytest.mark.unit


def _tiny_program(tiny):  # type: ignore[no-untyped-def]
    p = tiny.problem([tiny.workload(peak_requests_per_s=7.0)], [tiny.gpu("g1", gpus_per_server=1)])
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 3.0), tiny.Point("chat", "g1", 2, 7.0)])
    return build_program(p, cand)


def test_a_solved_program_agrees_with_its_reported_objective(tiny) -> None:  # type: ignore[no-untyped-def]
    m = _tiny_program(tiny)
    solver = backend._solver("highs", 10.0)
    status, _, _ = backend._solve_once(m, solver)
    assert status == "optimal" and not backend._solution_disagrees(m, solver)
    first = m.prob.variables()[0]
    first.varValue = (first.varValue or 0.0) + 1000.0  # values that are not the solver's solution
    assert backend._solution_disagrees(m, solver) == (first.name in {v.name for v in m.prob.objective})


def test_a_start_handed_back_in_place_of_the_solution_is_solved_again(tiny, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    m = _tiny_program(tiny)
    starts = []
    solve_once = backend._solve_once
    monkeypatch.setattr(backend, "_solve_once", lambda m, s: (starts.append(s.start), solve_once(m, s))[1])
    monkeypatch.setattr(backend, "_solution_disagrees", lambda m, s: s.start is not None)
    r = run_solver(m, "highs", 10.0, tie_break=False, start={v.name: 0.0 for v in m.prob.variables()})
    assert r.status == "optimal" and value(m.expr["gpus"]) == 2.0
    assert len(starts) == 2 and starts[0] is not None and starts[1] is None  # solved again, without the start
