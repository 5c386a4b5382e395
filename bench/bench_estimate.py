"""Benchmark of the estimation core (issue 2 targets; a benchmark, not a timed test).

1. The vectorized path: a grid of >= 1,000,000 configurations (every catalog model x GPU x
   precision x TP x batch x sequence lengths) is prepared once with ``build_inputs`` and then
   estimated with ``estimate_arrays``; prints configurations per second (target >= 1,000,000/s).
2. ``planner estimate`` wall time over 5 subprocess runs (target < 1 s each).

Run: ``python3 bench/bench_estimate.py [--configs N] [--runs 5] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import shutil
import subprocess
import sys
import time

import numpy as np

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import load_catalog
from planner.core.inputs import build_inputs, estimate_arrays
from planner.schemas.catalog import PRECISIONS

TPS = (1, 2, 4, 8)
BATCHES = (np.nan, 1, 4, 16, 64, 256)
LENGTHS = ((128, 128), (512, 256), (1024, 1024), (2048, 512), (4096, 512), (8192, 1024), (32768, 2048))
ESTIMATE_ARGS = ["estimate", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--precision", "fp16", "--tp", "4",
                 "--batch-size", "8", "--input-tokens", "4096", "--output-tokens", "512"]


def config_grid(min_configs: int) -> dict[str, np.ndarray]:
    """Columns of the full grid, repeated until it holds at least ``min_configs`` rows."""
    cat = load_catalog()
    combos = list(itertools.product(cat.models, cat.gpus, PRECISIONS, TPS))
    inner = len(BATCHES) * len(LENGTHS)
    reps = max(1, -(-min_configs // (len(combos) * inner)))
    n = len(combos) * inner * reps
    pick = np.arange(n) // inner % len(combos)
    batch = np.tile(np.repeat(np.array(BATCHES), len(LENGTHS)), n // inner)
    lengths = np.tile(np.array(LENGTHS, dtype=float), (n // len(LENGTHS), 1))
    column = {k: np.array([c[i] for c in combos]) for i, k in enumerate(("model", "gpu", "precision", "tp"))}
    return {"model": column["model"][pick], "gpu": column["gpu"][pick], "precision": column["precision"][pick],
            "tp": column["tp"][pick].astype(float), "pp": np.ones(n), "batch_size": batch,
            "input_tokens": lengths[:, 0], "output_tokens": lengths[:, 1], "engine": np.full(n, "vllm")}


def bench_vectorized(min_configs: int, repeats: int = 3, profile: bool = False) -> None:
    cols = config_grid(min_configs)
    n = len(cols["model"])
    cat, cal = load_catalog(), load_calibration()[0]  # the shipped calibration, read once
    t0 = time.perf_counter()
    x, problem = build_inputs(cols, cat, cal)
    prep_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            out = estimate_arrays(x)
        best = min(best, time.perf_counter() - t0)
    valid = int(((problem == "") & out["fits_memory"]).sum())
    print(f"vectorized core: {n:,} configurations ({valid:,} valid and fitting)")
    print(f"  build_inputs (once):    {prep_s:6.3f} s  ({n / prep_s:,.0f} configurations/s)")
    print(f"  estimate_arrays (best of {repeats}): {best:6.3f} s  ({n / best:,.0f} configurations/s;"
          f" target >= 1,000,000/s)")
    print(f"  end to end:             {prep_s + best:6.3f} s  ({n / (prep_s + best):,.0f} configurations/s)")
    if profile:
        for label, call in (("build_inputs", lambda: build_inputs(cols, cat, cal)), ("estimate_arrays",
                                                                                 lambda: estimate_arrays(x))):
            prof = cProfile.Profile()
            with np.errstate(all="ignore"):
                prof.runcall(call)
            print(f"\nprofile of {label}:")
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def bench_cli(runs: int) -> None:
    exe = shutil.which("planner")
    cmd = [exe] if exe else [sys.executable, "-m", "planner"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([*cmd, *ESTIMATE_ARGS], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(f"`planner {' '.join(ESTIMATE_ARGS)}`")
    print(f"  wall time over {runs} runs: {shown} s; median {np.median(times):.2f} s, max {max(times):.2f} s"
          " (target < 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1_000_000, help="at least this many configurations")
    parser.add_argument("--runs", type=int, default=5, help="subprocess runs of `planner estimate`")
    parser.add_argument("--profile", action="store_true", help="cProfile build_inputs and estimate_arrays")
    args = parser.parse_args()
    bench_vectorized(args.configs, profile=args.profile)
    bench_cli(args.runs)


if __name__ == "__main__":
    main()
