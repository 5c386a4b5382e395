"""Benchmark: synthetic fleets of 20-200 workloads from the catalog's models and GPUs (issue 13).

Cases (targets in CPU seconds of this process, time.process_time, on a 2-core machine):
  analysis-20x8     20 workloads x 8 GPU types, full analysis (what-if + objective alternatives)  <= 3 s
  optimal-50xall    50 workloads x every datacenter GPU type, proven optimal                      <= 10 s
  gap-200xall       200 workloads x every datacenter GPU type, within a proven 0.1 % gap          <= 60 s
  infeasible-20x8   20 workloads x 8 GPU types under a 12 kW site power cap (a third of their 38.5 kW)  <= 5 s
  generate-50       candidate generation alone, 50 workloads x every datacenter GPU type: cold (the
                    process's candidate cache empty) and again (every workload a cache hit)
  generate-200      the same at 200 workloads
Not a test: machines are noisy, so nothing here asserts a time. Each solve case prints its CPU seconds
from a cold candidate cache (as a fresh `planner solve`), of which candidate generation, the number of
candidates, the plan's status and gap, and the number of integer programs solved.

    python3 bench/bench_fleet.py [--runs N] [--bytes] [CASE ...]

``--runs N`` runs each case N times and prints the medians (a shared machine is noisy); ``--bytes``
solves each solve case once more and checks that the plan's bytes are the same. Each line also gives
the process's peak memory so far (ru_maxrss), so run a case alone to read its own peak.

Measured 2026-11-27 on the 2-core machine shared with other jobs (load 1-8, so +-30 %), the same
tree with planner/optimize before (af552ea~1) and after issue 13 items 1-3:
  analysis-20x8    21.7 s, 52 solves (30.5 s on an earlier tree)  ->  5.9 s, 51 solves (20 of them
                   the one-workload solves of the start); what-if 20/20 values, 5 objective alternatives
  optimal-50xall   17.3 s with no tie-break pass (skipped above 400 candidates)  ->  18.0 s with the tie
                   rule applied (5-10 s of either is candidate generation, issue 13 item 4)
  gap-200xall      60 s wall limit: 0.35 % gap, or no plan at all (SolverLimitError) on a busier run
                   ->  0.29 % at the limit on a busy machine, proven 0.0998 % in 57 CPU s on a quiet one
  infeasible-20x8  25.4 s, 207 solves  ->  2.8 s, 23 solves (20 of them the one-workload solves)
Issue 13 item 4 (queueing without scipy, Newton, vectorized pruning, the candidate cache), measured
2026-11-28 on fbc77f3 before and after (the same tree with only those files changed; busy machine):
  generate-50      5.49 s cold (0.17 M configurations/s), 5.20 s again  ->  3.56 s cold (0.25 M/s), 0.01 s again
  generate-200     23.9 s cold (0.15 M/s), 25.5 s again  ->  13.7 s cold (0.27 M/s), 0.03 s again
  analysis-20x8    5.60 s (generation 1.06 s)  ->  5.22 s (generation 0.69 s)
Issue 13 solve side (min_carbon reuses min_energy's plan, power objectives start from each other's plans,
the tie check restarts on programs of >= 1,000 candidates, a default node limit), 2026-11-28 on 5460a1f,
medians of 3 on the shared machine (load 2.5-4.5); the tree now has EP/DP grid axes, so generation is
slower than above:
  analysis-20x8    4.51 s (4.32-4.83; 49 solves, of which 20 the start's; generation 0.9 s here and about
                   0.75 s again in the 20 ITL what-ifs, which regenerate one workload each)
  optimal-50xall   8.11 s (8.08-8.68; generation 4.5-4.7 s, primary 1.4 s, tie check 1.2 s against 2.6-3.2 s)
  gap-200xall      36.8 and 38.0 s, proven 0.093 % (the stop is the objective target: deterministic), plan
                   bytes identical on a second solve; generation 17-19 s; peak memory 289 MiB
  infeasible-20x8  5.19 s (5.06-5.30; 24 solves): 0.9 s generation, then the power-limit alternative
                   regenerates every workload at three limits and the SLO group test every workload at its
                   loosest SLO (about 2.5 s of generation together); 2.8 s on the tree of 2026-11-27;
                   after 09fa7ec (the power-limit check generates only the limits below TDP): 4.63 s (4.29-4.76)
Issue 13 item 4, the SLO-independent stage cached (planner.candidates.cache: SLO relaxations of the what-if
analysis and of the infeasibility answer apply only the SLO steps; capacities memoized per TTFT SLO; no Python
loop per row for server overhead and pool keys), 2026-11-28, the same tree (73960da) with the candidate files
before (a29568d~1) and after, medians of 3, load 0.1-1.5:
  analysis-20x8    4.38 s  ->  3.73 s (3.71-3.73)
  infeasible-20x8  4.42 s  ->  3.86 s (3.84-3.88)
  generate-50      4.67 s cold, peak 160 MiB  ->  4.26 s cold, peak 324 MiB (the stage cache, 128 MiB at most)
  generate-200     18.6 s cold, peak 170 MiB  ->  17.1 s cold, peak 353 MiB
  optimal-50xall   8.04 s, peak 166 MiB  ->  7.72 s, peak 338 MiB
  gap-200xall      35.5 s, proven 0.092 %, peak 436 MiB (after only; 289 MiB on 5460a1f)
  with the stage budget at 160 MiB (cd0c95f): generate-200 16.8 s, peak 364 MiB; gap-200xall 33.8 s, peak 444 MiB
Issue 13 item 1, the solve side's own work (planner/optimize only: sums written as one PuLP expression each,
the program handed to highspy in three batched calls with its variables listed once per solve, tie ranks
once per program, 53ef90c..f5ecce8; SLO what-ifs that change no row the program reads answered without a
re-solve; the elastic objective scaled by 2^-10), 2026-11-28, the committed tree aa982b2 with
planner/optimize before and after, 3 interleaved runs each, load 3-5, medians:
  analysis-20x8    3.64 s (3.55-3.82; 49 solves)  ->  3.14 s (3.06-3.23; 47 solves). Left: HiGHS itself
                   about 1.7 s (18 what-if re-solves of 8-11 nodes, 3 objective alternatives and their tie
                   checks, the primary), candidate generation 0.85 s and the 20 ITL what-ifs' regeneration 0.3 s
  infeasible-20x8  3.89 s (3.69-3.98)  ->  3.25 s (3.19-3.42); the elastic solve 1.44 -> 1.06 s
  optimal-50xall   7.79 s (7.55-7.99)  ->  7.29 s (7.19-7.68)
  gap-200xall      34.6 s, proven 0.092 %, plan bytes identical on a second solve (after only, once)
  Every committed scenario's plan.json and the bench fleets' plans are byte-identical before and after
  (the 20x8 fleet's two implied what-ifs aside: the same 0.0, method 'implied: ...' instead of 're-solve').
Issue 13 item 1 after the calibration refit, 2026-11-28: the committed tree 5710c00 (before) and 0d7f141
(after; other agents' core commits landed between) as `git archive` snapshots, so unfinished edits stay out;
medians of 3, load 1.0, noisy (the same before tree measured 3.87 s in one set and 4.27 s in another):
  analysis-20x8    interleaved, 5710c00 with only this work's planner/optimize files after: 4.27 s (4.00-4.38)
                   -> 3.48 s (3.43-3.54), 48 solves each; alone, before and after: 3.87 s (3.81-3.93)
                   ->  3.37 s (3.34-3.43; 48 solves): the min_gpus objective
                   alternative is proven once its gap is below one step of the GPU count (8 GPUs a server:
                   576 nodes, 0.52 s -> 1 node, 0.02 s). Left: HiGHS about 2.0 s (19 what-if re-solves of
                   about 50 ms each, spent at the root: the same from the optimal plan as start or with no
                   start; min_power 0.44 s; the alternatives' tie passes 0.43 s), candidate generation 0.7 s
                   and 0.28 s more in the ITL what-ifs, programs built 0.2 s
  infeasible-20x8  2.84 s (2.82-2.96; 24 solves) and optimal-50xall 8.29 s (8.18-8.46; 52 solves): code paths
                   this does not touch
  Plan bytes: the what-if of an SLO relaxation keeps the plan's own configurations (894bd1c, 0d7f141), so
  none is positive any more (shipped: +13.67 code-assistant, +106.03 colo-retrofit-20kw, +0.44 disaggregated
  $/year -> 0.0; one-70b-vs-four-8b chat-qwen -16,406.75 -> -16,407.49); the 20x8 fleet's w008, w014, w017
  +0.80/+0.22/+0.42 -> 0.0 and its min_gpus row another 40-GPU plan of the same tie score.
Issue 13 item 4, candidate generation's shortcuts (7d779db..1ba98af: rows the heuristic pruning surely drops
get no capacity, an ITL what-if starts from the rows the pruning kept, one batch-1 estimate per configuration;
the same candidate bytes) with the core's per-run terms, then config_keys column by column and a program's
variables listed once per set of rows (c4495f6, 16594fb), 2026-11-28, medians of 3, load 0.5-1.5:
  analysis-20x8    3.42-3.47 s (generation 0.70-0.81 s; ITL what-ifs 0.26 s)  ->  2.98-3.03 s (generation
                   0.43-0.47 s; ITL what-ifs 0.10 s)  ->  2.97 s (2.96-2.98; 48 solves, HiGHS 2.0 s of it);
                   plan bytes the same on a second solve (--bytes)
  infeasible-20x8  2.83 s  ->  2.09-2.20 s (24 solves)
  optimal-50xall   7.83 s  ->  6.76-7.15 s (52 solves)
  gap-200xall      36.3 s, proven 0.0999 %, peak memory 469 MiB
  generate-50      3.85-4.01 s cold, peak 323 MiB  ->  2.69-2.83 s cold, peak 295 MiB
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

# Models small enough that every workload has candidates on one server of most GPU types; taken from
# the catalog in its own (sorted) order, with a context window that holds the longest request.
SKIP_MODELS = {"deepseek-r1", "deepseek-v3", "llama-3.1-405b", "qwen3-235b-a22b", "mixtral-8x22b"}
EIGHT_GPUS = ["a100-sxm-80gb", "b200", "h100-nvl", "h100-sxm", "h200", "l40s", "mi300x", "mi325x"]


def catalog_models() -> list[str]:
    from planner.catalog.loader import load_catalog

    models = load_catalog().models
    return [m for m in sorted(models) if m not in SKIP_MODELS and models[m].max_context_tokens >= 8192]


def fleet(n: int, gpus: list[str] | None, *, power_cap_kw: float | None = None) -> dict[str, Any]:
    """A deterministic fleet of ``n`` workloads cycling through the catalog's models."""
    models = catalog_models()
    workloads = []
    for i in range(n):
        workloads.append({
            "name": f"w{i:03d}", "model": models[(i * 7) % len(models)],
            "traffic": {"peak_requests_per_s": 2 + 3 * (i % 7),
                        "input_tokens": {"mean": 500 + 250 * (i % 5), "p95": 2000 + 500 * (i % 5)},
                        "output_tokens": {"mean": 150 + 50 * (i % 4), "p95": 600}},
            "slo": {"ttft_p95_ms": 1500 + 500 * (i % 3), "itl_p95_ms": 50 + 10 * (i % 4)},
            "precisions": ["bf16", "fp8", "int4"], "redundancy": i % 2, "headroom": 0.1,
        })
    site: dict[str, Any] = {"racks": 100 * max(1, n // 10), "rack_power_cap_kw": 60, "cooling": "liquid"}
    if power_cap_kw is not None:
        site["power_cap_kw"] = power_cap_kw
    out: dict[str, Any] = {"name": f"bench-fleet-{n}", "workloads": workloads, "site": site, "objective": "min_tco"}
    if gpus is not None:
        out["hardware"] = {"gpus": gpus}
    return out


def problem_of(spec: dict[str, Any]) -> Any:
    from planner.catalog.loader import load_catalog
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return resolve_problem(load_scenario(path, None), load_catalog(), calibration=None)


class SolveCounter:
    """Counts the integer programs the backend solves (every solve passes through _solve_once)."""

    def __init__(self) -> None:
        from planner.optimize import backend

        self.backend, self.original, self.count = backend, backend._solve_once, 0

    def __enter__(self) -> SolveCounter:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self.original(*args, **kwargs)

        self.backend._solve_once = counted
        return self

    def __exit__(self, *exc: object) -> None:
        self.backend._solve_once = self.original


def run_case(name: str, spec: dict[str, Any], target_s: float, **solve_kwargs: Any) -> None:
    import inspect

    from planner.candidates.generate import generate_candidates
    from planner.errors import InfeasibleError, SolverLimitError
    from planner.optimize.solve import solve_problem

    p = problem_of(spec)
    gpus = len(p.gpus)
    accepted = inspect.signature(solve_problem).parameters  # older versions take fewer options
    solve_kwargs = {k: v for k, v in solve_kwargs.items() if k in accepted}
    clear_candidate_cache()
    t0 = time.process_time()
    n_cand = len(generate_candidates(p))  # timed apart: candidate generation is issue 13 item 4
    cand_s = time.process_time() - t0
    clear_candidate_cache()  # the solve below generates them again, as a fresh process does
    start = time.process_time()
    with SolveCounter() as counter:
        try:
            plan = solve_problem(p, **solve_kwargs)
            answer: Any = plan
            outcome = (f"{plan.status}, gap {plan.solver.mip_gap:.2e}, what-if {plan.analysis.what_if} "
                       f"({sum(w.objective_delta is not None for w in plan.what_if)}/{len(plan.what_if)} values), "
                       f"objective alternatives {len(plan.objective_alternatives)}")
        except InfeasibleError as e:
            answer = e
            outcome = f"infeasible: {len(e.explanation)} lines, first: {e.explanation[0][:100]}"
        except SolverLimitError as e:
            answer = e
            outcome = f"no plan: {e.message}"
    cpu = time.process_time() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{name}: {len(p.workloads)} workloads x {gpus} GPU types, {n_cand} candidates: {cpu:.2f} CPU s "
          f"(target <= {target_s:g} s; of which candidate generation {cand_s:.2f} s), {counter.count} solves; "
          f"{outcome}; process peak memory so far {peak_mib:,.0f} MiB", flush=True)
    RESULTS.setdefault(name, []).append(cpu)
    if REPEAT_CHECK:  # the timed solve's bytes, then a second solve's (the candidate cache now warm)
        for again in (lambda: answer, lambda: solve_problem(p, **solve_kwargs)):
            _check_bytes(name, plan_bytes(again))


RESULTS: dict[str, list[float]] = {}
"""CPU seconds of each run of each case (main prints their medians)."""
REPEAT_CHECK = False
"""--bytes: each solve case is solved twice more, and the plan's bytes must be the same every time."""
_BYTES: dict[str, bytes] = {}


def plan_bytes(solve: Callable[[], Any]) -> bytes:
    """The plan as plan.json holds it (time_s is a measurement, written as 0); an infeasible answer's lines."""
    from planner.errors import InfeasibleError

    try:
        answer = solve()
        if isinstance(answer, Exception):
            raise answer
        plan = answer.model_dump(mode="json")
    except InfeasibleError as e:
        return "\n".join(e.explanation).encode()
    plan["solver"]["time_s"] = 0.0
    return json.dumps(plan, sort_keys=True).encode()


def _check_bytes(name: str, data: bytes) -> None:
    first = _BYTES.setdefault(name, data)
    print(f"{name}: plan bytes {'the same as' if data == first else 'DIFFERENT from'} the first run's "
          f"({len(data):,} bytes)", flush=True)


def clear_candidate_cache() -> None:
    """Empty the process's candidate cache (planner.candidates.cache; absent before issue 13 item 4)."""
    try:
        from planner.candidates.cache import CACHE
    except ImportError:
        return
    CACHE.clear()


def generate_case(n: int) -> None:
    """Candidate generation of ``n`` workloads on every GPU type, from an empty cache and then again."""
    from planner.candidates.generate import generate_candidates

    p = problem_of(fleet(n, None))
    clear_candidate_cache()
    times = []
    for _ in range(2):
        t0 = time.process_time()
        cand = generate_candidates(p)
        times.append(time.process_time() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"generate-{n}: {n} workloads x {len(p.gpus)} GPU types, {cand.evaluated:,} configurations evaluated, "
          f"{len(cand)} candidates: {times[0]:.2f} CPU s cold, {times[1]:.2f} CPU s again "
          f"({cand.evaluated / times[0] / 1e6:.2f} M configurations/s cold); process peak memory so far "
          f"{peak_mib:,.0f} MiB", flush=True)
    RESULTS.setdefault(f"generate-{n}", []).append(times[0])


CASES: dict[str, Callable[[], None]] = {
    "analysis-20x8": lambda: run_case("analysis-20x8", fleet(20, EIGHT_GPUS), 3.0),
    "optimal-50xall": lambda: run_case("optimal-50xall", fleet(50, None), 10.0, analysis=False),
    # the targets are CPU seconds on a shared machine: a wall-clock stop (the safety net, not reproducible)
    # must not come first, so this case gives the solve 600 wall seconds; it stops at its proven gap
    "gap-200xall": lambda: run_case("gap-200xall", fleet(200, None), 60.0, analysis=False, mip_rel_gap=1e-3,
                                    time_limit_s=600.0),
    "infeasible-20x8": lambda: run_case("infeasible-20x8", fleet(20, EIGHT_GPUS, power_cap_kw=12), 5.0),
    "generate-50": lambda: generate_case(50),
    "generate-200": lambda: generate_case(200),
}


def main(argv: list[str]) -> None:
    """Cases to run (default all); ``--runs N`` runs each N times and prints the medians; ``--bytes``
    solves each solve case once more per run and checks the plan's bytes do not change."""
    global REPEAT_CHECK
    runs = 1
    if "--runs" in argv:
        at = argv.index("--runs")
        runs, argv = int(argv[at + 1]), argv[:at] + argv[at + 2:]
    if "--bytes" in argv:
        REPEAT_CHECK, argv = True, [a for a in argv if a != "--bytes"]
    for name in argv or list(CASES):
        if name not in CASES:
            raise SystemExit(f"unknown case {name!r}; cases: {', '.join(CASES)}")
        for _ in range(runs):
            CASES[name]()
    for name, cpus in RESULTS.items():
        if len(cpus) > 1:
            print(f"{name}: median {statistics.median(cpus):.2f} CPU s of {len(cpus)} runs "
                  f"({', '.join(f'{c:.2f}' for c in cpus)})")


if __name__ == "__main__":
    main(sys.argv[1:])
