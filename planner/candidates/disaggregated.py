"""Operating points of disaggregated serving: prefill-pool and decode-pool replicas of one workload.

From the same grid as aggregated replicas (planner.candidates.generate._grid: GPU, precision, TP, PP,
power limit, batch, step budget), each role keeps the axes that matter to it and is estimated by
planner.core.disaggregated:

* ``prefill``: one row per step budget (the batch is the prompts a budget holds at once). Feasible when
  the weights, the prompt's KV and one budget fit; its capacity is the largest prompt rate whose TTFT
  (M/D/1 wait for the prompts ahead + the p95 prompt alone + its KV transfer to the decode pool) meets
  every TTFT SLO, at most ``planning_utilization_max`` of the saturated rate.
* ``decode``: one row per batch (the smallest budget of the grid above it: a decode step carries no
  prompt). Feasible when the batch fits KV memory at full context, one p95 sequence fits, and the
  decode-only ITL meets every ITL SLO; its capacity is ``planning_utilization_max`` of the saturated
  rate (the wait for a free decode slot delays the second token, not the first: docs/disaggregated.md).

Rows carry ``role`` and the aggregated candidates' columns that apply (queueing columns of aggregated
replicas are left out: planner.candidates.generate fills them with NaN when it merges the tables).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.candidates.queueing import prefill_pool_max_rate, prefill_pool_ttft_quantile
from planner.core.constants import fixed
from planner.core.disaggregated import (
    CONSTANTS,
    SCALE_OUT_BYTES_PER_S_PER_GPU,
    SCALE_OUT_LATENCY_S,
    decode_replica,
    prefill_replica,
    scale_out_bytes_per_s,
)
from planner.core.inputs import build_inputs
from planner.problem.model import GpuOption, Problem, WorkloadDemand
from planner.schemas.catalog import ModelSpec

ROLES = ("aggregated", "prefill", "decode")
Arrays = dict[str, Any]


def assumption_rows(p: Problem) -> list[dict[str, str]]:
    """The plan's assumption rows of the disaggregated-serving constants (planner.core.disaggregated), only
    where some workload allows disaggregated serving."""
    if not any(w.disaggregated for w in p.workloads):
        return []
    return [{"name": c.name, "value": f"{c.value:g}", "unit": c.unit, "source": c.source,
             "range": f"{c.low:g}-{c.high:g}"} for c in CONSTANTS] + [_scale_out_row(p, g) for g in p.gpus]


def _scale_out_row(p: Problem, gpu: GpuOption) -> dict[str, str]:
    """The scale-out figure the KV transfer uses for one GPU's server: the catalog's, or the fallback."""
    server = gpu.spec.server
    block = server.scale_out if server is not None else None
    if block is None:
        return {"name": f"{gpu.id} scale-out", "value": "fallback", "unit": "",
                "source": f"no `scale_out` block in the catalog's server: {SCALE_OUT_BYTES_PER_S_PER_GPU.name} and "
                          f"{SCALE_OUT_LATENCY_S.name} above", "range": ""}
    return {"name": f"{gpu.id} scale-out", "unit": "Gb/s per GPU, us",
            "value": f"{block.gbit_per_s_per_gpu:g} Gb/s {block.fabric}, {block.latency_us:g} us",
            "source": block.source, "range": ""}


def scale_out_columns(p: Problem, gpus: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the prefill server's scale-out link per GPU (bytes/s) and one-way latency (s) that the core's KV
    transfer reads: the catalog server's ``scale_out`` block, else the core's fallback constants."""
    def figures(gpu_id: str) -> tuple[float, float]:
        server = p.gpu(gpu_id).spec.server
        block = server.scale_out if server is not None else None
        if block is None:
            return SCALE_OUT_BYTES_PER_S_PER_GPU.value, SCALE_OUT_LATENCY_S.value
        return float(scale_out_bytes_per_s(block.bits_per_s_per_gpu)), block.latency_s
    per_gpu = {str(g): figures(str(g)) for g in set(gpus.tolist())}
    rows = [per_gpu[str(g)] for g in gpus]
    return {"scale_out_bytes_per_s_per_gpu": np.array([r[0] for r in rows], dtype=float),
            "scale_out_latency_s": np.array([r[1] for r in rows], dtype=float)}


