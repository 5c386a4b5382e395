"""The analysis's shortcuts (issue 13 item 1): each must give the answer the plain re-solve gives.

A whole-number objective is proven once the gap is below its step (min_gpus counts whole servers, so
its step is the GPUs-per-server divisor every pool shares), not below 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
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


def _rows(keys: list[tuple[str, str, int, float, float]]):  # type: ignore[no-untyped-def]
    """A candidate table of (workload, GPU, batch, capacity, base power) rows, one GPU a replica."""
    from planner.candidates.generate import Candidates

    n = len(keys)
    return Candidates({"workload": np.array([k[0] for k in keys]), "gpu": np.array([k[1] for k in keys]),
                       "precision": np.array(["fp8"] * n), "tp": np.ones(n, int), "pp": np.ones(n, int),
                       "batch_size": np.array([k[2] for k in keys]), "prefill_chunk_tokens": np.full(n, 512),
                       "num_gpus": np.ones(n, int), "capacity_rps": np.array([k[3] for k in keys]),
                       "power_base_w": np.array([k[4] for k in keys]), "power_slope_w_per_rps": np.full(n, 2.0)})


def test_a_relaxed_table_keeps_the_configurations_the_plan_runs() -> None:
    base = _rows([("a", "h100", 32, 5.0, 300.0), ("a", "l40s", 16, 2.0, 200.0), ("b", "h100", 32, 5.0, 300.0)])
    # a's l40s row pruned by the relaxation's h100 row, which does not replace it (another GPU)
    relaxed = _rows([("a", "h100", 64, 9.0, 310.0), ("b", "h100", 32, 5.0, 300.0)])
    plan = {("a", "l40s", "fp8", 1, 1, 16, 512, 0.0): 2, ("b", "h100", "fp8", 1, 1, 32, 512, 0.0): 1}
    out = an.with_plan_rows(relaxed, base, "a", plan)
    assert [(str(w), str(g), int(b)) for w, g, b in zip(out.columns["workload"], out.columns["gpu"],
                                                          out.columns["batch_size"], strict=True)] == [
        ("a", "h100", 64), ("b", "h100", 32), ("a", "l40s", 16)]
    assert out.columns["capacity_rps"][-1] == 2.0  # as the plan's table has it
    assert an.with_plan_rows(relaxed, base, "b", plan) is relaxed  # b's configuration is there: unchanged


def test_a_plan_row_a_relaxed_row_replaces_is_not_added_back() -> None:
    base = _rows([("a", "l40s", 16, 2.0, 200.0)])
    plan = {("a", "l40s", "fp8", 1, 1, 16, 512, 0.0): 2}
    better = _rows([("a", "l40s", 32, 2.5, 200.0)])  # more capacity, the same power, the same GPUs
    assert an.with_plan_rows(better, base, "a", plan) is better
    hungrier = _rows([("a", "l40s", 32, 2.5, 260.0)])  # more capacity but more base power: no replacement
    assert len(an.with_plan_rows(hungrier, base, "a", plan)) == 2


def test_relaxing_an_slo_never_seems_to_cost_more() -> None:
    """code-assistant: 10 ms more ITL let pruning drop the plan's configuration, and the re-solve without it
    reported +13.7 $/year; with the plan's configurations kept, the plan stays feasible."""
    from planner.catalog.loader import load_catalog
    from planner.optimize.solve import solve_problem
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    p = resolve_problem(load_scenario(ROOT / "scenarios" / "code-assistant.yaml", override=None), load_catalog(),
                        calibration=None)
    slo = [w for w in solve_problem(p).what_if if w.limit.startswith(("itl_", "ttft_"))]
    assert slo and all(w.objective_delta is not None and w.objective_delta <= 0.0 for w in slo)
