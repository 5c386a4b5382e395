"""Every solve runs under a deterministic work limit (branch-and-bound nodes), the wall clock only a safety net."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.candidates.generate import generate_candidates
from planner.catalog.loader import load_catalog
from planner.optimize import backend
from planner.optimize.program import build_program
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def test_a_solve_given_no_node_limit_runs_under_the_default_one(monkeypatch: pytest.MonkeyPatch) -> None:
    p = resolve_problem(load_scenario(ROOT / "scenarios" / "chatbot.yaml", override=None), load_catalog(),
                        calibration=None)
    seen: list[int | None] = []
    original = backend._solver

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("node_limit"))
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, "_solver", spy)
    r = backend.run_solver(build_program(p, generate_candidates(p)), "highs", 60.0, tie_break=False)
    assert seen == [backend.DEFAULT_NODE_LIMIT] and r.stopped_by is None
    assert r.nodes < backend.DEFAULT_NODE_LIMIT


def test_a_solve_stopped_by_its_node_limit_says_so() -> None:
    from planner.errors import SolverLimitError

    p = resolve_problem(load_scenario(ROOT / "scenarios" / "multi-model-1mw.yaml", override=None), load_catalog(),
                        calibration=None)
    try:
        r = backend.run_solver(build_program(p, generate_candidates(p)), "highs", 60.0, tie_break=False, node_limit=0)
    except SolverLimitError as e:  # stopped before any plan: the message names the node limit and its fix
        assert "node limit 0" in e.message and "deterministic work limit" in (e.fix or "")
        return
    assert r.stopped_by == "node limit 0" if r.status == "feasible" else r.stopped_by is None
