"""Discrete-event simulation of one continuous-batching replica, to check the analytic queueing model.

A test and documentation helper (tests/test_queueing_vs_simulation.py, bench/bench_queueing_sim.py,
docs/queueing.md), not the planner's path. It simulates the scheduler that
planner/candidates/queueing.py models analytically, step by step:

* Poisson arrivals (seeded) join a FCFS waiting queue.
* At most ``slots`` sequences are in flight (the engine's concurrency cap, vLLM ``max_num_seqs``).
* Each step has a token budget (decode tokens included, vLLM ``max_num_batched_tokens``): every
  decoding sequence takes one token, the rest goes to prompt chunks in FCFS order, first to
  prompts already being prefilled, then to waiting requests, which are admitted only while a slot
  is free and budget is left (vLLM V1 chunked prefill).
* A step's duration is the core's own step time (planner.core.model.token_step) at the step's
  actual number of decoding sequences and prompt tokens, at the configuration's mean context.
* The step that finishes a prompt emits its first token (TTFT = arrival -> end of that step); each
  later step emits one token per decoding sequence (ITL = that step's duration); a sequence leaves
  after its last output token, freeing its slot.

Runs of identical decode-only steps (no prompt work pending, nothing admissible) are advanced in
one jump to the next completion or admissible arrival, so a point of 20,000 requests takes well
under a second. Pure numpy + Python.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import Catalog
from planner.core.inputs import build_inputs
from planner.core.model import step_invariants, token_step


@dataclass(frozen=True)
class Config:
    """One replica configuration and request shape. Prompts have a fixed length; outputs too, or, with
    ``output_lengths="geometric"``, a geometric length of the same mean (about exponential)."""

    name: str
    model: str
    gpu: str
    precision: str
    tp: int
    slots: int
    budget_tokens: int
    input_tokens: int
    output_tokens: int
    output_lengths: str = "fixed"


@dataclass(frozen=True)
class Replica:
    """What the simulator needs: the scheduler's limits and a step-time table from the core."""

    slots: int
    budget_tokens: int
    input_tokens: int
    output_tokens: int
    step_s: np.ndarray
    """step_s[d, p]: duration of a step with d decoding sequences and p prompt tokens."""


@dataclass(frozen=True)
class SimResult:
    """Per-request timestamps (after warm-up) and the token-weighted ITL distribution."""

    ttft_s: np.ndarray
    slot_wait_s: np.ndarray
    """Arrival -> admission: the start of the step that runs the request's first prompt chunk (the
    wait for a slot, for the budget behind earlier prompts, and for the step in progress)."""
    itl_s: np.ndarray
    itl_weight: np.ndarray
    """Number of output tokens that came after a gap of itl_s[i]."""
    occupancy_integral_s: float
    """Integral over time of the sequences holding a slot (prefilling or decoding)."""
    holding_total_s: float
    """Sum over all requests of admission -> last token."""
    makespan_s: float
    mean_decode_batch: float
    """Decoding sequences per step, averaged over busy time."""

    def ttft_quantile_s(self, q: float) -> float:
        return float(np.quantile(self.ttft_s, q))

    def itl_mean_s(self) -> float:
        return float(np.average(self.itl_s, weights=self.itl_weight))

    def itl_quantile_s(self, q: float) -> float:
        order = np.argsort(self.itl_s)
        cum = np.cumsum(self.itl_weight[order])
        return float(self.itl_s[order][np.searchsorted(cum, q * cum[-1])])


def core_columns(cfg: Config) -> dict[str, np.ndarray]:
    """The configuration as the core's input columns (one row)."""
    return {"model": np.array([cfg.model]), "gpu": np.array([cfg.gpu]), "precision": np.array([cfg.precision]),
            "tp": np.array([float(cfg.tp)]), "pp": np.array([1.0]), "batch_size": np.array([float(cfg.slots)]),
            "prefill_chunk_tokens": np.array([float(cfg.budget_tokens)]), "engine": np.array(["vllm"]),
            "input_tokens": np.array([float(cfg.input_tokens)]), "output_tokens": np.array([float(cfg.output_tokens)])}


def replica_from_core(cfg: Config, catalog: Catalog, calibration: str | None = None) -> Replica:
    """Tabulate the core's step time over every (decoding sequences, prompt tokens) a step can hold,
    in one vectorized call, at the mean context the core itself uses (n_in + n_out / 2)."""
    x, problem = build_inputs(core_columns(cfg), catalog, load_calibration(calibration)[0])
    if problem[0]:
        raise ValueError(f"{cfg.name}: {problem[0]}")
    c = x["coefficients"]
    context = x["input_tokens"] + x["output_tokens"] / 2.0
    decode = np.arange(cfg.slots + 1, dtype=float)[:, None]
    prompt = np.arange(cfg.budget_tokens + 1, dtype=float)[None, :]
    inv = step_invariants(x, c, context)
    with np.errstate(all="ignore"):
        step = token_step(x, c, decode, prompt, context, c["eta_compute"], inv)["step_s"]
    table = np.broadcast_to(step, (cfg.slots + 1, cfg.budget_tokens + 1)).copy()
    return Replica(cfg.slots, cfg.budget_tokens, cfg.input_tokens, cfg.output_tokens, table)


