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
from typing import Literal

from pydantic import Field, field_validator

from planner.core.constants import COEFFICIENTS, coefficient_defaults
from planner.errors import CalibrationError
from planner.io.files import MAX_YAML_BYTES, parse_yaml, validate_data
from planner.paths import data_dir
from planner.schemas.base import StrictModel

DEFAULT_CALIBRATION = "calibration.yaml"


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


def default_calibration_path() -> Path:
    return data_dir() / DEFAULT_CALIBRATION


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int = 0, size: int = 0, name: str = "") -> tuple[Calibration, str]:
    """Parse and validate a calibration file; the cache key includes its mtime and size, so a file
    rewritten by `planner calibrate` in the same process is read again. ``name``: the path as the
    user gave it, for messages (``path`` is resolved: a symlink's target)."""
    from planner.calibration.measurements import read_bounded

    name = name or path
    if not Path(path).exists():
        raise CalibrationError("calibration file not found", file=name,
                               fix="run `planner calibrate MEASUREMENTS.csv --out FILE`")
    raw = read_bounded(name, "calibration file", MAX_YAML_BYTES)  # hashed and parsed from the same bytes
    cal = validate_data(Calibration, parse_yaml(raw, name), name)
    return cal, hashlib.sha256(raw).hexdigest()


def load_calibration(path: str | Path | None = None) -> tuple[Calibration, str]:
    """(calibration, sha256 of its file). None means the shipped default (priors if absent)."""
    if path is None:
        default = default_calibration_path()
        if not default.exists():
            return Calibration(), hashlib.sha256(b"priors").hexdigest()
        path = default
    p = Path(path).resolve()
    st = p.stat() if p.is_file() else None
    return _load(str(p), st.st_mtime_ns if st else 0, st.st_size if st else 0, str(path))


YAML_HEADER = """\
# Calibration of planner's estimation core: coefficients refitted on measured points.
# Written by `planner calibrate` (see provenance); regenerate it rather than edit it. Every value
# lies inside its plausible range (planner/core/constants.py); a file with one outside is refused.
"""


def calibration_yaml(cal: Calibration) -> str:
    """The calibration as YAML text: fixed key order (coefficients in the core's order), so the same
    fit gives the same bytes."""
    import yaml

    order = list(COEFFICIENTS)

    def ordered(d: dict[str, float]) -> dict[str, float]:
        return {k: float(d[k]) for k in order if k in d}

    doc = {
        "schema_version": cal.schema_version,
        "coefficients": ordered(cal.coefficients),
        "per_gpu": {g: ordered(c) for g, c in sorted(cal.per_gpu.items())},
        "per_engine": {e: ordered(c) for e, c in sorted(cal.per_engine.items())},
        "provenance": dict(cal.provenance),
    }
    return YAML_HEADER + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)


def calibration_info(path: str | Path | None, data_sha256: str | None = None) -> tuple[Calibration, dict]:
    """(calibration, a description for reports) of a file, the shipped default (None) or the priors.

    The description names the file by its base name only, so reports do not depend on where the
    repository lives; it says whether the calibration was fitted on the data with ``data_sha256``.
    """
    cal, sha = load_calibration(path)
    if path is None and not default_calibration_path().exists():
        return cal, {"file": None, "sha256": sha, "provenance": {}, "label": "priors (no calibration file)"}
    name = Path(path).name if path is not None else f"{DEFAULT_CALIBRATION} (shipped default)"
    prov = dict(cal.provenance)
    label = name
    if prov:
        label += (f", fitted {prov.get('date', '?')} on {prov.get('data_file', '?')} "
                  f"({prov.get('fitted_rows', '?')} of {prov.get('rows', '?')} rows fitted)")
        if data_sha256 is not None:
            same = prov.get("data_sha256") == data_sha256
            label += "; these measurements (in sample)" if same else "; other data (out of sample)"
    return cal, {"file": name, "sha256": sha, "provenance": prov, "label": label}
