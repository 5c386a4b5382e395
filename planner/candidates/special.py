"""The two sums the queueing model needs, in numpy alone (no scipy.special: it cost a fifth of a solve's start-up).

Both are ratios of a birth-death chain's weights below the slot count to its weight at the slot
count, the quantity P(wait) turns on:

* `poisson_below_ratio` (Erlang): sum over n <= c of a^n / n!, over a^c / c!: 1 / Erlang B;
* `negbin_below_ratio` (slots whose hold grows with the batch): sum over n < c of w_n over w_c, with
  w_n = p^n Gamma(n + r) / (Gamma(r) n!), a regularized incomplete beta function.

Up to HORNER_MAX slots (most of the candidate grid) each is summed term by term, exact to a few
ulps per term. Above, each is one closed form minus (or times) a series or continued fraction that
converges fast on the side it is used (Abramowitz & Stegun 6.5.29 for the incomplete gamma series,
26.5.8 for the incomplete beta continued fraction, evaluated by the modified Lentz method); elements
leave the vectorized loop as they converge. tests/unit/test_special.py: equal to exact rational sums
within 1e-12, and P(wait) within 1e-9 of scipy.special's (both lose the last digits of ln Gamma
where its argument reaches 1e5).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_EPS = 1e-15
_TINY = 1e-300
_MAX_TERMS = 5000
_SHIFT = 10.0
HORNER_MAX = 64
"""Up to this many slots the sums are summed term by term (c multiply-adds, exact to c ulps); above,
the closed forms with a series or continued fraction (fewer steps, each dearer)."""
_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
# Stirling's series coefficients B_2k / (2k (2k - 1)) for k = 1..5
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)


def log_gamma(x: np.ndarray) -> np.ndarray:
    """ln Gamma(x) for x > 0: Stirling's series at x + 10 or above, the recurrence below that
    (next term under 2e-14 at 10, so about 1e-15 relative)."""
    x = np.asarray(x, dtype=float)
    low = x < _SHIFT
    z = np.where(low, x + _SHIFT, x)
    inv, inv2 = 1.0 / z, 1.0 / (z * z)
    series = np.zeros_like(z)
    for coef in reversed(_STIRLING):
        series = series * inv2 + coef
    out = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series * inv
    if low.any():
        shift = np.zeros_like(x)
        for k in range(int(_SHIFT)):
            shift += np.log(np.where(low, x + k, 1.0))
        out = out - shift
    return out


def _poisson_series(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum over n >= 0 of a^n / ((c + 2) ... (c + 1 + n)), for a < c + 1 (ratio of terms below 1)."""
    total, term = np.ones_like(a), np.ones_like(a)
    live = np.arange(len(a))
    for n in range(1, _MAX_TERMS):
        term[live] *= a[live] / (c[live] + 1.0 + n)
        total[live] += term[live]
        live = live[term[live] > _EPS * total[live]]
        if not len(live):
            break
    return total


def poisson_below_ratio(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """P(X <= c) / P(X = c) for X Poisson with mean a < c + 1 (so 1 / Erlang B of c servers at load a).

    Up to HORNER_MAX slots, the sum itself: 1 + (c / a)(1 + ((c - 1) / a)(1 + ...)); above, 1 / pmf(c)
    - P(X > c) / pmf(c), the second term from the lower incomplete gamma series."""
    c, a = (v.reshape(-1) for v in np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(a, dtype=float)))
    out = np.empty(c.shape)
    few = _whole_and_few(c)
    if few.any():
        with np.errstate(over="ignore", divide="ignore"):
            out[few] = 1.0 + _horner(c[few], (1.0 / a[few],), lambda k, inv_a: (k + 1.0) * inv_a)
    many = ~few
    if many.any():
        cm, am = c[many], a[many]
        with np.errstate(over="ignore", divide="ignore"):
            inv_pmf = np.exp(am + log_gamma(cm + 1.0) - cm * np.log(am))
        out[many] = inv_pmf - am / (cm + 1.0) * _poisson_series(am, cm)
    return out


def _whole_and_few(c: np.ndarray) -> np.ndarray:
    """Slot counts summed term by term: whole numbers from 1 to HORNER_MAX."""
    return (c >= 1.0) & (c <= HORNER_MAX) & (c == np.floor(c))


def _horner(c: np.ndarray, params: tuple[np.ndarray, ...], factor: Callable[..., np.ndarray]) -> np.ndarray:
    """sum over n < c of prod over k in [n, c) of factor(k, *params), as acc <- factor (1 + acc) for
    k = 0 .. c - 1. The elements are sorted by c, most first, so those still summing at step k are a
    prefix (slices, not masks); a sum past the float range is inf."""
    order = np.argsort((HORNER_MAX - c).astype(np.uint8), kind="stable")  # most slots first; a radix sort
    sorted_params = tuple(v[order] for v in params)
    counts = np.searchsorted(-c[order], -np.arange(int(c.max(initial=0.0))), side="left")  # how many c > k
    acc = np.zeros(len(c))
    with np.errstate(over="ignore", invalid="ignore"):
        for first, stop, m in _steps_by_prefix(counts.tolist()):
            part = acc[:m]
            k = np.arange(first, stop, dtype=float)[:, None]
            for row in factor(k, *(v[None, :m] for v in sorted_params)):
                part += 1.0
                part *= row
    out = np.empty(len(c))
    out[order] = acc
    return out


