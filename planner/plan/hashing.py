"""Content hashes of a plan's inputs, so `planner check` can tell a stale plan from a current one.

A plan records a SHA-256 of its scenario, of the catalog files, of the calibration file
(``"none"`` without one) and a combined hash over those, the ``--override`` name and the tool
version. The scenario and calibration hashes are of their parsed content, not of their bytes, so
what does not change the solve does not make a plan stale:

- scenario: canonical JSON (sorted keys, whole-number floats as integers) of the YAML document, so
  comments, blank lines, key order, quoting, flow or block style and line endings do not count;
- calibration: the same, without ``provenance.date`` (re-fitting the same data on another day);
- catalog: the files' bytes, as before (see Catalog.sha256).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from planner import __version__
from planner.catalog import Catalog
from planner.errors import InputError
from planner.io.files import parse_yaml, read_bounded
from planner.schemas.plan import InputHashes

NO_CALIBRATION = "none"
MAX_HASHED_BYTES = 64 * 1024 * 1024
"""Largest file sha256_file reads."""
INPUT_PARTS = ("scenario", "catalog", "calibration")
"""The per-file parts of InputHashes (``combined`` also covers the override and tool version)."""
IGNORED_CALIBRATION_KEYS = (("provenance", "date"),)
"""Calibration keys left out of its hash: they record when, not what, was fitted."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    try:
        return sha256_bytes(read_bounded(path, MAX_HASHED_BYTES))
    except (FileNotFoundError, IsADirectoryError):
        raise InputError("file not found", file=str(path), fix="check the path") from None


def _canonical(data: Any) -> Any:
    """``data`` with string keys and whole-number floats as integers (``30.0`` reads as ``30``)."""
    if isinstance(data, dict):
        return {str(k): _canonical(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_canonical(v) for v in data]
    if isinstance(data, float) and data.is_integer():
        return int(data)
    return data


def canonical_json(data: Any) -> str:
    """One text per content: sorted keys, no spaces, UTF-8 as is; dates and other YAML scalars
    that JSON lacks as their ISO/str form."""
    return json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def content_sha256(data: Any) -> str:
    """Hex SHA-256 of ``data``'s canonical JSON."""
    return sha256_bytes(canonical_json(data).encode("utf-8"))


def parse_yaml_bytes(data: bytes, file: str = "<yaml>") -> Any:
    """``yaml.safe_load`` of file bytes within planner's size bounds; a problem is one InputError naming
    the file (the same reader as every other YAML file, so a hash never expands a "billion laughs")."""
    return parse_yaml(data, file)


def scenario_sha256(doc: Any) -> str:
    """Hash of a parsed scenario document: what it says, not how it is written."""
    return content_sha256(doc)


def calibration_sha256(doc: Any) -> str:
    """Hash of a parsed calibration document without IGNORED_CALIBRATION_KEYS."""
    doc = copy.deepcopy(doc)
    for parent, key in IGNORED_CALIBRATION_KEYS:
        section = doc.get(parent) if isinstance(doc, dict) else None
        if isinstance(section, dict):
            section.pop(key, None)
    return content_sha256(doc)


def combined_hash(scenario: str, catalog: str, calibration: str, override: str | None,
                  tool_version: str | None = None) -> str:
    """One hash over every input part, the override name and the tool version (default: this one)."""
    lines = [f"scenario={scenario}", f"catalog={catalog}", f"calibration={calibration}",
             f"override={override or ''}", f"tool={tool_version or __version__}"]
    return sha256_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def _hashes(scenario_doc: Any, catalog: Catalog, calibration_doc: Any, has_calibration: bool,
            override: str | None) -> InputHashes:
    scenario = scenario_sha256(scenario_doc)
    catalog_hash = catalog.sha256()
    calibration = calibration_sha256(calibration_doc) if has_calibration else NO_CALIBRATION
    return InputHashes(scenario=scenario, catalog=catalog_hash, calibration=calibration,
                       combined=combined_hash(scenario, catalog_hash, calibration, override))


def input_hashes(scenario_bytes: bytes, catalog: Catalog, calibration_bytes: bytes | None,
                 override: str | None) -> InputHashes:
    """The ``input_sha256`` block of a plan from the scenario's and calibration's file bytes (parsed
    here: see scenario_sha256, calibration_sha256); ``calibration_bytes`` None means no file."""
    calibration = None if calibration_bytes is None else parse_yaml_bytes(calibration_bytes, "calibration")
    return _hashes(parse_yaml_bytes(scenario_bytes, "scenario"), catalog, calibration,
                   calibration_bytes is not None, override)
