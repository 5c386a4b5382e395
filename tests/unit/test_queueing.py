"""Direct tests of planner/candidates/queueing.py: Erlang C against exact rational arithmetic and
published figures, the M/M/1, M/M/c and M/D/1 closed forms, monotonicity in load, the edges (idle,
saturated) and `max_rate_meeting` as the inverse of `ttft_quantile`."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.candidates.queueing import (
    ReplicaLoad,
    erlang_c,
    latency_at_load,
    max_rate_meeting,
    prefill_wait_quantile,
    slot_wait_quantile,
    ttft_from_candidates,
    ttft_quantile,
    ttft_quantile_at_load,
    wait_probability,
)

pytestmark = pytest.mark.unit

FEW = settings(max_examples=60, deadline=None, derandomize=True)


def exact_erlang_c(servers: int, offered_load: Fraction) -> Fraction:
    """Erlang C in exact rational arithmetic, independent of the code under test: the Erlang B
    recursion B(n) = a B(n-1) / (n + a B(n-1)), B(0) = 1, then C = B / (1 - rho (1 - B))."""
    b = Fraction(1)
    for n in range(1, servers + 1):
        b = offered_load * b / (n + offered_load * b)
    rho = offered_load / servers
    return b / (1 - rho * (1 - b))


def ec(servers: float, offered_load: float) -> float:
    return float(erlang_c(np.array([float(servers)]), np.array([float(offered_load)]))[0])


# --- Erlang C -------------------------------------------------------------------------------

@pytest.mark.parametrize(("servers", "offered_load", "published", "tolerance"), [
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 10 Erlangs
    # offered to 11 agents, probability a call waits 68.21 %.
    (11, 10.0, 0.6821, 5e-5),
    # M/M/2 in closed form: C(2, a) = a^2 / (2 + a) (from the definition with two servers).
    (2, 1.0, 1.0 / 3.0, 1e-12),
    (2, 1.5, 9.0 / 14.0, 1e-12),
    # M/M/1: P(wait) = rho.
    (1, 0.5, 0.5, 1e-12),
    (1, 0.9, 0.9, 1e-12),
    # Math Stack Exchange question on the Erlang C curve: 10 servers, 6 Erlangs, "about 0.10" (read
    # off a chart, hence the tolerance).
    (10, 6.0, 0.10, 0.005),
])
def test_erlang_c_matches_published_values(servers, offered_load, published, tolerance):
    assert ec(servers, offered_load) == pytest.approx(published, abs=tolerance)


@pytest.mark.parametrize(("servers", "load_num", "load_den"), [
    (1, 1, 10), (2, 3, 2), (4, 7, 2), (8, 6, 1), (16, 15, 1), (64, 60, 1), (64, 639, 10),
    (128, 100, 1), (256, 250, 1), (512, 300, 1), (1024, 1000, 1),
])
def test_erlang_c_equals_exact_rational_value(servers, load_num, load_den):
    """Slot counts up to the largest batch of the candidate grid (1024), loads up to 99.9 %."""
    exact = float(exact_erlang_c(servers, Fraction(load_num, load_den)))
    assert ec(servers, load_num / load_den) == pytest.approx(exact, rel=1e-9, abs=1e-300)


@FEW
@given(servers=st.integers(1, 96), utilization=st.fractions(Fraction(1, 1000), Fraction(999, 1000),
                                                             max_denominator=1000))
def test_erlang_c_equals_exact_rational_value_on_random_points(servers, utilization):
    load = utilization * servers
    assert ec(servers, float(load)) == pytest.approx(float(exact_erlang_c(servers, load)), rel=1e-9)


@FEW
@given(servers=st.integers(1, 512), u1=st.floats(0.0, 0.999), u2=st.floats(0.0, 0.999))
def test_erlang_c_rises_with_load_and_falls_with_servers(servers, u1, u2):
    lo, hi = sorted((u1, u2))
    c = float(servers)
    assert ec(c, lo * c) <= ec(c, hi * c) + 1e-12
    # one more server at the same offered load never makes waiting more likely
    assert ec(c + 1.0, hi * c) <= ec(c, hi * c) + 1e-12


def test_erlang_c_edges_idle_and_saturated():
    slots = np.array([1.0, 8.0, 64.0, 1024.0])
    assert np.array_equal(erlang_c(slots, np.zeros(4)), np.zeros(4))
    assert np.array_equal(erlang_c(slots, slots), np.ones(4))  # rho = 1
    assert np.array_equal(erlang_c(slots, 3.0 * slots), np.ones(4))  # overloaded
    assert np.all(np.isfinite(erlang_c(slots, 0.999999 * slots)))


# --- slot wait: M/M/c tail and mean ---------------------------------------------------------

def test_slot_wait_tail_is_the_mm_c_closed_form():
    """P(W > t) = C exp(-(c mu - lambda) t): the q-quantile solves C exp(-(c mu - lambda) t) = 1 - q."""
    slots, hold_s, rate = 16.0, 2.0, 7.5  # c mu = 8 per s
    c = ec(slots, rate * hold_s)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        t = float(slot_wait_quantile(np.array([rate]), np.array([slots]), np.array([hold_s]), q)[0])
        expected = max(0.0, math.log(c / (1.0 - q)) / (slots / hold_s - rate))
        assert t == pytest.approx(expected, rel=1e-12, abs=1e-15)
        if t > 0:
            assert c * math.exp(-(slots / hold_s - rate) * t) == pytest.approx(1.0 - q, rel=1e-9)


def _mean_from_quantiles(quantile, n: int = 200_000) -> float:
    """Mean of a non-negative variable as the integral of its quantile function over (0, 1)."""
    q = (np.arange(n) + 0.5) / n
    return float(np.mean(quantile(q)))


@pytest.mark.parametrize(("slots", "hold_s", "rate"), [(1.0, 0.5, 1.0), (1.0, 0.1, 9.0), (8.0, 1.0, 6.0),
                                                        (64.0, 3.0, 20.0)])
def test_slot_wait_mean_is_the_mm_c_mean(slots, hold_s, rate):
    """Mean wait of M/M/c: W_q = C / (c mu - lambda) (M/M/1: rho / (mu - lambda)); integrating the
    quantile function recovers it."""
    mean = _mean_from_quantiles(lambda q: slot_wait_quantile(np.full(q.shape, rate), np.full(q.shape, slots),
                                                             np.full(q.shape, hold_s), q))
    closed = ec(slots, rate * hold_s) / (slots / hold_s - rate)
    if slots == 1.0:
        rho = rate * hold_s
        assert closed == pytest.approx(rho / (1.0 / hold_s - rate), rel=1e-12)
    assert mean == pytest.approx(closed, rel=2e-3)


def test_slot_wait_idle_and_saturated():
    slots, hold = np.array([4.0, 4.0, 4.0]), np.array([1.0, 1.0, 1.0])
    rate = np.array([0.0, 4.0, 10.0])  # idle, exactly saturated (c mu = 4), overloaded
    t = slot_wait_quantile(rate, slots, hold, 0.95)
    assert t[0] == 0.0
    assert np.isinf(t[1]) and np.isinf(t[2])


# --- prefill wait: M/D/1 --------------------------------------------------------------------

def test_prefill_wait_tail_is_rho_times_an_exponential_of_the_md1_mean():
    """Pollaczek-Khinchine for deterministic service: W_q = rho S / (2 (1 - rho)); the heavy-traffic
    tail is P(W > t) = rho exp(-t rho / W_q) (P(W > 0) = rho, the mean kept), the light-traffic one
    rho (1 - t / S); the quantile is the larger, and 0 when rho <= 1 - q."""
    service_s, rate = 0.02, 30.0  # rho = 0.6
    pk_mean = 0.6 * service_s / (2.0 * 0.4)
    for q in (0.5, 0.9, 0.95, 0.99):
        got = float(prefill_wait_quantile(np.array([rate]), np.array([service_s]), q)[0])
        heavy = pk_mean / 0.6 * math.log(0.6 / (1.0 - q))
        light = service_s * (1.0 - (1.0 - q) / 0.6)  # the uniform residual of the prompt in service
        assert got == pytest.approx(max(heavy, light), rel=1e-12)
    # light traffic: the residual dominates (rho 0.1: p95 = half a service)
    assert float(prefill_wait_quantile(np.array([5.0]), np.array([service_s]), 0.95)[0]) == pytest.approx(0.01)
    assert float(prefill_wait_quantile(np.array([30.0]), np.array([service_s]), 0.3)[0]) == 0.0
    # Erlang's exact M/D/1 p95 at rho 0.4 and a 0.32 s service is 0.49 s (docs/queueing.md): within 15 %
    assert float(prefill_wait_quantile(np.array([1.25]), np.array([0.32]), 0.95)[0]) == pytest.approx(0.49, rel=0.15)


def test_prefill_wait_idle_and_saturated():
    t = prefill_wait_quantile(np.array([0.0, 50.0, 80.0]), np.array([0.02, 0.02, 0.02]), 0.95)
    assert t[0] == 0.0
    assert np.isinf(t[1]) and np.isinf(t[2])  # rho = 1 and rho = 1.6


# --- TTFT quantile --------------------------------------------------------------------------

replica = st.fixed_dictionaries({
    "ttft_solo_s": st.floats(0.005, 2.0),
    "slots": st.sampled_from([1.0, 2.0, 8.0, 32.0, 64.0, 256.0, 1024.0]),
    "hold_s": st.floats(0.2, 60.0),
    "prefill_share": st.floats(0.01, 0.9),  # prefill utilization at the slot saturation rate
})


def _kw(r: dict) -> dict[str, np.ndarray]:
    saturated = r["slots"] / r["hold_s"]
    return {"ttft_solo_s": np.array([r["ttft_solo_s"]]), "slots": np.array([r["slots"]]),
            "hold_s": np.array([r["hold_s"]]), "prefill_service_s": np.array([r["prefill_share"] / saturated])}


@FEW
@given(r=replica, u1=st.floats(0.0, 0.99), u2=st.floats(0.0, 0.99), q=st.sampled_from([0.5, 0.95, 0.99]))
def test_ttft_quantile_is_monotone_in_load(r, u1, u2, q):
    kw = _kw(r)
    saturated = r["slots"] / r["hold_s"]
    lo, hi = sorted((u1, u2))
    t_lo = ttft_quantile(np.array([lo * saturated]), q=q, **kw)[0]
    t_hi = ttft_quantile(np.array([hi * saturated]), q=q, **kw)[0]
    assert r["ttft_solo_s"] <= t_lo <= t_hi


@FEW
@given(r=replica, u=st.floats(0.0, 0.99))
def test_ttft_quantile_is_monotone_in_the_quantile(r, u):
    kw = _kw(r)
    rate = np.array([u * r["slots"] / r["hold_s"]])
    t = [ttft_quantile(rate, q=q, **kw)[0] for q in (0.5, 0.95, 0.99)]
    assert t[0] <= t[1] <= t[2]


def test_ttft_quantile_idle_is_solo_and_saturated_is_infinite():
    kw = _kw({"ttft_solo_s": 0.05, "slots": 8.0, "hold_s": 2.0, "prefill_share": 0.5})
    assert ttft_quantile(np.array([0.0]), q=0.95, **kw)[0] == 0.05
    assert np.isinf(ttft_quantile(np.array([4.0]), q=0.95, **kw)[0])  # slots / hold = 4 per s


# --- the load-dependent model (ReplicaLoad) ---------------------------------------------------

def load_of(slots: float, step_1_s: float, step_c_s: float, n_out: float = 200.0, service_s: float = 0.01,
            solo_s: float = 0.05, cv2: float = 1.0, n: int = 1) -> ReplicaLoad:
    def a(v: float) -> np.ndarray:
        return np.full(n, float(v))

    return ReplicaLoad(slots=a(slots), output_tokens=a(n_out), output_cv2=a(cv2), step_1_s=a(step_1_s),
                       step_c_s=a(step_c_s), decode_step_1_s=a(step_1_s), decode_step_c_s=a(step_c_s),
                       mixed_step_1_s=a(1.5 * step_1_s), mixed_step_c_s=a(1.5 * step_c_s), mixed_share_1=a(0.01),
                       mixed_share_c=a(0.2), prefill_service_1_s=a(service_s), prefill_service_c_s=a(service_s),
                       prompt_room_share=a(0.5), solo_1_s=a(solo_s), solo_c_s=a(2 * solo_s),
                       solo_tail_1_s=a(solo_s), solo_tail_c_s=a(2 * solo_s))


def test_wait_probability_without_slope_is_erlang_c():
    rate, hold = np.array([3.0]), np.array([2.0])
    got = wait_probability(rate, np.array([8.0]), hold, np.array([0.0]))
    assert got[0] == pytest.approx(ec(8, 6.0), rel=1e-12)


@pytest.mark.parametrize(("slots", "rate", "hold0", "slope"), [(4, 1.0, 1.0, 0.5), (16, 5.0, 1.0, 0.1),
                                                                (64, 20.0, 1.2, 0.03)])
def test_wait_probability_is_the_birth_death_chain(slots, rate, hold0, slope):
    """Against the chain summed term by term: completion rate n / (hold0 + slope n) below the slots."""
    weights, w = [1.0], 1.0
    for k in range(1, slots + 1):
        w *= rate * (hold0 + slope * k) / k
        weights.append(w)
    ratio = rate * (hold0 + slope * slots) / slots
    full = weights[-1] / (1.0 - ratio)
    exact = full / (sum(weights[:-1]) + full)
    got = wait_probability(np.array([rate]), np.array([float(slots)]), np.array([hold0]), np.array([slope]))[0]
    assert got == pytest.approx(exact, rel=1e-9)


@FEW
@given(u1=st.floats(0.0, 0.98), u2=st.floats(0.0, 0.98), q=st.sampled_from([0.5, 0.95, 0.99]),
       slots=st.sampled_from([1.0, 8.0, 64.0, 512.0]))
def test_ttft_at_load_is_monotone_in_load_and_saturates(u1, u2, q, slots):
    r = load_of(slots, 0.01, 0.01 + 0.0002 * slots)
    lo, hi = sorted((u1, u2))
    t = [ttft_quantile_at_load(r, u * r.saturated_rps, q)[0] for u in (lo, hi)]
    assert r.solo_1_s[0] <= t[0] <= t[1]
    assert np.isinf(ttft_quantile_at_load(r, r.saturated_rps, q)[0])


def test_latency_at_load_edges_and_littles_law():
    r = load_of(32.0, 0.01, 0.02)
    idle = latency_at_load(r, np.array([0.0]))
    assert idle["batch_size"][0] == 0.0 and not idle["saturated"][0]
    assert idle["ttft_p50_s"][0] == pytest.approx(r.solo_1_s[0] + 0.5 * r.step_1_s[0])
    rate = 0.5 * r.saturated_rps
    mid = latency_at_load(r, rate)
    b = mid["batch_size"][0]  # Little's law with the hold at that batch
    assert b == pytest.approx(rate[0] * (r.hold0_s[0] + r.hold_slope_s[0] * b), rel=1e-9)
    sat = latency_at_load(r, 1.01 * r.saturated_rps)
    assert sat["saturated"][0] and np.isinf(sat["ttft_p95_s"][0]) and np.isfinite(sat["itl_mean_s"][0])


# --- max_rate_meeting -----------------------------------------------------------------------

@FEW
@given(slots=st.sampled_from([1.0, 8.0, 64.0, 256.0]), slack=st.floats(1.05, 50.0),
       q=st.sampled_from([0.5, 0.95, 0.99]))
def test_max_rate_meeting_inverts_ttft_quantile(slots, slack, q):
    """The rate returned meets the limit; 0.1 % more misses it, unless the answer is the ceiling."""
    r = load_of(slots, 0.01, 0.01 + 0.0002 * slots)
    limit = np.array([r.solo_1_s[0] * slack])
    rate = max_rate_meeting(limit, r, q)
    top = r.rate_max()
    assert 0.0 <= rate[0] <= top[0]
    if rate[0] == 0.0:  # even an idle replica misses the limit
        assert ttft_quantile_at_load(r, rate, q)[0] > limit[0]
        return
    assert ttft_quantile_at_load(r, rate, q)[0] <= limit[0]
    if rate[0] < top[0]:
        assert ttft_quantile_at_load(r, rate * 1.001 + 1e-12, q)[0] > limit[0]


def test_max_rate_meeting_edges():
    r = load_of(8.0, 0.01, 0.012, n=4)
    top = r.rate_max()
    # no SLO (NaN): the ceiling; a loose limit: the ceiling; a limit the idle replica misses: 0
    rate = max_rate_meeting(np.array([np.nan, 1e6, 0.01, 0.06]), r, 0.95)
    assert rate[0] == top[0] and rate[1] == top[1] and rate[2] == 0.0
    assert 0.0 < rate[3] < top[3]


def test_max_rate_meeting_rises_with_the_limit():
    r = load_of(32.0, 0.01, 0.02, n=5)
    rate = max_rate_meeting(np.array([0.06, 0.07, 0.1, 0.3, 1.0]), r, 0.95)
    assert np.all(np.diff(rate) >= 0.0) and rate[-1] > rate[0]


def test_ttft_from_candidates_uses_the_load_columns_else_the_flat_model():
    from planner.candidates.queueing import load_columns

    r = load_of(32.0, 0.01, 0.02, n=3)
    flat = {"ttft_solo_p95_s": np.full(3, 0.1), "batch_size": np.full(3, 32.0), "hold_s": np.full(3, 4.0),
            "prefill_service_s": np.full(3, 0.01)}
    rate = np.array([1.0, 2.0, 3.0])
    with_load = ttft_from_candidates({**flat, **load_columns(r)}, np.arange(3), rate, 0.95)
    assert np.array_equal(with_load, ttft_quantile_at_load(r, rate, 0.95))
    without = ttft_from_candidates(flat, np.arange(3), rate, 0.95)
    assert np.array_equal(without, ttft_quantile(rate, ttft_solo_s=flat["ttft_solo_p95_s"], slots=flat["batch_size"],
                                                 hold_s=flat["hold_s"], prefill_service_s=flat["prefill_service_s"],
                                                 q=0.95))
