#!/usr/bin/env python3
"""How long `planner calibrate` and `planner accuracy` take on the shipped measurements (a benchmark,
not a timed test). Each refit is a bounded least-squares fit from three starts; cross-validation
refits once per held-out GPU or model.

    python3 bench/bench_calibration.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.calibration.accuracy import accuracy_report  # noqa: E402
from planner.calibration.coefficients import calibration_info  # noqa: E402
from planner.calibration.fit import fit_calibration  # noqa: E402
from planner.calibration.measurements import load_measurements  # noqa: E402
from planner.catalog import load_catalog  # noqa: E402

DATA = ROOT / "planner" / "data" / "measurements" / "calibration-h100-a100.csv"


def timed(label: str, fn, repeat: int = 3) -> None:
    best = min(_once(fn) for _ in range(repeat))
    print(f"{label:52s} {best:7.2f} s (best of {repeat})")


def _once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    cat = load_catalog()
    m = load_measurements(DATA, cat)
    cal, info = calibration_info(None, m.sha256)
    print(f"{len(m)} measured rows, {DATA.name}")
    timed("load + validate measurements", lambda: load_measurements(DATA, cat))
    timed("fit (global + per-engine)", lambda: fit_calibration(m, cat))
    timed("fit --per-gpu", lambda: fit_calibration(m, cat, per_gpu=True), repeat=1)
    timed("accuracy (no cross-validation)", lambda: accuracy_report(m, cat, cal, calibration_info=info))
    both = ("gpu", "model")
    timed("accuracy --leave-one-out gpu --leave-one-out model",
          lambda: accuracy_report(m, cat, cal, calibration_info=info, leave_one_out=both), repeat=1)


if __name__ == "__main__":
    main()
