"""The plan's ``assumptions`` rows sorted into the groups the appendix shows.

`planner solve` writes one flat list of typed ``{name, value, unit, source, range}`` rows
(schemas.plan.Assumption): model
constants (priors with a plausible range), calibrated coefficients (``coefficient <name>``, plus
the ``calibration file`` row), catalog figures per GPU type (``<gpu> price``, ``<gpu> datasheet``,
``<gpu> server``, and the capex lines ``<gpu> network``, ``<gpu> storage``, ``<gpu> support``) and the
solver's notes (``note``). Each row keeps its index in the plan so every
cell the report shows stays traceable to ``assumptions[<i>]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from planner.schemas.plan import Assumption

COEFFICIENT_PREFIX = "coefficient "
CALIBRATION_FILE = "calibration file"
NOTE = "note"
CATALOG_FIGURES = ("price", "datasheet", "server", "network", "storage", "support")
ESTIMATE_MARKER = "ESTIMATE"
"""The catalog's marker for a figure with no public source (an order-of-magnitude estimate)."""
COLUMNS = ("name", "value", "unit", "source", "range")
"""The keys of every row (schemas.plan.Assumption)."""

_CATALOG_NAME = re.compile(r"(\S+) (" + "|".join(CATALOG_FIGURES) + r")")
_NUMBER = r"-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*-\s*({_NUMBER})\s*")
_AT_BOUND_RELATIVE = 1e-6


@dataclass(frozen=True)
class Row:
    index: int
    """Position in ``plan.assumptions``."""
    row: Assumption

    def get(self, key: str) -> str:
        """One of COLUMNS."""
        return str(getattr(self.row, key))

    @property
    def name(self) -> str:
        return self.row.name


@dataclass(frozen=True)
class Groups:
    constants: list[Row]
    coefficients: list[Row]
    """``coefficient <name>`` rows, the ``calibration file`` row first."""
    catalog: list[Row]
    notes: list[Row]


def catalog_figure(name: str) -> tuple[str, str] | None:
    """``("b200", "price")`` for ``"b200 price"``; None when the name is not a catalog figure."""
    match = _CATALOG_NAME.fullmatch(name)
    return (match.group(1), match.group(2)) if match else None


def is_estimate(source: str) -> bool:
    return ESTIMATE_MARKER in source


def group(assumptions: list[Assumption], gpus: Iterable[str] = ()) -> Groups:
    """Rows by kind. A ``<x> price`` or ``<x> server`` row is a catalog figure only when ``x`` is a GPU
    type: one with a ``<x> datasheet`` row, or one of ``gpus`` (so "electricity price" stays a constant)."""
    rows = [Row(i, a) for i, a in enumerate(assumptions)]
    notes = [r for r in rows if r.name == NOTE]
    calibration = [r for r in rows if r.name == CALIBRATION_FILE]
    coefficients = [r for r in rows if r.name.startswith(COEFFICIENT_PREFIX)]
    figures = {r.index: catalog_figure(r.name) for r in rows}
    gpu_types = set(gpus) | {f[0] for f in figures.values() if f is not None and f[1] == "datasheet"}
    catalog = [r for r in rows if (f := figures[r.index]) is not None and f[0] in gpu_types]
    grouped = {r.index for r in (*notes, *calibration, *coefficients, *catalog)}
    return Groups(constants=[r for r in rows if r.index not in grouped],
                  coefficients=calibration + coefficients, catalog=catalog, notes=notes)


def coefficient_name(name: str) -> str:
    return name.removeprefix(COEFFICIENT_PREFIX) if name.startswith(COEFFICIENT_PREFIX) else name


def parse_range(text: str) -> tuple[float, float] | None:
    """``(low, high)`` of a range written ``"0.2-0.85"`` or ``"5e+08-8e+09"``; None otherwise."""
    match = _RANGE.fullmatch(text)
    if not match:
        return None
    low, high = float(match.group(1)), float(match.group(2))
    return (low, high) if low <= high else None


def range_position(value: str, range_text: str) -> str | None:
    """``"within"``, ``"at bound"`` or ``"outside"`` the plausible range; None if either is not a number."""
    bounds = parse_range(range_text)
    try:
        number = float(value)
    except ValueError:
        return None
    if bounds is None:
        return None
    low, high = bounds
    tolerance = _AT_BOUND_RELATIVE * max(abs(low), abs(high), 1e-300)
    if number < low - tolerance or number > high + tolerance:
        return "outside"
    if abs(number - low) <= tolerance or abs(number - high) <= tolerance:
        return "at bound"
    return "within"
