"""Regenerate the analytic-vs-simulation tables of docs/queueing.md (issue 11, item 2).

For each configuration (tests/sim_continuous_batching.py: CHAT, CHAT_VARIABLE, LONG) and each load
(10 % to 95 % of the analytic saturated rate), it runs the discrete-event simulation of the
continuous-batching scheduler (``--replications`` independent runs of ``--requests`` Poisson
arrivals, pooled) and prints TTFT p50/p95 and ITL mean/p95 beside the analytic model as candidate
generation applies it, plus a *proposed* analytic model (``proposed_ttft_s`` below: a prototype for
the diagnosis in docs/queueing.md, not the planner's path).

Run: ``python3 bench/bench_queueing_sim.py [--requests 40000] [--replications 3] [--write docs/queueing.md]``
(about a minute of one core). ``--write`` replaces the text between the ``<!-- sim-tables -->`` markers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import sim_continuous_batching as sim  # noqa: E402

from planner.catalog import load_catalog  # noqa: E402

BEGIN, END = "<!-- sim-tables:begin -->", "<!-- sim-tables:end -->"


def wait_probability_linear_hold(slots: float, rate: float, hold0_s: float, hold_slope_s: float) -> float:
    """P(an arrival waits for a slot) when a replica with n sequences in flight completes them at
    n / hold(n), hold(n) = hold0 + slope x n (a smaller batch steps faster). The birth-death chain's
    weights below ``slots`` are negative-binomial terms, so their sum is a regularized incomplete beta
    function: O(1) and vectorizable like today's Erlang C, which it becomes as the slope goes to 0."""
    from scipy.special import betainc, gammaln

    p = rate * hold_slope_s
    r = 1.0 + hold0_s / hold_slope_s
    log_full = slots * np.log(p) + gammaln(slots + r) - gammaln(r) - gammaln(slots + 1.0)
    log_below = -r * np.log1p(-p) + np.log(betainc(r, slots, 1.0 - p))
    ratio = rate * (hold0_s + hold_slope_s * slots) / slots
    return float(1.0 / (1.0 + np.exp(log_below - log_full + np.log1p(-ratio))))


def _mixed_step_s(cfg: sim.Config, rep: sim.Replica, batch: int) -> tuple[float, float]:
    """Mean step at ``batch`` (a share of steps carries a prompt chunk, the rest none) and one prompt's
    service on the budget (n_in / chunk x the chunk's step)."""
    per_step = batch * cfg.input_tokens / cfg.output_tokens
    chunk = int(min(cfg.budget_tokens - batch, max(cfg.input_tokens, per_step)))
    share = min(per_step / chunk, 1.0)
    mean = share * rep.step_s[batch, chunk] + (1.0 - share) * rep.step_s[batch, 0]
    return float(mean), cfg.input_tokens / chunk * float(rep.step_s[batch, chunk])


def proposed_ttft_s(cfg: sim.Config, rep: sim.Replica, rate: float, q: float) -> float:
    """A prototype of the corrections docs/queueing.md proposes, from the core at batch 1 and at the
    full batch only (what candidate generation already evaluates), interpolated in between:

    1. hold time from the mean of mixed and decode-only steps (a step carries a whole prompt chunk
       or none; the current model spreads prompt tokens evenly, which the step time's convexity
       makes too fast);
    2. slot wait: P(wait) from `wait_probability_linear_hold`, tail decay x 2 / (1 + cv^2) of the
       output length (cv = 0 when fixed);
    3. solo TTFT and the wait for the step in progress (q of a step) at the load's mean batch
       b = rate hold0 / (1 - rate slope) (Little's law with hold(b));
    4. the prefill budget's M/D/1 wait with the tail shape the slot wait already uses,
       P(W > t) = rho exp(-t rho / mean), in place of a fixed p95 / mean factor, scaled by n_in / room
       below one step's room (short prompts share a step rather than queue).
    """
    c, n_in, n_out, budget = cfg.slots, cfg.input_tokens, cfg.output_tokens, cfg.budget_tokens
    (step_1, service_1), (step_c, service_c) = _mixed_step_s(cfg, rep, 1), _mixed_step_s(cfg, rep, c)
    slope = n_out * (step_c - step_1) / (c - 1)
    hold0 = n_out * step_1 - slope
    if rate * (hold0 + slope * c) >= c:
        return np.inf
    p_wait = wait_probability_linear_hold(c, rate, hold0, slope)
    cv2 = 0.0 if cfg.output_lengths == "fixed" else 1.0
    decay = (c / (n_out * step_c) - rate) * 2.0 / (1.0 + cv2)
    slot = np.log(p_wait / (1.0 - q)) / decay if p_wait > 1.0 - q else 0.0
    batch = min(c, rate * hold0 / (1.0 - rate * slope))
    w = max(batch - 1.0, 0.0) / (c - 1)  # interpolation weight between batch 1 and the full batch
    solo_1 = np.ceil(n_in / (budget - 1)) * rep.step_s[0, min(n_in, budget - 1)]
    solo_c = np.ceil(n_in / (budget - c)) * rep.step_s[c - 1, min(n_in, budget - c)]
    service = service_1 + w * (service_c - service_1)
    rho = rate * service
    if rho >= 1.0:
        return np.inf
    mean = rho / (2.0 * (1.0 - rho)) * service
    prefill = max(0.0, mean / rho * np.log(rho / (1.0 - q))) if rho > 0 else 0.0
    prefill *= min(1.0, n_in / (budget - c))
    return float(solo_1 + w * (solo_c - solo_1) + slot + prefill + q * (step_1 + w * (step_c - step_1)))


