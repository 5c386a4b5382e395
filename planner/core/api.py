"""Transition shim, to be deleted: the public API moved to planner.estimation and the pure inputs to
planner.core.inputs (build_inputs there takes a Calibration object). Kept only while
planner/gitops/rederive.py (canonical_engine) and tests/test_catalog_generic.py (estimate) still
import from here; new code must not.
"""

from __future__ import annotations

from typing import Any

from planner.core.inputs import CONFIG_COLUMNS, build_inputs, canonical_engine, estimate_arrays

__all__ = ["CONFIG_COLUMNS", "build_inputs", "canonical_engine", "estimate_arrays"]


def __getattr__(name: str) -> Any:
    """The public API's names, from their new home (lazily: planner.estimation reads files)."""
    if name in ("Estimate", "estimate", "estimate_table", "smallest_fitting_tp"):
        import planner.estimation

        return getattr(planner.estimation, name)
    raise AttributeError(f"module 'planner.core.api' has no attribute {name!r}")