def poisson_arrivals_s(rate_per_s: float, n_requests: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1.0 / rate_per_s, n_requests))


class _Run:
    """Mutable state of one simulation (kept out of the public API)."""

    def __init__(self, rep: Replica, arrivals_s: np.ndarray, output_tokens: np.ndarray, itl_from_s: float):
        self.rep = rep
        self.itl_from_s = itl_from_s
        self.step = rep.step_s.tolist()  # nested lists: fast scalar lookups in the loop
        self.arrivals = arrivals_s.tolist()
        self.n_out = output_tokens.astype(int).tolist()
        n = len(self.arrivals)
        self.first_s = [math.nan] * n
        self.admit_s = [math.nan] * n
        self.done_s = [math.nan] * n
        self.now = 0.0
        self.next_arrival = 0
        self.waiting: deque[int] = deque()
        self.prefilling: deque[list[int]] = deque()  # [request, prompt tokens left]
        self.decoding: list[tuple[int, int]] = []  # heap of (step count after its last token, request)
        self.steps = 0
        self.finished = 0
        self.itl: dict[tuple[int, int], int] = {}  # (decoding sequences, prompt tokens) -> tokens
        self.occupancy = 0.0
        self.decode_time = 0.0
        self.busy = 0.0

    def run(self) -> None:
        n = len(self.arrivals)
        while self.finished < n:
            while self.next_arrival < n and self.arrivals[self.next_arrival] <= self.now:
                self.waiting.append(self.next_arrival)
                self.next_arrival += 1
            chunks = self._schedule()
            if chunks:
                self._mixed_step(chunks)
            elif self.decoding:
                self._decode_run()
            else:  # idle: jump to the next arrival
                self.now = max(self.now, self.arrivals[self.next_arrival])

    def _schedule(self) -> list[list[int]]:
        """Prompt chunks of this step: [entry, tokens], FCFS, admitting waiting requests."""
        room = self.rep.budget_tokens - len(self.decoding)
        chunks = []
        for entry in self.prefilling:
            if room <= 0:
                return chunks
            take = min(entry[1], room)
            chunks.append([entry, take])
            room -= take
        while room > 0 and self.waiting and len(self.decoding) + len(self.prefilling) < self.rep.slots:
            r = self.waiting.popleft()
            self.admit_s[r] = self.now
            entry = [r, self.rep.input_tokens]
            self.prefilling.append(entry)
            take = min(entry[1], room)
            chunks.append([entry, take])
            room -= take
        return chunks

    def _account(self, d: int, p: int, dt: float, k: int) -> None:
        """k steps of d decoding sequences and p prompt tokens, dt each."""
        if d and self.now >= self.itl_from_s:
            self.itl[(d, p)] = self.itl.get((d, p), 0) + d * k
        self.occupancy += (d + len(self.prefilling)) * dt * k
        self.decode_time += d * dt * k
        self.busy += dt * k
        self.now += dt * k
        self.steps += k

    def _retire(self) -> None:
        while self.decoding and self.decoding[0][0] <= self.steps:
            _, r = heapq.heappop(self.decoding)
            self.done_s[r] = self.now
            self.finished += 1

    def _mixed_step(self, chunks: list[list[int]]) -> None:
        d, p = len(self.decoding), sum(take for _, take in chunks)
        self._account(d, p, self.step[d][p], 1)
        self._retire()
        for entry, take in chunks:
            entry[1] -= take
            if entry[1] == 0:
                self.prefilling.popleft()  # FCFS: only the head entries finish
                r = entry[0]
                self.first_s[r] = self.now
                if self.n_out[r] > 1:
                    heapq.heappush(self.decoding, (self.steps + self.n_out[r] - 1, r))
                else:
                    self.done_s[r] = self.now
                    self.finished += 1

    def _decode_run(self) -> None:
        """Identical decode-only steps up to the next completion or admissible arrival, in one jump."""
        d = len(self.decoding)
        dt = self.step[d][0]
        k = self.decoding[0][0] - self.steps
        if d < self.rep.slots and self.next_arrival < len(self.arrivals):
            wait = self.arrivals[self.next_arrival] - self.now
            k = min(k, max(1, math.ceil(wait / dt)))
        self._account(d, 0, dt, k)
        self._retire()


