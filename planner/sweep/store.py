"""Completed variants on disk, so that an interrupted sweep resumes where it stopped.

``DIR/variants/NNNNN.json`` holds a variant's record (its values, input hash, status, reason and the
table's figures) and ``DIR/variants/NNNNN.plan.json`` its plan (the bytes of a serial ``planner solve``;
``planner report`` renders it). Both are written together and atomically; the record is renamed into
place last, so a record on disk always has its plan. A re-run keeps a record whose input hash is the
variant's and solves the others again.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from planner.io.files import write_together
from planner.sweep.prepare import Task
from planner.sweep.variants import Variant
from planner.sweep.worker import Outcome

Record = dict[str, Any]
MAX_RECORD_BYTES = 1024 * 1024
PLANNED = ("optimal", "feasible")
"""Statuses that come with a plan."""
STATUSES = (*PLANNED, "infeasible", "no_solution", "error")
"""Every status a record holds (planner.sweep.worker.Outcome.status)."""
TOTALS = ("gpus", "servers", "racks", "it_power_nameplate_w", "it_power_max_w", "capex_usd", "tco_per_year_usd",
          "joules_per_output_token", "usd_per_million_tokens")
"""The plan totals a planned record's figures hold (planner.sweep.worker.figures), as the table's columns."""
_RECORD_KEYS = frozenset({"variant", "input_sha256", "values", "status", "reason", "figures", "plan_sha256"})


class Store:
    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / "variants"

    def record_path(self, index: int) -> Path:
        return self.folder / f"{index:05d}.json"

    def plan_path(self, index: int) -> Path:
        return self.folder / f"{index:05d}.plan.json"

    def completed(self, tasks: list[Task], variants: list[Variant] | None = None) -> dict[int, Record]:
        """Index -> record of every variant already solved with the same inputs; stale files of variants
        the sweep no longer has are removed. A record that is not as this planner writes it (edited,
        corrupt, or with other ``variants`` values) is solved again."""
        keys = {t.index: t.input_sha256 for t in tasks}
        values = {v.index: _canonical(v.as_dict) for v in variants or []}
        out = {}
        for path in sorted(self.folder.glob("[0-9]*.json")) if self.folder.is_dir() else []:
            index = _index(path)
            if index is None:
                continue
            if index not in keys:
                path.unlink(missing_ok=True)
            elif not path.name.endswith(".plan.json"):
                record = self._read(path)
                if record is not None and record.get("input_sha256") == keys[index] and record.get("variant") == index \
                        and _canonical(record["values"]) == values.get(index, _canonical(record["values"])):
                    out[index] = record
        return out

    def _read(self, path: Path) -> Record | None:
        """The record, or None when it is unreadable or its plan is missing (solved again)."""
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                return None
            record = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        except (OSError, ValueError, RecursionError):
            return None
        if not well_formed(record):
            return None
        if record.get("status") in PLANNED and not self._plan_matches(record):
            return None
        return record

    def _plan_matches(self, record: Record) -> bool:
        try:
            data = self.plan_path(int(record["variant"])).read_bytes()
        except (OSError, KeyError, TypeError, ValueError):
            return False
        return hashlib.sha256(data).hexdigest() == record.get("plan_sha256")

    def save(self, variant: Variant, outcome: Outcome) -> Record:
        record = make_record(variant, outcome)
        files: dict[Path, str] = {}
        if outcome.plan_text is not None:
            files[self.plan_path(variant.index)] = outcome.plan_text
        else:
            self.plan_path(variant.index).unlink(missing_ok=True)
        files[self.record_path(variant.index)] = dump_record(record)
        write_together(files)
        return record


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON a record holds")


def _canonical(values: Any) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _figures_ok(status: str, f: Any) -> bool:
    if status not in PLANNED:
        return f == {}
    if not isinstance(f, dict) or set(f) != {*TOTALS, "gpus_by_type", "configurations"}:
        return False
    by_gpu = f["gpus_by_type"]
    return (all(_number(f[k]) for k in TOTALS) and isinstance(f["configurations"], str)
            and isinstance(by_gpu, dict) and all(isinstance(g, str) and _number(n) for g, n in by_gpu.items()))


def well_formed(record: Any) -> bool:
    """A record as ``make_record`` writes it: the keys, their types, a known status, finite figures."""
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        return False
    r = record
    return (type(r["variant"]) is int and isinstance(r["input_sha256"], str) and isinstance(r["values"], dict)
            and r["status"] in STATUSES and isinstance(r["reason"], str)
            and (r["plan_sha256"] is None or isinstance(r["plan_sha256"], str))
            and _figures_ok(r["status"], r["figures"]))


def _index(path: Path) -> int | None:
    """The variant of a file the store writes (NNNNN.json, NNNNN.plan.json); None for any other name, which the
    store neither reads nor removes (a file of the user's in the folder stays)."""
    stem = path.name.removesuffix(".json").removesuffix(".plan")
    if not (stem.isascii() and stem.isdigit()) or f"{int(stem):05d}" != stem:
        return None
    return int(stem)


def make_record(variant: Variant, outcome: Outcome) -> Record:
    plan = outcome.plan_text
    return {"variant": variant.index, "input_sha256": outcome.input_sha256, "values": variant.as_dict,
            "status": outcome.status, "reason": outcome.reason, "figures": outcome.figures,
            "plan_sha256": hashlib.sha256(plan.encode("utf-8")).hexdigest() if plan is not None else None}


def dump_record(record: Record) -> str:
    """Deterministic text (sorted keys); values as given, not rounded."""
    return json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
