"""Content hashes of a plan's inputs, so `planner check` can tell a stale plan from a current one.

A plan records the SHA-256 of its scenario file, of the catalog files, of the calibration file
(``"none"`` without one) and a combined hash over those, the ``--override`` name and the tool
version. Hashes are of file bytes, so commit scenarios with LF line endings (see docs/gitops.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from planner import __version__
from planner.catalog import Catalog
from planner.errors import CalibrationError, InputError
from planner.io.files import read_yaml
from planner.schemas.plan import InputHashes

NO_CALIBRATION = "none"
INPUT_PARTS = ("scenario", "catalog", "calibration")
"""The per-file parts of InputHashes (``combined`` also covers the override and tool version)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    try:
        return sha256_bytes(Path(path).read_bytes())
    except FileNotFoundError:
        raise InputError("file not found", file=str(path), fix="check the path") from None


def combined_hash(scenario: str, catalog: str, calibration: str, override: str | None,
                  tool_version: str | None = None) -> str:
    """One hash over every input part, the override name and the tool version (default: this one)."""
    lines = [f"scenario={scenario}", f"catalog={catalog}", f"calibration={calibration}",
             f"override={override or ''}", f"tool={tool_version or __version__}"]
    return sha256_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def input_hashes(scenario_bytes: bytes, catalog: Catalog, calibration_bytes: bytes | None,
                 override: str | None) -> InputHashes:
    """The ``input_sha256`` block of a plan; ``calibration_bytes`` None means no calibration file."""
    scenario = sha256_bytes(scenario_bytes)
    catalog_hash = catalog.sha256()
    calibration = NO_CALIBRATION if calibration_bytes is None else sha256_bytes(calibration_bytes)
    return InputHashes(scenario=scenario, catalog=catalog_hash, calibration=calibration,
                       combined=combined_hash(scenario, catalog_hash, calibration, override))


def scenario_input_hashes(scenario_path: str | Path, catalog: Catalog, *, override: str | None = None,
                          calibration_path: str | Path | None = None) -> InputHashes:
    """Hashes of a scenario file and the calibration it is solved with (see resolve_calibration).

    `planner solve` and `planner check` both call this, so they always agree.
    """
    path = Path(scenario_path)
    try:
        scenario_bytes = path.read_bytes()
    except FileNotFoundError:
        raise InputError("scenario file not found", file=str(path), fix="check the path") from None
    calibration = resolve_calibration(path, override, calibration_path)
    return input_hashes(scenario_bytes, catalog, _read_calibration(calibration), override)


def resolve_calibration(scenario_path: Path, override: str | None,
                        explicit: str | Path | None = None) -> Path | None:
    """The calibration file a solve uses: ``explicit`` (``--calibration``), else the scenario's
    (or the override's) ``calibration:`` key relative to the scenario file, else the shipped
    default calibration when it exists, else None (the priors)."""
    if explicit:
        return Path(explicit)
    named = calibration_of(scenario_path, override)
    if named is not None:
        return named
    from planner.calibration.coefficients import default_calibration_path

    default = default_calibration_path()
    return default if default.is_file() else None


def calibration_of(scenario_path: Path, override: str | None) -> Path | None:
    """The calibration file a scenario names (an override's ``calibration:`` wins), or None."""
    doc = read_yaml(scenario_path)
    if not isinstance(doc, dict):
        return None
    name = doc.get("calibration")
    patch: Any = (doc.get("overrides") or {}).get(override) if override else None
    if isinstance(patch, dict) and "calibration" in patch:
        name = patch["calibration"]
    return scenario_path.parent / name if isinstance(name, str) and name else None


def _read_calibration(path: str | Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CalibrationError("calibration file not found", file=str(path),
                               fix="fix the scenario's `calibration:` path") from None
