"""Measured serving points: the documented CSV format, its validation, and the mapping to configs.

Columns (one row per measured point; blank = not measured):

| column | meaning |
| --- | --- |
| source_id | where the point comes from (free text; e.g. MLE3, TRTLLM_PERF, mine-2026-11) |
| model, gpu | names or aliases from the catalogs (Hugging Face repo ids work) |
| num_gpus, tp, pp | GPUs of the run and its tensor/pipeline parallelism (num_gpus > tp*pp: expert parallel) |
| precision | bf16, fp16, fp8, int8, int4, fp4 (mxfp4/nvfp4 accepted as fp4) |
| engine | vLLM, TRT-LLM, SGLang, ... |
| batch_or_concurrency | sequences in flight (max_num_seqs or client concurrency); blank = engine's max |
| achieved_batch | optional: the measured average batch, preferred over batch_or_concurrency |
| input_tokens, output_tokens | mean lengths (blank input = 256, the chat default) |
| throughput_tok_s | output tokens per second of the whole run (all GPUs) |
| ttft_ms, itl_ms | measured TTFT and inter-token latency (median or mean as measured) |
| avg_power_w, power_scope | average power and its scope: "GPU-only, summed over all GPUs" (default), "per GPU", or "wall" |
| energy_j_per_token | energy per output token (J); derived from power and throughput when blank |
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.catalog.loader import Catalog
from planner.core.constants import fixed
from planner.errors import CalibrationError, PlannerError
from planner.schemas.catalog import PRECISIONS

REQUIRED = ("model", "gpu", "num_gpus", "tp", "precision", "output_tokens", "throughput_tok_s")
NUMERIC = ("num_gpus", "tp", "pp", "batch_or_concurrency", "achieved_batch", "input_tokens", "output_tokens",
           "throughput_tok_s", "ttft_ms", "itl_ms", "avg_power_w", "energy_j_per_token")
_PRECISION_ALIASES = {"mxfp4": "fp4", "nvfp4": "fp4", "float16": "fp16", "bfloat16": "bf16", "w4a16": "int4",
                      "awq": "int4", "gptq": "int4", "w8a8": "int8"}
# Highest plausible average power per GPU of any accelerator in the catalog era (GB300 ~1.4 kW).
MAX_POWER_PER_GPU_W = 2000.0


@dataclass(frozen=True)
class Measurements:
    """Validated measured points as columns, with their configuration resolved to catalog ids."""

    frame: Any  # pandas.DataFrame
    path: str
    sha256: str

    def __len__(self) -> int:
        return len(self.frame)


def _fail(path: str, row: int | None, column: str | None, message: str, fix: str | None = None) -> None:
    where = f"row {row}" if row is not None else ""
    if column:
        where = f"{where}, column {column!r}" if where else f"column {column!r}"
    raise CalibrationError(f"{where}: {message}" if where else message, file=path, fix=fix)


def _achieved_batch(notes: str) -> float:
    m = re.search(r"avg_batch=([0-9.]+)", notes or "")
    return float(m.group(1)) if m else np.nan


def load_measurements(path: str | Path, catalog: Catalog) -> Measurements:
    """Read and validate a measurement CSV; every problem names its row (1 = first data row) and column."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        _fail(str(p), None, None, "measurement file not found", "check the path")
    raw = p.read_bytes()
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several parser error types
        _fail(str(p), None, None, f"not a readable CSV ({exc.__class__.__name__}: {str(exc).splitlines()[0]})")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        _fail(str(p), None, None, f"missing column(s): {', '.join(missing)}",
              "see `planner calibrate --help` for the format")
    if df.empty:
        _fail(str(p), None, None, "no data rows")
    out = pd.DataFrame(index=df.index)
    for col in NUMERIC:
        vals = df[col].str.strip() if col in df.columns else pd.Series([""] * len(df), index=df.index)
        parsed = pd.to_numeric(vals.where(vals != "", None), errors="coerce")
        bad = vals.ne("") & parsed.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            _fail(str(p), i + 1, col, f"{vals.iloc[i]!r} is not a number")
        out[col] = parsed.astype(float)
    notes = df["notes"] if "notes" in df.columns else pd.Series([""] * len(df), index=df.index)
    out["achieved_batch"] = out["achieved_batch"].fillna(notes.map(_achieved_batch))
    out["source_id"] = df.get("source_id", pd.Series(["user"] * len(df), index=df.index))
    from planner.core.api import canonical_engine

    engines = df.get("engine", pd.Series([""] * len(df), index=df.index)).str.strip()
    canon = []
    for i, e in enumerate(engines):
        try:
            canon.append(canonical_engine(e or None))
        except PlannerError as exc:
            _fail(str(p), i + 1, "engine", exc.message, exc.fix)
    out["engine"] = canon
    out["power_scope"] = df.get("power_scope", pd.Series([""] * len(df), index=df.index)).str.lower()
    out["pp"] = out["pp"].fillna(1.0)
    out["input_tokens"] = out["input_tokens"].fillna(fixed("default_input_tokens"))
    models, gpus, precisions = [], [], []
    for i, r in df.iterrows():
        row = int(i) + 1
        try:
            models.append(catalog.model(r["model"]).id)
        except PlannerError as exc:
            _fail(str(p), row, "model", exc.message, exc.fix)
        try:
            gpus.append(catalog.gpu(r["gpu"]).id)
        except PlannerError as exc:
            _fail(str(p), row, "gpu", exc.message, exc.fix)
        prec = _PRECISION_ALIASES.get(r["precision"].strip().lower(), r["precision"].strip().lower())
        if prec not in PRECISIONS:
            _fail(str(p), row, "precision", f"unknown precision {r['precision']!r}",
                  f"use one of {', '.join(PRECISIONS)}")
        precisions.append(prec)
    out["model"], out["gpu"], out["precision"] = models, gpus, precisions
    _check_values(out, str(p))
    return Measurements(frame=out.reset_index(drop=True), path=str(p), sha256=hashlib.sha256(raw).hexdigest())


