"""Transition shim, to be deleted: the public API moved to planner.estimation and the pure inputs to
planner.core.inputs. Kept only while planner/candidates/generate.py, planner/gitops/rederive.py and
tests/test_catalog_generic.py still import from here; new code must not.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.core.inputs import CONFIG_COLUMNS, canonical_engine, estimate_arrays
from planner.core.inputs import build_inputs as _build_inputs
from planner.schemas.calibration import Calibration

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

__all__ = ["CONFIG_COLUMNS", "build_inputs", "canonical_engine", "estimate_arrays"]


def build_inputs(cols: Mapping[str, np.ndarray], catalog: Catalog,
                 calibration: Calibration | str | Path | None = None,
                 power_limit_w: np.ndarray | float | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """planner.core.inputs.build_inputs after loading ``calibration`` when it is a path (None: the
    shipped file). New code passes a Calibration object to planner.core.inputs.build_inputs."""
    from planner.calibration.coefficients import load_calibration

    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)[0]
    return _build_inputs(cols, catalog, cal, power_limit_w)


def __getattr__(name: str) -> Any:
    """The public API's names, from their new home (lazily: planner.estimation imports the core)."""
    if name in ("Estimate", "estimate", "estimate_table", "smallest_fitting_tp"):
        import planner.estimation

        return getattr(planner.estimation, name)
    raise AttributeError(f"module 'planner.core.api' has no attribute {name!r}")
