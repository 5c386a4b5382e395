"""Schema of planner/data/expected_error.yaml: how far an estimate may be off, per metric and group.

Written by scripts/expected_error.py from `planner accuracy`'s leave-one-GPU-out residuals
(planner.calibration.expected_error); read by planner.estimate (``expected_error``) and by a scenario's
``sizing_confidence`` (docs/confidence.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field

from planner.schemas.base import StrictModel

ERROR_METRICS = ("throughput", "ttft", "itl", "power", "energy_per_token")
"""The metrics an estimate carries an expected error for (planner.calibration.accuracy.METRICS)."""
ErrorMetric = Literal["throughput", "ttft", "itl", "power", "energy_per_token"]
ModelClass = Literal["dense", "moe"]
SizeBand = Literal["small", "medium", "large"]
ANY = "*"
QUANTILES = (0.5, 0.8, 0.9, 0.95)
"""Quantiles of the absolute relative error the table keeps (a sizing confidence between two is interpolated)."""


class MetricError(StrictModel):
    """Quantiles of |predicted / measured - 1| in percent over ``n`` held-out points."""

    n: int = Field(ge=1)
    p50_pct: float = Field(ge=0)
    p80_pct: float = Field(ge=0)
    p90_pct: float = Field(ge=0)
    p95_pct: float = Field(ge=0)

    def pct_at(self, q: float) -> float:
        """The error quantile at ``q`` (QUANTILES[0] <= q <= QUANTILES[-1]), linear between the stored ones."""
        values = (self.p50_pct, self.p80_pct, self.p90_pct, self.p95_pct)
        if not QUANTILES[0] <= q <= QUANTILES[-1]:
            raise ValueError(f"confidence {q:g} is outside {QUANTILES[0]:g}-{QUANTILES[-1]:g}")
        return float(np.interp(q, QUANTILES, values))


class ErrorGroup(StrictModel):
    """One group of held-out points: a GPU architecture, a model class and a size band ("*": any)."""

    # model_class is a key of the table, not a pydantic method: pydantic < 2.10 warns on the model_ prefix
    model_config = ConfigDict(protected_namespaces=())

    architecture: str
    model_class: ModelClass | Literal["*"]
    size_band: SizeBand | Literal["*"]
    metrics: dict[ErrorMetric, MetricError]

    @property
    def label(self) -> str:
        parts = [self.architecture, self.model_class, self.size_band]
        while parts and parts[-1] == ANY:
            parts.pop()
        return " / ".join(parts)


class WorstHeldOut(StrictModel):
    """The held-out GPU whose error quantiles are the largest: the figure for an architecture never fitted."""

    gpu: str
    error: MetricError


class ExpectedErrorTable(StrictModel):
    schema_version: Literal[1] = 1
    method: str
    measurements: str
    measurements_sha256: str
    calibration_sha256: str
    min_points: int = Field(ge=1)
    """A group with fewer points for a metric is not used for it (the next wider group is)."""
    size_bands_b: tuple[float, float]
    """Total parameters (billions) separating small | medium | large models."""
    groups: list[ErrorGroup]
    worst_held_out: dict[ErrorMetric, WorstHeldOut]
    """Per metric, over every model: the figure where no group of the GPU's architecture has the metric."""
    worst_held_out_by_class: dict[ModelClass, dict[ErrorMetric, WorstHeldOut]] = {}
    """The same over one model class's points, used first for a model of that class."""
