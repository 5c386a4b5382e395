"""Enumerate operating points per workload and keep those meeting the SLOs, with their capacity.

For every workload x GPU x precision x TP x PP x batch, the core estimates one replica at the mean
request lengths (throughput, ITL, power) and at the p95 lengths (KV memory, TTFT of a long prompt).
A point is feasible when its batch fits memory at p95 lengths, its ITL quantile meets the SLO, and
some arrival rate keeps the TTFT quantile within the SLO under queueing; its capacity is the
largest such rate, at most ``planning_utilization_max`` of the saturated rate. Dominated points
are pruned before the solver sees them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.candidates.cache import CACHE
from planner.candidates.disaggregated import evaluate_decode, evaluate_prefill, role_points
from planner.candidates.prune import prune, prune_exact
from planner.candidates.queueing import (
    load_columns,
    max_rate_meeting,
    output_cv2,
    replica_load,
    ttft_quantile_at_load,
)
from planner.core.constants import fixed
from planner.core.features import tp_splits_heads
from planner.core.inputs import build_inputs, estimate_arrays
from planner.core.speculative import estimate_speculative
from planner.problem.model import GpuOption, Problem, WorkloadDemand
from planner.schemas.catalog import GpuSpec, ModelSpec

BATCH_GRID = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
TP_GRID = (1, 2, 4, 8, 16, 32, 64, 72)
PP_GRID = (1, 2, 4)
# step token budgets tried (decode tokens included): small budgets protect ITL tails, large ones
# shorten TTFT (Sarathi-Serve, OSDI'24; vLLM max_num_batched_tokens)
BUDGET_GRID = (512, 2048, 8192)
PRUNING = {"heuristic": prune, "exact": prune_exact}


@dataclass
class Candidates:
    """Feasible, non-dominated operating points of every workload (columns of equal length)."""

    columns: dict[str, np.ndarray]
    # per workload: best achievable latencies over all evaluated points (for infeasibility answers)
    best_latency: dict[str, dict[str, float]] = field(default_factory=dict)
    evaluated: int = 0
    pruning: str = "heuristic"
    """The rule that dropped dominated points (planner.candidates.prune)."""

    def __len__(self) -> int:
        return len(self.columns["workload"])



def valid_tp(tp: int, model: ModelSpec, gpus_per_server: int) -> bool:
    """Tensor parallelism an engine accepts (heads split evenly) that also divides the server."""
    kv = 0 if model.attention.kind == "mla" else model.kv_heads
    return gpus_per_server % tp == 0 and _splits_heads(tp, model.attention_heads, kv)


@functools.lru_cache(maxsize=4096)
def _splits_heads(tp: int, heads: int, kv_heads: int) -> bool:
    """planner.core.features.tp_splits_heads of one (TP, heads, KV heads): a few distinct ones a process."""
    return bool(tp_splits_heads(np.array([float(tp)]), np.array([float(heads)]), np.array([float(kv_heads)]))[0])


def distinct_precisions(precisions: Sequence[str], g: GpuSpec) -> list[str]:
    """The allowed precisions that run differently on ``g``: two with the same bytes per weight and
    the same compute path (bf16 and fp16; fp8 and int8 on Hopper) give identical operating points,
    so only the first listed is evaluated (the workload's list order is its preference)."""
    from planner.core.features import precision_path

    seen: set[tuple[float, float, bool]] = set()
    out = []
    for prec in precisions:
        weight_bytes, flops, weight_only, problem = precision_path(g, prec)
        signature = (weight_bytes, flops, weight_only) if not problem else (-1.0, -1.0, False)
        if problem or signature not in seen:
            out.append(prec)
            seen.add(signature)
    return out


def _grid(w: WorkloadDemand, model: ModelSpec, gpus: tuple[GpuOption, ...]) -> dict[str, np.ndarray]:
    """Every (GPU, precision, TP, PP, power limit, batch, token budget) to evaluate, as columns."""
    batches = np.asarray(BATCH_GRID, dtype=float)
    budgets = np.asarray(BUDGET_GRID, dtype=float)
    bb, kk = np.meshgrid(batches, budgets, indexing="ij")
    valid = kk > bb  # the budget counts decode tokens, so it must exceed the batch
    bb, kk = bb[valid], kk[valid]
    keys: list[tuple[str, str, int, int, float]] = []
    for g in gpus:
        n = g.gpus_per_server
        tps = [t for t in TP_GRID if t <= n and valid_tp(t, model, n) and (w.max_tp is None or t <= w.max_tp)]
        for prec in distinct_precisions(w.precisions, g.spec):
            for tp in tps:
                # pipeline stages span servers: only once tensor parallelism fills a server
                for pp in PP_GRID:
                    if (pp == 1 or tp == n) and (w.max_pp is None or pp <= w.max_pp):
                        keys += [(g.id, prec, tp, pp, g.tdp_w if limit_w is None else limit_w)
                                 for limit_w in g.limits_w]
    if not keys:
        return {k: np.array([], dtype=object if k in ("gpu", "precision") else float)
                for k in ("gpu", "precision", "tp", "pp", "batch_size", "prefill_chunk_tokens", "power_limit_w")}
    reps = len(bb)
    parts = [np.repeat(np.array([k[i] for k in keys]), reps) for i in range(5)]
    return {"gpu": parts[0].astype(str), "precision": parts[1].astype(str), "tp": parts[2].astype(float),
            "pp": parts[3].astype(float), "batch_size": np.tile(bb, len(keys)),
            "prefill_chunk_tokens": np.tile(kk, len(keys)), "power_limit_w": parts[4].astype(float)}


DP_GRID = (2, 4, 8)
"""Attention data-parallel ranks tried for a MoE model (with the experts over every GPU of the replica)."""


def _with_parallel_axes(grid: dict[str, np.ndarray], w: WorkloadDemand, model: ModelSpec,
                        gpus: tuple[GpuOption, ...]) -> dict[str, np.ndarray]:
    """The grid with ``ep`` and ``dp`` columns for a MoE model served aggregated without speculative decoding:
    every row as it is (ep 1, dp 1), and each single-stage row again as ``dp`` attention data-parallel ranks
    of ``tp`` GPUs with the experts spread over all ``tp x dp`` of them (ep = tp x dp: vLLM
    --data-parallel-size with --enable-expert-parallel), within one server and at least one sequence per
    rank. Other workloads keep the grid unchanged (no ep/dp columns: plain replicas)."""
    if model.moe is None or w.disaggregated or w.speculative is not None or not len(grid["gpu"]):
        return grid
    per_server = {g.id: g.gpus_per_server for g in gpus}
    of_row, first = _few_value_codes(grid["gpu"])  # one look-up per GPU type, not per row
    servers = np.array([per_server[str(g)] for g in grid["gpu"][first]], dtype=float)[of_row]
    base = {**grid, "ep": np.ones(len(grid["gpu"])), "dp": np.ones(len(grid["gpu"]))}
    parts = [base]
    for dp in DP_GRID:
        gpus_per_replica = grid["tp"] * dp
        ok = ((grid["pp"] == 1) & (gpus_per_replica <= servers) & (gpus_per_replica <= model.moe.experts_total)
              & (grid["batch_size"] >= dp))
        if ok.any():
            parts.append({**_subset(grid, np.flatnonzero(ok)), "ep": gpus_per_replica[ok],
                          "dp": np.full(int(ok.sum()), float(dp))})
    return {k: np.concatenate([part[k] for part in parts]) for k in base}


def _subset(grid: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in grid.items()}


def _evaluate(p: Problem, grid: dict[str, np.ndarray], model_id: str, n_in: float, n_out: float,
              engine: str, hit_rate: float = 0.0, spec: Any = None) -> tuple[dict[str, Any], dict[str, Any], Any]:
    n = len(grid["gpu"])
    cols = {**grid, "model": np.full(n, model_id), "engine": np.full(n, engine),
            "input_tokens": np.full(n, n_in), "output_tokens": np.full(n, n_out)}
    # the core's power-limit model only where some GPU may run below its TDP (a limit at TDP changes nothing)
    limit_w = grid.get("power_limit_w") if p.power_limited else None
    x, problem = build_inputs(cols, p.catalog, p.calibration, power_limit_w=limit_w, engines=p.catalog.engines or None)
    if hit_rate:
        x["cached_prompt_share"] = np.full(n, hit_rate)  # the core computes only uncached prompt tokens
    if spec is not None:  # speculative decoding (planner.core.speculative); vLLM runs it without pipeline stages
        problem = np.where((grid["pp"] > 1) & (problem == ""), "speculative decoding runs with pp 1 only", problem)
        draft = p.catalog.model(spec.draft_model) if spec.draft_model else None
        with np.errstate(all="ignore"):
            return x, estimate_speculative(x, spec, draft), problem
    with np.errstate(all="ignore"):
        return x, estimate_arrays(x), problem


def workload_candidates(p: Problem, w: WorkloadDemand) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    """Feasible operating points of one workload (see the module docstring), pruned within the
    workload (pruning works per workload and GPU pool, so a merged table prunes to the same points),
    and the best latencies any configuration reaches (for infeasibility answers); reused within the
    process when the same workload shape meets the same GPU options (planner.candidates.cache)."""
    return CACHE.get(p, w, _pruned_workload_candidates)


def _pruned_workload_candidates(p: Problem, w: WorkloadDemand) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    cols, best, n = _workload_candidates(p, w)
    if _pruned_with_the_slo(p, w):  # pruning it again would keep every row
        return cols, best, n
    keep = _prune(p.candidate_pruning, cols)
    return {k: v[keep] for k, v in cols.items()}, best, n


def _workload_candidates(p: Problem, w: WorkloadDemand) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    model = p.catalog.model(w.model_id)
    if w.disaggregated:
        return _serving_modes(p, w, model, _with_parallel_axes(_grid(w, model, p.gpus), w, model, p.gpus))
    stage = CACHE.stage(p, w, _workload_stage)
    cols, _ = _apply_slo(p, w, model, stage, skip_dominated=_pruned_with_the_slo(p, w))
    return cols, dict(stage.best), stage.evaluated


def _pruned_with_the_slo(p: Problem, w: WorkloadDemand) -> bool:
    """Whether `_workload_candidates` returns ``w``'s table pruned already: under the heuristic rule,
    aggregated serving, `_apply_slo` skips the rows the pruning surely drops and prunes the rest."""
    return p.candidate_pruning == "heuristic" and not w.disaggregated


def _workload_stage(p: Problem, w: WorkloadDemand) -> Stage:
    """The SLO-independent stage of ``w``'s whole grid (what planner.candidates.cache keeps without the SLO)."""
    model = p.catalog.model(w.model_id)
    return _stage(p, w, model, _with_parallel_axes(_grid(w, model, p.gpus), w, model, p.gpus))[0]


def _serving_modes(p: Problem, w: WorkloadDemand, model: ModelSpec,
                   grid: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    """A workload that allows disaggregated serving: its aggregated points (when allowed) and its
    prefill-pool and decode-pool points (planner.candidates.disaggregated), one table with a ``role`` column."""
    parts, best = [], None
    if w.aggregated:
        points = _operating_points(p, w, model, grid)
        parts.append({**points.cols, "role": np.full(len(points.rows), "aggregated")})
        best = points.best
    pre, dec, split = role_points(p, w, model, grid)
    if best is not None:  # the better of the two modes, per figure (infeasibility answers)
        split = {k: max(v, split[k]) if k in ("fits_any", "context_ok") else min(v, split[k]) for k, v in best.items()}
    return merge_columns([*parts, pre, dec]), split, len(grid["gpu"])


def merge_columns(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Candidate tables concatenated; a column some tables lack (the role of aggregated-only workloads,
    the queueing columns of disaggregated roles) is filled there: "aggregated" for ``role``, NaN for
    numbers, "" for text. Tables with the same columns concatenate unchanged."""
    keys: dict[str, np.ndarray] = {}
    for part in parts:
        for k, v in part.items():
            keys.setdefault(k, v)

    def column(part: dict[str, np.ndarray], k: str) -> np.ndarray:
        if k in part:
            return part[k]
        n = len(next(iter(part.values()), ()))
        kind = keys[k].dtype.kind
        if kind in "fiub":
            return np.full(n, np.nan)
        return np.full(n, "aggregated" if k == "role" else "")
    return {k: np.concatenate([column(part, k) for part in parts]) for k in keys}


@dataclass
class _Points:
    cols: dict[str, np.ndarray]
    """The feasible points, as candidate columns."""
    rows: np.ndarray
    """The grid row of each feasible point."""
    why: np.ndarray
    """Per grid row: "" when feasible, else the first test it fails (a REJECTIONS key)."""
    mean: dict[str, Any]
    """The core's estimate of every grid row at the mean request lengths."""
    problem: np.ndarray
    """Per grid row: the core's reason it cannot evaluate the row ('' when it can)."""
    best: dict[str, float]


REJECTIONS = ("problem", "memory", "batch", "context", "p95_memory", "itl_p50", "itl_p95", "itl_p99", "ttft")
"""Why a configuration is not an operating point, in the order tested: the core cannot evaluate it,
the model does not fit, the batch does not fit (mean lengths), a p95 sequence exceeds the model's
context or does not fit on its own, an ITL SLO is missed, no arrival rate meets the TTFT SLOs."""


def _reject(why: np.ndarray, bad: np.ndarray, reason: str) -> None:
    why[(why == "") & bad] = reason


MEAN_COLUMNS = ("itl_s", "itl_p95_s", "itl_p99_s", "num_gpus", "power_total_w", "peak_power_total_w",
                "output_tokens_per_s", "loaded_step_s", "decode_step_s", "mixed_step_s",
                "prefill_tokens_per_mixed_step", "ttft_s", "batch_size", "prefill_chunk_tokens")
"""Outputs of the mean-length estimate the SLO steps read (with PHASE_ENERGY_COLUMNS and, where the core
gives it, prefill_room_tokens): ITL, GPUs, power, and the queueing inputs at the concurrency cap."""
ONE_COLUMNS = ("batch_size", "loaded_step_s", "decode_step_s", "mixed_step_s", "prefill_tokens_per_mixed_step",
               "ttft_s", "power_total_w")
"""Outputs of the estimate at one sequence in flight the SLO steps read (queueing inputs, power floor)."""


@dataclass(frozen=True)
class Stage:
    """The part of a workload's generation its SLOs do not change (cached without them,
    planner.candidates.cache): the grid rows that pass every test before the SLOs (the core can evaluate
    them, the model, the batch and a p95 sequence fit, the context holds it), those rows' grid columns,
    the mean-length outputs the SLO steps read and the p95 prompt's solo TTFT; the best latencies; the
    number of grid rows evaluated. Three memos filled as SLOs need them (each row's figures depend on that
    row alone, so a row computed for one SLO is the same for another): the estimate at one sequence in
    flight per configuration (`_at_one`), the capacity and TTFT p95 at each TTFT SLO setting (`_capacity`),
    and per TTFT SLO setting the rows the pruning kept at the last few ITL settings (`_reduced_rows`). A
    memo is replaced whole, never written in place, so a concurrent reader sees a whole one."""

    rows: np.ndarray
    grid: dict[str, np.ndarray]
    mean: dict[str, np.ndarray]
    tail_ttft_s: np.ndarray
    best: dict[str, float]
    evaluated: int
    config: np.ndarray
    """Per stage row, its configuration but the batch (`_batch_free_configs`): rows of one configuration
    have one estimate at one sequence in flight."""
    pool_names: np.ndarray
    """The server pools (planner.problem.model.ServerPool keys, str objects) of the stage rows, each once."""
    pool_of: np.ndarray
    """Per stage row, its server pool (a position in ``pool_names``)."""
    pool_overhead_w_per_gpu: np.ndarray
    """Per server pool, the servers' overhead per GPU (planner.problem.model.GpuOption.overhead_w_per_gpu)."""
    at_one: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, compare=False)
    """Under the key "memo": ONE_COLUMNS per configuration (``config``), NaN where not evaluated yet."""
    capacity: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, compare=False)
    """By the TTFT SLOs, per stage row: the capacity at them (row 0; NaN: not computed yet) and the TTFT
    p95 at that capacity (row 1; NaN where the capacity is 0 or the TTFT is not computed yet)."""
    fronts: dict[tuple[Any, ...], tuple[tuple[np.ndarray, np.ndarray], ...]] = field(default_factory=dict,
                                                                                     compare=False)
    """By the TTFT SLOs, the last few (stage rows meeting the ITL SLOs, the rows of them the heuristic
    pruning kept), for `_reduced_rows`."""

    @property
    def nbytes(self) -> int:
        """Bytes held, counting the memos as they grow: the batch-1 estimate of every row and two TTFT settings."""
        arrays = [self.rows, self.tail_ttft_s, self.config, self.pool_of, self.pool_overhead_w_per_gpu,
                  *self.grid.values(), *self.mean.values()]
        memos = len(self.rows) * (8 * (len(ONE_COLUMNS) + 2 * 2) + 2 * FRONTS_KEPT)
        return memos + int(sum(a.nbytes + (a.size * 64 if a.dtype.kind == "O" else 0) for a in arrays))  # + str objects


def _stage(p: Problem, w: WorkloadDemand, model: ModelSpec,
           grid: dict[str, np.ndarray]) -> tuple[Stage, np.ndarray, dict[str, Any], np.ndarray]:
    """The SLO-independent stage of ``grid``, and per grid row the first failed test (REJECTIONS up to
    p95_memory), the mean-length estimate and the core's problem. Reads no SLO (tested)."""
    n = len(grid["gpu"])
    n_in, n_out = w.input_tokens, w.output_tokens
    _, m, problem = _evaluate(p, grid, model.id, n_in.mean, n_out.mean, w.engine, w.prefix_cache_hit_rate,
                              w.speculative)
    why = np.full(n, "", dtype=object)
    # KV memory: every sequence at its full mean length (the steady-state average is n_in + n_out/2,
    # the rest is margin for the spread), and one p95-length sequence must fit on its own.
    longest = w.longest_tokens
    _reject(why, problem != "", "problem")
    _reject(why, ~m["fits_memory"], "memory")
    _reject(why, ~(grid["batch_size"] <= m["max_batch_size"]), "batch")
    _reject(why, np.full(n, longest > model.max_context_tokens), "context")
    ok = why == ""
    # the p95-length evaluation (one long sequence fits; TTFT of a long prompt) only where needed
    tail = {"fits_memory": np.zeros(n, dtype=bool), "ttft_s": np.full(n, np.inf)}
    sub = np.flatnonzero(ok)
    if len(sub):
        _, part, _ = _evaluate(p, _subset(grid, sub), model.id, n_in.p95, n_out.p95, w.engine,
                               w.prefix_cache_hit_rate, w.speculative)
        tail["fits_memory"][sub] = part["fits_memory"]
        tail["ttft_s"][sub] = part["ttft_s"]
    _reject(why, ~tail["fits_memory"], "p95_memory")
    ok = why == ""
    best = {"itl_p95_s": float(np.min(np.where(ok, m["itl_p95_s"], np.inf))) if ok.any() else np.inf,
            "itl_p50_s": float(np.min(np.where(ok, m["itl_s"], np.inf))) if ok.any() else np.inf,
            "itl_p99_s": float(np.min(np.where(ok, m["itl_p99_s"], np.inf))) if ok.any() else np.inf,
            "ttft_solo_s": float(np.min(np.where(ok, tail["ttft_s"], np.inf))) if ok.any() else np.inf,
            "fits_any": float(ok.any()), "context_ok": float(longest <= model.max_context_tokens)}
    rows = np.flatnonzero(ok)
    keys = (*MEAN_COLUMNS, *PHASE_ENERGY_COLUMNS, *(("prefill_room_tokens",) if "prefill_room_tokens" in m else ()))
    mean = {k: np.asarray(m[k], dtype=float)[rows] if k in ("batch_size", "prefill_chunk_tokens") else m[k][rows]
            for k in keys}
    stage_grid = _subset(grid, rows)
    codes = {k: _few_value_codes(v) for k, v in stage_grid.items() if k != "batch_size"}
    stage = Stage(rows, stage_grid, mean, tail["ttft_s"][rows], best, n, _batch_free_configs(codes),
                  *_pool_codes(p, stage_grid, codes))
    return stage, why, m, problem


def _operating_points(p: Problem, w: WorkloadDemand, model: ModelSpec, grid: dict[str, np.ndarray]) -> _Points:
    stage, why, m, problem = _stage(p, w, model, grid)
    cols, kept = _apply_slo(p, w, model, stage)
    itl = _itl_failures(w, stage)
    for reason in ("itl_p50", "itl_p95", "itl_p99"):
        if reason in itl:
            _reject(why, np.isin(np.arange(len(why)), stage.rows[itl[reason]]), reason)
    rows = stage.rows[kept]
    _reject(why, ~np.isin(np.arange(len(why)), rows), "ttft")
    return _Points(cols, rows, why, m, problem, stage.best)


def _itl_failures(w: WorkloadDemand, stage: Stage) -> dict[str, np.ndarray]:
    """Per ITL SLO given, the stage rows (positions) that miss it (sizing_confidence: ITL x (1 + e))."""
    itl_factor = margin_columns(w, stage.grid["gpu"])["itl"]
    slo, m, out = w.slo, stage.mean, {}
    for reason, limit_s, value in (("itl_p50", slo.itl_p50_s, m["itl_s"]), ("itl_p95", slo.itl_p95_s, m["itl_p95_s"]),
                                   ("itl_p99", slo.itl_p99_s, m["itl_p99_s"])):
        if limit_s is not None:
            out[reason] = ~(value * itl_factor <= limit_s if w.sizing is not None else value <= limit_s)
    return out


def _apply_slo(p: Problem, w: WorkloadDemand, model: ModelSpec, stage: Stage,
               skip_dominated: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The operating points of ``stage`` under ``w``'s SLOs: the rows meeting every ITL SLO, their
    capacity under queueing at the TTFT SLOs (rows no arrival rate serves within them dropped),
    latencies and power. Returns the candidate columns and their positions among the stage's rows.
    ``skip_dominated``: leave out rows the heuristic pruning surely drops (`_surely_dominated`)."""
    failed = np.zeros(len(stage.rows), dtype=bool)
    for bad in _itl_failures(w, stage).values():
        failed |= bad
    if not skip_dominated:
        return _feasible_columns(p, w, model, stage, np.flatnonzero(~failed))
    key = tuple(w.slo.ttft_by_quantile())
    cols, kept = _feasible_columns(p, w, model, stage, _reduced_rows(stage, key, ~failed), True)
    keep = _prune("heuristic", cols)
    cols, kept = {k: v[keep] for k, v in cols.items()}, kept[keep]
    _remember_front(stage, key, ~failed, kept)
    return cols, kept


FRONTS_KEPT = 4
"""(ITL-passing rows, pruned rows) a stage keeps per TTFT SLO setting (`_reduced_rows`)."""


def _reduced_rows(stage: Stage, key: tuple[Any, ...], passing: np.ndarray) -> np.ndarray:
    """The stage rows ``passing`` (the ITL SLOs) that the heuristic pruning might keep, as far as an earlier
    call at the same TTFT SLOs tells: when its passing rows are among these (an ITL SLO relaxed: the
    what-if), those of them its pruning dropped are dominated by rows it kept, which pass here too, so they
    are dropped again (the pruned table is that of every passing row). Else every passing row."""
    for before, kept in reversed(stage.fronts.get(key, ())):
        if not (before & ~passing).any():
            return np.sort(np.concatenate([kept, np.flatnonzero(passing & ~before)]))
    return np.flatnonzero(passing)


def _remember_front(stage: Stage, key: tuple[Any, ...], passing: np.ndarray, kept: np.ndarray) -> None:
    """Keep (``passing``, ``kept``) for `_reduced_rows`, replacing the memo whole (a reader sees a whole one)."""
    _memo_put(stage.fronts, key, (*stage.fronts.get(key, ())[-(FRONTS_KEPT - 1):], (passing, kept)))


def _memo_put(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """``memo[key] = value``, the oldest entry dropped first when a new key would pass CAPACITY_MEMO."""
    if key not in memo and len(memo) >= CAPACITY_MEMO:
        for oldest in list(memo)[:1]:  # list(): one step, safe beside another thread's insert
            memo.pop(oldest, None)
    memo[key] = value


def _feasible_columns(p: Problem, w: WorkloadDemand, model: ModelSpec, stage: Stage, idx: np.ndarray,
                      skip_dominated: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Capacity under queueing, latencies and power of the stage rows ``idx`` that passed every other
    test; those whose TTFT SLOs no arrival rate meets are dropped, and with ``skip_dominated`` those the
    heuristic pruning surely drops. Returns the columns and their rows."""
    grid, m = stage.grid, stage.mean
    at_1 = _at_one(p, w, model, stage, idx)
    load = _replica_load(w, {k: v[idx] for k, v in m.items()}, at_1, stage.tail_ttft_s[idx])
    if skip_dominated:
        live = np.flatnonzero(~_surely_dominated(p, w, stage, idx, load, at_1["power_total_w"]))
        idx, load, at_1 = idx[live], load.take(live), {k: v[live] for k, v in at_1.items()}
    cap, ttft95 = _capacity(w, stage, idx, load)
    keep = cap > 1e-9
    idx, cap, ttft95, load = idx[keep], cap[keep], ttft95[keep], load.take(keep)
    mu, batch, hold, prefill_service = load.saturated_rps, load.slots, load.hold_s, load.prefill_service_c_s
    n_gpu = m["num_gpus"][idx]
    p_floor, overhead, slope = _power_terms(stage, idx, at_1["power_total_w"][keep], mu)
    cols = {
        "workload": np.full(len(idx), w.name), "model": np.full(len(idx), model.id),
        "gpu": grid["gpu"][idx], "precision": grid["precision"][idx],
        "tp": grid["tp"][idx].astype(int), "pp": grid["pp"][idx].astype(int),
        **({k: grid[k][idx].astype(int) for k in ("ep", "dp")} if "ep" in grid else {}),
        "batch_size": batch.astype(int), "prefill_chunk_tokens": grid["prefill_chunk_tokens"][idx].astype(int),
        "power_limit_w": grid["power_limit_w"][idx].astype(float), "server_pool": _pool_keys(stage, idx),
        "num_gpus": n_gpu.astype(int),
        "capacity_rps": cap, "saturated_rps": mu,
        "ttft_p95_s": ttft95, "itl_p95_s": m["itl_p95_s"][idx], "itl_s": m["itl_s"][idx],
        # queueing inputs, to evaluate TTFT at the load a plan actually routes to the replica
        # the flat model's inputs (queueing.ttft_quantile: hand-made tables); queue_* below is the full one
        "ttft_solo_p95_s": stage.tail_ttft_s[idx], "hold_s": hold, "prefill_service_s": prefill_service,
        "power_base_w": p_floor + overhead, "power_slope_w_per_rps": slope,
        "power_at_capacity_w": p_floor + overhead + slope * cap,
        "peak_power_w": m["peak_power_total_w"][idx] + overhead,
        "output_tokens_per_request": np.full(len(idx), w.output_tokens.mean),
        # the full queueing inputs (queueing.ttft_from_candidates evaluates TTFT at any routed load)
        **load_columns(load),
        # energy and FLOPs by phase and cause at this batch, GPU only (the plan's per-deployment figures)
        **{k: m[k][idx].astype(float) for k in PHASE_ENERGY_COLUMNS},
        "gpu_output_tokens_per_s_per_w": m["output_tokens_per_s"][idx] / m["power_total_w"][idx],
    }
    return cols, idx


def _at_one(p: Problem, w: WorkloadDemand, model: ModelSpec, stage: Stage, idx: np.ndarray) -> dict[str, np.ndarray]:
    """The core's estimate of the stage rows ``idx`` at one sequence in flight, same step budget (the
    light-load end of the queueing model and the floor a replica's power does not fall below while
    requests are in flight), evaluating once each configuration (rows that differ only in batch share it)
    no earlier call did. A configuration whose batch-1 row is a stage row has it already: the stage's
    mean-length estimate of that row asked the core the same question."""
    known = stage.at_one.get("memo")
    n_config = int(stage.config.max(initial=-1)) + 1
    if known is None:
        memo = {k: np.full(n_config, np.nan) for k in ONE_COLUMNS}
        single = np.flatnonzero(stage.grid["batch_size"] == 1.0)
        for k in ONE_COLUMNS:
            memo[k][stage.config[single]] = stage.mean[k][single]
    else:
        memo = {k: v.copy() for k, v in known.items()}
    wanted = stage.config[idx]
    missing = idx[np.isnan(memo["batch_size"][wanted])]
    if len(missing):
        configs, first = np.unique(stage.config[missing], return_index=True)
        one = {**_subset(stage.grid, missing[first]), "batch_size": np.ones(len(first))}
        _, at_1, _ = _evaluate(p, one, model.id, w.input_tokens.mean, w.output_tokens.mean, w.engine,
                               w.prefix_cache_hit_rate, w.speculative)
        for k in ONE_COLUMNS:
            memo[k][configs] = at_1[k]
        stage.at_one["memo"] = memo
    return {k: v[wanted] for k, v in memo.items()}


def _batch_free_configs(codes: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per grid row, a number (0, 1, ...) shared by exactly the rows equal in every column but the batch,
    from the `_few_value_codes` of every column but the batch."""
    code = np.zeros(len(codes["gpu"][0]), dtype=np.int64)
    for of_row, first in codes.values():
        count = len(first)
        if count > 1:
            code = code * count + of_row
            if code.max(initial=0) > 2**40:  # keep the codes small (never near int64's range)
                code = np.unique(code, return_inverse=True)[1].reshape(-1)
    return np.unique(code, return_inverse=True)[1].reshape(-1)


def _few_value_codes(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per element of ``v`` (a grid column: a few distinct values), the number of its value (in order of
    first appearance), and where each value first appears: one comparison per value, no sort of strings."""
    code = np.zeros(len(v), dtype=np.int64)
    left = np.ones(len(v), dtype=bool)
    first = []
    while left.any():
        first.append(int(left.argmax()))
        x = v[first[-1]]
        same = v == x if x == x else v != v  # NaN equals no value, itself included: NaNs are one value here
        code[same] = len(first) - 1
        left &= ~same
    return code, np.array(first, dtype=np.int64)


def _power_terms(stage: Stage, idx: np.ndarray, power_1_w: np.ndarray,
                 saturated_rps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power of the stage rows ``idx`` (``power_1_w``: the GPUs' draw with one sequence in flight): the
    floor, the servers' overhead and the rise per request/s. Power rises from a lone request's draw to the
    saturated draw, linearly in load (a secant of the core's concave curve; the GPU does not fall back to
    idle while requests are in flight)."""
    m = stage.mean
    overhead = stage.pool_overhead_w_per_gpu[stage.pool_of[idx]] * m["num_gpus"][idx]
    p_full = m["power_total_w"][idx]
    p_floor = np.minimum(power_1_w, p_full)
    return p_floor, overhead, (p_full - p_floor) / saturated_rps


DOMINANCE_MARGIN = 1e-9
"""`_surely_dominated` asks a dominating point's watts per request/s to be this share below the bound: the
computed figure of a row at a lower capacity is within a few ulps of the exact one, so it cannot fall below."""


def _surely_dominated(p: Problem, w: WorkloadDemand, stage: Stage, idx: np.ndarray, load: Any,
                      power_1_w: np.ndarray) -> np.ndarray:
    """Per stage row of ``idx``: True where the heuristic pruning (planner.candidates.prune.prune, per
    server pool: capacity per GPU, watts per request/s at capacity, GPUs) surely drops it whatever its
    capacity, which is then not computed. A row's capacity is at most its bound (`_capacity_bound`), so
    its capacity per GPU is at most the bound's and (watts = base + slope x capacity) its watts per
    request/s at least the bound's. The rows on the front of the bounds get their capacity computed
    (memoized with the others); a row off that front is dropped when one of them, of the same server pool
    and no more GPUs, beats both its bounds strictly with its computed capacity. Dropping dominated rows
    leaves what the pruning keeps unchanged (dominance is transitive and the dominating row stays); the
    rows dropped depend on ``idx`` alone, not on what the memo holds."""
    n = len(idx)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    p_floor, overhead, slope = _power_terms(stage, idx, power_1_w, load.saturated_rps)
    n_gpu, pool = stage.mean["num_gpus"][idx], stage.pool_of[idx]
    bound = _capacity_bound(w, load, stage.grid["gpu"][idx])
    with np.errstate(all="ignore"):
        best = {"workload": np.zeros(n, dtype=int), "gpu": pool, "capacity_rps": bound, "num_gpus": n_gpu,
                "power_at_capacity_w": p_floor + overhead + slope * bound}
        front = np.flatnonzero(prune(best))
        cap = _capacity(w, stage, idx[front], load.take(front), with_ttft=False)[0]
        served = cap > 1e-9
        a, cap = front[served], cap[served]
        actual = {k: v[a] for k, v in best.items()} | {"capacity_rps": cap,
                                                       "power_at_capacity_w": p_floor[a] + overhead[a] + slope[a] * cap}
        on_front = prune(actual)  # a dominated dominator's own dominator serves
        a, cap, power_a = a[on_front], cap[on_front], actual["power_at_capacity_w"][on_front]
        rest = np.setdiff1d(np.arange(n), front, assume_unique=True)
        per_gpu_a, w_a = cap / n_gpu[a], power_a / cap
        per_gpu_b, w_b = bound / n_gpu, best["power_at_capacity_w"] / bound
        for g in range(len(stage.pool_names)):  # (a plain np.unique takes numpy 2's hash path: ms to set up)
            mine, b = pool[a] == g, rest[pool[rest] == g]
            if not len(b) or not mine.any():
                continue
            beaten = ((per_gpu_a[mine][:, None] > per_gpu_b[b][None, :])
                      & (w_a[mine][:, None] <= w_b[b][None, :] * (1.0 - DOMINANCE_MARGIN))
                      & (n_gpu[a[mine]][:, None] <= n_gpu[b][None, :]))
            out[b[beaten.any(axis=0)]] = True
    return out


def _capacity_bound(w: WorkloadDemand, load: Any, gpus: np.ndarray) -> np.ndarray:
    """At least the capacity `_capacity_of` finds, the same way: the planning utilization's rate, over the
    sizing margin."""
    rate_max = load.rate_max()
    return rate_max / margin_columns(w, gpus)["throughput"] if w.sizing is not None else rate_max


CAPACITY_MEMO = 8
"""TTFT SLO settings whose capacities a stage keeps (an infeasibility answer tries a few factors)."""


def _capacity(w: WorkloadDemand, stage: Stage, idx: np.ndarray, load: Any,
              with_ttft: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Capacity of the stage rows ``idx`` (queueing inputs ``load``) at ``w``'s TTFT SLOs and (``with_ttft``)
    the TTFT p95 at it (NaN where the capacity is 0 or, without ``with_ttft``, not computed yet), reusing the
    rows an earlier call with the same TTFT SLOs computed (an ITL what-if adds rows to compute, it changes none)."""
    key = tuple(w.slo.ttft_by_quantile())
    known = stage.capacity.get(key)
    memo = np.full((2, len(stage.rows)), np.nan) if known is None else known.copy()
    todo = np.flatnonzero(np.isnan(memo[0, idx]))
    if len(todo):
        memo[0, idx[todo]] = _capacity_of(w, load.take(todo), stage.grid["gpu"][idx[todo]])
    need = np.flatnonzero((memo[0, idx] > 1e-9) & np.isnan(memo[1, idx])) if with_ttft else idx[:0]
    if len(need):  # one call for the rows of this and of earlier calls without the TTFT
        memo[1, idx[need]] = ttft_quantile_at_load(load.take(need), memo[0, idx[need]], 0.95)
    if len(todo) or len(need):
        _memo_put(stage.capacity, key, memo)
    return memo[0, idx], memo[1, idx]


def _capacity_of(w: WorkloadDemand, load: Any, gpus: np.ndarray) -> np.ndarray:
    """The largest rate at which replicas with queueing inputs ``load`` (on GPUs ``gpus``) meet ``w``'s
    TTFT SLOs, at most the planning utilization (0 where no rate does)."""
    rate_max = load.rate_max()
    cap = rate_max.copy()
    margin = margin_columns(w, gpus)  # sizing_confidence: TTFT x (1 + e) meets the SLO
    for q, limit_s in w.slo.ttft_by_quantile():
        if limit_s is not None:
            limit = np.full(len(gpus), limit_s) if w.sizing is None else limit_s / margin["ttft"]
            cap = np.minimum(cap, max_rate_meeting(limit, load, q, rate_max))
    if w.sizing is not None:  # and a replica serving 1 / (1 + e) of the estimated rate still does
        cap = cap / margin["throughput"]
    return cap


def margin_columns(w: WorkloadDemand, gpus: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the factors sizing at ``w.sizing_confidence`` applies (planner.problem.sizing): TTFT and ITL
    multiplied, capacity divided; 1 without a sizing confidence."""
    names = ("ttft", "itl", "throughput")
    if w.sizing is None:
        return {k: np.ones(len(gpus)) for k in names}
    by_gpu = dict(w.sizing.by_gpu)
    return {k: np.array([getattr(by_gpu[str(g)], k) for g in gpus], dtype=float) for k in names}


PHASE_ENERGY_COLUMNS = ("energy_static_j_per_token", "energy_memory_j_per_token", "energy_compute_j_per_token",
                        "energy_communication_j_per_token", "prefill_flops", "decode_flops_per_token",
                        "prefill_energy_j", "decode_energy_per_token_j")
"""Core outputs each candidate carries for the plan (planner.plan.energy), GPU basis at the candidate's batch."""


def _pool_codes(p: Problem, grid: dict[str, np.ndarray],
                codes: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The server pools (GPU type at a power limit, planner.problem.model.ServerPool) of the grid's rows
    (``codes``: the `_few_value_codes` of its gpu and power_limit_w): each key once (str objects), each
    row's position among them, and each pool's server overhead per GPU."""
    if not len(grid["gpu"]):
        return np.array([], dtype=object), np.zeros(0, dtype=np.int64), np.zeros(0)
    (gpu_of, _), (limit_of, limits) = codes["gpu"], codes["power_limit_w"]
    pairs, first, pair_of = np.unique(gpu_of * len(limits) + limit_of, return_index=True, return_inverse=True)
    keys = [p.gpu(str(grid["gpu"][i])).pool_key(float(grid["power_limit_w"][i])) for i in first.tolist()]
    overhead_by_gpu = {g.id: g.overhead_w_per_gpu for g in p.gpus}
    overhead = [overhead_by_gpu.get(str(grid["gpu"][i]), fixed("server_overhead_w_per_gpu")) for i in first.tolist()]
    return np.array(keys, dtype=object), pair_of.reshape(-1), np.array(overhead, dtype=float)


def _pool_keys(stage: Stage, idx: np.ndarray) -> np.ndarray:
    """The server pool of the stage rows ``idx``, a str array as wide as the longest of their keys."""
    if not len(idx):
        return np.array([], dtype=str)
    used, of_row = np.unique(stage.pool_of[idx], return_inverse=True)
    return stage.pool_names[used].astype(str)[of_row.reshape(-1)]


def _replica_load(w: WorkloadDemand, at_c: dict[str, Any], at_1: dict[str, Any], tail_ttft_c_s: np.ndarray) -> Any:
    """Queueing inputs of the points (planner.candidates.queueing.replica_load); the tail prompt's TTFT
    at one sequence in flight scales the cap's by the mean prompt's ratio of the two."""
    if not len(tail_ttft_c_s):
        empty = {k: np.array([]) for k in ("batch_size", "prefill_chunk_tokens", "loaded_step_s", "decode_step_s",
                                           "mixed_step_s", "prefill_tokens_per_mixed_step", "ttft_s")}
        at_c, at_1 = empty, empty
    hit = w.prefix_cache_hit_rate
    n_in = max(w.input_tokens.mean * (1.0 - hit), 1.0)
    load = replica_load(at_1, at_c, np.full(len(tail_ttft_c_s), n_in),
                        np.full(len(tail_ttft_c_s), w.output_tokens.mean),
                        output_cv2(w.output_tokens.mean, w.output_tokens.p95))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(at_c["ttft_s"] > 0, at_1["ttft_s"] / at_c["ttft_s"], 1.0)
    return load.with_tail(tail_ttft_c_s * ratio, tail_ttft_c_s)


@dataclass(frozen=True)
class Evaluated:
    """Given configurations of one workload, evaluated exactly as candidate generation evaluates its grid."""

    why: np.ndarray
    """Per configuration: "" when it is an operating point, else the first REJECTIONS test it fails."""
    problem: np.ndarray
    """Per configuration: the core's reason it cannot evaluate it ('' when it can)."""
    mean: dict[str, Any]
    """The core's estimate of each configuration at the mean request lengths (max_batch_size, itl_p95_s, ...)."""
    points: dict[str, np.ndarray]
    """Candidate columns (capacity_rps, ttft_solo_p95_s, power_base_w, ...) of each configuration, NaN
    where it is not an operating point."""
    longest_tokens: float
    """The p95 input + output length a sequence must fit (KV memory, context)."""


def evaluate_configurations(p: Problem, w: WorkloadDemand, configs: dict[str, np.ndarray]) -> Evaluated:
    """Evaluate the configurations ``configs`` (columns gpu, precision, tp, pp, batch_size,
    prefill_chunk_tokens, and optionally power_limit_w: default the GPU's TDP) of workload ``w`` with
    the code `workload_candidates` runs on its grid, so
    `planner check` recomputes a plan's figures exactly as `planner solve` computed them. The grid's
    own rules (allowed GPUs, precisions, TP and PP) are not applied: the caller checks those."""
    model = p.catalog.model(w.model_id)
    grid = {"gpu": np.asarray(configs["gpu"]).astype(str), "precision": np.asarray(configs["precision"]).astype(str)}
    grid |= {k: np.asarray(configs[k], dtype=float) for k in ("tp", "pp", "batch_size", "prefill_chunk_tokens")}
    if "ep" in configs or "dp" in configs:  # MoE expert and attention data parallelism (absent: 1), as the grid has
        grid |= {k: np.asarray(configs.get(k, np.ones(len(grid["gpu"]))), dtype=float) for k in ("ep", "dp")}
    tdp_w = [p.gpu(g).tdp_w for g in grid["gpu"]]
    grid["power_limit_w"] = np.asarray(configs["power_limit_w"], dtype=float) if "power_limit_w" in configs \
        else np.asarray(tdp_w, dtype=float)  # no limit recorded: the GPU's TDP
    role = np.asarray(configs["role"]).astype(str) if "role" in configs else np.full(len(grid["gpu"]), "aggregated")
    if np.any(role != "aggregated"):
        return _evaluate_roles(p, w, model, grid, role)
    found = _operating_points(p, w, model, grid)
    n = len(grid["gpu"])
    points: dict[str, np.ndarray] = {}
    for k, v in found.cols.items():
        if v.dtype.kind in "fiu":
            points[k] = np.full(n, np.nan)
            points[k][found.rows] = v
    return Evaluated(found.why, found.problem, found.mean, points, w.longest_tokens)


def _evaluate_roles(p: Problem, w: WorkloadDemand, model: ModelSpec, grid: dict[str, np.ndarray],
                    role: np.ndarray) -> Evaluated:
    """`evaluate_configurations` of configurations with serving roles: aggregated ones as candidate
    generation evaluates them, prefill and decode pools as planner.candidates.disaggregated does; the
    points carry a ``role`` column (for the TTFT of each role) and ``mean`` the aggregated rows' estimate
    (NaN elsewhere)."""
    n = len(grid["gpu"])
    why, problem = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    points: dict[str, np.ndarray] = {}
    mean: dict[str, np.ndarray] = {}
    parts = (("aggregated", None), ("prefill", evaluate_prefill), ("decode", evaluate_decode))
    for name, evaluate in parts:
        rows = np.flatnonzero(role == name)
        if not len(rows):
            continue
        g = {k: v[rows] for k, v in grid.items()}
        if evaluate is None:
            found = _operating_points(p, w, model, g)
            cols, kept, reasons = found.cols, found.rows, found.why
            problem[rows] = found.problem
            for k, v in found.mean.items():
                if np.asarray(v).dtype.kind in "fiub":
                    mean.setdefault(k, np.full(n, np.nan))[rows] = v
        else:
            cols, kept, reasons, estimate = evaluate(p, w, model, g)
            for k, v in estimate.items():
                mean.setdefault(k, np.full(n, np.nan))[rows] = v
        why[rows] = reasons
        for k, v in cols.items():
            if v.dtype.kind in "fiu":
                points.setdefault(k, np.full(n, np.nan))[rows[kept]] = v
    points["role"] = role
    for k in ("max_batch_size", "itl_s", "itl_p95_s", "itl_p99_s"):
        mean.setdefault(k, np.full(n, np.nan))
    return Evaluated(why, problem, mean, points, w.longest_tokens)


def _prune(rule: str, cols: dict[str, np.ndarray]) -> np.ndarray:
    """Dominated points dropped within each (workload, server pool): points at different power limits
    run on different servers, so one never replaces the other (planner.candidates.prune groups by GPU)."""
    group = cols["server_pool"]
    if "role" in cols:  # a prefill or decode replica never replaces another role's
        group = np.char.add(np.char.add(group.astype(str), "|"), cols["role"].astype(str))
    return PRUNING[rule]({**cols, "gpu": group})


def generate_candidates(p: Problem, workloads: tuple[WorkloadDemand, ...] | None = None) -> Candidates:
    """Operating points of every workload of ``p`` (or of ``workloads``) on its GPUs, pruned."""
    parts, best, evaluated = [], {}, 0
    for w in p.workloads if workloads is None else workloads:
        cols, b, n = workload_candidates(p, w)
        parts.append(cols)
        best[w.name] = b
        evaluated += n
    merged = merge_columns(parts)
    keep = _prune(p.candidate_pruning, merged)
    return Candidates({k: v[keep] for k, v in merged.items()}, best, evaluated, p.candidate_pruning)


def replace_workload(cand: Candidates, name: str, cols: dict[str, np.ndarray]) -> Candidates:
    """``cand`` with one workload's operating points replaced by ``cols`` (pruned again)."""
    keep_other = cand.columns["workload"] != name
    merged = merge_columns([{k: v[keep_other] for k, v in cand.columns.items()}, cols])
    mask = _prune(cand.pruning, merged)
    return Candidates({k: v[mask] for k, v in merged.items()}, cand.best_latency, cand.evaluated, cand.pruning)
