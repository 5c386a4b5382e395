"""Candidates of every period, each workload shape generated once.

A workload's operating points depend on its lengths, SLOs and the GPU options, not on its traffic,
so a workload whose traffic only grows is generated once for the whole horizon. Rented instances of
a GPU type are generated on the catalog's GPU (the core reads the catalog by GPU id) with the
instance's GPU count, then relabelled to the rented option (``<gpu>.cloud``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from planner.candidates.generate import Candidates, generate_candidates, merge_columns
from planner.problem.model import GpuOption, Problem, WorkloadDemand
from planner.roadmap.problem import CloudOption, Roadmap

Key = tuple[Any, ...]


def _shape(w: WorkloadDemand) -> WorkloadDemand:
    """The workload without its traffic: what its operating points depend on."""
    return replace(w, peak_requests_per_s=1.0, average_requests_per_s=1.0)


def _gpu_key(gpus: tuple[GpuOption, ...]) -> Key:
    return tuple((g.id, g.gpus_per_server, g.server_max_power_w, g.overhead_w_per_gpu, g.limits_w) for g in gpus)


def _relabel(cand: Candidates, option: str) -> dict[str, np.ndarray]:
    cols = dict(cand.columns)
    n = len(cand)
    cols["gpu"] = np.full(n, option).astype(str)
    cols["server_pool"] = np.full(n, option).astype(str)
    return cols


class CandidateCache:
    """Candidates per (workload shape, GPU options), shared by every period of one roadmap."""

    def __init__(self) -> None:
        self._cache: dict[Key, Candidates] = {}
        self.generated = 0

    def get(self, p: Problem, w: WorkloadDemand, gpus: tuple[GpuOption, ...]) -> Candidates:
        key = (_shape(w), _gpu_key(gpus))
        if key not in self._cache:
            self.generated += 1
            self._cache[key] = generate_candidates(replace(p, gpus=gpus), (w,))
        return self._cache[key]


def _cloud_gpu(p: Problem, offer: CloudOption) -> GpuOption:
    """The rented option under its catalog id, at TDP (the candidates' core reads the catalog by id)."""
    return replace(p.gpu(offer.option), id=offer.gpu, power_limits_w=())


def _merge(parts: list[tuple[str, dict[str, np.ndarray]]], best: dict[str, dict[str, float]],
           evaluated: int, pruning: str) -> Candidates:
    # merge_columns keeps a column only some tables have (ep and dp of a MoE workload): NaN elsewhere, read as 1
    return Candidates(merge_columns([c for _, c in parts]), best, evaluated, pruning)


def period_candidates(roadmap: Roadmap, cache: CandidateCache | None = None) -> list[Candidates]:
    """The candidates of each period: on-site options, then each cloud offer, workload by workload."""
    cache = cache or CandidateCache()
    onsite_ids = set(roadmap.onsite)
    out = []
    for period in roadmap.periods:
        p = period.problem
        onsite = tuple(g for g in p.gpus if g.id in onsite_ids)
        parts, best, evaluated = [], {}, 0
        for w in p.workloads:
            local = cache.get(p, w, onsite)
            parts.append((w.name, dict(local.columns)))
            best[w.name] = local.best_latency.get(w.name, {})
            evaluated += local.evaluated
            for offer in roadmap.cloud:
                rented = cache.get(p, w, (_cloud_gpu(p, offer),))
                parts.append((w.name, _relabel(rented, offer.option)))
                evaluated += rented.evaluated
        out.append(_merge(parts, best, evaluated, p.candidate_pruning))
    return out
