"""max_rate_meeting (bisection then Newton) against plain bisection run to the last bit, on random
replicas: the answer meets the limit and lies within ROOT_TOL (1e-9) of the root below it."""

from __future__ import annotations

import numpy as np
import pytest

from planner.candidates.queueing import ROOT_TOL, ReplicaLoad, max_rate_meeting, ttft_quantile_at_load

pytestmark = pytest.mark.unit


def random_replicas(seed: int, n: int) -> ReplicaLoad:
    rng = np.random.default_rng(seed)
    slots = rng.choice([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0], n)
    step_1 = rng.uniform(0.005, 0.05, n)
    step_c = step_1 * (1.0 + rng.uniform(0.0, 3.0, n) * (slots > 1))
    solo = rng.uniform(0.02, 0.5, n)
    service = rng.uniform(0.001, 0.05, n)

    def v(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float)

    return ReplicaLoad(slots=slots, output_tokens=v(rng.uniform(50, 1000, n)), output_cv2=v(rng.uniform(0, 1.5, n)),
                       step_1_s=step_1, step_c_s=step_c, decode_step_1_s=step_1, decode_step_c_s=step_c,
                       mixed_step_1_s=1.5 * step_1, mixed_step_c_s=1.5 * step_c,
                       mixed_share_1=v(rng.uniform(0, 0.1, n)), mixed_share_c=v(rng.uniform(0, 0.5, n)),
                       prefill_service_1_s=service, prefill_service_c_s=service * rng.uniform(1.0, 2.0, n),
                       prompt_room_share=v(rng.uniform(0, 1, n)),
                       solo_1_s=solo, solo_c_s=solo * rng.uniform(1.0, 3.0, n), solo_tail_1_s=solo * 2,
                       solo_tail_c_s=solo * rng.uniform(2.0, 6.0, n))


def bisection(limit: np.ndarray, r: ReplicaLoad, q: float) -> np.ndarray:
    """The largest rate meeting the limit by 80 halvings of [0, rate_max] (to the last bit)."""
    lo, hi = np.zeros(len(limit)), r.rate_max()
    top_ok = ttft_quantile_at_load(r, hi, q) <= limit
    idle_ok = ttft_quantile_at_load(r, lo, q) <= limit
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        ok = ttft_quantile_at_load(r, mid, q) <= limit
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(top_ok, r.rate_max(), np.where(idle_ok, lo, 0.0))


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
@pytest.mark.parametrize("seed", range(2))
def test_newton_lands_within_the_tolerance_below_the_root(seed, q):
    r = random_replicas(seed, 3000)
    limit = ttft_quantile_at_load(r, np.zeros(3000), q) * np.random.default_rng(seed + 10).uniform(0.9, 30.0, 3000)
    got = max_rate_meeting(limit, r, q)
    ref = bisection(limit, r, q)
    assert np.array_equal(got > 0, ref > 0)
    assert np.all(ttft_quantile_at_load(r, got, q)[got > 0] <= limit[got > 0])  # meets the limit
    open_ = (ref > 0) & (ref < r.rate_max())
    assert open_.sum() > 700  # most answers are inside the bracket, not at its ends
    rel = (ref[open_] - got[open_]) / ref[open_]
    assert np.all(rel >= -1e-15) and np.all(rel <= 2 * ROOT_TOL)
