"""Read and write ``plan.json``: byte-reproducible on write, clear errors on read.

Writing is deterministic so that a committed plan changes only when the plan does: keys sorted,
every float rounded to ``FLOAT_SIGNIFICANT_DIGITS`` significant digits (which also hides
last-bit differences between machines), no timestamps, the solver's wall time written as 0,
two-space indentation, UTF-8 and a trailing newline.

Reading follows semantic versioning: a plan of a newer *minor* schema version loads (the keys it
adds are dropped); a plan of schema 1.x is migrated to 2.0 on read (planner.plan.migrate); any other
major version is refused with a message. The bounded reader (size, depth, list length, text length,
finite numbers) runs before anything else; the schema's strict models check every value.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from planner.errors import PlanFileError
from planner.io.files import describe_validation_error, read_bounded, write_atomic
from planner.plan.migrate import major_minor, needs_migration, upgrade
from planner.schemas.plan import PLAN_SCHEMA_VERSION, Plan

FLOAT_SIGNIFICANT_DIGITS = 6
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_RESOLVE_FIX = "re-create it with `planner solve SCENARIO`"
_CORRUPT_FIX = f"the file is corrupt; {_RESOLVE_FIX}"


def round_float(x: float, digits: int = FLOAT_SIGNIFICANT_DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits; -0.0 becomes 0.0. Idempotent."""
    if not math.isfinite(x):
        raise ValueError(f"a plan cannot hold a non-finite number: {x!r}")
    rounded = float(f"{x:.{digits}g}")
    return rounded + 0.0  # -0.0 + 0.0 == 0.0