def _inputs(p: Problem, grid: dict[str, np.ndarray], model_id: str, n_in: float, n_out: float,
            w: WorkloadDemand) -> tuple[dict[str, Any], np.ndarray]:
    n = len(grid["gpu"])
    cols = {**grid, "model": np.full(n, model_id), "engine": np.full(n, w.engine),
            "input_tokens": np.full(n, n_in), "output_tokens": np.full(n, n_out)}
    x, problem = build_inputs(cols, p.catalog, p.calibration,
                              power_limit_w=grid.get("power_limit_w") if p.power_limited else None,
                              engines=p.catalog.engines or None)
    if w.prefix_cache_hit_rate:
        x["cached_prompt_share"] = np.full(n, w.prefix_cache_hit_rate)
    x.update(scale_out_columns(p, grid["gpu"]))
    return x, problem


def margins(w: WorkloadDemand, gpus: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the factors ``w.sizing_confidence`` applies on its GPU (planner.problem.sizing): TTFT and ITL
    multiplied, capacity divided; 1 without a sizing confidence (as planner.candidates.generate applies them to
    aggregated replicas)."""
    names = ("ttft", "itl", "throughput")
    if w.sizing is None:
        return {k: np.ones(len(gpus)) for k in names}
    return {k: np.array([getattr(w.sizing.factors(str(x)), k) for x in gpus], dtype=float) for k in names}


def _subset(grid: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[keep] for k, v in grid.items()}


def _common(p: Problem, w: WorkloadDemand, model: ModelSpec, g: dict[str, np.ndarray], role: str,
            n_gpu: np.ndarray) -> dict[str, np.ndarray]:
    n = len(g["gpu"])
    overhead = np.array([p.gpu(str(x)).overhead_w_per_gpu for x in g["gpu"]]) * n_gpu
    pools = [p.gpu(str(a)).pool_key(float(b)) for a, b in zip(g["gpu"], g["power_limit_w"], strict=True)]
    return {"workload": np.full(n, w.name), "model": np.full(n, model.id), "gpu": g["gpu"].astype(str),
            "precision": g["precision"].astype(str), "tp": g["tp"].astype(int), "pp": g["pp"].astype(int),
            "prefill_chunk_tokens": g["prefill_chunk_tokens"].astype(int),
            "power_limit_w": g["power_limit_w"].astype(float), "server_pool": np.array(pools, dtype=str),
            "num_gpus": n_gpu.astype(int), "role": np.full(n, role), "_overhead_w": overhead}


FITTING = ("", "ttft", "itl_p50", "itl_p95", "itl_p99")
"""Why-codes of configurations that fit (only an SLO, or nothing, rules them out)."""


def role_points(p: Problem, w: WorkloadDemand, model: ModelSpec, grid: dict[str, np.ndarray]
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float]]:
    """Feasible prefill-pool points (one per budget) and decode-pool points (one per batch, at the grid's
    smallest budget above it) of ``w`` (see the module docstring), none of either when the other role has
    none (a pool of one role serves nothing alone), and the best latencies the roles reach (infeasibility
    answers)."""
    pre, _, pre_why, pre_est = evaluate_prefill(p, w, model, _subset(grid, grid["batch_size"] == 1.0))
    smallest = {b: grid["prefill_chunk_tokens"][grid["batch_size"] == b].min() for b in set(grid["batch_size"])}
    g = _subset(grid, grid["prefill_chunk_tokens"] == np.array([smallest[b] for b in grid["batch_size"]]))
    dec, _, dec_why, dec_est = evaluate_decode(p, w, model, g)
    if not (len(pre["gpu"]) and len(dec["gpu"])):
        pre, dec = {k: v[:0] for k, v in pre.items()}, {k: v[:0] for k, v in dec.items()}

    def low(values: np.ndarray, why: np.ndarray) -> float:
        ok = np.isin(why, FITTING)
        return float(np.min(values[ok])) if ok.any() else float("inf")
    best = {"itl_p95_s": low(dec_est["itl_p95_s"], dec_why), "itl_p50_s": low(dec_est["itl_s"], dec_why),
            "itl_p99_s": low(dec_est["itl_p99_s"], dec_why), "ttft_solo_s": low(pre_est["ttft_solo_p95_s"], pre_why),
            "fits_any": float(np.isin(pre_why, FITTING).any() and np.isin(dec_why, FITTING).any()),
            "context_ok": float(w.longest_tokens <= model.max_context_tokens)}
    return pre, dec, best


def evaluate_prefill(p: Problem, w: WorkloadDemand, model: ModelSpec,
                     g: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, Arrays]:
    """Prefill-pool replicas of the configurations ``g``: the feasible ones' columns, their rows of ``g``,
    per row why it is not an operating point ("" when it is: planner.candidates.generate.REJECTIONS), and
    the estimate of every row that messages quote (none for a prefill replica)."""
    why = np.full(len(g["gpu"]), "", dtype=object)
    x, problem = _inputs(p, g, model.id, w.input_tokens.mean, w.output_tokens.mean, w)
    with np.errstate(all="ignore"):
        m = prefill_replica(x, x["coefficients"])
        xt, _ = _inputs(p, g, model.id, w.input_tokens.p95, w.output_tokens.p95, w)
        tail = prefill_replica(xt, xt["coefficients"])
    for bad, reason in ((problem != "", "problem"), (~(m["fits_memory"] > 0), "memory"),
                        (np.full(len(why), w.longest_tokens > model.max_context_tokens), "context"),
                        (~(tail["fits_memory"] > 0), "p95_memory")):
        why[(why == "") & bad] = reason
    ok = why == ""
    mu = m["requests_per_s"]
    cap = fixed("planning_utilization_max") * mu
    margin = margins(w, g["gpu"])  # sizing_confidence: TTFT x (1 + e) meets the SLO, as for aggregated replicas
    for q, limit_s in w.slo.ttft_by_quantile():
        if limit_s is not None:
            solo = tail["ttft_s"] if q >= 0.9 else m["ttft_s"]
            cap = np.minimum(cap, prefill_pool_max_rate(limit_s / margin["ttft"], solo, m["service_s"], q, cap))
    cap = cap / margin["throughput"]
    why[ok & ~(cap > 1e-9)] = "ttft"
    tail_ttft = tail["ttft_s"]  # every row, for infeasibility answers
    idx = np.flatnonzero(why == "")
    g, cap, mu = _subset(g, idx), cap[idx], mu[idx]
    m, tail = {k: v[idx] for k, v in m.items()}, {k: v[idx] for k, v in tail.items()}
    cols = _common(p, w, model, g, "prefill", m["num_gpus"])
    overhead = cols.pop("_overhead_w")
    floor = m["idle_total_w"] + overhead  # a prefill replica idles between prompts
    slope = (m["power_total_w"] - m["idle_total_w"]) / mu
    # the prompts one budget holds at once (the engine's max_num_seqs), at least 1
    batch = np.maximum(np.floor(g["prefill_chunk_tokens"] / max(w.input_tokens.mean, 1.0)), 1.0)
    ttft95 = prefill_pool_ttft_quantile(cap, tail["ttft_s"], m["service_s"], 0.95)
    n = len(idx)
    return {**cols, "batch_size": batch.astype(int), "capacity_rps": cap, "saturated_rps": mu,
            "prefill_solo_mean_s": m["ttft_s"],
            "ttft_p95_s": ttft95, "itl_p95_s": np.zeros(n), "itl_s": np.zeros(n),
            "ttft_solo_p95_s": tail["ttft_s"], "hold_s": m["service_s"], "prefill_service_s": m["service_s"],
            "kv_transfer_s": tail["kv_transfer_s"],
            "power_base_w": floor, "power_slope_w_per_rps": slope, "power_at_capacity_w": floor + slope * cap,
            "peak_power_w": m["power_total_w"] + overhead, "output_tokens_per_request": np.zeros(n),
            "prefill_flops": m["prefill_flops"], "prefill_energy_j": m["prefill_energy_j"],
            "decode_flops_per_token": np.zeros(n), "decode_energy_per_token_j": np.zeros(n),
            "gpu_output_tokens_per_s_per_w": np.zeros(n)}, idx, why, {"ttft_solo_p95_s": tail_ttft}


def evaluate_decode(p: Problem, w: WorkloadDemand, model: ModelSpec,
                    g: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, Arrays]:
    """Decode-pool replicas of the configurations ``g``, as `evaluate_prefill` returns them (the estimate:
    max_batch_size and the ITL quantiles of every row)."""
    why = np.full(len(g["gpu"]), "", dtype=object)
    x, problem = _inputs(p, g, model.id, w.input_tokens.mean, w.output_tokens.mean, w)
    with np.errstate(all="ignore"):
        m = decode_replica(x, x["coefficients"])
    for bad, reason in ((problem != "", "problem"), (~m["fits_memory"], "memory"),
                        (~(g["batch_size"] <= m["max_batch_size"]), "batch"),
                        (np.full(len(why), w.longest_tokens > model.max_context_tokens), "context")):
        why[(why == "") & bad] = reason
    sub = np.flatnonzero(why == "")
    if len(sub):  # one p95 sequence fits on its own
        xt, _ = _inputs(p, _subset(g, sub), model.id, w.input_tokens.p95, w.output_tokens.p95, w)
        with np.errstate(all="ignore"):
            why[sub[~decode_replica(xt, xt["coefficients"])["fits_memory"]]] = "p95_memory"
    for reason, limit_s, value in (("itl_p50", w.slo.itl_p50_s, m["itl_s"]),
                                   ("itl_p95", w.slo.itl_p95_s, m["itl_p95_s"]),
                                   ("itl_p99", w.slo.itl_p99_s, m["itl_p99_s"])):
        if limit_s is not None:
            why[(why == "") & ~(value * margins(w, g["gpu"])["itl"] <= limit_s)] = reason
    idx = np.flatnonzero(why == "")
    mean = {k: m[k] for k in ("max_batch_size", "itl_s", "itl_p95_s", "itl_p99_s")}  # every row, for check's messages
    g, m = _subset(g, idx), {k: v[idx] for k, v in m.items()}
    at_1 = {"power_total_w": np.zeros(0)}
    if len(idx):  # one sequence in flight: the floor a replica's power does not fall below while serving
        one, _ = _inputs(p, {**g, "batch_size": np.ones(len(idx))}, model.id, w.input_tokens.mean,
                         w.output_tokens.mean, w)
        with np.errstate(all="ignore"):
            at_1 = decode_replica(one, one["coefficients"])
    cols = _common(p, w, model, g, "decode", m["num_gpus"])
    overhead = cols.pop("_overhead_w")
    mu = m["requests_per_s"]
    cap = fixed("planning_utilization_max") * mu / margins(w, g["gpu"])["throughput"]
    floor = np.minimum(at_1["power_total_w"], m["power_total_w"]) + overhead
    slope = (m["power_total_w"] + overhead - floor) / mu
    n = len(idx)
    energy = ("energy_static_j_per_token", "energy_memory_j_per_token", "energy_compute_j_per_token",
              "energy_communication_j_per_token", "decode_flops_per_token", "decode_energy_per_token_j")
    return {**cols, "batch_size": g["batch_size"].astype(int), "capacity_rps": cap, "saturated_rps": mu,
            "ttft_p95_s": np.zeros(n), "itl_p95_s": m["itl_p95_s"], "itl_s": m["itl_s"],
            "ttft_solo_p95_s": np.zeros(n), "hold_s": g["batch_size"] / mu, "prefill_service_s": np.zeros(n),
            "kv_transfer_s": np.zeros(n),
            "power_base_w": floor, "power_slope_w_per_rps": slope, "power_at_capacity_w": floor + slope * cap,
            "peak_power_w": m["peak_power_total_w"] + overhead,
            "output_tokens_per_request": np.full(n, w.output_tokens.mean),
            **{k: m[k].astype(float) for k in energy}, "prefill_flops": np.zeros(n), "prefill_energy_j": np.zeros(n),
            "gpu_output_tokens_per_s_per_w": m["output_tokens_per_s"] / m["power_total_w"]}, idx, why, mean


def ttft_at_load(columns: dict[str, np.ndarray], i: int, per_replica_rps: float) -> float:
    """TTFT p95 of a prefill-pool candidate row at a per-replica prompt rate (0 for a decode row: the
    first token comes from the prefill pool)."""
    return float(ttft_quantile_rows(columns, np.array([i]), np.array([per_replica_rps]), 0.95)[0])


def ttft_quantile_rows(columns: dict[str, np.ndarray], rows: np.ndarray, rate: np.ndarray, q: float) -> np.ndarray:
    """TTFT at quantile q of prefill-pool rows at per-replica prompt rates (the p95 prompt's solo time at
    q >= 0.9, the mean prompt's below, as candidate generation sized them); 0 for decode rows."""
    rows = np.asarray(rows)
    prefill = np.asarray(columns["role"])[rows] == "prefill"
    if not prefill.any():  # decode rows only (a table may then lack the prefill columns)
        return np.zeros(len(rows))
    solo = columns["ttft_solo_p95_s" if q >= 0.9 else "prefill_solo_mean_s"][rows]
    out = prefill_pool_ttft_quantile(np.asarray(rate, dtype=float), solo, columns["prefill_service_s"][rows], q)
    return np.where(prefill, out, 0.0)
