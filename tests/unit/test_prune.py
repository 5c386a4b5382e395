"""Direct tests of planner/candidates/prune.py: pruning never removes a candidate the optimum
needs, checked against an exhaustive search on small random candidate tables; ties; groups.

The exhaustive search: per workload, the least cost of whole replicas whose capacity covers the
need, over every replica count of every candidate (dynamic programming over integer capacity, so
each count vector is covered without listing them; `_enumerate` cross-checks it on tiny tables).

What holds: with the grid's replica sizes (each divides the next) the fewest GPUs never need a pruned
point, nor does any mix of GPUs and power per rps with divisible replicas. What does not, pinned
below: with whole replicas, power at capacity, and power at the routed load the program charges,
can be lower on a pruned point (on the committed scenarios, a full candidate set lowers min_tco by
up to 0.56 %: one-70b-vs-four-8b, code-assistant, rag-long-context).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.candidates.prune import prune, prune_exact

pytestmark = pytest.mark.unit

FEW = settings(max_examples=50, deadline=None, derandomize=True)
SIZES = (1, 2, 4, 8)  # replica sizes tp x pp of the candidate grid: each divides the next


def table(rows: list[tuple[str, str, int, float, float]]) -> dict[str, np.ndarray]:
    """Candidate columns from (workload, gpu, num_gpus, capacity_rps, power_at_capacity_w) rows."""
    w, g, n, cap, p = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return {"workload": np.array(w, dtype=str), "gpu": np.array(g, dtype=str), "num_gpus": np.array(n, dtype=int),
            "capacity_rps": np.array(cap, dtype=float), "power_at_capacity_w": np.array(p, dtype=float)}


def random_table(seed: int, workloads: int, per_workload: int, sizes=SIZES) -> dict[str, np.ndarray]:
    """Integer capacities (the search runs over integer capacity); coarse figures so ties occur."""
    rng = np.random.default_rng(seed)
    rows = []
    for wi in range(workloads):
        for _ in range(per_workload):
            size = int(rng.choice(sizes))
            cap = float(size * rng.integers(2, 7))
            rows.append((f"w{wi}", str(rng.choice(["g1", "g2"])), size, cap, cap * float(rng.integers(5, 9))))
    return table(rows)


def least_cost(cap: np.ndarray, cost: np.ndarray, need: int) -> float:
    """Least total cost of whole replicas (any count of each candidate) with capacity >= need."""
    best = np.full(need + 1, np.inf)  # best[c]: least cost of a capacity of at least c
    best[0] = 0.0
    for c in range(1, need + 1):
        best[c] = min(cost[i] + best[max(0, c - int(cap[i]))] for i in range(len(cap)))
    return float(best[need])


def _enumerate(cap: np.ndarray, cost: np.ndarray, need: int) -> float:
    """The same optimum by listing every replica count vector (a count above ceil(need / cap) never
    helps: one replica fewer would still cover the need)."""
    ranges = [range(math.ceil(need / c) + 1) for c in cap]
    return min((float(np.dot(n, cost)) for n in itertools.product(*ranges) if np.dot(n, cap) >= need),
               default=math.inf)


def optimum(cols: dict[str, np.ndarray], mask: np.ndarray, cost: np.ndarray, needs: dict[str, int]) -> float:
    """Sum over workloads of the least cost using only the candidates in ``mask``."""
    total = 0.0
    for w, need in needs.items():
        sel = mask & (cols["workload"] == w)
        total += least_cost(cols["capacity_rps"][sel], cost[sel], need)
    return total


def needs_of(cols: dict[str, np.ndarray], seed: int) -> dict[str, int]:
    """A need per workload between a fraction of one replica and a few of the largest."""
    rng = np.random.default_rng(seed + 1)
    out = {}
    for w in np.unique(cols["workload"]):
        top = cols["capacity_rps"][cols["workload"] == w].max()
        out[str(w)] = int(rng.integers(1, int(3 * top) + 1))
    return out


tables = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 2), st.integers(1, 7))


def test_search_agrees_with_listing_every_count_vector():
    for seed in range(30):
        cols = random_table(seed, 1, 3, sizes=(1, 2))
        need = int(np.random.default_rng(seed).integers(1, 30))
        for cost in (cols["num_gpus"].astype(float), cols["power_at_capacity_w"]):
            assert least_cost(cols["capacity_rps"], cost, need) == _enumerate(cols["capacity_rps"], cost, need)


@FEW
@given(spec=tables)
def test_min_gpus_never_needs_a_pruned_candidate(spec):
    """Replica sizes of the grid divide each other, so m = size_B / size_A replicas of a dominator A
    replace one replica of B with as many GPUs and at least its capacity."""
    seed, workloads, per_workload = spec
    cols = random_table(seed, workloads, per_workload)
    keep = prune(cols)
    needs = needs_of(cols, seed)
    gpus = cols["num_gpus"].astype(float)
    assert optimum(cols, keep, gpus, needs) == optimum(cols, np.ones(len(keep), dtype=bool), gpus, needs)


@FEW
@given(spec=tables, gpu_weight=st.floats(0.0, 1.0))
def test_fractional_gpus_and_power_never_need_a_pruned_candidate(spec, gpu_weight):
    """With replicas divisible (the LP relaxation), need x (a GPUs/rps + b W/rps) is least at one
    candidate per workload, and some candidate the pruning keeps reaches it, for every a, b >= 0."""
    seed, workloads, per_workload = spec
    cols = random_table(seed, workloads, per_workload)
    keep = prune(cols)
    per_rps = (gpu_weight * cols["num_gpus"] / cols["capacity_rps"]
               + (1.0 - gpu_weight) * cols["power_at_capacity_w"] / cols["capacity_rps"] / 1e3)
    for w in np.unique(cols["workload"]):
        mine = cols["workload"] == w
        assert per_rps[mine & keep].min() == per_rps[mine].min()


def test_min_power_with_whole_replicas_can_need_a_pruned_candidate():
    """Known limit of the pruning, pinned: with whole replicas, a dominated candidate can be the
    cheaper one in power at capacity. A (1 GPU, 10 rps, 100 W) dominates B (2 GPUs, 15 rps, 160 W):
    more rps per GPU, fewer W per rps, smaller. For 15 rps, B takes one replica (160 W), A two (200 W)."""
    cols = table([("w", "g", 1, 10.0, 100.0), ("w", "g", 2, 15.0, 160.0)])
    keep = prune(cols)
    assert keep.tolist() == [True, False]
    power = cols["power_at_capacity_w"]
    assert optimum(cols, np.ones(2, dtype=bool), power, {"w": 15}) == 160.0
    assert optimum(cols, keep, power, {"w": 15}) == 200.0


def test_min_gpus_relies_on_replica_sizes_that_divide_each_other():
    """Why the grid's sizes matter, pinned: A (2 GPUs, 20 rps) dominates B (3 GPUs, 29 rps), but 3 is
    not a multiple of 2, so for 29 rps B takes 3 GPUs and A 4. The grid (tp a power of two dividing
    the server, pp in 1, 2, 4 only over full servers) never makes such a pair."""
    cols = table([("w", "g", 2, 20.0, 200.0), ("w", "g", 3, 29.0, 300.0)])
    keep = prune(cols)
    assert keep.tolist() == [True, False]
    gpus = cols["num_gpus"].astype(float)
    assert optimum(cols, np.ones(2, dtype=bool), gpus, {"w": 29}) == 3.0
    assert optimum(cols, keep, gpus, {"w": 29}) == 4.0


def test_power_at_the_routed_load_can_need_a_pruned_candidate():
    """Known limit of the pruning, pinned (figures of scenarios/rag-long-context.yaml, mi300x fp8 tp4):
    the integer program charges base + slope x routed rps, the pruning compares power at capacity.
    A (1.72 rps, 2224.6 W + 536.2 W per rps) dominates B (1.69 rps, 2224.6 W + 529.0 W per rps) at
    capacity (1831 vs 1846 W per rps), but carrying the same 4 rps on 4 replicas B draws less."""
    base, slopes, caps = 2224.59, (536.16, 529.01), (1.72, 1.69)
    cols = table([("rag", "mi300x", 4, cap, base + slope * cap) for cap, slope in zip(caps, slopes, strict=True)])
    assert prune(cols).tolist() == [True, False]
    routed_rps, replicas = 4.0, 4
    power_a, power_b = (replicas * base + slope * routed_rps for slope in slopes)
    assert power_b < power_a


@FEW
@given(spec=tables)
def test_min_power_with_whole_replicas_loses_at_most_one_replica_per_pool(spec):
    """The bound that does hold: swapping each pruned pool for its dominator's adds at most one
    replica of the dominator (ceil(n_B cap_B / cap_A) cap_A <= n_B cap_B + cap_A)."""
    seed, workloads, per_workload = spec
    cols = random_table(seed, workloads, per_workload)
    keep = prune(cols)
    needs = needs_of(cols, seed)
    power = cols["power_at_capacity_w"]
    full = optimum(cols, np.ones(len(keep), dtype=bool), power, needs)
    pruned = optimum(cols, keep, power, needs)
    worst_replica = sum(power[(cols["workload"] == w) & keep].max() * (per_workload - 1) for w in needs)
    assert full <= pruned <= full + worst_replica + 1e-9


# --- ties, groups, edges --------------------------------------------------------------------

def test_exact_duplicates_are_kept_once():
    cols = table([("w", "g", 2, 10.0, 100.0)] * 3)
    assert prune(cols).sum() == 1


def test_equal_in_two_criteria_and_worse_in_the_third_is_dropped():
    cols = table([
        ("w", "g", 2, 10.0, 100.0),  # reference
        ("w", "g", 2, 9.0, 90.0),    # fewer rps per GPU, same W per rps, same size
        ("w", "g", 2, 10.0, 110.0),  # more W per rps
        ("w", "g", 4, 20.0, 200.0),  # larger replica, same per GPU and per rps
    ])
    assert prune(cols).tolist() == [True, False, False, False]


def test_trade_offs_are_all_kept():
    cols = table([
        ("w", "g", 1, 10.0, 120.0),  # best per GPU
        ("w", "g", 1, 8.0, 80.0),    # best W per rps
        ("w", "g", 2, 24.0, 264.0),  # larger, but more per GPU than both (12) at 11 W per rps
    ])
    assert prune(cols).tolist() == [True, True, True]


def test_groups_never_prune_each_other():
    """A point only competes within its own (workload, GPU): a worse point of another GPU or of
    another workload stays."""
    cols = table([
        ("w1", "g1", 1, 10.0, 100.0),
        ("w1", "g2", 1, 5.0, 200.0),
        ("w2", "g1", 1, 5.0, 200.0),
        ("w1|g1", "", 1, 5.0, 200.0),  # names joined differently must not merge groups
    ])
    assert prune(cols).tolist() == [True, True, True, True]


def test_one_candidate_groups_and_empty_table():
    cols = table([("w1", "g1", 8, 3.0, 9000.0), ("w2", "g1", 1, 50.0, 100.0)])
    assert prune(cols).tolist() == [True, True]
    assert prune(table([])).tolist() == []


@FEW
@given(spec=tables)
def test_every_pruned_point_has_a_kept_dominator(spec):
    seed, workloads, per_workload = spec
    cols = random_table(seed, workloads, per_workload)
    keep = prune(cols)
    a = cols["capacity_rps"] / cols["num_gpus"]
    b = cols["power_at_capacity_w"] / cols["capacity_rps"]
    s = cols["num_gpus"]
    same = (cols["workload"][:, None] == cols["workload"][None, :]) & (cols["gpu"][:, None] == cols["gpu"][None, :])
    covers = same & (a[None, :] >= a[:, None]) & (b[None, :] <= b[:, None]) & (s[None, :] <= s[:, None])
    for i in np.flatnonzero(~keep):
        assert (covers[i] & keep).any(), i


# --- the exact rule ------------------------------------------------------------------------------

def program_table(seed: int, per_workload: int) -> dict[str, np.ndarray]:
    """One workload's points with the program's power terms: base W per replica, W per routed rps."""
    rng = np.random.default_rng(seed)
    size = rng.choice((1, 2, 4), per_workload)
    cap = size * rng.integers(2, 6, per_workload).astype(float)
    base = size * rng.integers(2, 5, per_workload) * 50.0
    slope = rng.integers(1, 4, per_workload) * 10.0
    return {"workload": np.full(per_workload, "w"), "gpu": np.full(per_workload, "g"), "num_gpus": size,
            "capacity_rps": cap, "power_base_w": base, "power_slope_w_per_rps": slope,
            "power_at_capacity_w": base + slope * cap}


def program_optimum(cols: dict[str, np.ndarray], mask: np.ndarray, need: float, gpu_w: float) -> float:
    """Least gpu_w x GPUs + base power + power at the routed load (lowest slope first) over every
    whole-replica count vector of the points in ``mask`` whose capacity covers ``need``."""
    idx = np.flatnonzero(mask)
    cap, size = cols["capacity_rps"][idx], cols["num_gpus"][idx]
    base, slope = cols["power_base_w"][idx], cols["power_slope_w_per_rps"][idx]
    best = math.inf
    for n in itertools.product(*[range(math.ceil(need / c) + 1) for c in cap]):
        if np.dot(n, cap) < need:
            continue
        left, routed_w = need, 0.0
        for i in np.argsort(slope, kind="stable"):
            take = min(left, n[i] * cap[i])
            routed_w += take * slope[i]
            left -= take
        best = min(best, gpu_w * float(np.dot(n, size)) + float(np.dot(n, base)) + routed_w)
    return best


@FEW
@given(seed=st.integers(0, 2**32 - 1), per_workload=st.integers(1, 4), need=st.integers(1, 16),
       gpu_w=st.sampled_from([0.0, 1.0, 1e4]))
def test_the_exact_rule_never_loses_the_programs_optimum(seed, per_workload, need, gpu_w):
    cols = program_table(seed, per_workload)
    everything = np.ones(per_workload, dtype=bool)
    assert program_optimum(cols, prune_exact(cols), need, gpu_w) == program_optimum(cols, everything, need, gpu_w)


def test_the_exact_rule_keeps_both_counterexamples_of_the_heuristic():
    """The two pinned limits of the heuristic above: the exact rule keeps the cheaper point."""
    whole = {**table([("w", "g", 1, 10.0, 100.0), ("w", "g", 2, 15.0, 160.0)]),
             "power_base_w": np.array([100.0, 160.0]), "power_slope_w_per_rps": np.array([0.0, 0.0])}
    assert prune_exact(whole).tolist() == [True, True]
    routed = {**table([("rag", "mi300x", 4, 1.72, 0.0), ("rag", "mi300x", 4, 1.69, 0.0)]),
              "power_base_w": np.array([2224.59, 2224.59]), "power_slope_w_per_rps": np.array([536.16, 529.01])}
    assert prune_exact(routed).tolist() == [True, True]


def test_the_exact_rule_drops_what_whole_copies_replace_and_one_of_each_duplicate():
    cols = {**table([("w", "g", 1, 10.0, 0.0), ("w", "g", 2, 19.0, 0.0), ("w", "g", 1, 10.0, 0.0)]),
            "power_base_w": np.array([100.0, 250.0, 100.0]), "power_slope_w_per_rps": np.array([5.0, 6.0, 5.0])}
    # two copies of the first hold 20 >= 19 rps on the same 2 GPUs, 200 <= 250 W base, 5 <= 6 W per rps
    assert prune_exact(cols).tolist() == [True, False, False]