def round_floats(data: Any) -> Any:
    """A copy of JSON-like ``data`` with every float rounded (bools and ints left alone); a plan section
    (a pydantic model, such as a deployment's launch spec in a diff) becomes its JSON data first."""
    if isinstance(data, BaseModel):
        return round_floats(data.model_dump(mode="json"))
    if isinstance(data, float):
        return round_float(data)
    if isinstance(data, dict):
        return {k: round_floats(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [round_floats(v) for v in data]
    return data


def dump_json(data: Any) -> str:
    """Deterministic JSON text: sorted keys, rounded floats, UTF-8 as is, trailing newline."""
    return json.dumps(round_floats(data), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def dump_plan(plan: Plan, *, keep_solve_time: bool = False) -> str:
    """``plan`` as the text of ``plan.json``; the same plan always gives the same bytes.

    The solver's wall time varies from run to run, so it is written as 0 unless
    ``keep_solve_time`` is asked for.
    """
    data = as_written(plan).model_dump(mode="json")
    if not keep_solve_time:
        data["solver"]["time_s"] = 0.0
    return dump_json(data)


def as_written(plan: Plan) -> Plan:
    """``plan`` validated again, as the file will hold it: sections that were replaced with plain
    dicts (``model_copy(update=...)`` does not validate) become their models, and an ``analysis``
    the plan was not given is derived from its final what-if lists."""
    data = round_floats(plan.model_dump(warnings=False))  # a NaN or infinity is a bug: refused here, named
    if "analysis" not in plan.model_fields_set:
        del data["analysis"]
    return Plan.model_validate(data)


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write ``plan.json`` atomically (a reader never sees half a file)."""
    write_atomic(path, dump_plan(plan))


def normalize_plan(plan: Plan) -> Plan:
    """The plan as it reads back from its file (rounded floats), for comparing with loaded plans."""
    return parse_plan(dump_plan(plan), "<plan>")


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; every problem is a PlanFileError naming the file and the fix.
    A plan of schema 1.x is migrated silently (``read_plan`` says so)."""
    return read_plan(path).plan


@dataclass(frozen=True)
class ReadPlan:
    """A plan as read from its file. Its ``schema_version`` is the file's; a 1.x plan has the 2.0 shape."""
    plan: Plan

    @property
    def migrated(self) -> bool:
        return needs_migration(self.plan.schema_version)

    def migration_note(self, file: str) -> str | None:
        """One line for stderr when the plan was migrated on read; None otherwise."""
        if not self.migrated:
            return None
        have, ours = major_minor(self.plan.schema_version), major_minor(PLAN_SCHEMA_VERSION)
        if have is not None and ours is not None and have > ours:  # a newer minor: re-solving here would downgrade
            return (f"{file}: schema {self.plan.schema_version} is newer than this planner's {PLAN_SCHEMA_VERSION}: "
                    "read without the keys this planner does not know; upgrade planner to read all of it")
        return (f"{file}: schema {self.plan.schema_version}, migrated on read to {PLAN_SCHEMA_VERSION}; "
                f"re-solve to write {PLAN_SCHEMA_VERSION}")


def read_plan(path: str | Path) -> ReadPlan:
    """The plan of a file, and whether it was migrated on read."""
    return parse_plan_text(_read_text(Path(path)), str(path))


def parse_plan(text: str, file: str) -> Plan:
    """Validate the text of a plan file (``file`` names it in messages)."""
    return parse_plan_text(text, file).plan


def parse_plan_text(text: str, file: str) -> ReadPlan:
    data = _parse_json(text, file)
    _check_is_plan(data, file)
    version = data["schema_version"]
    _check_version(version, file)
    try:
        plan = Plan.model_validate(upgrade(data))
    except ValidationError as exc:
        details = describe_validation_error(exc, None).replace("\n", "; ")
        raise PlanFileError(f"not a valid plan (schema {version}): {details}",
                            file=file, fix=_RESOLVE_FIX) from None
    _check_period_labels(plan, file)
    return ReadPlan(plan)


def _check_period_labels(plan: Plan, file: str) -> None:
    """A roadmap's periods are told apart by label (diff, check and the report match them by it)."""
    labels = [p.label for p in plan.periods or []]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise PlanFileError(f"period label {label[:80]!r} is also periods[{labels.index(label)}]'s",
                                file=file, key_path=f"periods[{i}].label",
                                fix=f"each period has its own label: the file was edited or is corrupt; {_RESOLVE_FIX}")


MAX_PLAN_BYTES = 64 * 1024 * 1024
"""Largest plan file read (a 1 MW plan is about 50 kB)."""
MAX_PLAN_DEPTH = 32
"""Deepest nesting of objects and arrays (a plan nests 4 levels)."""
MAX_PLAN_LIST_ITEMS = 10_000
"""Longest list (a 1 MW plan has about 30 racks; 10,000 racks is a 300 MW site)."""
MAX_PLAN_STRING_CHARS = 65_536
"""Longest text (the longest a scenario's YAML may hold: planner.io.files.MAX_YAML_SCALAR_CHARS)."""
MAX_PLAN_NUMBER = 1e24
"""Largest magnitude of a number in a plan. The largest a plan holds is a prefill's FLOPs, about 1e15 at 128k
tokens (4e19 at 10M tokens of a 2T-parameter model); a 1 GW fleet's annual energy is 3e16 J. A larger number
is an edit, and 10**400 or 1e308 would overflow the report's and check's arithmetic (float conversion, sums)."""


def _read_text(path: Path) -> str:
    try:
        return read_bounded(path, MAX_PLAN_BYTES, PlanFileError).decode("utf-8")
    except FileNotFoundError:
        raise PlanFileError("plan file not found", file=str(path),
                            fix=f"check the path, or {_RESOLVE_FIX}") from None
    except IsADirectoryError:
        raise PlanFileError("is a directory, expected a plan.json file", file=str(path),
                            fix="pass the plan.json inside it") from None
    except UnicodeDecodeError:
        raise PlanFileError("is not UTF-8 text, so it is not a plan file", file=str(path),
                            fix=_RESOLVE_FIX) from None


def _parse_json(text: str, file: str) -> Any:
    """JSON within MAX_PLAN_DEPTH holding only finite numbers (json accepts NaN, Infinity and 1e999)."""
    _check_depth(text, file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
                            file=file, fix=_CORRUPT_FIX) from None
    _check_values(data, file)
    return data


def _check_depth(text: str, file: str) -> None:
    """Refuse nesting deeper than MAX_PLAN_DEPTH before parsing (json.loads recurses per level)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_PLAN_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                raise PlanFileError(f"line {line}: nested deeper than {MAX_PLAN_DEPTH} levels, so it is not a plan",
                                    file=file, fix=_CORRUPT_FIX)
        elif token in "]}":
            depth -= 1


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
"""A JSON string (skipped whole, so brackets inside it do not count) or one bracket."""


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone UTF-16 surrogate, which JSON can escape (\\ud800) but no UTF-8 output can hold."""


def _check_values(data: Any, file: str) -> None:
    """Refuse a NaN or infinity anywhere, text no UTF-8 output can hold, and lists longer than
    MAX_PLAN_LIST_ITEMS (depth is already bounded); the message names the key path."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value) or isinstance(value, dict) and any(
                _SURROGATE.search(str(k)) for k in value):
            raise PlanFileError("holds a lone surrogate escape (\\ud800-\\udfff), which is not text",
                                file=file, key_path=path or "(top level)", fix=_CORRUPT_FIX)
        if isinstance(value, str) and len(value) > MAX_PLAN_STRING_CHARS:
            raise PlanFileError(f"text of {len(value):,} characters, more than the {MAX_PLAN_STRING_CHARS:,} a plan "
                                "holds", file=file, key_path=path or "(top level)", fix=_CORRUPT_FIX)
        if isinstance(value, float) and not math.isfinite(value):
            raise PlanFileError(f"{value!r} is not a finite number", file=file, key_path=path or "(top level)",
                                fix=f"a plan holds only finite numbers: it was edited or is corrupt; {_RESOLVE_FIX}")
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > MAX_PLAN_NUMBER:
            shown = f"{value:.3g}" if isinstance(value, float) else f"a {len(str(abs(value)))}-digit integer"
            raise PlanFileError(f"{shown} is larger than any figure a plan holds (at most {MAX_PLAN_NUMBER:g})",
                                file=file, key_path=path or "(top level)",
                                fix=f"it was edited or is corrupt; {_RESOLVE_FIX}")
        if isinstance(value, dict):
            stack += [(f"{path}.{str(k)[:60]}" if path else str(k)[:60], v) for k, v in reversed(value.items())]
        elif isinstance(value, list):
            if len(value) > MAX_PLAN_LIST_ITEMS:
                raise PlanFileError(f"{len(value):,} items, more than the {MAX_PLAN_LIST_ITEMS:,} a plan list holds",
                                    file=file, key_path=path or "(top level)", fix=_CORRUPT_FIX)
            stack += [(f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value)))]


def _check_is_plan(data: Any, file: str) -> None:
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise PlanFileError(f"not a planner plan: the JSON top level is a {kind}, expected an object "
                            "with `schema_version`", file=file, fix="pass a plan.json written by planner")
    if "schema_version" not in data:
        keys = ", ".join(sorted(str(k) for k in data)[:6]) or "none"
        raise PlanFileError(f"not a planner plan: no `schema_version` key (top-level keys: {keys})",
                            file=file, fix="pass a plan.json written by planner")


OLDEST_MAJOR_READ = 1
"""Plans of schema 1.x are migrated on read (planner.plan.migrate)."""


def schema_major(version: str) -> int | None:
    """The MAJOR number of a ``MAJOR.MINOR.PATCH`` version, or None when it is not one."""
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    return int(match.group(1)) if match else None


def _check_version(version: Any, file: str) -> None:
    major = schema_major(version)
    supported = schema_major(PLAN_SCHEMA_VERSION)
    if major is None:
        raise PlanFileError(f"schema_version {version!r} is not MAJOR.MINOR.PATCH", file=file,
                            fix=_RESOLVE_FIX)
    if major > supported:  # type: ignore[operator]
        raise PlanFileError(f"plan schema {version} is newer than this planner reads ({supported}.x)",
                            file=file, fix="upgrade planner (pip install -U planner) to read it")
    if major < OLDEST_MAJOR_READ:
        raise PlanFileError(f"plan schema {version} is older than this planner reads ({OLDEST_MAJOR_READ}.x to "
                            f"{supported}.x)",
                            file=file, fix=_RESOLVE_FIX)
