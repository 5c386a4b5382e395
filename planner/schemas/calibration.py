"""Calibration schema: the refitted coefficients of the estimation core, with their provenance.

A calibration YAML (written by `planner calibrate`, read by planner.calibration.coefficients)
looks like::

    schema_version: 1
    coefficients: {eta_weight_bw: 0.83, ...}
    per_gpu: {h100-sxm: {eta_compute: 0.5}}      # optional, only GPUs the data covers
    per_engine: {trt-llm: {step_overhead_s: 0.001}}
    provenance: {data_sha256: ..., rows: 48, date: 2026-11-21, command: ...}

Every coefficient must lie inside its plausible range (planner.core.constants.COEFFICIENTS).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from planner.core.constants import COEFFICIENTS, coefficient_defaults
from planner.schemas.base import StrictModel


def _check_ranges(v: dict[str, float], where: str = "") -> dict[str, float]:
    """Refuse unknown coefficients and values outside their plausible range, saying which and why."""
    prefix = f"{where}: " if where else ""
    for name, value in v.items():
        if name not in COEFFICIENTS:
            raise ValueError(f"{prefix}unknown coefficient {name!r}; known: {', '.join(COEFFICIENTS)}")
        c = COEFFICIENTS[name]
        if not (c.low <= value <= c.high):
            unit = "" if c.unit == "1" else f" {c.unit}"
            raise ValueError(f"{prefix}{name} = {value:g}{unit} is outside its plausible range "
                             f"[{c.low:g}, {c.high:g}]{unit} ({c.source.split(';')[0]}); a calibration "
                             "may not leave it: refit with `planner calibrate` or bring the value into range")
    return v


class Calibration(StrictModel):
    """Coefficients refitted on measurements; absent ones take the literature priors."""

    schema_version: Literal[1] = 1
    coefficients: dict[str, float] = {}
    per_gpu: dict[str, dict[str, float]] = {}
    per_engine: dict[str, dict[str, float]] = {}
    provenance: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("coefficients")
    @classmethod
    def _global_ranges(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_ranges(v)

    @field_validator("per_gpu", "per_engine")
    @classmethod
    def _group_ranges(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for key, coeffs in v.items():
            _check_ranges(coeffs, key)
        return v

    def for_config(self, gpu_id: str, engine: str) -> dict[str, float]:
        """Coefficients for one GPU and engine: priors < global fit < engine < GPU."""
        merged = coefficient_defaults()
        merged.update(self.coefficients)
        merged.update(self.per_engine.get(engine, {}))
        merged.update(self.per_gpu.get(gpu_id, {}))
        return merged