def simulate(rep: Replica, rate_per_s: float, n_requests: int, seed: int, warmup_share: float = 0.1,
             output_tokens: np.ndarray | None = None) -> SimResult:
    """Serve ``n_requests`` Poisson arrivals at ``rate_per_s``; statistics skip the first
    ``warmup_share`` of requests (and the ITL of steps before the first counted arrival).
    ``output_tokens`` (per request) replaces the fixed output length, e.g. for M/M/c checks."""
    outs = np.full(n_requests, rep.output_tokens) if output_tokens is None else np.asarray(output_tokens)
    arrivals = poisson_arrivals_s(rate_per_s, n_requests, seed)
    first = int(warmup_share * n_requests)
    run = _Run(rep, arrivals, outs, float(arrivals[first]))
    run.run()
    first_s, admit_s, done_s = (np.array(v)[first:] for v in (run.first_s, run.admit_s, run.done_s))
    keys = np.array(list(run.itl.keys()), dtype=int).reshape(-1, 2)
    return SimResult(
        ttft_s=first_s - arrivals[first:], slot_wait_s=admit_s - arrivals[first:],
        itl_s=rep.step_s[keys[:, 0], keys[:, 1]], itl_weight=np.array(list(run.itl.values()), dtype=float),
        occupancy_integral_s=run.occupancy,
        holding_total_s=float(np.sum(np.array(run.done_s) - np.array(run.admit_s))),
        makespan_s=run.now, mean_decode_batch=run.decode_time / max(run.busy, 1e-300))


# --- the analytic model, exactly as candidate generation evaluates the configuration ---------------

CHAT = Config("chat", "llama-3.1-8b", "h100-sxm", "bf16", 1, 64, 2048, 256, 256)
"""Short chat prompts: Llama 3.1 8B, H100 SXM, bf16, TP1, 64 slots, 2048-token step budget."""
LONG = Config("8k-prompt", "llama-3.3-70b", "h100-sxm", "fp8", 4, 32, 2048, 8192, 300)
"""8k-token prompts: Llama 3.3 70B, 4 x H100 SXM, fp8, TP4, 32 slots, 2048-token step budget."""
CHAT_VARIABLE = Config("chat-variable-output", "llama-3.1-8b", "h100-sxm", "bf16", 1, 64, 2048, 256, 256,
                       output_lengths="geometric")
"""CHAT with geometric output lengths of the same mean: the analytic model sees the same means."""
LOADS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
"""Arrival rates compared, as shares of the analytic saturated rate (the candidates' saturated_rps)."""


@dataclass(frozen=True)
class Analytic:
    """A configuration's queueing model as planner/candidates/generate.py builds it."""

    load: object
    """planner.candidates.queueing.ReplicaLoad of the one configuration."""
    saturated_rps: float
    rate_max_rps: float
    """The highest rate candidates load the replica to (capacity without a TTFT SLO)."""
    ttft_solo_p95_s: float
    hold_s: float
    prefill_service_s: float

    def at(self, rate_per_s: float) -> dict[str, float]:
        from planner.candidates.queueing import latency_at_load

        with np.errstate(all="ignore"):
            out = latency_at_load(self.load, np.array([rate_per_s]))  # type: ignore[arg-type]
        return {k: float(v[0]) for k, v in out.items()}

    def ttft_quantile_s(self, rate_per_s: float, q: float) -> float:
        return self.at(rate_per_s)[f"ttft_p{round(q * 100)}_s"]


