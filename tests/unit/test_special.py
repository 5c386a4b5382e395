"""planner/candidates/special.py (the numpy sums behind P(wait)) against scipy.special and exact
rational arithmetic, on random inputs over the ranges candidate generation meets and beyond."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.special import betainc, gammaincc, gammaln

from planner.candidates.special import log_gamma, negbin_below_ratio, poisson_below_ratio

pytestmark = pytest.mark.unit

BATCHES = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024], dtype=float)


def test_log_gamma_matches_scipy_to_a_few_ulps_of_the_shift():
    x = np.exp(np.random.default_rng(1).uniform(np.log(1e-3), np.log(1e6), 20_000))
    assert np.allclose(log_gamma(x), gammaln(x), rtol=1e-14, atol=1e-13)
    assert log_gamma(np.array([1.0, 2.0]))[0] == pytest.approx(0.0, abs=1e-13)
    assert log_gamma(np.array([10.0]))[0] == pytest.approx(math.log(362880.0), rel=1e-15)


def _chain_wait(ratio: np.ndarray, below: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + below * (1.0 - ratio))


def test_negbin_ratio_gives_the_wait_probability_scipy_gives():
    rng = np.random.default_rng(2)
    n = 50_000
    r = 1.0 + np.exp(rng.uniform(np.log(1e-3), np.log(1e5), n))
    c = rng.choice(BATCHES, n)
    ratio = rng.uniform(0.0, 0.999, n)
    p = ratio * c / (r - 1.0 + c)  # utilization rate x hold(c) / c = p (r - 1 + c) / c
    with np.errstate(over="ignore"):
        log_full = c * np.log(p) + gammaln(c + r) - gammaln(r) - gammaln(c + 1.0)
        ref = np.exp(-r * np.log1p(-p) + np.log(betainc(r, c, 1.0 - p)) - log_full)
    got = negbin_below_ratio(r, c, p)
    wait, wait_ref = _chain_wait(ratio, got), _chain_wait(ratio, ref)
    # both lose about 1e-10 where Gamma's arguments reach 1e5 (ln Gamma ~ 1e6, its last digits)
    assert np.allclose(wait, wait_ref, rtol=1e-9, atol=1e-15)


def test_negbin_ratio_equals_the_exact_sum():
    for r, c, p in ((Fraction(3, 2), 4, Fraction(1, 5)), (Fraction(41, 4), 12, Fraction(1, 20)),
                    (Fraction(3), 32, Fraction(9, 10)), (Fraction(200), 8, Fraction(1, 100))):
        w = [Fraction(1)]
        for k in range(c):  # w_{k+1} / w_k = p (k + r) / (k + 1)
            w.append(w[-1] * p * (k + r) / (k + 1))
        exact = sum(w[:c]) / w[c]
        got = negbin_below_ratio(np.array([float(r)]), np.array([float(c)]), np.array([float(p)]))[0]
        assert got == pytest.approx(float(exact), rel=1e-12)


def test_poisson_ratio_is_one_over_erlang_b():
    rng = np.random.default_rng(3)
    c = rng.choice(BATCHES, 20_000)
    a = rng.uniform(0.0, 0.999, c.shape) * c + 1e-6
    erlang_b = np.exp(c * np.log(a) - a - gammaln(c + 1.0) - np.log(gammaincc(c + 1.0, a)))
    assert np.allclose(1.0 / poisson_below_ratio(c, a), erlang_b, rtol=1e-10, atol=1e-300)


def test_poisson_ratio_equals_the_erlang_b_recursion():
    for servers, load in ((1, Fraction(1, 2)), (11, Fraction(10)), (64, Fraction(3, 7) * 64), (512, Fraction(500))):
        b = Fraction(1)
        for k in range(1, servers + 1):
            b = load * b / (k + load * b)
        got = poisson_below_ratio(np.array([float(servers)]), np.array([float(load)]))[0]
        assert got == pytest.approx(float(1 / b), rel=1e-11)


def test_fractional_slot_counts_take_the_closed_forms():
    c = np.array([2.5, 7.25, 40.5, 100.5])
    a = 0.8 * c
    erlang_b = np.exp(c * np.log(a) - a - gammaln(c + 1.0) - np.log(gammaincc(c + 1.0, a)))
    assert np.allclose(1.0 / poisson_below_ratio(c, a), erlang_b, rtol=1e-10)
    r, p = np.array([3.0, 12.0, 50.0, 7.5]), np.array([0.1, 0.02, 0.01, 0.05])
    log_full = c * np.log(p) + gammaln(c + r) - gammaln(r) - gammaln(c + 1.0)
    ref = np.exp(-r * np.log1p(-p) + np.log(betainc(r, c, 1.0 - p)) - log_full)
    assert np.allclose(negbin_below_ratio(r, c, p), ref, rtol=1e-9)
