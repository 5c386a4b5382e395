"""What-if values the analysis answers without a re-solve: an SLO relaxation that leaves every
configuration the program reads as it was leaves the program as it was (issue 13 item 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from planner.candidates.generate import Candidates, generate_candidates
from planner.catalog import load_catalog
from planner.optimize import analysis as an
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program
from planner.problem.build import resolve_problem
from planner.problem.model import Problem
from planner.scenario.load import LoadedScenario
from planner.schemas.scenario import Scenario

pytestmark = pytest.mark.integration

# an ITL SLO far above any step time: 10 ms more admits no configuration and raises no capacity
LOOSE = {
    "name": "loose-itl",
    "workloads": [{"name": "chat", "model": "llama-3.1-8b", "precisions": ["fp8"],
                   "traffic": {"peak_requests_per_s": 40, "input_tokens": 1000, "output_tokens": 200},
                   "slo": {"ttft_p95_ms": 3000, "itl_p95_ms": 5000}}],
    "hardware": {"gpus": ["h100-sxm", "l40s"]},
    "objective": "min_tco",
}


@pytest.fixture(scope="module")
def loose() -> tuple[Problem, Candidates]:
    loaded = LoadedScenario(Scenario.model_validate(LOOSE), Path("loose.yaml"), None, yaml.safe_dump(LOOSE).encode())
    p = resolve_problem(loaded, load_catalog())
    return p, generate_candidates(p)


def _what_if(p: Problem, cand: Candidates) -> list[dict[str, float | str | None]]:
    r = run_solver(build_program(p, cand), "highs", 30.0)
    base = an.objective_per_year(p, r.model)
    rule = an.rule_for(r, "highs", 30.0)
    return an.what_if(p, cand, an.solve_with("highs", 30.0, rule, tie_break=False), base, [])


def test_the_same_rows_in_another_order_are_the_same_program(loose: tuple[Problem, Candidates]) -> None:
    _, cand = loose
    order = np.arange(len(cand))[::-1]
    reordered = Candidates({k: v[order] for k, v in cand.columns.items()}, cand.best_latency, cand.evaluated)
    assert an.same_program_rows(cand, reordered)
    more = dict(cand.columns, capacity_rps=cand.columns["capacity_rps"] * np.where(order == 0, 1.01, 1.0))
    assert not an.same_program_rows(cand, Candidates(more, cand.best_latency, cand.evaluated))
    fewer = {k: v[1:] for k, v in cand.columns.items()}
    assert not an.same_program_rows(cand, Candidates(fewer, cand.best_latency, cand.evaluated))


def test_an_slo_relaxation_that_changes_no_configuration_is_answered_as_a_re_solve_would(
        loose: tuple[Problem, Candidates], monkeypatch: pytest.MonkeyPatch) -> None:
    p, cand = loose
    implied = _what_if(p, cand)
    itl = [e for e in implied if e["limit"] == "itl_slo_chat"]
    assert len(itl) == 1 and itl[0]["method"] == an.IMPLIED and itl[0]["objective_delta"] == 0.0
    monkeypatch.setattr(an, "same_program_rows", lambda a, b: False)  # the re-solve it stands for
    solved = [e for e in _what_if(p, cand) if e["limit"] == "itl_slo_chat"]
    assert solved[0]["method"] == "re-solve" and solved[0]["objective_delta"] == 0.0
