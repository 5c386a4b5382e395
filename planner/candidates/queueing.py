"""Latency of a continuous-batching replica under Poisson arrivals, closed form and vectorized.

One model, used by candidate generation (capacity: the largest rate meeting the TTFT SLOs) and by
``planner.estimate(..., arrival_requests_per_s=...)``; docs/queueing.md checks it against a
discrete-event simulation of the same scheduler (tests/sim_continuous_batching.py).

A replica admits at most ``slots`` sequences (the engine's concurrency cap). With n sequences in
flight a step lasts ``step(n)``, linear between the core's step at 1 and at ``slots`` sequences
(the mean of steps that carry a whole prompt chunk and decode-only steps), so a sequence holds its
slot ``hold(n) = n_out x step(n) = hold0 + slope x n``. At arrival rate ``rate``:

* the mean number in flight is ``b = rate hold0 / (1 - rate slope)`` (Little's law with hold(b));
* **slot wait**: the birth-death chain with completion rate ``n / hold(n)`` below ``slots`` (its
  weights are negative-binomial terms: P(wait) is a regularized incomplete beta function,
  planner.candidates.special; Erlang C when the slope is 0), tail ``P(W > t) = P(wait) exp(-decay t)``,
  decay ``(slots / hold(slots) - rate) x 2 / (1 + cv^2)`` with cv the output length's coefficient of
  variation (fixed lengths drain twice as fast as exponential ones: heavy-traffic M/G/c);
* **step in progress**: an arrival waits for the running step to end, ``q x step(b)`` at quantile q;
* **prefill budget**: prompts queue for the step budget, an M/D/1 queue whose service is one prompt's
  share of the mixed steps (``n_in / room x mixed step``) with ``P(W > t) = rho exp(-t rho / mean)``,
  scaled by ``n_in / room`` below one room (short prompts share a step rather than queue);
* **prefill**: the core's solo TTFT beside ``b - 1`` decoding sequences (interpolated).

TTFT_q = prefill + step in progress_q + slot wait_q + prefill-budget wait_q.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from planner.candidates.special import negbin_below_ratio, poisson_below_ratio
from planner.core.constants import fixed


def erlang_c(slots: np.ndarray, offered_load: np.ndarray) -> np.ndarray:
    """Probability an arrival waits (Erlang C), vectorized and O(1) per element.

    Erlang B is the Poisson pmf over the cdf at ``slots`` (B = p(c; a) / P(X <= c; a), from the
    incomplete gamma series in planner.candidates.special); C = B / (1 - rho (1 - B)).
    """
    slots, offered_load = np.broadcast_arrays(np.asarray(slots, dtype=float), np.asarray(offered_load, dtype=float))
    rho = offered_load / slots
    c = np.ones(rho.shape)
    busy = (rho < 1.0) & (offered_load > 0.0)
    if busy.any():
        b = 1.0 / poisson_below_ratio(slots[busy], offered_load[busy])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            c[busy] = b / (1.0 - rho[busy] * (1.0 - b))
    # NaN reads 1 (an infinity is clipped like the finite extreme numpy.nan_to_num would put there)
    c = np.where(rho >= 1.0, 1.0, np.clip(np.where(np.isnan(c), 1.0, c), 0.0, 1.0))
    return np.where(offered_load <= 0.0, 0.0, c)  # idle: never waits


def wait_probability(rate: np.ndarray, slots: np.ndarray, hold0_s: np.ndarray, slope_s: np.ndarray,
                     floor: float = 0.0) -> np.ndarray:
    """P(an arrival finds every slot taken) when n sequences in flight complete at n / (hold0 + slope n).

    Below ``slots`` the chain's weights are p^n Gamma(n + r) / (Gamma(r) n!) with p = rate x slope and
    r = 1 + hold0 / slope (negative binomial), so their sum is (1 - p)^-r I_{1-p}(r, slots); at and
    above ``slots`` the queue drains at slots / hold(slots). Erlang C where the slope is negligible.

    Elements whose utilization at the full-batch hold, ``rate hold(slots) / slots``, is at most
    ``floor`` are not computed and read 0: P(wait) is at most that utilization there (the chain is
    stochastically below M/M/c at the full-batch hold, whose Erlang C is at most its utilization), so
    a caller that only needs P(wait) above ``floor`` (a quantile's tail) loses nothing.
    """
    rate, slots, hold0_s, slope_s = _same_shape(rate, slots, hold0_s, slope_s)
    ratio = rate * (hold0_s + slope_s * slots) / slots
    out = np.zeros(ratio.shape)
    need = ratio > floor
    if need.any():
        out[need] = _wait_probability(rate[need], slots[need], hold0_s[need], slope_s[need])
    return out


def _same_shape(*values: Any) -> list[np.ndarray]:
    """``values`` as float arrays of one shape (broadcast), skipping the broadcast when they already are."""
    arrays = [np.asarray(v, dtype=float) for v in values]
    shape = arrays[0].shape
    if all(a.shape == shape for a in arrays):
        return arrays
    return list(np.broadcast_arrays(*arrays))


def _wait_probability(rate: np.ndarray, slots: np.ndarray, hold0_s: np.ndarray, slope_s: np.ndarray) -> np.ndarray:
    hold_c = hold0_s + slope_s * slots
    ratio = rate * hold_c / slots
    flat = slope_s <= 1e-9 * np.maximum(hold0_s, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        slope = np.where(flat, 1.0, slope_s)
        p = np.clip(rate * slope, 1e-300, 1.0 - 1e-12)
        r = 1.0 + hold0_s / slope
        below = np.full(ratio.shape, np.inf)
        live = ~flat & (ratio < 1.0) & (rate > 0.0)
        below[live] = negbin_below_ratio(r[live], slots[live], p[live])
        chain = 1.0 / (1.0 + below * (1.0 - np.minimum(ratio, 1.0 - 1e-15)))
    chain = np.where(np.isnan(chain), 1.0, chain)  # an infinity is clipped below, as a finite extreme would be
    out = chain
    if flat.any():
        out = np.where(flat, 0.0, chain)
        out[flat] = erlang_c(slots[flat], rate[flat] * hold0_s[flat])
    out = np.where(ratio >= 1.0, 1.0, out)
    return np.where(rate <= 0.0, 0.0, np.clip(out, 0.0, 1.0))


def slot_wait_quantile(rate: np.ndarray, slots: np.ndarray, hold_s: np.ndarray, q: float,
                       p_wait: np.ndarray | None = None, drain_factor: np.ndarray | float = 1.0) -> np.ndarray:
    """Wait for a free slot at quantile q: P(W > t) = P(wait) exp(-drain_factor (slots/hold - rate) t)
    (M/M/c with Erlang C by default; ``hold_s`` is the hold time with every slot taken)."""
    if p_wait is None:
        p_wait = erlang_c(slots, rate * hold_s)
    drain = (slots / hold_s - rate) * drain_factor
    tail = 1.0 - q
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(p_wait / tail) / drain
    return np.where(drain <= 0, np.inf, np.where(p_wait > tail, t, 0.0))


def prefill_wait_quantile(rate: np.ndarray, service_s: np.ndarray, q: float) -> np.ndarray:
    """M/D/1 wait for the prefill budget at quantile q, P(W > 0) = rho: the larger of two tails,
    the light-traffic one (a waiting prompt waits the residual of the one in service, uniform:
    P(W > t) = rho (1 - t / service)) and the heavy-traffic one (exponential with the M/D/1 mean
    rho / (2 (1 - rho)) x service: P(W > t) = rho exp(-t rho / mean), about 10 % above Erlang's exact
    p95 at moderate load)."""
    rho = rate * service_s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean = rho / (2.0 * (1.0 - rho)) * service_s
        heavy = mean / rho * np.log(rho / (1.0 - q))
        light = service_s * (1.0 - (1.0 - q) / rho)
    t = np.where(rho > 1.0 - q, np.maximum(heavy, light), 0.0)
    return np.where(rho >= 1.0, np.inf, np.where(rate <= 0.0, 0.0, t))


def prefill_wait_mean(rate: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    rho = rate * service_s
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = rho / (2.0 * (1.0 - rho)) * service_s
    return np.where(rho >= 1.0, np.inf, mean)


@dataclass(frozen=True)
class ReplicaLoad:
    """Queueing inputs of replicas (numpy arrays of equal length), from the core evaluated at one
    sequence in flight (``*_1``) and at the concurrency cap (``*_c``), same step budget."""

    slots: np.ndarray
    output_tokens: np.ndarray
    output_cv2: np.ndarray
    """Squared coefficient of variation of the output length (0 fixed, 1 about exponential)."""
    step_1_s: np.ndarray
    step_c_s: np.ndarray
    """Mean step: steps carrying a whole prompt chunk mixed with decode-only ones (core loaded_step_s)."""
    decode_step_1_s: np.ndarray
    decode_step_c_s: np.ndarray
    mixed_step_1_s: np.ndarray
    mixed_step_c_s: np.ndarray
    mixed_share_1: np.ndarray
    mixed_share_c: np.ndarray
    """Share of steps carrying a prompt chunk."""
    prefill_service_1_s: np.ndarray
    prefill_service_c_s: np.ndarray
    """One prompt's share of the mixed steps: n_in / room x mixed step."""
    prompt_room_share: np.ndarray
    """n_in / room at the cap, at most 1: below one room prompts share a step."""
    solo_1_s: np.ndarray
    solo_c_s: np.ndarray
    """TTFT of the median prompt with nothing queued: alone, and beside slots - 1 decodes."""
    solo_tail_1_s: np.ndarray
    solo_tail_c_s: np.ndarray
    """The same for the tail (p95) prompt, used at quantiles >= 0.9."""

    def take(self, idx: np.ndarray) -> ReplicaLoad:
        return ReplicaLoad(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def with_tail(self, solo_tail_1_s: np.ndarray, solo_tail_c_s: np.ndarray) -> ReplicaLoad:
        return replace(self, solo_tail_1_s=solo_tail_1_s, solo_tail_c_s=solo_tail_c_s)

    @cached_property
    def slots_above_one(self) -> np.ndarray:
        """Slots - 1, at least 1: the span of the interpolation between one sequence and the cap."""
        return np.maximum(self.slots - 1.0, 1.0)

    @cached_property
    def drain_factor(self) -> np.ndarray:
        """How much faster than exponential lengths the slot queue drains (heavy-traffic M/G/c)."""
        return 2.0 / (1.0 + self.output_cv2)

    @cached_property
    def hold_slope_s(self) -> np.ndarray:
        per_seq = (self.step_c_s - self.step_1_s) / self.slots_above_one
        return self.output_tokens * np.maximum(per_seq, 0.0)

    @cached_property
    def hold0_s(self) -> np.ndarray:
        return np.maximum(self.output_tokens * self.step_1_s - self.hold_slope_s, 1e-12)

    @cached_property
    def hold_s(self) -> np.ndarray:
        """A slot's hold time with every slot taken."""
        return self.hold0_s + self.hold_slope_s * self.slots

    @cached_property
    def saturated_rps(self) -> np.ndarray:
        return self.slots / self.hold_s

    def rate_max(self) -> np.ndarray:
        """The highest rate a plan loads the replica to: ``planning_utilization_max`` of the saturated
        rate, and the prefill budget at most 95 % busy."""
        return np.minimum(fixed("planning_utilization_max") * self.saturated_rps, 0.95 / self.prefill_service_c_s)


def output_cv2(mean_tokens: float, p95_tokens: float) -> float:
    """Squared coefficient of variation of the output length from its mean and p95: 0 when the p95 is
    the mean (fixed lengths), 1 when it is ln 20 x the mean (an exponential length's p95), linear in
    the p95 / mean ratio in between and beyond."""
    spread = (p95_tokens / max(mean_tokens, 1.0) - 1.0) / (np.log(20.0) - 1.0)
    return float(max(spread, 0.0) ** 2)


def replica_load(at_1: Mapping[str, Any], at_c: Mapping[str, Any], input_tokens: np.ndarray,
                 output_tokens: np.ndarray, output_cv2: np.ndarray | float = 1.0) -> ReplicaLoad:
    """Queueing inputs from two core estimates (planner.core.model.evaluate outputs) of the same
    configurations: at batch 1 and at the concurrency cap, same step budget and request lengths."""
    n_in = np.asarray(input_tokens, dtype=float)
    n_out = np.asarray(output_tokens, dtype=float)

    def share(m: Mapping[str, Any]) -> np.ndarray:
        per_step = m["batch_size"] * n_in / n_out
        return np.clip(per_step / np.maximum(m["prefill_tokens_per_mixed_step"], 1.0), 0.0, 1.0)

    def service(m: Mapping[str, Any]) -> np.ndarray:
        return n_in / np.maximum(m["prefill_tokens_per_mixed_step"], 1.0) * m["mixed_step_s"]

    # the core's room per data-parallel rank (budget - the rank's batch; a speculative cycle's verify tokens):
    # a prompt lands on one rank; estimates without the key (a plain replica's) take budget - batch
    room_c = (np.asarray(at_c["prefill_room_tokens"], dtype=float) if "prefill_room_tokens" in at_c
              else np.maximum(at_c["prefill_chunk_tokens"] - at_c["batch_size"], 1.0))
    return ReplicaLoad(
        slots=np.asarray(at_c["batch_size"], dtype=float), output_tokens=n_out,
        output_cv2=np.broadcast_to(np.asarray(output_cv2, dtype=float), n_out.shape).copy(),
        step_1_s=at_1["loaded_step_s"], step_c_s=at_c["loaded_step_s"],
        decode_step_1_s=at_1["decode_step_s"], decode_step_c_s=at_c["decode_step_s"],
        mixed_step_1_s=at_1["mixed_step_s"], mixed_step_c_s=at_c["mixed_step_s"],
        mixed_share_1=share(at_1), mixed_share_c=share(at_c),
        prefill_service_1_s=service(at_1), prefill_service_c_s=service(at_c),
        prompt_room_share=np.minimum(1.0, n_in / room_c),
        solo_1_s=at_1["ttft_s"], solo_c_s=at_c["ttft_s"], solo_tail_1_s=at_1["ttft_s"], solo_tail_c_s=at_c["ttft_s"])


def mean_in_flight(r: ReplicaLoad, rate: np.ndarray) -> np.ndarray:
    """Sequences in flight on average: b = rate hold(b) (Little's law), at most the cap."""
    free = 1.0 - rate * r.hold_slope_s
    with np.errstate(divide="ignore", invalid="ignore"):
        b = rate * r.hold0_s / free
    return np.where(free > 0, np.clip(b, 0.0, r.slots), r.slots)


def _weight(r: ReplicaLoad, rate: np.ndarray) -> np.ndarray:
    """Interpolation weight between one sequence in flight (0) and the cap (1) at the load's batch."""
    b = mean_in_flight(r, rate)
    return np.clip((b - 1.0) / r.slots_above_one, 0.0, 1.0)


def _at(a1: np.ndarray, ac: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a1 + w * (ac - a1)


def _saturated(r: ReplicaLoad, rate: np.ndarray, service: np.ndarray) -> np.ndarray:
    return (rate >= r.saturated_rps) | (rate * service >= 1.0)


def ttft_quantile_at_load(r: ReplicaLoad, rate: np.ndarray, q: float) -> np.ndarray:
    """TTFT at quantile q for Poisson arrivals at ``rate`` (inf at or past saturation)."""
    rate = np.asarray(rate, dtype=float)
    w = _weight(r, rate)
    tail = q >= 0.9
    solo = _at(r.solo_tail_1_s, r.solo_tail_c_s, w) if tail else _at(r.solo_1_s, r.solo_c_s, w)
    step = _at(r.step_1_s, r.step_c_s, w)
    p_wait = wait_probability(rate, r.slots, r.hold0_s, r.hold_slope_s, floor=1.0 - q)
    slot = slot_wait_quantile(rate, r.slots, r.hold_s, q, p_wait, r.drain_factor)
    service = _at(r.prefill_service_1_s, r.prefill_service_c_s, w)
    budget = prefill_wait_quantile(rate, service, q) * r.prompt_room_share
    out = solo + q * step + slot + budget
    return np.where(_saturated(r, rate, service), np.inf, out)


def latency_at_load(r: ReplicaLoad, rate: np.ndarray) -> dict[str, np.ndarray]:
    """TTFT mean and quantiles, ITL mean and p95, mean batch and output tokens/s at ``rate``."""
    rate = np.asarray(rate, dtype=float)
    w = _weight(r, rate)
    step = _at(r.step_1_s, r.step_c_s, w)
    service = _at(r.prefill_service_1_s, r.prefill_service_c_s, w)
    sat = _saturated(r, rate, service)
    p_wait = wait_probability(rate, r.slots, r.hold0_s, r.hold_slope_s)
    drain = (r.slots / r.hold_s - rate) * 2.0 / (1.0 + r.output_cv2)
    with np.errstate(divide="ignore", invalid="ignore"):
        slot_mean = np.where(p_wait > 0, p_wait / drain, 0.0)
    ttft_mean = (_at(r.solo_1_s, r.solo_c_s, w) + step / 2.0 + slot_mean
                 + prefill_wait_mean(rate, service) * r.prompt_room_share)
    decode = _at(r.decode_step_1_s, r.decode_step_c_s, w)
    mixed = _at(r.mixed_step_1_s, r.mixed_step_c_s, w)
    # steps carrying a prompt chunk: chunks per second (rate x chunks per prompt) x the mean step;
    # the ITL p95 is the mixed step once more than 5 % of steps carry one, else the decode step
    chunks = _at(r.prefill_service_1_s / r.mixed_step_1_s, r.prefill_service_c_s / r.mixed_step_c_s, w)
    share = rate * chunks * step
    itl_p95 = np.maximum(np.where(share > 0.05, mixed, decode), step)
    inf = np.full(rate.shape, np.inf)
    out = {"ttft_mean_s": ttft_mean, **{f"ttft_p{round(q * 100)}_s": ttft_quantile_at_load(r, rate, q)
                                         for q in (0.5, 0.95, 0.99)},
           "itl_mean_s": step, "itl_p95_s": itl_p95}
    out = {k: np.where(sat, inf, v) if k.startswith("ttft") else v for k, v in out.items()}
    full = np.maximum(r.step_c_s, r.decode_step_c_s + (r.mixed_step_c_s - r.decode_step_c_s)
                      * np.clip(r.mixed_share_c / 0.05, 0.0, 1.0))
    out["itl_mean_s"] = np.where(sat, r.step_c_s, step)  # saturated: every slot taken
    out["itl_p95_s"] = np.where(sat, full, itl_p95)
    out["batch_size"] = np.where(sat, r.slots, mean_in_flight(r, rate))
    out["output_tokens_per_s"] = np.where(sat, r.saturated_rps, rate) * r.output_tokens
    out["saturated"] = sat
    return out


LOAD_COLUMN_PREFIX = "queue_"
"""Candidate columns ``queue_<field>`` carry each operating point's ReplicaLoad (planner.candidates.generate)."""


def load_columns(r: ReplicaLoad) -> dict[str, np.ndarray]:
    """A ReplicaLoad as candidate columns."""
    return {LOAD_COLUMN_PREFIX + f.name: getattr(r, f.name) for f in fields(r)}


def ttft_from_candidates(columns: Mapping[str, np.ndarray], rows: np.ndarray | int, rate: np.ndarray | float,
                         q: float) -> np.ndarray:
    """TTFT at quantile q of candidate rows at a per-replica arrival rate, with the model candidate
    generation sized them with (`ttft_quantile_at_load`) when the table carries the ``queue_*``
    columns, else the flat `ttft_quantile` of ttft_solo_p95_s, batch_size, hold_s and
    prefill_service_s (hand-made tables)."""
    idx = np.atleast_1d(np.asarray(rows))
    rate = np.broadcast_to(np.asarray(rate, dtype=float), idx.shape)
    names = [f.name for f in fields(ReplicaLoad)]
    if all(LOAD_COLUMN_PREFIX + k in columns for k in names):
        r = ReplicaLoad(**{k: np.asarray(columns[LOAD_COLUMN_PREFIX + k], dtype=float)[idx] for k in names})
        return ttft_quantile_at_load(r, rate, q)
    return ttft_quantile(rate, ttft_solo_s=np.asarray(columns["ttft_solo_p95_s"], dtype=float)[idx],
                         slots=np.asarray(columns["batch_size"], dtype=float)[idx],
                         hold_s=np.asarray(columns["hold_s"], dtype=float)[idx],
                         prefill_service_s=np.asarray(columns["prefill_service_s"], dtype=float)[idx], q=q)


def ttft_quantile(rate: np.ndarray, *, ttft_solo_s: np.ndarray, slots: np.ndarray, hold_s: np.ndarray,
                  prefill_service_s: np.ndarray, q: float) -> np.ndarray:
    """The flat-hold special case (every step as at the cap), from the candidate columns
    ttft_solo_p95_s, batch_size, hold_s and prefill_service_s: an upper bound of
    `ttft_quantile_at_load` below saturation, for callers that hold only those columns."""
    return (ttft_solo_s + slot_wait_quantile(rate, slots, hold_s, q)
            + prefill_wait_quantile(rate, prefill_service_s, q))


BISECT_FIRST = 4
"""Bisection steps of max_rate_meeting before Newton's: the TTFT curve bends sharply near saturation and
has kinks where a wait term starts; after four halvings Newton converges in about three steps."""
NEWTON_STEPS = 40
"""At most this many Newton steps (bisection where a step would leave the bracket); the feasible end is kept."""
ROOT_TOL = 1e-9
"""max_rate_meeting stops within this share of the root, on the side that meets the limit."""
SLOPE_STEP = 1e-7
"""Relative step of the finite-difference slope: the point beside each Newton point, in the same call."""


def max_rate_meeting(limit_s: np.ndarray, r: ReplicaLoad, q: float, rate_max: np.ndarray | None = None) -> np.ndarray:
    """Largest arrival rate in [0, rate_max] whose TTFT quantile stays within ``limit_s``.

    TTFT_q is increasing in the rate; the root of TTFT_q(rate) - limit is bracketed by [0, rate_max]
    and found by a few bisection steps, then Newton's with a finite-difference slope (both points in
    one call), kept in the bracket, on the configurations whose answer is neither end: about 10
    evaluations instead of the 18 of bisection and regula falsi (which it matches within 1e-6,
    within 1e-9 where both converged: tests/unit/test_queueing_newton.py). Returns 0 where even an
    idle replica misses the limit; NaN limits mean no TTFT SLO (rate_max).
    """
    top = r.rate_max() if rate_max is None else np.asarray(rate_max, dtype=float)
    limit_s = np.asarray(limit_s, dtype=float)
    no_slo = np.isnan(limit_s)
    lim = np.where(no_slo, np.inf, limit_s)
    idle_ok = ttft_quantile_at_load(r, np.zeros_like(top), q) <= lim
    top_ok = ttft_quantile_at_load(r, top, q) <= lim
    out = np.where(no_slo | (idle_ok & top_ok), top, 0.0)
    open_ = np.flatnonzero(~no_slo & idle_ok & ~top_ok)
    if len(open_):
        out[open_] = _solve(r.take(open_), lim[open_], top[open_], q)
    return out


def _solve(r: ReplicaLoad, lim: np.ndarray, hi: np.ndarray, q: float) -> np.ndarray:
    """The root bracketed by [0 (meets the limit), hi (misses it)]: its feasible end, within ROOT_TOL."""
    lo, hi = np.zeros_like(hi), hi.copy()
    for _ in range(BISECT_FIRST):
        mid = 0.5 * (lo + hi)
        ok = ttft_quantile_at_load(r, mid, q) <= lim
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    out = lo.copy()
    live = np.arange(len(lo))
    x = 0.5 * (lo + hi)
    pair = r.take(np.tile(live, 2))
    for _ in range(NEWTON_STEPS):
        lo, hi, nxt, done = _newton_step(pair, lim, x, lo, hi, q)
        if done.any():
            out[live[done]] = lo[done]
            keep = ~done
            live, lim, x, lo, hi = live[keep], lim[keep], x[keep], lo[keep], hi[keep]
            nxt = nxt[keep]
            if not len(live):
                return out
            pair = pair.take(np.tile(keep, 2))
        x = nxt
    out[live] = lo
    return out


def _newton_step(pair: ReplicaLoad, lim: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One evaluation at x and just below it: the new bracket, the next point (Newton's, aimed a hair
    below the root so the answer lands on the side that meets the limit, or the midpoint where Newton
    leaves the bracket) and which points are done."""
    m = len(x)
    beside = x * (1.0 - SLOPE_STEP)
    f = ttft_quantile_at_load(pair, np.concatenate([x, beside]), q) - np.tile(lim, 2)
    f = np.where(np.isfinite(f), f, 1e3 * np.maximum(np.tile(lim, 2), 1e-3))  # past saturation: a large excess
    f_x, f_beside = f[:m], f[m:]
    ok_x, ok_beside = f_x <= 0, f_beside <= 0
    lo = np.maximum(lo, np.where(ok_x, x, np.where(ok_beside, beside, 0.0)))
    hi = np.minimum(hi, np.where(ok_x, np.inf, np.where(ok_beside, x, beside)))
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (f_x - f_beside) / (x - beside)
        newton = x - f_x / slope
    good = np.isfinite(newton) & (slope > 0) & (newton > lo) & (newton < hi)
    done = (hi - lo <= 2.0 * ROOT_TOL * hi) | (ok_x & good & (np.abs(newton - x) <= ROOT_TOL * x))
    nxt = np.where(good, newton * (1.0 - 0.5 * ROOT_TOL), 0.5 * (lo + hi))
    return lo, hi, nxt, done


def prefill_pool_ttft_quantile(rate: np.ndarray | float, solo_s: np.ndarray, service_s: np.ndarray,
                               q: float) -> np.ndarray:
    """TTFT at quantile q of a prefill-pool replica of disaggregated serving (planner.core.disaggregated)
    at a Poisson prompt rate: the prompt alone plus its KV transfer (``solo_s``), after the M/D/1 wait for
    the prompts ahead of it (`prefill_wait_quantile`; ``service_s``: one prompt's share of saturated
    steps). No decode slots: the replica only ever holds prompts."""
    rate = np.asarray(rate, dtype=float)
    return solo_s + prefill_wait_quantile(rate, service_s, q)


def prefill_pool_max_rate(limit_s: np.ndarray, solo_s: np.ndarray, service_s: np.ndarray, q: float,
                          rate_max: np.ndarray) -> np.ndarray:
    """Largest prompt rate in [0, rate_max] whose `prefill_pool_ttft_quantile` stays within ``limit_s``
    (0 where even an idle replica misses it), by bisection to ROOT_TOL (the TTFT is increasing in the rate)."""
    lo, hi = np.zeros_like(rate_max), np.asarray(rate_max, dtype=float).copy()
    top_ok = prefill_pool_ttft_quantile(hi, solo_s, service_s, q) <= limit_s
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        ok = prefill_pool_ttft_quantile(mid, solo_s, service_s, q) <= limit_s
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
        if np.all(hi - lo <= ROOT_TOL * np.maximum(hi, 1e-300)):
            break
    out = np.where(top_ok, rate_max, lo)
    return np.where(solo_s <= limit_s, out, 0.0)
