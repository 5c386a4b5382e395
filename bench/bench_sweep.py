"""Benchmark: a 1,000-variant sweep of the chatbot scenario on 2 local worker processes.

The sweep: 5 electricity prices x 4 evening peaks (a grid of 20), each with 50 seeded draws of the
B200's price and the site's PUE. Prints the wall time of `planner sweep` (a cold process, as a user
runs it; target <= 60 s on a 2-core machine), the CPU seconds of the parent and of its workers, the
time per variant, and how long a re-run takes when every variant is already on disk (resume).
Not a test: machines are noisy, so nothing here asserts a time.
Measured 2026-11-28 on 16594fb (load 0.7): 1,000 variants on 2 workers in 8.5 s wall (16.2 CPU s in all,
16 CPU ms a variant; 21 s at the previous measurement), resume with every variant on disk 0.7 s.

    python3 bench/bench_sweep.py [--variants-per-grid-point 50] [--workers 2] [--scheduler tcp://HOST:8786]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def sweep_file(folder: Path, draws: int) -> Path:
    shutil.copy(ROOT / "scenarios" / "chatbot.yaml", folder / "chatbot.yaml")
    doc = {"scenario": "chatbot.yaml",
           "grid": {"site.electricity_usd_per_kwh": [0.06, 0.09, 0.12, 0.16, 0.2],
                    "workloads.chat.traffic.peak_requests_per_s": [20, 30, 45, 60]},
           "sample": {"n": draws, "seed": 7, "vary": {
               "finance.gpu_prices_usd.b200": {"lognormal": {"median": 38000, "sigma": 0.15}},
               "site.pue": {"triangular": {"low": 1.15, "mode": 1.3, "high": 1.5}}}}}
    path = folder / "bench-sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children: the planner process and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "planner", *args], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants-per-grid-point", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = sweep_file(folder, a.variants_per_grid_point)
        n = 20 * a.variants_per_grid_point
        where = ["--scheduler", a.scheduler] if a.scheduler else ["--workers", str(a.workers)]
        wall, cpu = run(["sweep", str(path), "--out", str(folder / "out"), *where, "-q"])
        print(f"{n} variants on {' '.join(where)}: {wall:.1f} s wall (target <= 60 s), {cpu:.1f} CPU s in all, "
              f"{wall / n * 1e3:.0f} ms wall per variant, {cpu / n * 1e3:.0f} CPU ms per variant")
        resumed, _ = run(["sweep", str(path), "--out", str(folder / "out"), *where, "-q"])
        print(f"re-run with every variant on disk (resume): {resumed:.1f} s")
        lines = (folder / "out" / "sweep.csv").read_text(encoding="utf-8").count("\n") - 1
        print(f"sweep.csv: {lines} rows")


if __name__ == "__main__":
    main()