def analytic_from_candidates(cfg: Config, catalog: Catalog, calibration: str | None = None) -> Analytic:
    """Run the candidates' code on the configuration, no TTFT SLO, in the resolved problem of a
    one-workload scenario (a site too large to leave the GPU out). Geometric output lengths are given
    to the scenario as a p95 of ln 20 x the mean (what an exponential length has)."""
    from pathlib import Path

    from planner.candidates import generate
    from planner.problem.build import resolve_problem
    from planner.scenario.load import LoadedScenario
    from planner.schemas.scenario import Scenario

    out_len: object = cfg.output_tokens
    if cfg.output_lengths != "fixed":
        out_len = {"mean": cfg.output_tokens, "p95": round(math.log(20.0) * cfg.output_tokens)}
    doc = {"name": "sim", "workloads": [{"name": "sim", "model": cfg.model, "precisions": [cfg.precision],
                                         "traffic": {"peak_requests_per_s": 1.0, "input_tokens": cfg.input_tokens,
                                                     "output_tokens": out_len}}],
           "hardware": {"gpus": [cfg.gpu]}, "site": {"rack_power_cap_kw": 1000, "racks": 1000}}
    loaded = LoadedScenario(Scenario.model_validate(doc), Path("sim.yaml"), None, repr(doc).encode())
    problem = resolve_problem(loaded, catalog, calibration=calibration)
    w = problem.workloads[0]
    cols = core_columns(cfg)
    grid = {k: cols[k] for k in ("gpu", "precision", "tp", "pp", "batch_size", "prefill_chunk_tokens")}
    ev = generate.evaluate_configurations(problem, w, grid)
    if ev.why[0]:
        raise ValueError(f"{cfg.name}: not an operating point ({ev.why[0]})")
    one = {**grid, "batch_size": np.array([1.0])}
    _, at_1, _ = generate._evaluate(problem, one, cfg.model, float(cfg.input_tokens), w.output_tokens.mean, "vllm")
    # fixed prompt lengths: the tail prompt is the mean one
    load = generate._replica_load(w, dict(ev.mean), at_1, np.asarray(ev.mean["ttft_s"], dtype=float))
    p = {k: float(v[0]) for k, v in ev.points.items()}
    return Analytic(load=load, saturated_rps=p["saturated_rps"], rate_max_rps=p["capacity_rps"],
                    ttft_solo_p95_s=float(ev.mean["ttft_s"][0]), hold_s=p["hold_s"],
                    prefill_service_s=p["prefill_service_s"])


def saturated_rps(rep: Replica, offered_rps: float, n_requests: int = 20000, seed: int = 0) -> float:
    """The simulated replica's own saturated rate: Poisson arrivals at ``offered_rps`` (above it), so
    the slots stay full; completions per second over the middle half of the run."""
    arrivals = poisson_arrivals_s(offered_rps, n_requests, seed)
    run = _Run(rep, arrivals, np.full(n_requests, rep.output_tokens), np.inf)
    run.run()
    done = np.sort(np.array(run.done_s))
    lo, hi = n_requests // 4, 3 * n_requests // 4
    return float((hi - lo) / (done[hi] - done[lo]))


def pooled(results: list[SimResult]) -> SimResult:
    """Independent replications as one sample (quantiles over all their requests and tokens)."""
    keys = ("ttft_s", "slot_wait_s", "itl_s", "itl_weight")
    cat = {k: np.concatenate([getattr(r, k) for r in results]) for k in keys}
    busy = [r.makespan_s for r in results]
    return SimResult(**cat, occupancy_integral_s=sum(r.occupancy_integral_s for r in results),
                     holding_total_s=sum(r.holding_total_s for r in results), makespan_s=sum(busy),
                     mean_decode_batch=float(np.average([r.mean_decode_batch for r in results], weights=busy)))


def _outputs(cfg: Config, n_requests: int, seed: int) -> np.ndarray | None:
    if cfg.output_lengths == "fixed":
        return None
    return np.random.default_rng(seed + 7919).geometric(1.0 / cfg.output_tokens, n_requests)


def compare(cfg: Config, catalog: Catalog, loads: tuple[float, ...] = LOADS, n_requests: int = 20000,
            seed: int = 1, replications: int = 1) -> list[dict[str, float]]:
    """Analytic vs simulated TTFT p50/p95 and ITL mean/p95 at each load (share of saturated_rps);
    the simulated figures pool ``replications`` independent runs of ``n_requests``."""
    a = analytic_from_candidates(cfg, catalog)
    rep = replica_from_core(cfg, catalog)
    rows = []
    for i, load in enumerate(loads):
        rate = load * a.saturated_rps
        runs = [simulate(rep, rate, n_requests, seed + 1000 * i + k, output_tokens=_outputs(cfg, n_requests, seed + k))
                for k in range(replications)]
        s = pooled(runs)
        each = [r.ttft_quantile_s(0.95) for r in runs]
        at = a.at(rate)
        rows.append({"load": load, "rate_rps": rate,
                     "ttft_p50_analytic_s": at["ttft_p50_s"], "ttft_p50_sim_s": s.ttft_quantile_s(0.5),
                     "ttft_p95_analytic_s": at["ttft_p95_s"], "ttft_p95_sim_s": s.ttft_quantile_s(0.95),
                     "itl_mean_analytic_s": at["itl_mean_s"], "itl_mean_sim_s": s.itl_mean_s(),
                     "itl_p95_analytic_s": at["itl_p95_s"], "itl_p95_sim_s": s.itl_quantile_s(0.95),
                     "decode_batch_analytic": at["batch_size"],
                     "admission_wait_p95_sim_s": float(np.quantile(s.slot_wait_s, 0.95)),
                     "decode_batch_sim": s.mean_decode_batch,
                     "ttft_p95_sim_min_s": min(each), "ttft_p95_sim_max_s": max(each)})
    return rows
