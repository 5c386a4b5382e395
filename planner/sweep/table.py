"""The sweep's tidy table: one row per variant in variant order, its inputs, decisions and totals.

Columns: ``variant``, one column per key path (grid, then sampled), ``status``, ``gpus_<gpu id>`` for
every GPU type some variant buys (sorted), then the totals below, the chosen configurations and the
reason of an infeasible variant. Numbers are written as plan.json writes them (6 significant
digits); a list or mapping value as compact JSON; nothing holds a path of the machine.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from planner.plan.io import round_float
from planner.sweep.store import TOTALS, Record

GPU_PREFIX = "gpus_"


def gpu_types(records: list[Record]) -> list[str]:
    return sorted({g for r in records for g in r["figures"].get("gpus_by_type", {})})


def columns(key_paths: list[str], records: list[Record]) -> list[str]:
    return ["variant", *key_paths, "status", *(GPU_PREFIX + g for g in gpu_types(records)), *TOTALS,
            "configurations", "reason"]


def rows(key_paths: list[str], records: list[Record]) -> list[dict[str, Any]]:
    """Each record as a flat row (None where a variant has no plan)."""
    gpus = gpu_types(records)
    out = []
    for r in records:
        f = r["figures"]
        planned = bool(f)
        row: dict[str, Any] = {"variant": r["variant"], **{k: r["values"][k] for k in key_paths}, "status": r["status"]}
        row.update({GPU_PREFIX + g: f["gpus_by_type"].get(g, 0) if planned else None for g in gpus})
        row.update({k: f.get(k) for k in TOTALS})
        row["configurations"] = f.get("configurations", "")
        row["reason"] = "; ".join(line.strip() for line in r["reason"].splitlines() if line.strip())
        out.append(row)
    return out


def cell(value: Any) -> str:
    """A value as CSV text: the same text on every machine."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round_float(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_csv(key_paths: list[str], records: list[Record]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = columns(key_paths, records)
    writer.writerow(names)
    for row in rows(key_paths, records):
        writer.writerow([cell(row[c]) for c in names])
    return buf.getvalue()


def to_parquet(key_paths: list[str], records: list[Record]) -> bytes | None:
    """The table as Parquet bytes, or None when pyarrow is not installed (it is not a dependency)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    import pandas as pd

    names = columns(key_paths, records)
    data = rows(key_paths, records)
    frame = pd.DataFrame({c: [_scalar(row[c]) for row in data] for c in names}, columns=names)
    for c in names:
        if c.startswith(GPU_PREFIX) or c in ("gpus", "servers", "racks"):
            frame[c] = frame[c].astype("Int64")
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def _scalar(value: Any) -> Any:
    """A list or mapping value as its JSON text (a Parquet column holds one type)."""
    return cell(value) if isinstance(value, list | dict) else value
