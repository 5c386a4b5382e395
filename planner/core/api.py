"""Transition shim, to be deleted: the public API moved to planner.estimation and the pure inputs to
planner.core.inputs (build_inputs there takes a Calibration object). Kept only while
tests/test_catalog_generic.py still imports ``estimate`` from here; new code must not.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """The public API's names, from their new home (lazily: planner.estimation reads files)."""
    if name in ("Estimate", "estimate", "estimate_table", "smallest_fitting_tp"):
        import planner.estimation

        return getattr(planner.estimation, name)
    raise AttributeError(f"module 'planner.core.api' has no attribute {name!r}")
