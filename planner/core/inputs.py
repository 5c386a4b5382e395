"""Configuration columns -> the feature arrays of the pure core (one gather per column, no
per-configuration loop), and the vectorized estimate on them.

Pure: every input is an argument (the catalog's specs, a Calibration object); nothing here reads a
file or keeps state between calls. The public, file-reading entry points are in planner.estimation.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.core.constants import COEFFICIENTS, DEFAULT_ENGINE, ENGINE_ALIASES, ENGINES, fixed
from planner.core.features import (
    GPU_FEATURES,
    MODEL_FEATURES,
    gpu_features,
    model_features,
    precision_path,
    tp_splits_heads,
)
from planner.core.model import evaluate
from planner.errors import InputError
from planner.schemas.calibration import Calibration
from planner.schemas.engine import EngineProfile, tier_value

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

CONFIG_COLUMNS = ("model", "gpu", "precision", "tp", "pp", "batch_size", "input_tokens", "output_tokens",
                  "engine", "prefill_chunk_tokens", "ep", "dp")


def canonical_engine(name: str | None) -> str:
    key = (name or DEFAULT_ENGINE).strip().lower()
    if key not in ENGINE_ALIASES:  # "TensorRT-LLM (PyTorch backend)", "vLLM 0.11" -> first word
        key = key.replace("(", " ").split()[0] if key.split() else key
    if key not in ENGINE_ALIASES:
        raise InputError(f"unknown engine {name!r}", fix=f"use one of {', '.join(ENGINES)}")
    return ENGINE_ALIASES[key]


def _factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(unique values, integer code per row). pandas.factorize (hash-based, O(n)) for long columns:
    already loaded for estimate_table, imported for very long tables where the sort np.unique does
    on strings costs more than the import; np.unique otherwise (keeps `planner estimate` light)."""
    arr = np.asarray(values)
    pd: Any = sys.modules.get("pandas")
    if pd is None and arr.size > 200_000:
        import importlib

        pd = importlib.import_module("pandas")
    if pd is not None and arr.size > 10_000:
        codes, uniques = pd.factorize(arr)
        return np.asarray(uniques).astype(str), np.asarray(codes)
    uniques, codes = np.unique(arr.astype(str), return_inverse=True)
    return uniques, codes.reshape(-1)


def _require_calibration(calibration: Any) -> Calibration:
    if not isinstance(calibration, Calibration):
        raise TypeError(f"build_inputs takes a Calibration object, got {type(calibration).__name__} "
                        f"{calibration!r}: the core reads no file; load one with "
                        "planner.calibration.coefficients.load_calibration(path)[0]")
    return calibration


def scheduler_row(profile: EngineProfile, memory_gib: float, architecture: str) -> dict[str, float]:
    """The core's scheduler inputs of one engine on one GPU (its profile's defaults for that GPU tier):
    sequence cap (NaN: sized from memory), default step token budget, chunked prefill (1 or 0)."""
    s = profile.scheduler
    cap = tier_value(s.max_sequences, memory_gib, architecture)
    tokens = tier_value(s.max_batched_tokens, memory_gib, architecture)
    return {"engine_max_sequences": np.nan if cap is None else float(cap),
            "engine_step_tokens": float(tokens) if tokens is not None else float("nan"),
            "chunked_prefill": 1.0 if s.chunked_prefill else 0.0}


SCHEDULER_KEYS = ("engine_max_sequences", "engine_step_tokens", "chunked_prefill")