def _check_values(out: Any, path: str) -> None:
    positive = ("num_gpus", "tp", "pp", "output_tokens", "throughput_tok_s", "input_tokens")
    for col in positive:
        bad = ~(out[col] > 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            _fail(path, i + 1, col, f"must be > 0, got {out[col].iloc[i]!r}",
                  "remove the row or fill in the measured value")
    for col in ("ttft_ms", "itl_ms", "avg_power_w", "energy_j_per_token", "batch_or_concurrency"):
        bad = out[col].notna() & ~(out[col] > 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            _fail(path, i + 1, col, f"must be > 0 when given, got {out[col].iloc[i]!r}")
    per_gpu = np.where(out["power_scope"].str.contains("per gpu"), out["avg_power_w"],
                       out["avg_power_w"] / out["num_gpus"])
    bad = np.nan_to_num(per_gpu, nan=0.0) > MAX_POWER_PER_GPU_W
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(path, i + 1, "avg_power_w", f"{out['avg_power_w'].iloc[i]:g} W is {per_gpu[i]:.0f} W per GPU, "
              f"above any plausible GPU ({MAX_POWER_PER_GPU_W:.0f} W)", "check the unit (W, not mW) and power_scope")


def to_configs(m: Measurements) -> dict[str, np.ndarray]:
    """Configuration columns for the estimation core: one replica of the measured run.

    Expert-parallel runs (num_gpus > tp x pp) are modelled as tensor parallelism over all their
    GPUs (weights sharded across every GPU, activations exchanged every layer).
    """
    f = m.frame
    tp = np.where(f["num_gpus"] > f["tp"] * f["pp"], f["num_gpus"] / f["pp"], f["tp"])
    batch = f["achieved_batch"].fillna(f["batch_or_concurrency"]).to_numpy(dtype=float)
    return {
        "model": f["model"].to_numpy(dtype=str), "gpu": f["gpu"].to_numpy(dtype=str),
        "precision": f["precision"].to_numpy(dtype=str), "tp": tp.astype(float),
        "pp": f["pp"].to_numpy(dtype=float), "batch_size": batch,
        "input_tokens": f["input_tokens"].to_numpy(dtype=float),
        "output_tokens": f["output_tokens"].to_numpy(dtype=float),
        "engine": f["engine"].to_numpy(dtype=str),
    }


def measured_targets(m: Measurements) -> dict[str, np.ndarray]:
    """Measured metrics in the core's units: tokens/s, seconds, watts summed over the run's GPUs, J."""
    f = m.frame
    power = f["avg_power_w"].to_numpy(dtype=float)
    power = np.where(f["power_scope"].str.contains("per gpu"), power * f["num_gpus"], power)
    thr = f["throughput_tok_s"].to_numpy(dtype=float)
    energy = f["energy_j_per_token"].to_numpy(dtype=float)
    energy = np.where(np.isnan(energy), power / thr, energy)
    return {"output_tokens_per_s": thr, "itl_s": f["itl_ms"].to_numpy(dtype=float) / 1e3,
            "ttft_s": f["ttft_ms"].to_numpy(dtype=float) / 1e3, "power_total_w": power,
            "energy_per_output_token_j": energy}
