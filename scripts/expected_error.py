#!/usr/bin/env python3
"""Regenerate planner/data/expected_error.yaml from `planner accuracy`'s leave-one-GPU-out residuals.

    python3 scripts/expected_error.py          # rewrite the table
    python3 scripts/expected_error.py --check  # exit 1 when the shipped table is stale

The residuals are those of `planner accuracy planner/data/measurements/measurements.csv --leave-one-out gpu`
with the shipped calibration, on the calibration points (planner.calibration.expected_error).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEASUREMENTS = ROOT / "planner" / "data" / "measurements" / "measurements.csv"


def table_text() -> str:
    """The table as the shipped data and calibration give it, computed in-process."""
    from planner.calibration.accuracy import accuracy_report
    from planner.calibration.coefficients import calibration_info, load_calibration
    from planner.calibration.expected_error import build_table, residuals, table_yaml
    from planner.calibration.fit import fit_weights
    from planner.calibration.measurements import load_measurements
    from planner.catalog import load_catalog

    cat = load_catalog()
    m = load_measurements(MEASUREMENTS, cat)
    cal, info = calibration_info(None, m.sha256)
    report = accuracy_report(m, cat, cal, calibration_info=info, leave_one_out=("gpu",))
    res = residuals(report, cat, fit_weights(m) > 0)
    table = build_table(res, measurements=MEASUREMENTS.name, measurements_sha256=m.sha256,
                        calibration_sha256=load_calibration()[1])
    return table_yaml(table)


def main(argv: list[str] | None = None) -> int:
    from planner.calibration.expected_error import expected_error_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = ap.parse_args(argv)
    path = expected_error_path()
    new = table_text()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if args.check:
        if new != old:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       "expected_error.yaml (shipped)",
                                                       "expected_error.yaml (regenerated)"))
            print("\nplanner/data/expected_error.yaml is stale: run python3 scripts/expected_error.py", file=sys.stderr)
            return 1
        print("planner/data/expected_error.yaml is up to date")
        return 0
    if new != old:
        from planner.io.files import write_atomic

        write_atomic(path, new)
        print(f"{path.relative_to(ROOT)} rewritten")
    else:
        print(f"{path.relative_to(ROOT)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
