"""Bring the parsed JSON of an older or newer-minor plan to the shape of the current schema (pure: dict -> dict).

- A 1.x plan gets the 2.0 shape (its ``schema_version`` still says which schema wrote the file, so a
  report of it names that version; running this again on the result changes nothing): counts
  written as floats (``racks: 8.0``) become integers, each what-if
  entry gains ``objective_delta`` and ``objective_unit`` beside its ``objective_delta_<unit>`` key, and
  the ``analysis`` section is derived (1.x recorded a skipped analysis only as a note among the
  assumptions, so this is the one place that reads that note). No key is renamed and no figure
  changes; a key 1.1 did not have is refused by the schema, as in a 2.0 plan (an edited plan).
- A plan of a minor version newer than the last this planner knows of its major (1.2+, 2.1+) loses
  the keys this version does not know (semantic versioning: a minor version only adds keys).

Nothing here prints: the command line says when a plan was migrated (see planner.cli).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel

from planner.schemas.plan import DELTA_KEY_PREFIX, PLAN_SCHEMA_VERSION, Plan

COUNT_KEYS: dict[str, tuple[str, ...]] = {
    "site": ("racks", "rack_units", "carbon_year", "circuit_phases"),
    "workloads": ("redundancy",),
    "objective_alternatives": ("gpus",),
}
"""Keys 1.x wrote as floats (2.0 writes integers), per section."""

SKIPPED_NOTE = re.compile(r"were skipped(?::\s*(?P<why>.+))?", re.DOTALL)
"""How 1.x solve worded the note of a skipped analysis (optimize.solve, planner 1.x)."""
NOT_RECORDED = "not recorded: the plan (schema {version}) lists no what-if result and no reason"


def major_minor(version: str) -> tuple[int, int] | None:
    """``(MAJOR, MINOR)`` of a ``MAJOR.MINOR.PATCH`` version, or None when it is not one."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version) if isinstance(version, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


LAST_KNOWN_MINOR: dict[int, int] = {1: 1}
"""The newest minor version of each older major this planner knows (1.1); the current major's is its own."""


def needs_migration(version: str) -> bool:
    """True when a plan of this schema version is not read as it is (1.x, or a newer 2.x minor)."""
    have, ours = major_minor(version), major_minor(PLAN_SCHEMA_VERSION)
    return have is not None and ours is not None and (have[0] < ours[0] or have > ours)


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` in the current schema's shape (a copy; ``data`` is left alone)."""
    version = major_minor(data.get("schema_version", ""))
    ours = major_minor(PLAN_SCHEMA_VERSION)
    if version is None or ours is None or not needs_migration(data["schema_version"]):
        return data
    if version[0] == 1:
        data = from_1x(data)
    last_minor = LAST_KNOWN_MINOR.get(version[0], ours[1])
    return drop_unknown_keys(data, Plan) if version[1] > last_minor else data


def from_1x(data: dict[str, Any]) -> dict[str, Any]:
    """A 1.x plan as a 2.0 one (see the module docstring)."""
    out = dict(data)  # schema_version stays: it says which schema the file was written with
    for section, keys in COUNT_KEYS.items():
        value = out.get(section)
        if isinstance(value, dict):
            out[section] = _whole_numbers(value, keys)
        elif isinstance(value, list):
            out[section] = [_whole_numbers(row, keys) if isinstance(row, dict) else row for row in value]
    if isinstance(out.get("what_if"), list):
        out["what_if"] = [_what_if(e) if isinstance(e, dict) else e for e in out["what_if"]]
    if "analysis" not in out:
        out["analysis"] = analysis_of_1x(out, str(data.get("schema_version")))
    return out


def _whole_numbers(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``row`` with each of ``keys`` that holds a whole float (or, for a year, digits) as an int."""
    out = dict(row)
    for key in keys:
        value = out.get(key)
        whole = isinstance(value, float) and value.is_integer()
        year_text = key == "carbon_year" and isinstance(value, str) and value.isdigit()
        if whole or year_text:
            out[key] = int(value)  # type: ignore[arg-type]
    return out


def _what_if(entry: dict[str, Any]) -> dict[str, Any]:
    named = [k for k in entry if isinstance(k, str) and k.startswith(DELTA_KEY_PREFIX)]
    if len(named) != 1 or "objective_unit" in entry:
        return entry  # not a 1.x entry planner wrote: validation names what is wrong
    return {**entry, "objective_delta": entry[named[0]], "objective_unit": named[0].removeprefix(DELTA_KEY_PREFIX)}


def analysis_of_1x(data: dict[str, Any], version: str) -> dict[str, Any]:
    """The 2.0 ``analysis`` of a 1.x plan. 1.x computed what-if values and objective alternatives together
    (what_if alone is empty when no limit binds): done when either is listed, else skipped, with the
    reason its note gives."""
    if data.get("what_if") or data.get("objective_alternatives"):
        return {"what_if": "done", "objective_alternatives": "done", "skipped_reason": None}
    return {"what_if": "skipped", "objective_alternatives": "skipped",
            "skipped_reason": _skip_reason(data.get("assumptions")) or NOT_RECORDED.format(version=version)}


def _skip_reason(assumptions: Any) -> str | None:
    for row in assumptions if isinstance(assumptions, list) else []:
        value = row.get("value") if isinstance(row, dict) and row.get("name") == "note" else None
        match = SKIPPED_NOTE.search(value) if isinstance(value, str) else None
        if match:
            return str(match.group("why") or value).strip()
    return None


def drop_unknown_keys(data: Any, model: type[BaseModel]) -> Any:
    """``data`` without the keys ``model`` (and the models of its fields, nested) does not have."""
    if not isinstance(data, dict):
        return data
    fields = model.model_fields
    return {k: _known(v, fields[k].annotation) for k, v in data.items() if k in fields}


def _known(value: Any, annotation: Any) -> Any:
    """``value`` pruned by the model the annotation names (directly, in a list, or in an Optional)."""
    for candidate in _models_in(annotation):
        if isinstance(value, dict):
            return drop_unknown_keys(value, candidate)
        if isinstance(value, list):
            return [drop_unknown_keys(v, candidate) for v in value]
    return value


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