def build_inputs(cols: Mapping[str, np.ndarray], catalog: Catalog, calibration: Calibration,
                 power_limit_w: np.ndarray | float | None = None,
                 engines: Mapping[str, EngineProfile] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Feature arrays for the core, and a per-row problem string ('' when the row is valid).

    ``engines`` (canonical engine id -> profile, planner.catalog.engines.load_engines()): each row takes its
    engine's scheduler defaults on its GPU (sequence cap of the offline point, default step token budget,
    chunked prefill or not); None: the core's one default for every engine (planner.core.constants)."""
    n = len(cols["model"])
    cal = _require_calibration(calibration)
    model_ids, model_codes = _factorize(cols["model"])
    models = [catalog.model(m) for m in model_ids]
    g_ids, g_codes = _factorize(cols["gpu"])
    p_ids, p_codes = _factorize(cols["precision"])
    e_ids, e_codes = _factorize(cols["engine"])
    e_canon = [canonical_engine(e) for e in e_ids]  # a few unique names, not one call per row
    key = (g_codes.astype(np.int64) * len(p_ids) + p_codes) * len(e_ids) + e_codes
    gp_keys, gp_codes = np.unique(key, return_inverse=True)
    g_rows, p_rows, c_rows, s_rows, problems = [], [], [], [], []
    for k in gp_keys:
        gi, rest = divmod(int(k), len(p_ids) * len(e_ids))
        pi, ei = divmod(rest, len(e_ids))
        g, prec, engine = catalog.gpu(g_ids[gi]), str(p_ids[pi]), e_canon[ei]
        wb, flops, weight_only, problem = precision_path(g, prec)
        fp8_kv = ENGINES[engine]["kv_fp8_with_fp8_weights"] and prec in ("fp8", "fp4")
        g_rows.append(gpu_features(g))
        p_rows.append({"weight_bytes": wb or 1.0, "compute_flops": flops or 1.0,
                       "weight_only": float(weight_only), "kv_scale": 0.5 if fp8_kv else 1.0})
        c_rows.append(cal.for_config(g.id, engine))
        if engines is not None and engine in engines:
            s_rows.append(scheduler_row(engines[engine], g.memory_gib, g.architecture))
        else:
            s_rows.append({"engine_max_sequences": fixed("max_batch_size"),
                           "engine_step_tokens": fixed("prefill_chunk_tokens"), "chunked_prefill": 1.0})
        problems.append(problem)
    x: dict[str, Any] = {}
    m_rows = [model_features(m) for m in models]
    for k in MODEL_FEATURES:
        x[k] = np.array([r[k] for r in m_rows])[model_codes]
    for k in GPU_FEATURES:
        x[k] = np.array([r[k] for r in g_rows])[gp_codes]
    for k in ("weight_bytes", "compute_flops", "weight_only", "kv_scale"):
        x[k] = np.array([r[k] for r in p_rows])[gp_codes]
    coeffs = {k: np.array([r[k] for r in c_rows])[gp_codes] for k in COEFFICIENTS}
    if engines is not None:
        for k in SCHEDULER_KEYS:
            x[k] = np.array([r[k] for r in s_rows], dtype=float)[gp_codes]
    x["coefficients"] = coeffs
    for k in ("tp", "pp", "input_tokens", "output_tokens"):
        x[k] = np.asarray(cols[k], dtype=float)
    for k in ("batch_size", "prefill_chunk_tokens"):
        raw = np.asarray(cols[k]) if k in cols else np.full(n, np.nan)  # object: numbers mixed with None
        x[k] = (np.array([np.nan if v is None else float(v) for v in raw]) if raw.dtype == object
                else raw.astype(float))
    for k in ("ep", "dp"):  # optional columns: absent = 1 (the core then takes today's tp x pp path)
        if k in cols:
            raw = np.asarray(cols[k])
            x[k] = (np.array([1.0 if v is None else float(v) for v in raw]) if raw.dtype == object
                    else np.nan_to_num(raw.astype(float), nan=1.0))
    if power_limit_w is not None:
        x["power_limit_w"] = np.broadcast_to(np.asarray(power_limit_w, dtype=float), (n,))
    by_gpu: np.ndarray = np.array(problems, dtype=object)[gp_codes]
    return x, np.where(by_gpu == "", _value_problems(x), by_gpu)


def _value_problems(x: Mapping[str, np.ndarray]) -> np.ndarray:
    checks = [
        (~(x["input_tokens"] > 0), "input_tokens must be > 0"),
        (~(x["output_tokens"] > 0), "output_tokens must be > 0"),
        (~(x["tp"] >= 1) | (x["tp"] != np.floor(x["tp"])), "tp must be a whole number >= 1"),
        (~(x["pp"] >= 1) | (x["pp"] != np.floor(x["pp"])), "pp must be a whole number >= 1"),
        (~np.isnan(x["batch_size"]) & ~(x["batch_size"] >= 1), "batch_size must be >= 1"),
        (~np.isnan(x["prefill_chunk_tokens"]) & ~(x["prefill_chunk_tokens"] > np.nan_to_num(x["batch_size"], nan=0.0)),
         "prefill_chunk_tokens (the step token budget) must exceed batch_size"),
    ]
    if "ep" in x or "dp" in x:
        checks.extend(parallel_problems(x))
    tp_ok = tp_splits_heads(x["tp"], x["attention_heads"], x["kv_split_heads"])
    checks.append((~tp_ok, "tp must divide the model's attention heads (and split or replicate its KV heads "
                           "evenly), as serving engines require"))
    if "power_limit_w" in x:
        checks.append((~(x["power_limit_w"] > x["idle_w"]), "power_limit_w must be above the GPU's idle power"))
    out = np.full(len(x["tp"]), "", dtype=object)
    for bad, msg in reversed(checks):
        out = np.where(bad, msg, out)
    return out


def parallel_problems(x: Mapping[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """Row checks of expert parallelism ``ep`` and attention data parallelism ``dp``."""
    ep = x.get("ep", np.ones_like(x["tp"]))
    dp = x.get("dp", np.ones_like(x["tp"]))
    gpus = x["tp"] * x["pp"] * dp
    moe = x["params_routed"] > 0
    return [
        (~(dp >= 1) | (dp != np.floor(dp)), "dp must be a whole number >= 1"),
        (~(ep >= 1) | (ep != np.floor(ep)), "ep must be a whole number >= 1"),
        ((ep > 1) & ~moe, "ep > 1 needs a mixture-of-experts model (this one has no routed experts); use ep 1"),
        ((dp > 1) & ~moe & ~(x["kv_split_heads"] == 0),
         "dp > 1 (attention data parallelism) is only meaningful for MoE or MLA models, whose attention is "
         "small beside the experts or whose latent KV cache TP cannot split; for a dense model use more "
         "replicas (or tp) instead"),
        ((ep >= 1) & (np.mod(gpus, np.maximum(ep, 1.0)) != 0),
         "ep must divide the replica's GPUs (tp x pp x dp)"),
        ((ep > 1) & (ep > x["experts_total"]), "ep cannot exceed the model's routed experts"),
    ]


def estimate_arrays(x: dict[str, Any]) -> dict[str, np.ndarray]:
    """The vectorized path on prepared inputs (see build_inputs)."""
    return evaluate(x, x["coefficients"])
