"""The analysis's shortcuts (issue 13 item 1): each must give the answer the plain re-solve gives.

A whole-number objective is proven once the gap is below its step (min_gpus counts whole servers, so
its step is the GPUs-per-server divisor every pool shares), not below 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from planner.candidates.generate import generate_candidates
from planner.optimize import analysis as an
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program, value

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import bench_fleet  # noqa: E402  (the bench's deterministic synthetic fleets)


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    """8 workloads on three GPU types: binding pools and whole servers, solved in under a second."""
    p = bench_fleet.problem_of(bench_fleet.fleet(8, ["h100-sxm", "l40s", "mi300x"]))
    cand = generate_candidates(p)
    r = run_solver(build_program(p, cand), "highs", 60.0)
    return p, cand, r


def test_the_gpu_step_is_the_divisor_every_pool_shares(fleet) -> None:  # type: ignore[no-untyped-def]
    p, _, _ = fleet
    per_server = {s.gpu.gpus_per_server for s in p.pools}
    step = an.objective_step(p)
    assert all(n % step == 0 for n in per_server) and step >= 1
    assert an.whole_number_gap_abs(p) is None  # min_tco: no step
    assert an.whole_number_gap_abs(p.with_objective("min_gpus")) == step - an.WHOLE_NUMBER_GAP_ABS


def test_the_min_gpus_alternative_is_the_cold_optimum(fleet) -> None:  # type: ignore[no-untyped-def]
    p, cand, r = fleet
    rows = an.objective_alternatives(p, cand, an.solve_with("highs", 60.0, an.rule_for(r, "highs", 60.0)), r, [])
    gpus = next(row for row in rows if row["objective"] == "min_gpus")
    cold = build_program(p.with_objective("min_gpus"), cand)
    assert run_solver(cold, "highs", 60.0, tie_break=False, gap_abs=an.WHOLE_NUMBER_GAP_ABS).status == "optimal"
    assert gpus["gpus"] == round(value(cold.expr["gpus"]))
