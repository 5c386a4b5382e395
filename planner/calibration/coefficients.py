"""Calibration files: read (bounded, validated, hashed) and write the refitted coefficients.

The schema (and its range checks) is planner.schemas.calibration.Calibration; the estimation core
takes a Calibration object and never reads this file itself.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from planner.core.constants import COEFFICIENTS
from planner.errors import CalibrationError
from planner.io.files import MAX_YAML_BYTES, parse_yaml, validate_data
from planner.paths import data_dir
from planner.schemas.calibration import Calibration

__all__ = ["DEFAULT_CALIBRATION", "calibration_info", "calibration_yaml", "default_calibration_path",
           "load_calibration", "read_calibration_file"]

DEFAULT_CALIBRATION = "calibration.yaml"


def default_calibration_path() -> Path:
    return data_dir() / DEFAULT_CALIBRATION


_RUN_CALIBRATE = "run `planner calibrate MEASUREMENTS.csv --out FILE`"


def read_calibration_file(path: str | Path, *, missing_fix: str = _RUN_CALIBRATE) -> tuple[Calibration, bytes]:
    """Parse and validate one calibration file, with the bytes it was parsed from (read once, bounded:
    callers hash these bytes). Every reader of a calibration file goes through here."""
    from planner.calibration.measurements import read_bounded

    name = str(path)
    if not Path(path).exists():
        raise CalibrationError("calibration file not found", file=name, fix=missing_fix)
    raw = read_bounded(name, "calibration file", MAX_YAML_BYTES)
    return validate_data(Calibration, parse_yaml(raw, name), name), raw


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int = 0, size: int = 0, name: str = "") -> tuple[Calibration, str]:
    """read_calibration_file, cached: the key includes the file's mtime and size, so a file rewritten
    by `planner calibrate` in the same process is read again. ``name``: the path as the user gave it,
    for messages (``path`` is resolved: a symlink's target)."""
    if not Path(path).exists():
        raise CalibrationError("calibration file not found", file=name or path, fix=_RUN_CALIBRATE)
    cal, raw = read_calibration_file(name or path)
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
