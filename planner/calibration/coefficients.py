"""Calibration files: the refitted coefficients with their provenance.

A calibration YAML (written by `planner calibrate`) looks like::

    schema_version: 1
    coefficients: {eta_weight_bw: 0.83, ...}
    per_gpu: {h100-sxm: {eta_compute: 0.5}}      # optional, only GPUs the data covers
    provenance: {data_sha256: ..., rows: 48, date: 2026-11-21, command: ...}

Every coefficient must lie inside its plausible range (planner.core.constants.COEFFICIENTS).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from planner.core.constants import COEFFICIENTS, coefficient_defaults
from planner.errors import CalibrationError
from planner.io.files import read_yaml, validate_data
from planner.paths import data_dir
from planner.schemas.base import StrictModel

DEFAULT_CALIBRATION = "calibration.yaml"


def _check_ranges(v: dict[str, float], where: str) -> dict[str, float]:
    for name, value in v.items():
        if name not in COEFFICIENTS:
            raise ValueError(f"{where}: unknown coefficient {name!r}; known: {', '.join(COEFFICIENTS)}")
        c = COEFFICIENTS[name]
        if not (c.low <= value <= c.high):
            raise ValueError(f"{where}: {name}={value} is outside its plausible range [{c.low}, {c.high}] "
                             f"({c.unit}; {c.source.split(';')[0]})")
    return v


class Calibration(StrictModel):
    schema_version: int = 1
    coefficients: dict[str, float] = {}
    per_gpu: dict[str, dict[str, float]] = {}
    per_engine: dict[str, dict[str, float]] = {}
    provenance: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("coefficients")
    @classmethod
    def _global_ranges(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_ranges(v, "coefficients")

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


def default_calibration_path() -> Path:
    return data_dir() / DEFAULT_CALIBRATION


@lru_cache(maxsize=8)
def _load(path: str) -> tuple[Calibration, str]:
    p = Path(path)
    if not p.exists():
        raise CalibrationError("calibration file not found", file=path,
                               fix="run `planner calibrate MEASUREMENTS.csv --out FILE`")
    data = read_yaml(p)
    cal = validate_data(Calibration, data, path)
    return cal, hashlib.sha256(p.read_bytes()).hexdigest()


def load_calibration(path: str | Path | None = None) -> tuple[Calibration, str]:
    """(calibration, sha256 of its file). None means the shipped default (priors if absent)."""
    if path is None:
        default = default_calibration_path()
        if not default.exists():
            return Calibration(), hashlib.sha256(b"priors").hexdigest()
        path = default
    return _load(str(Path(path).resolve()))
