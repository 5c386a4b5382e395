"""The vectorized pruning rules (planner/candidates/prune.py) against their definitions written as
plain pairwise loops, on random tables with many ties (coarse figures) and with none."""

from __future__ import annotations

import numpy as np
import pytest

from planner.candidates.prune import prune, prune_exact

pytestmark = pytest.mark.unit


def random_table(seed: int, n: int, coarse: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def figure(choices: list[float], lo: float, hi: float) -> np.ndarray:
        return rng.choice(choices, n) if coarse else rng.uniform(lo, hi, n)

    return {"workload": rng.choice(["a", "b", "c"], n), "gpu": rng.choice(["x", "y", "zz"], n),
            "num_gpus": rng.choice([1, 2, 4, 8], n), "capacity_rps": figure([1.0, 2.0, 3.0, 4.5], 0.1, 5.0),
            "power_at_capacity_w": figure([100.0, 200.0, 300.0], 50.0, 500.0),
            "power_base_w": figure([50.0, 100.0], 10.0, 100.0), "power_slope_w_per_rps": figure([5.0, 10.0], 1.0, 20.0)}


def heuristic_by_definition(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Dropped: another point of the same (workload, GPU) at least as good in capacity per GPU (higher),
    watts per request/s (lower) and size (smaller), strictly better in one, or equal in all three and
    listed first."""
    a = cols["capacity_rps"] / cols["num_gpus"]
    b = cols["power_at_capacity_w"] / cols["capacity_rps"]
    c = cols["num_gpus"]
    n = len(a)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            same = cols["workload"][i] == cols["workload"][j] and cols["gpu"][i] == cols["gpu"][j]
            as_good = a[j] >= a[i] and b[j] <= b[i] and c[j] <= c[i]
            better = a[j] > a[i] or b[j] < b[i] or c[j] < c[i]
            if i != j and same and as_good and (better or j < i):
                keep[i] = False
    return keep


@pytest.mark.parametrize("seed", range(40))
def test_heuristic_prune_is_its_definition(seed):
    cols = random_table(seed, int(np.random.default_rng(seed).integers(0, 90)), coarse=seed % 2 == 0)
    assert np.array_equal(prune(cols), heuristic_by_definition(cols))


@pytest.mark.parametrize("seed", range(20))
def test_exact_prune_per_group_equals_prune_of_each_group_alone(seed):
    cols = random_table(seed, 120, coarse=seed % 2 == 0)
    keep = prune_exact(cols)
    for w in ("a", "b", "c"):
        for g in ("x", "y", "zz"):
            sel = (cols["workload"] == w) & (cols["gpu"] == g)
            assert np.array_equal(keep[sel], prune_exact({k: v[sel] for k, v in cols.items()}))


def test_empty_tables():
    cols = random_table(0, 0, coarse=True)
    assert prune(cols).shape == (0,)
    assert prune_exact(cols).shape == (0,)
