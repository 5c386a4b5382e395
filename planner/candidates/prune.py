"""Pruning of dominated operating points before the integer program sees them.

Two rules, chosen per solve (``Problem.candidate_pruning``):

- ``heuristic`` (the default, ``prune``): within one (workload, GPU type), a point is dropped when
  another is at least as good in capacity per GPU (higher), watts per request/s at capacity (lower)
  and replica size (smaller replicas pack more finely), and strictly better in one. It keeps few
  points, so solves stay fast, but it is a heuristic: the program charges base power per replica
  plus power per routed request/s and buys whole replicas, so a dropped point can be the cheaper
  one. Swapping a pruned pool for its dominator's adds at most one replica of the dominator
  (tests/unit/test_prune.py); on the shipped scenarios the optimum over every point is at most
  0.56 % lower in min_tco (measured 2026-11-27).
- ``exact`` (``prune_exact``): drops only points that whole copies of another point replace with no
  more GPUs and no more power at any load, so the optimum is the optimum over every point; it keeps
  tens of times more points and solves are slower.
"""

from __future__ import annotations

import numpy as np


def _group_codes(cols: dict[str, np.ndarray]) -> np.ndarray:
    """An integer per (workload, GPU) pair, without building joined strings (integer columns: numbers
    standing for the names, as planner.candidates.generate passes them)."""
    _, w = np.unique(_names(cols["workload"]), return_inverse=True)
    g_names, g = np.unique(_names(cols["gpu"]), return_inverse=True)
    return w.reshape(-1).astype(np.int64) * max(len(g_names), 1) + g.reshape(-1)


def _names(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    return v if v.dtype.kind in "iu" else v.astype(str)


def _dense_rank(v: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... in increasing value; equal values share a rank."""
    _, rank = np.unique(v, return_inverse=True)
    return rank.reshape(-1).astype(np.int64)


def _pareto_2d(segment: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of points not dominated within their segment in (a high, b low), exact duplicates kept
    once (the first listed): sorted by segment, a descending, b ascending, a point survives when its
    b is below every b before it in its segment (a running minimum; the segment's offset makes it
    restart at each segment)."""
    n = len(a)
    order = np.lexsort((b, -a, segment))
    sorted_segment = segment[order]  # sorted: its dense rank is the number of changes before each point
    segment_rank = np.concatenate(([0], np.cumsum(sorted_segment[1:] != sorted_segment[:-1])))
    key = _dense_rank(b)[order] - segment_rank * (n + 1)  # later segments lie below earlier keys
    before = np.minimum.accumulate(np.concatenate(([np.iinfo(np.int64).max], key[:-1])))
    keep = np.zeros(n, dtype=bool)
    keep[order] = key < before
    return keep


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (i, j) of positions with the same group, ``groups`` sorted."""
    starts = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    sizes = np.diff(np.append(starts, len(groups)))
    size_of = np.repeat(sizes, sizes)
    rows = np.repeat(np.arange(len(groups)), size_of)
    first = np.repeat(np.repeat(starts, sizes), size_of)
    offset = np.arange(len(rows)) - np.repeat(np.cumsum(size_of) - size_of, size_of)
    return rows, first + offset


def prune(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Keep, per (workload, GPU), operating points not dominated in capacity per GPU, watts per
    request/s at capacity, and replica size (smaller replicas pack more finely)."""
    n = len(cols["workload"])
    keep = np.zeros(n, dtype=bool)
    if not n:
        return keep
    per_gpu = cols["capacity_rps"] / cols["num_gpus"]
    w_per_rps = cols["power_at_capacity_w"] / cols["capacity_rps"]
    size = cols["num_gpus"].astype(float)
    group = _group_codes(cols)
    # first the 2-D front within each (group, replica size), then the 3-D check across sizes
    front = np.flatnonzero(_pareto_2d(group * (n + 1) + _dense_rank(size), per_gpu, w_per_rps))
    front = front[np.argsort(group[front], kind="stable")]
    i, j = (front[k] for k in _pairs_within(group[front]))  # i: the point judged; j: one that might dominate it
    ge = (per_gpu[j] >= per_gpu[i]) & (w_per_rps[j] <= w_per_rps[i]) & (size[j] <= size[i])
    gt = (per_gpu[j] > per_gpu[i]) | (w_per_rps[j] < w_per_rps[i]) | (size[j] < size[i])
    dominated = np.zeros(n, dtype=bool)
    dominated[i[ge & gt]] = True
    keep[front] = ~dominated[front]
    return keep


def prune_exact(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Keep every operating point the integer program could need: within a (workload, GPU), B is
    dropped only when m = size_B / size_A whole copies of some A hold at least B's capacity
    (m x cap_A >= cap_B), draw no more base power (m x base_A <= base_B) and no more power per routed
    request/s (slope_A <= slope_B), each of no more capacity than B when m > 1 (N+k spares), one of them
    strictly; of exact duplicates the first is kept. Replacing B's replicas by m copies of A's then
    uses the same GPUs, servers and racks, carries the same traffic and draws no more power, so no
    objective gets worse: the optimum over the kept points is the optimum over all points."""
    n = len(cols["workload"])
    keep = np.ones(n, dtype=bool)
    if not n:
        return keep
    group = _group_codes(cols)
    size = cols["num_gpus"].astype(float)
    cap, base, slope = cols["capacity_rps"], cols["power_base_w"], cols["power_slope_w_per_rps"]
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(group[order][1:] != group[order][:-1]) + 1
    for g in np.split(order, starts):  # one pass per (workload, GPU), over the pairs within it
        # rows: the point judged (B); columns: the point that might replace it (A)
        m = size[g][:, None] / size[g][None, :]
        whole = (m >= 1) & (m == np.floor(m))
        cap_ok = m * cap[g][None, :] >= cap[g][:, None]
        base_ok = m * base[g][None, :] <= base[g][:, None]
        slope_ok = slope[g][None, :] <= slope[g][:, None]
        small_ok = (m == 1) | (cap[g][None, :] <= cap[g][:, None])
        strict = (m * cap[g][None, :] > cap[g][:, None]) | (m * base[g][None, :] < base[g][:, None]) \
            | (slope[g][None, :] < slope[g][:, None])
        idx = np.arange(len(g))
        duplicate_of_earlier = ~strict & (idx[None, :] < idx[:, None])  # equal in every figure, listed first
        dominated = whole & cap_ok & base_ok & slope_ok & small_ok & (strict | duplicate_of_earlier)
        np.fill_diagonal(dominated, False)
        keep[g] = ~dominated.any(axis=1)
    return keep
