"""Queueing delay of a continuous-batching replica, vectorized.

A replica with ``slots`` concurrent sequences (its batch) is an M/G/c system for slot admission:
a request holds a slot for ``hold_s`` = slots / saturated request rate (Little's law). Waiting for
a slot follows Erlang C. Admitted prompts then share the per-step prefill budget, an M/D/1 queue
whose mean wait is rho / (2 (1 - rho)) x service time.
"""

from __future__ import annotations

import numpy as np

from planner.core.constants import fixed


def erlang_c(slots: np.ndarray, offered_load: np.ndarray) -> np.ndarray:
    """Probability an arrival waits (Erlang C), vectorized and O(1) per element.

    Erlang B is the Poisson pmf over the cdf at ``slots`` (B = p(c; a) / P(X <= c; a)), computed in
    log space with the regularized incomplete gamma function; C = B / (1 - rho (1 - B)).
    """
    from scipy.special import gammaincc, gammaln

    a = np.maximum(offered_load, 1e-300)
    log_pmf = slots * np.log(a) - a - gammaln(slots + 1.0)
    cdf = gammaincc(slots + 1.0, a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = np.exp(log_pmf - np.log(np.maximum(cdf, 1e-300)))
        b = np.clip(b, 0.0, 1.0)
        rho = offered_load / slots
        c = b / (1.0 - rho * (1.0 - b))
    c = np.where(rho >= 1.0, 1.0, np.clip(np.nan_to_num(c, nan=1.0), 0.0, 1.0))
    return np.where(offered_load <= 0.0, 0.0, c)  # idle: never waits (the log guard above leaves 1e-300)


def slot_wait_quantile(rate: np.ndarray, slots: np.ndarray, hold_s: np.ndarray, q: float,
                       p_wait: np.ndarray | None = None) -> np.ndarray:
    """Wait for a free slot at quantile q: P(W > t) = C exp(-(slots/hold - rate) t)."""
    if p_wait is None:
        p_wait = erlang_c(slots, rate * hold_s)
    drain = slots / hold_s - rate
    tail = 1.0 - q
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(p_wait / tail) / drain
    return np.where(drain <= 0, np.inf, np.where(p_wait > tail, t, 0.0))


def prefill_wait_quantile(rate: np.ndarray, service_s: np.ndarray, q: float) -> np.ndarray:
    """M/D/1 wait for the prefill budget; the quantile scales the mean by an exponential tail."""
    rho = rate * service_s
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = rho / (2.0 * (1.0 - rho)) * service_s
    scale = {0.5: np.log(2.0), 0.95: fixed("wait_tail_factor"), 0.99: np.log(100.0)}.get(q, np.log(1 / (1 - q)))
    return np.where(rho >= 1.0, np.inf, mean * scale)


def ttft_quantile(rate: np.ndarray, *, ttft_solo_s: np.ndarray, slots: np.ndarray, hold_s: np.ndarray,
                  prefill_service_s: np.ndarray, q: float) -> np.ndarray:
    return (ttft_solo_s + slot_wait_quantile(rate, slots, hold_s, q)
            + prefill_wait_quantile(rate, prefill_service_s, q))


BISECTION_STEPS = 24  # rate resolved to 2^-24 of the replica's ceiling: far below any other error


def max_rate_meeting(limit_s: np.ndarray, rate_max: np.ndarray, q: float, **kw: np.ndarray) -> np.ndarray:
    """Largest arrival rate in [0, rate_max] whose TTFT quantile stays within ``limit_s`` (bisection).

    Returns 0 where even an idle replica misses the limit. NaN limits mean no TTFT SLO.
    """
    lo = np.zeros_like(rate_max)
    hi = rate_max.copy()
    no_slo = np.isnan(limit_s)
    ok_hi = ttft_quantile(hi, q=q, **kw) <= limit_s
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        ok = ttft_quantile(mid, q=q, **kw) <= limit_s
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    solo_ok = kw["ttft_solo_s"] <= limit_s
    rate = np.where(ok_hi, rate_max, lo)
    return np.where(no_slo, rate_max, np.where(solo_ok, rate, 0.0))
