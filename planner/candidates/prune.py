"""Pruning of dominated operating points before the integer program sees them.

Within one (workload, GPU type), a point is dropped when another is at least as good in all three
of capacity per GPU (higher), watts per request/s at capacity (lower) and replica size (smaller
replicas pack more finely), and strictly better in one. Any plan using a dropped point can swap it
for its dominator without using more GPUs, power or money (see tests/unit/test_prune.py).
"""

from __future__ import annotations

import numpy as np


def _pareto_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of points not dominated in (a high, b low), ties kept once, in O(n log n)."""
    order = np.lexsort((b, -a))  # a descending, then b ascending
    keep = np.zeros(len(a), dtype=bool)
    best_b = np.inf
    for i in order:
        if b[i] < best_b:
            keep[i] = True
            best_b = b[i]
    return keep


def prune(cols: dict[str, np.ndarray]) -> np.ndarray:
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
        # first the 2-D front within each replica size, then the 3-D check across sizes
        front = np.zeros(len(g), dtype=bool)
        for s in np.unique(size[g]):
            same = np.flatnonzero(size[g] == s)
            front[same] = _pareto_2d(per_gpu[g][same], w_per_rps[g][same])
        g = g[front]
        # rows: the point judged; columns: the point that might dominate it
        a_row, b_row, c_row = per_gpu[g][:, None], w_per_rps[g][:, None], size[g][:, None]
        a_col, b_col, c_col = per_gpu[g][None, :], w_per_rps[g][None, :], size[g][None, :]
        ge = (a_col >= a_row) & (b_col <= b_row) & (c_col <= c_row)
        gt = (a_col > a_row) | (b_col < b_row) | (c_col < c_row)
        keep[g] = ~(ge & gt).any(axis=1)
    return keep