_HORNER_BLOCK = 2**18
"""Factors made at once in `_horner` at most (2 MiB)."""


def _steps_by_prefix(counts: list[int]) -> list[tuple[int, int, int]]:
    """The steps k = 0, 1, ... with ``counts[k]`` elements still summing, as runs (first k, end k, count)
    of one count, each at most _HORNER_BLOCK factors."""
    runs: list[tuple[int, int, int]] = []
    first = 0
    for k in range(1, len(counts) + 1):
        if k == len(counts) or counts[k] != counts[first] or (k - first + 1) * counts[first] > _HORNER_BLOCK:
            runs.append((first, k, counts[first]))
            first = k
    return runs


def _beta_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of I_x(a, b) / (x^a (1 - x)^b / (a B(a, b))), for x < (a + 1) / (a + b + 2).

    The loop works on compacted copies of the unconverged elements and writes each one out as it
    converges. The terms' coefficients are made _FRACTION_BLOCK steps at a time (m as a column: the same
    operations per element as one step at a time)."""
    out = np.empty(len(x))
    idx = np.arange(len(x))
    d = 1.0 / _away_from_zero(1.0 - (a + b) * x / (a + 1.0))
    c = np.ones_like(x)
    h = d.copy()
    apb = a + b
    for first in range(1, _MAX_TERMS, _FRACTION_BLOCK):
        m = np.arange(first, min(first + _FRACTION_BLOCK, _MAX_TERMS), dtype=float)[:, None]
        a2m = a + 2 * m
        odd = m * (b - m) * x / ((a2m - 1.0) * a2m)
        even = -(a + m) * (apb + m) * x / (a2m * (a2m + 1.0))
        for row in range(len(m)):
            for coef in (odd[row], even[row]):
                d = 1.0 / _away_from_zero(1.0 + coef * d)
                c = _away_from_zero(1.0 + coef / c)
                step = d * c
                h *= step
            done = np.abs(step - 1.0) <= _EPS
            if done.any():
                out[idx[done]] = h[done]
                live = ~done
                if not live.any():
                    return out
                idx, a, b, x, apb, d, c, h = (v[live] for v in (idx, a, b, x, apb, d, c, h))
                odd, even = odd[:, live], even[:, live]
    out[idx] = h
    return out


_FRACTION_BLOCK = 8
"""Steps of `_beta_fraction` whose coefficients are made in one call (most elements converge in 10-20)."""


def _away_from_zero(v: np.ndarray) -> np.ndarray:
    """The Lentz method's guard: a denominator of exactly (or nearly) zero becomes a tiny one."""
    small = np.abs(v) < _TINY
    if small.any():
        v = np.where(small, _TINY, v)
    return v


def negbin_below_ratio(r: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """sum over n < c of w_n / w_c, with w_n = p^n Gamma(n + r) / (Gamma(r) n!) (0 < p < 1, c >= 1).

    The sum is (1 - p)^-r I_{1-p}(r, c) / w_c. Where 1 - p < (r + 1) / (r + c + 2) the continued
    fraction of I_{1-p}(r, c) converges and the ratio is c / r times it; elsewhere I_{1-p}(r, c) =
    1 - I_p(c, r), whose fraction converges there, and the ratio is (1 - p)^-r / w_c minus it.
    """
    r, c, p = (v.reshape(-1) for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, c, p))))
    out = np.empty(r.shape)
    few = _whole_and_few(c)
    if few.any():  # w_k / w_(k+1) = (k + 1) / (p (k + r))
        with np.errstate(over="ignore", divide="ignore"):
            out[few] = _horner(c[few], (1.0 / p[few], r[few]), lambda k, inv_p, r_: (k + 1.0) * inv_p / (k + r_))
    direct = ~few & ((1.0 - p) < (r + 1.0) / (r + c + 2.0))
    if direct.any():
        out[direct] = c[direct] / r[direct] * _beta_fraction(r[direct], c[direct], 1.0 - p[direct])
    rest = ~few & ~direct
    if rest.any():
        rr, cc, pp = r[rest], c[rest], p[rest]
        with np.errstate(over="ignore", divide="ignore"):
            whole = np.exp(-rr * np.log1p(-pp) + log_gamma(rr) + log_gamma(cc + 1.0) - cc * np.log(pp)
                           - log_gamma(cc + rr))
        out[rest] = whole - _beta_fraction(cc, rr, pp)
    return out
