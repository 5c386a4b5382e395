"""Enumerate operating points per workload and keep those meeting the SLOs, with their capacity.

For every workload x GPU x precision x TP x PP x batch, the core estimates one replica at the mean
request lengths (throughput, ITL, power) and at the p95 lengths (KV memory, TTFT of a long prompt).
A point is feasible when its batch fits memory at p95 lengths, its ITL quantile meets the SLO, and
some arrival rate keeps the TTFT quantile within the SLO under queueing; its capacity is the
largest such rate, at most ``planning_utilization_max`` of the saturated rate. Dominated points
are pruned before the solver sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.candidates.queueing import max_rate_meeting, ttft_quantile
from planner.catalog.loader import Catalog
from planner.core.api import build_inputs, estimate_arrays
from planner.core.constants import fixed
from planner.schemas.catalog import GpuSpec
from planner.schemas.scenario import Workload

BATCH_GRID = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
TP_GRID = (1, 2, 4, 8, 16, 32, 64, 72)
PP_GRID = (1, 2, 4)


@dataclass
class Candidates:
    """Feasible, non-dominated operating points of every workload (columns of equal length)."""

    columns: dict[str, np.ndarray]
    # per workload: best achievable latencies over all evaluated points (for infeasibility answers)
    best_latency: dict[str, dict[str, float]] = field(default_factory=dict)
    evaluated: int = 0

    def __len__(self) -> int:
        return len(self.columns["workload"])

    def rows(self, mask: np.ndarray | None = None) -> list[dict[str, Any]]:
        idx = np.arange(len(self)) if mask is None else np.flatnonzero(mask)
        return [{k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in self.columns.items()} for i in idx]


def _grid(w: Workload, gpus: list[GpuSpec]) -> dict[str, np.ndarray]:
    rows: dict[str, list[Any]] = {k: [] for k in ("gpu", "precision", "tp", "pp", "batch_size")}
    for g in gpus:
        per_server = g.server.gpus_per_server
        tps = [t for t in TP_GRID if t <= per_server and (w.max_tp is None or t <= w.max_tp)]
        for prec in w.precisions:
            for tp in tps:
                # pipeline stages span servers: only once tensor parallelism fills a server
                pps = [p for p in PP_GRID if (p == 1 or tp == per_server) and (w.max_pp is None or p <= w.max_pp)]
                for pp in pps:
                    for b in BATCH_GRID:
                        rows["gpu"].append(g.id)
                        rows["precision"].append(prec)
                        rows["tp"].append(float(tp))
                        rows["pp"].append(float(pp))
                        rows["batch_size"].append(float(b))
    return {k: np.asarray(v) for k, v in rows.items()}


def _slo_s(v: float | None) -> float:
    return np.nan if v is None else v / 1e3


def workload_candidates(w: Workload, gpus: list[GpuSpec], catalog: Catalog,
                        calibration: str | None) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    grid = _grid(w, gpus)
    n = len(grid["gpu"])
    model_id = catalog.model(w.model).id
    t = w.traffic
    base = {**grid, "model": np.full(n, model_id), "engine": np.full(n, "vllm")}
    mean_cols = {**base, "input_tokens": np.full(n, t.input_tokens.mean),
                 "output_tokens": np.full(n, t.output_tokens.mean)}
    tail_cols = {**base, "input_tokens": np.full(n, t.input_tokens.p95_or_mean),
                 "output_tokens": np.full(n, t.output_tokens.p95_or_mean)}
    x_mean, problem = build_inputs(mean_cols, catalog, calibration)
    x_tail, _ = build_inputs(tail_cols, catalog, calibration)
    with np.errstate(all="ignore"):
        m = estimate_arrays(x_mean)
        tail = estimate_arrays(x_tail)
    ok = (problem == "") & tail["fits_memory"] & (grid["batch_size"] <= tail["max_batch_size"])
    slo = w.slo
    itl_checks = [(slo.itl_p50_ms, m["itl_s"]), (slo.itl_p95_ms, m["itl_p95_s"]), (slo.itl_p99_ms, m["itl_p99_s"])]
    best = {"itl_p95_s": float(np.nanmin(np.where(ok, m["itl_p95_s"], np.inf))) if ok.any() else np.inf,
            "ttft_solo_s": float(np.nanmin(np.where(ok, tail["ttft_s"], np.inf))) if ok.any() else np.inf,
            "fits_any": float(ok.any())}
    for limit, value in itl_checks:
        if limit is not None:
            ok &= value <= limit / 1e3
    idx = np.flatnonzero(ok)
    mu = m["requests_per_s"][idx]
    batch = m["batch_size"][idx]
    hold = batch / mu
    chunk = fixed("prefill_chunk_tokens")
    # The prefill budget is a server of `chunk` tokens per mixed step; a mean prompt occupies it
    # for n_in / chunk of a step. Its utilization must stay below 1 for the replica to keep up.
    prefill_service = t.input_tokens.mean / chunk * m["itl_p99_s"][idx]
    rate_max = np.minimum(fixed("planning_utilization_max") * mu, 0.95 / prefill_service)
    kw = {"ttft_solo_s": tail["ttft_s"][idx], "slots": batch, "hold_s": hold, "prefill_service_s": prefill_service}
    cap = rate_max.copy()
    for q, limit in ((0.5, slo.ttft_p50_ms), (0.95, slo.ttft_p95_ms), (0.99, slo.ttft_p99_ms)):
        if limit is not None:
            cap = np.minimum(cap, max_rate_meeting(np.full(len(idx), limit / 1e3), rate_max, q, **kw))
    keep = cap > 1e-9
    idx, cap, mu = idx[keep], cap[keep], mu[keep]
    kw = {k: v[keep] for k, v in kw.items()}
    ttft95 = ttft_quantile(cap, q=0.95, **kw)
    n_gpu = m["num_gpus"][idx]
    g_idle = x_mean["idle_w"][idx] * n_gpu
    overhead = fixed("server_overhead_w_per_gpu") * n_gpu
    p_full = m["power_total_w"][idx]
    slope = (p_full - g_idle) / mu  # W per request/s of load, linear from idle to saturation
    cols = {
        "workload": np.full(len(idx), w.name), "model": np.full(len(idx), model_id),
        "gpu": grid["gpu"][idx], "precision": grid["precision"][idx],
        "tp": grid["tp"][idx].astype(int), "pp": grid["pp"][idx].astype(int),
        "batch_size": batch[keep].astype(int), "num_gpus": n_gpu.astype(int),
        "capacity_rps": cap, "saturated_rps": mu,
        "ttft_p95_s": ttft95, "itl_p95_s": m["itl_p95_s"][idx], "itl_s": m["itl_s"][idx],
        "power_base_w": g_idle + overhead, "power_slope_w_per_rps": slope,
        "power_at_capacity_w": g_idle + overhead + slope * cap,
        "peak_power_w": m["peak_power_total_w"][idx] + overhead,
        "output_tokens_per_request": np.full(len(idx), t.output_tokens.mean),
    }
    return cols, best, n


def _prune(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Keep, per (workload, GPU), operating points not dominated in capacity per GPU, watts per
    request/s at capacity, and replica size (smaller replicas pack more finely)."""
    n = len(cols["workload"])
    keep = np.zeros(n, dtype=bool)
    per_gpu = cols["capacity_rps"] / cols["num_gpus"]
    w_per_rps = cols["power_at_capacity_w"] / cols["capacity_rps"]
    size = cols["num_gpus"].astype(float)
    key = np.char.add(np.char.add(cols["workload"].astype(str), "|"), cols["gpu"].astype(str))
    _, group = np.unique(key, return_inverse=True)
    for gi in range(group.max() + 1 if n else 0):
        g = np.flatnonzero(group == gi)
        a, b, c = per_gpu[g][:, None], w_per_rps[g][:, None], size[g][:, None]
        # dominated[j]: some i is at least as good on all three and better on one
        ge = (a <= a.T) & (b >= b.T) & (c >= c.T)
        gt = (a < a.T) | (b > b.T) | (c > c.T)
        dominated = (ge & gt).any(axis=1)
        # exact ties: keep the first in the deterministic grid order
        same = (a == a.T) & (b == b.T) & (c == c.T)
        earlier_twin = (np.tril(same, k=-1)).any(axis=1)
        keep[g] = ~dominated & ~earlier_twin
    return keep


def generate_candidates(workloads: list[Workload], gpus: list[GpuSpec], catalog: Catalog,
                        calibration: str | None) -> Candidates:
    parts, best, evaluated = [], {}, 0
    for w in workloads:
        cols, b, n = workload_candidates(w, gpus, catalog, calibration)
        parts.append(cols)
        best[w.name] = b
        evaluated += n
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = _prune(merged)
    return Candidates({k: v[keep] for k, v in merged.items()}, best, evaluated)