def _ms(v: float) -> str:
    return "inf" if not np.isfinite(v) else f"{v * 1e3:,.0f}" if v >= 0.1 else f"{v * 1e3:.1f}"


def _pct(a: float, s: float) -> str:
    return "sat." if not np.isfinite(a) or s > 60 else f"{a / s - 1:+.0%}"


def table(cfg: sim.Config, rows: list[dict[str, float]], rep: sim.Replica) -> list[str]:
    head = ("| load | rate (req/s) | TTFT p50 analytic / sim (ms) | TTFT p95 analytic / sim (ms) | p95 error | "
            "sim p95 run spread | ITL mean analytic / sim (ms) | ITL p95 analytic / sim (ms) "
            "| decode batch analytic / sim |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        spread = (r["ttft_p95_sim_max_s"] - r["ttft_p95_sim_min_s"]) / r["ttft_p95_sim_s"]
        out.append(
            f"| {r['load']:.0%} | {r['rate_rps']:.3g} | {_ms(r['ttft_p50_analytic_s'])} / {_ms(r['ttft_p50_sim_s'])} "
            f"| {_ms(r['ttft_p95_analytic_s'])} / {_ms(r['ttft_p95_sim_s'])} "
            f"| {_pct(r['ttft_p95_analytic_s'], r['ttft_p95_sim_s'])} | {spread:.0%} "
            f"| {_ms(r['itl_mean_analytic_s'])} / {_ms(r['itl_mean_sim_s'])} "
            f"| {_ms(r['itl_p95_analytic_s'])} / {_ms(r['itl_p95_sim_s'])} "
            f"| {r['decode_batch_analytic']:.1f} / {r['decode_batch_sim']:.1f} |")
    return out


def section(n_requests: int, replications: int) -> str:
    catalog = load_catalog()
    lines = [f"Simulation: {replications} independent runs of {n_requests:,} Poisson arrivals per point (the first "
             "10 % of each discarded), pooled; *run spread* is (max - min) / pooled of the runs' own p95. "
             "*sat.*: the simulated replica is past its own saturated rate (latency grows with the run length).", ""]
    for cfg in (sim.CHAT, sim.CHAT_VARIABLE, sim.LONG):
        t0 = time.perf_counter()
        a = sim.analytic_from_candidates(cfg, catalog)
        rep = sim.replica_from_core(cfg, catalog)
        rows = sim.compare(cfg, catalog, n_requests=n_requests, replications=replications)
        outs = sim._outputs(cfg, n_requests, 99)
        sat = sim.saturated_rps(rep, 1.3 * a.saturated_rps) if outs is None else float("nan")
        lines += [f"### {cfg.name}: {cfg.model} on {cfg.tp} x {cfg.gpu} {cfg.precision}, {cfg.slots} slots, "
                  f"{cfg.budget_tokens}-token step budget, {cfg.input_tokens} in / {cfg.output_tokens} out"
                  + (" (geometric output lengths)" if outs is not None else ""), "",
                  f"Analytic saturated rate {a.saturated_rps:.4g} req/s (candidates' `saturated_rps`), planning cap "
                  f"`rate_max` {a.rate_max_rps:.4g} req/s ({a.rate_max_rps / a.saturated_rps:.0%}); "
                  + (f"simulated saturated rate {sat:.4g} req/s ({sat / a.saturated_rps:.1%} of the analytic). "
                     if np.isfinite(sat) else "")
                  + f"Solo TTFT at the cap {a.ttft_solo_p95_s * 1e3:.1f} ms, hold at the cap {a.hold_s:.3g} s, "
                  f"prefill service "
                  f"{a.prefill_service_s * 1e3:.1f} ms.", ""]
        lines += table(cfg, rows, rep) + [""]
        print(f"{cfg.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=40000)
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--write", type=Path, help="replace the tables between the markers in this file")
    args = ap.parse_args()
    text = section(args.requests, args.replications)
    if args.write is None:
        print(text)
        return
    doc = args.write.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    args.write.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


if __name__ == "__main__":
    main()
