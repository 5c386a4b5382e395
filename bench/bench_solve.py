"""Benchmark: the start of the CLI, and a fleet of 20 workloads over >= 15 GPU types with the full
TP/PP/precision/batch grid.

Prints, in CPU seconds of the process (user + system, the median of several runs; on a shared
machine CPU time is what a quiet machine's wall time would be):
  - `planner --help` (target <= 0.1 s);
  - `planner solve scenarios/chatbot.yaml` in a fresh process, writing plan.json, report.md and
    report.html to a temporary folder (target <= 0.5 s; issue 13);
  - 20 chatbot solves in one process at different electricity prices, without and with the candidate
    cache (planner.candidates.cache), and whether their plans are the same bytes;
  - the fleet: candidate generation, model build and solve, and the solver status (target: proven
    optimal in <= 5 s).
Not a test: machines are noisy, so nothing here asserts a time.

    python3 bench/bench_solve.py [RUNS]

Measured 2026-11-28 (median of 7) on fbc77f3 before and after issue 13 item 4's changes alone:
--help 0.057 -> 0.059 s (Python itself takes 0.036 s here); cold chatbot solve 1.01 -> 0.78 s
(scipy.special's import, 0.2 s, is gone; what is left is mostly imports: numpy 0.05-0.09 s, pydantic
and the schema classes 0.17 s, jinja2 and the report 0.05 s, PuLP 0.02 s). 20 chatbot solves in one
process: 1.90 CPU s without the candidate cache, 1.09 s with it, the same plan bytes.
Measured 2026-11-28 on 16594fb, quiet machine (load 0.8), median of 15: --help 0.053 s; cold chatbot solve
0.463 s (min 0.452). Before this session's work (5710c00): 0.59-0.63 s. Of the gain, ~0.1 s is numpy's BLAS
run on one thread (planner.cli.main.BLAS_THREAD_VARIABLES: OpenBLAS's idle pool spun on both cores), the
rest candidate generation and the analysis. The child processes run with bytecode writing on, as an
installed copy does (this sandbox sets PYTHONDONTWRITEBYTECODE, which recompiles every edited module in
every run). On a busier machine (load 1-1.5) the same tree measures 0.48-0.53 s.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["llama-3.1-8b", "llama-3.3-70b", "qwen3-32b", "qwen3-30b-a3b", "mistral-7b", "qwen2.5-72b",
          "gemma-2-27b", "gpt-oss-120b", "mixtral-8x7b", "qwen3-8b"]
GPUS = ["h100-sxm", "h100-pcie", "h100-nvl", "h200", "b200", "a100-sxm-80gb", "a100-pcie-80gb", "l40s", "l4",
        "a10g", "rtx-6000-ada", "mi300x", "mi325x", "h20", "gh200", "rtx-4090"]


def fleet() -> dict:
    workloads = []
    for i in range(20):
        m = MODELS[i % len(MODELS)]
        workloads.append({
            "name": f"w{i:02d}", "model": m,
            "traffic": {"peak_requests_per_s": 2 + 3 * (i % 7), "input_tokens": {"mean": 500 + 250 * (i % 5),
                        "p95": 2000 + 500 * (i % 5)}, "output_tokens": {"mean": 150 + 50 * (i % 4), "p95": 600}},
            "slo": {"ttft_p95_ms": 1500 + 500 * (i % 3), "itl_p95_ms": 50 + 10 * (i % 4)},
            "precisions": ["bf16", "fp16", "fp8", "int8", "int4", "fp4"], "redundancy": i % 2, "headroom": 0.1,
        })
    return {"name": "bench-fleet", "workloads": workloads, "hardware": {"gpus": GPUS},
            "site": {"power_cap_kw": 3000, "racks": 200, "rack_power_cap_kw": 60, "cooling": "liquid"},
            "objective": "min_tco"}


def child_env() -> dict[str, str]:
    """The environment of an installed planner: Python may write bytecode. With PYTHONDONTWRITEBYTECODE
    set (some sandboxes set it), every module edited since its last .pyc is compiled again in every
    run, which no installed copy does (pip compiles a wheel's modules when it installs them)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def child_cpu_s(args: list[str], cwd: Path) -> float:
    """CPU seconds (user + system) of one child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=child_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cli_start(runs: int) -> None:
    """`planner --help` and a cold `planner solve scenarios/chatbot.yaml` writing its three files."""
    planner = [sys.executable, "-m", "planner"]
    helps = [child_cpu_s([*planner, "--help"], ROOT) for _ in range(runs)]
    solves = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            solves.append(child_cpu_s([*planner, "solve", "scenarios/chatbot.yaml", "--out", tmp], ROOT))
    print(f"planner --help: {statistics.median(helps):.3f} CPU s (median of {runs}, min {min(helps):.3f}; "
          f"target <= 0.1 s)")
    print(f"planner solve scenarios/chatbot.yaml (cold, three files written): {statistics.median(solves):.3f} CPU s "
          f"(median of {runs}, min {min(solves):.3f}; target <= 0.5 s)")


def solve_loop(n: int = 20) -> None:
    """``n`` in-process solves of the chatbot scenario at different electricity prices (a sweep's or a
    notebook's loop), with the candidate cache off and on; the plans must be the same bytes."""
    from planner.candidates.cache import CACHE
    from planner.catalog import load_catalog
    from planner.optimize.solve import solve_problem
    from planner.plan.io import dump_plan
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    base = resolve_problem(load_scenario(ROOT / "scenarios/chatbot.yaml"), load_catalog())
    solve_problem(base, analysis=False)  # imports and first calls outside the timing
    seconds, plans = [], []
    for enabled in (False, True):
        CACHE.clear()
        CACHE.enabled = enabled
        t0 = time.process_time()
        plans.append([dump_plan(solve_problem(base.with_site(electricity_usd_per_kwh=0.05 + 0.01 * i)))
                      for i in range(n)])
        seconds.append(time.process_time() - t0)
    CACHE.enabled = True
    print(f"{n} chatbot solves in one process (with the analysis): {seconds[0]:.2f} CPU s without the candidate "
          f"cache, {seconds[1]:.2f} CPU s with it; same plan bytes: {plans[0] == plans[1]}")


def main(runs: int = 5) -> None:
    cli_start(runs)
    solve_loop()
    fleet_solve()


def fleet_solve() -> None:
    from planner.candidates.generate import generate_candidates
    from planner.catalog import load_catalog
    from planner.optimize.backend import run_solver
    from planner.optimize.program import build_program
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump(fleet(), sort_keys=False))
        ls = load_scenario(path)
        cat = load_catalog()
        t0 = time.process_time()
        problem = resolve_problem(ls, cat)
        cand = generate_candidates(problem)  # as planner solve does
        t1 = time.process_time()
        m = build_program(problem, cand)
        t2 = time.process_time()
        r = run_solver(m, "highs", 60.0)  # the tie-break pass runs at every fleet size, as in planner solve
        t3 = time.process_time()
    print(f"fleet: 20 workloads x {len(problem.gpus)} GPU types; {cand.evaluated} operating points evaluated, "
          f"{len(cand)} candidates after SLO filter and pruning")
    print(f"ties: {r.ties}")
    print(f"candidates {t1 - t0:.2f} CPU s, model build {t2 - t1:.2f} CPU s, solve {t3 - t2:.2f} CPU s "
          f"({r.status}, gap {r.mip_gap:.2e}); total {t3 - t0:.2f} CPU s (target <= 5 s, optimal)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
