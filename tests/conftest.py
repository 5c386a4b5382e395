"""Fixtures shared by the calibration and accuracy tests: the shipped catalog and measurements."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.calibration.measurements import load_measurements
from planner.catalog import load_catalog

SHIPPED_MEASUREMENTS = Path(__file__).resolve().parent.parent / "planner" / "data" / "measurements" / \
    "calibration-h100-a100.csv"


@pytest.fixture(scope="module")
def catalog():
    """The shipped catalogs (loaded once per test module)."""
    return load_catalog()


@pytest.fixture(scope="module")
def measurements(catalog):
    """The shipped measurement file, validated and resolved against ``catalog``."""
    return load_measurements(SHIPPED_MEASUREMENTS, catalog)
