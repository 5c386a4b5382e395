"""Re-derive every claim of a plan from the scenario, the catalog and the estimation core.

`planner check` does not trust the figures written in a plan. For each deployment it checks the
configuration against what the resolved problem allows (model, engine, GPU, precision, TP and PP),
then evaluates it with `planner.candidates.generate.evaluate_configurations`, the code candidate
generation runs, with the calibration the plan was solved with: the batch must fit memory, the ITL
SLOs must hold, and capacity, latencies and power must match what the plan claims within
CLAIM_REL_TOL (TTFT at the routed load with the queueing model candidate generation sized the
configuration with, `planner.candidates.queueing.ttft_from_candidates`, as solve writes it).
Server groups, racks, totals and constraints are re-derived with the functions solve writes them
with (planner.gitops.rederive_fleet, planner.plan.figures), and the problem's limits
(capacity with headroom and N+k spares, every TTFT/ITL SLO quantile, site power, inventory, budget)
are checked with the recomputed figures. The problem is built by `planner.problem.resolve_problem`,
as for solve (see planner.gitops.context). Every finding is one line.

A stale plan (its inputs changed since it was solved) is not held to its written figures, which
answer the old inputs, only to the scenario as it is now: its configuration and the limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from planner.candidates import disaggregated
from planner.candidates.generate import DP_GRID, Evaluated, evaluate_configurations, valid_tp
from planner.candidates.queueing import ttft_from_candidates
from planner.core.inputs import canonical_engine
from planner.errors import InputError
from planner.gitops.context import CLAIM_REL_TOL, Context, Findings, Recomputed, check_context, claim_line
from planner.gitops.diff import deployment_key, parallelism
from planner.gitops.limits import rack_limit_violations, racks_count, routed, workload_presence
from planner.gitops.rederive_fleet import fleet_claims, fleet_problems
from planner.gitops.rederive_serving import launch_claims, phase_mismatches, sizing_claims, speculative_problem
from planner.gitops.slo import close, within
from planner.plan.figures import deployment_figures
from planner.problem.model import GpuOption, WorkloadDemand
from planner.schemas.catalog import ModelSpec
from planner.schemas.plan import Deployment, Plan
from planner.units import s_to_ms

__all__ = ["CLAIM_REL_TOL", "ROUNDING", "check_context", "deployment_findings", "non_finite", "problem_violations",
           "rederived_violations"]

ROUNDING = 5e-6
"""Relative rounding of a figure written with 6 significant digits."""


# -- finite numbers ----------------------------------------------------------------------------

MAX_EXACT_INT = 2**53
"""Counts beyond this are not exact as floats (and far beyond any fleet)."""


def _numbers(data: Any, where: str) -> Iterator[tuple[str, int | float]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _numbers(v, f"{where}.{k}" if where else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _numbers(v, f"{where}[{i}]")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield where, data


def non_finite(plan: Plan) -> list[str]:
    """Every number of the plan that is NaN or infinite, or an integer too large to compute with
    (plan loading refuses them too; this is the check's own guard)."""
    out = []
    for where, value in _numbers(plan.model_dump(), ""):
        if isinstance(value, float) and not math.isfinite(value):
            out.append(f"plan: {where} is {value}, not a finite number")
        elif isinstance(value, int) and abs(value) > MAX_EXACT_INT:
            digits = int(value.bit_length() * math.log10(2)) + 1
            out.append(f"plan: {where} is an integer of about {digits} digits, beyond any count a plan holds "
                       f"(at most {MAX_EXACT_INT})")
    return out


# -- each deployment's configuration -------------------------------------------------------------

def _engine_problem(d: Deployment, w: WorkloadDemand, where: str) -> str | None:
    """The plan records the workload's engine as the scenario spells it (one of planner's engine names)."""
    if d.engine == w.engine:
        return None
    try:
        known = bool(d.engine.strip()) and canonical_engine(d.engine) == d.engine
    except InputError:
        known = False
    if not known:
        return f"engine {d.engine!r} is not a known engine (workload {w.name} uses {where}.engine {w.engine})"
    return f"engine {d.engine} is not workload {w.name}'s engine {w.engine} ({where}.engine)"


def _gpu_problem(d: Deployment, ctx: Context, plan: Plan) -> str | None:
    if d.gpu in ctx.gpus:
        if not any(g.gpu == d.gpu for g in plan.servers):
            return f"gpu {d.gpu} has no server group in the plan (servers[])"
        return _power_limit_problem(d, ctx.gpus[d.gpu], plan)
    allowed = ", ".join(sorted(ctx.gpus)) or "none"
    where = "hardware.gpus" if ctx.gpus_listed else "the catalog's priced GPUs"
    return f"gpu {d.gpu!r} is not one the scenario allows ({where} whose server fits a rack: {allowed})"


def _power_limit_problem(d: Deployment, g: GpuOption, plan: Plan) -> str | None:
    """The deployment's power limit is one the scenario offers for its GPU, and its servers run it."""
    limit_w = g.tdp_w if d.power_limit_w is None else d.power_limit_w
    offered = g.offered_limits_w
    if not any(close(limit_w, w) for w in offered):
        return (f"power_limit_w {limit_w:g} is not a limit the scenario offers for {g.id} "
                f"(hardware.power_limit_fractions x TDP {g.tdp_w:g} W, at or above the GPU's minimum: "
                f"{', '.join(f'{w:g}' for w in offered)} W)")
    if not any(s.gpu == d.gpu and close(g.tdp_w if s.power_limit_w is None else s.power_limit_w, limit_w)
               for s in plan.servers):
        return f"no server group of {g.id} runs at power_limit_w {limit_w:g} (servers[].power_limit_w)"
    return None


def _parallelism_problems(d: Deployment, w: WorkloadDemand, ctx: Context, where: str) -> list[str]:
    model = ctx.catalog.model(w.model_id)
    per_server = ctx.gpus[d.gpu].gpus_per_server
    out = []
    if d.tp < 1 or not valid_tp(d.tp, model, per_server):
        out.append(f"tp {d.tp} is not a valid tensor parallelism for {model.id} on {d.gpu}: it must divide the "
                   f"model's {model.attention_heads} attention heads (and split its KV heads evenly) and the "
                   f"server's {per_server} GPUs")
    elif w.max_tp is not None and d.tp > w.max_tp:
        out.append(f"tp {d.tp} is above the workload's {where}.max_tp {w.max_tp}")
    if d.pp < 1 or d.pp > model.layers:
        out.append(f"pp {d.pp} is not a valid pipeline depth for {model.id}: 1 to its {model.layers} layers")
    elif d.pp > 1 and d.tp != per_server:
        out.append(f"pp {d.pp}: pipeline stages span servers only once tensor parallelism fills one "
                   f"(tp {d.tp} < {per_server} GPUs per {d.gpu} server)")
    elif w.max_pp is not None and d.pp > w.max_pp:
        out.append(f"pp {d.pp} is above the workload's {where}.max_pp {w.max_pp}")
    return out + _moe_parallel_problems(d, w, model, per_server)


def _moe_parallel_problems(d: Deployment, w: WorkloadDemand, model: ModelSpec, per_server: int) -> list[str]:
    """ep and dp as candidate generation lays them out (generate._with_parallel_axes): dp attention
    data-parallel ranks (one of DP_GRID) of tp GPUs in one server, pp 1, at least one sequence per rank, with
    the experts over all tp x dp GPUs, for a MoE model served aggregated without speculative decoding."""
    ep, dp = parallelism(d)
    if ep == 1 and dp == 1:
        return []
    if model.moe is None:
        return [f"ep {ep}, dp {dp}: {model.id} has no routed experts, so it runs plain replicas (ep 1, dp 1)"]
    if d.role in ("prefill", "decode") or w.speculative is not None:
        what = f"a {d.role} pool" if d.role in ("prefill", "decode") else "speculative decoding"
        return [f"ep {ep}, dp {dp}: {what} runs plain replicas (ep 1, dp 1; expert and attention data "
                f"parallelism are tried for aggregated serving without speculative decoding)"]
    out = []
    if dp != 1 and dp not in DP_GRID:
        out.append(f"dp {dp} is not a data parallelism candidate generation tries (1, "
                   f"{', '.join(str(n) for n in DP_GRID)})")
    elif dp > 1 and d.pp > 1:
        out.append(f"dp {dp} with pp {d.pp}: attention data parallelism runs single-stage replicas (pp 1)")
    elif d.tp * dp > per_server:
        out.append(f"dp {dp}: tp {d.tp} x dp {dp} = {d.tp * dp} GPUs exceed one {d.gpu} server's {per_server}")
    elif d.batch_size < dp:
        out.append(f"dp {dp}: batch_size {d.batch_size} leaves a data-parallel rank without a sequence")
    want = d.tp * dp if dp > 1 else 1
    if ep != want:
        out.append(f"ep {ep} is not the expert parallelism of tp {d.tp} x dp {dp} (ep {want}: candidate generation "
                   f"spreads the experts over every GPU of a data-parallel replica, and uses ep 1 without dp)")
    return out


def configuration_problems(d: Deployment, w: WorkloadDemand, ctx: Context, plan: Plan) -> list[str]:
    """Why the scenario does not allow the deployment's configuration, one line each (empty when it does)."""
    where = f"workloads[{ctx.workload_index[w.name]}]"
    out = []
    model = w.model_id
    if d.model != model:
        out.append(f"model {d.model!r} is not workload {w.name}'s model {model} ({where}.model)")
    if (engine := _engine_problem(d, w, where)) is not None:
        out.append(engine)
    if (speculative := speculative_problem(d, w)) is not None:
        out.append(speculative)
    if d.precision not in w.precisions:
        out.append(f"precision {d.precision!r} is not one the workload allows ({where}.precisions: "
                   f"{', '.join(w.precisions)})")
    if (gpu := _gpu_problem(d, ctx, plan)) is not None:
        out.append(gpu)
    elif not out:
        out += _parallelism_problems(d, w, ctx, where)
    return [f"deployment {deployment_key(d)}: {line}" for line in out]


# -- recomputing each deployment ------------------------------------------------------------------

def _evaluate(ds: list[Deployment], w: WorkloadDemand, ctx: Context) -> Evaluated:
    configs = {"gpu": np.array([d.gpu for d in ds]), "precision": np.array([d.precision for d in ds]),
               "power_limit_w": np.array([ctx.gpus[d.gpu].tdp_w if d.power_limit_w is None else d.power_limit_w
                                          for d in ds], dtype=float),
               **{k: np.array([float(getattr(d, k)) for d in ds])
                  for k in ("tp", "pp", "batch_size", "prefill_chunk_tokens")}}
    if any(d.role in ("prefill", "decode") for d in ds):  # disaggregated pools: each evaluated as its role
        configs["role"] = np.array([d.role or "aggregated" for d in ds])
    if any(d.ep is not None or d.dp is not None for d in ds):  # MoE expert and attention data parallelism
        configs |= {k: np.array([float(parallelism(d)[j]) for d in ds]) for j, k in enumerate(("ep", "dp"))}
    return evaluate_configurations(ctx.problem, w, configs)


def _ms(s: float) -> str:
    return f"{s_to_ms(s):.4g} ms"


def _slo_ms(slo_s: float | None) -> str:
    """An SLO in the scenario's unit, as the user wrote it."""
    return "None" if slo_s is None else f"{s_to_ms(slo_s):g}"


def _rejection(d: Deployment, w: WorkloadDemand, ev: Evaluated, i: int) -> str:
    """Why the recomputed configuration is not an operating point of the workload."""
    why, m = str(ev.why[i]), ev.mean
    if why == "problem" and d.batch_size > m["max_batch_size"][i]:
        why = "batch"  # a batch beyond memory is the first thing to fix, whatever else is wrong
    ep, dp = parallelism(d)
    layout = f" x dp {dp} (ep {ep})" if (ep, dp) != (1, 1) else ""
    config = f"{d.model} at {d.precision} on tp {d.tp} x pp {d.pp}{layout} {d.gpu}"
    slo = w.slo
    reasons = {
        "problem": f"the estimation core refuses the configuration: {ev.problem[i]}",
        "memory": f"{config} does not fit the GPUs' memory (recomputed)",
        "batch": f"batch_size {d.batch_size} exceeds the {float(m['max_batch_size'][i]):.0f} sequences of the mean "
                 f"request length that fit memory for {config} (recomputed)",
        "context": f"a p95 sequence of {ev.longest_tokens:g} tokens exceeds {d.model}'s context",
        "p95_memory": f"one p95 sequence of {ev.longest_tokens:g} tokens does not fit memory for {config} "
                      f"with batch_size {d.batch_size} (recomputed)",
        "itl_p50": f"itl (p50) recomputed {_ms(float(m['itl_s'][i]))} misses the scenario's slo.itl_p50_ms "
                   f"{_slo_ms(slo.itl_p50_s)}",
        "itl_p95": f"itl_p95_s recomputed {_ms(float(m['itl_p95_s'][i]))} misses the scenario's slo.itl_p95_ms "
                   f"{_slo_ms(slo.itl_p95_s)}",
        "itl_p99": f"itl (p99) recomputed {_ms(float(m['itl_p99_s'][i]))} misses the scenario's slo.itl_p99_ms "
                   f"{_slo_ms(slo.itl_p99_s)}",
        "ttft": "no arrival rate keeps its TTFT within the scenario's TTFT SLOs (slo." + ", slo.".join(
            f"{name}_ms {_slo_ms(slo_s)}" for name, slo_s in _ttft_slos(w) if slo_s is not None)
                + "; recomputed with queueing)",
    }
    return f"deployment {deployment_key(d)}: {reasons[why]}"


def _recompute(d: Deployment, w: WorkloadDemand, ev: Evaluated, i: int, t: GpuOption) -> Recomputed:
    """The Deployment figures `planner solve` writes (see optimize.plan_builder), for this configuration."""
    p = {k: float(v[i]) for k, v in ev.points.items() if v.dtype.kind in "fiu"}
    n, routed = d.replicas, d.demand_requests_per_s
    cap = n * p["capacity_rps"]
    # the routed rate is written rounded, and queueing amplifies that near capacity: TTFT at the
    # rate's rounding band (low, nominal, high)
    per_replica = routed / w.serving_replicas(n) * np.array([1 - ROUNDING, 1.0, 1 + ROUNDING])
    # with the queueing model candidate generation sized the configuration with (as plan_builder)
    if d.role in ("prefill", "decode"):  # a prefill pool's TTFT (a decode pool's is 0), as plan_builder
        bands = {q: disaggregated.ttft_quantile_rows(ev.points, np.full(3, i), per_replica, q) for q, _ in TTFT_SLOS}
    else:
        bands = {q: ttft_from_candidates(ev.points, np.full(3, i), per_replica, q) for q, _ in TTFT_SLOS}
    ttft = bands[0.95]
    figures = deployment_figures(w, t, p, n, routed, float(ttft[1]))
    return Recomputed(cap, (float(ttft[0]), float(ttft[2])), figures,
                      {q: float(b[0]) for q, b in bands.items()})


def _mismatches(claims: dict[str, float], r: Recomputed) -> list[str]:
    low, high = r.ttft_p95_band_s
    out = [f"{k} {claims[k]:.6g} (recomputed {v:.6g})" for k, v in r.figures.items()
           if k != "ttft_p95_s" and not close(claims[k], v, CLAIM_REL_TOL)]
    ttft = claims["ttft_p95_s"]
    if not (close(ttft, low, CLAIM_REL_TOL) or close(ttft, high, CLAIM_REL_TOL) or low <= ttft <= high):
        out.insert(1, f"ttft_p95_s {ttft:.6g} (recomputed {r.figures['ttft_p95_s']:.6g})")
    return out


TTFT_SLOS = ((0.5, "ttft_p50"), (0.95, "ttft_p95"), (0.99, "ttft_p99"))
"""The quantile each TTFT SLO bounds, and its name (``slo.<name>_ms`` in the scenario)."""


def _ttft_slos(w: WorkloadDemand) -> list[tuple[str, float | None]]:
    """(name, SLO in seconds or None) of each TTFT SLO of ``w``."""
    return [(name, getattr(w.slo, f"{name}_s")) for _, name in TTFT_SLOS]


def _slo_lines(d: Deployment, w: WorkloadDemand, r: Recomputed) -> list[str]:
    """The scenario's TTFT SLOs against the recomputed TTFT at the routed peak (the ITL SLOs hold,
    else the configuration is rejected), and the demand against the recomputed capacity."""
    out = []
    key = deployment_key(d)
    k = w.redundancy
    down = f" with {k} replica{'s' if k > 1 else ''} down" if k else ""
    for q, name in TTFT_SLOS:
        slo_s: float | None = getattr(w.slo, f"{name}_s")
        ttft_s = r.ttft_low_s[q]
        if slo_s is None or ttft_s <= slo_s * (1 + CLAIM_REL_TOL) or (q == 0.95 and _reported(d, slo_s, r)):
            continue
        figure = "ttft_p95_s" if q == 0.95 else f"TTFT p{round(q * 100)}"
        out.append(f"deployment {key}: {figure} recomputed at the routed peak{down} {_ms(ttft_s)} misses "
                   f"the scenario's slo.{name}_ms {_slo_ms(slo_s)}")
    if not d.demand_requests_per_s <= r.capacity_requests_per_s * (1 + CLAIM_REL_TOL):
        out.append(f"deployment {key}: demand_requests_per_s {d.demand_requests_per_s:.6g} is above its "
                   f"recomputed capacity {r.capacity_requests_per_s:.6g} req/s")
    return out


def _recorded_slos(d: Deployment, w: WorkloadDemand) -> list[str]:
    """The SLOs a deployment records are the scenario's."""
    out = []
    for name, recorded, slo in (("slo_ttft_p95_s", d.slo_ttft_p95_s, w.slo.ttft_p95_s),
                                ("slo_itl_p95_s", d.slo_itl_p95_s, w.slo.itl_p95_s)):
        if (recorded is None) != (slo is None) or not close(recorded or 0.0, slo or 0.0, CLAIM_REL_TOL):
            out.append(f"{name} {recorded} (the scenario's: {slo})")
    return out


def _reported(d: Deployment, slo_s: float, r: Recomputed) -> bool:
    """A TTFT miss `check.violations` already reports: the written TTFT, which matches the
    recomputed one, misses the SLO the plan records, which is the scenario's."""
    return (not _mismatches(d.model_dump(), r) and d.slo_ttft_p95_s is not None
            and close(d.slo_ttft_p95_s, slo_s) and not within(d.ttft_p95_s, d.slo_ttft_p95_s))


def _pool_problems(plan: Plan, w: WorkloadDemand) -> list[str]:
    """An N+k workload runs one pool of at least k + 1 replicas (as the program requires)."""
    ds = [d for d in plan.deployments if d.workload == w.name]
    k = w.redundancy
    if k and len(ds) > 1:
        return [f"workload {w.name}: {len(ds)} deployments, but an N+{k} workload (redundancy {k}) runs one pool"]
    return [f"deployment {deployment_key(d)}: replicas {d.replicas} cannot keep the workload's {k} spare "
            f"replica{'s' if k > 1 else ''} (redundancy {k})" for d in ds if k and d.replicas < w.min_replicas]


def deployment_findings(plan: Plan, ctx: Context) -> Findings:
    """Every deployment re-derived: its configuration, then its figures (see the module docstring)."""
    workloads = {w.name: w for w in ctx.problem.workloads}
    found = Findings()
    todo: dict[str, list[int]] = {}
    for w in ctx.problem.workloads:
        found.problems += _pool_problems(plan, w)
    for i, d in enumerate(plan.deployments):
        workload = workloads.get(d.workload)
        if workload is None or d.gpu in ctx.left_out:
            continue  # reported by the workload check, or once per GPU (rederive_fleet._left_out_problems)
        problems = configuration_problems(d, workload, ctx, plan)
        found.problems += problems
        if not problems:
            todo.setdefault(workload.name, []).append(i)
    for name, idx in todo.items():
        _recompute_workload(plan, workloads[name], idx, ctx, found)
    return found


def _label(d: Deployment) -> str:
    """The deployment's key, with its expert and attention data parallelism where the plan records them."""
    ep, dp = parallelism(d)
    return deployment_key(d) + (f" (dp {dp}, ep {ep})" if (ep, dp) != (1, 1) else "")


def _recompute_workload(plan: Plan, w: WorkloadDemand, idx: list[int], ctx: Context, found: Findings) -> None:
    ds = [plan.deployments[i] for i in idx]
    ev = _evaluate(ds, w, ctx)
    for j, (i, d) in enumerate(zip(idx, ds, strict=True)):
        if ev.why[j]:
            found.problems.append(_rejection(d, w, ev, j))
            continue
        with np.errstate(all="ignore"):  # a hostile figure may overflow: it then fails the comparison
            r = _recompute(d, w, ev, j, ctx.gpus[d.gpu])
        found.recomputed[i] = r
        found.claims += claim_line(f"deployment {_label(d)}", _mismatches(d.model_dump(), r)
                                   + _recorded_slos(d, w) + phase_mismatches(d, ev.points, j))
        found.claims += launch_claims(d, ctx) + sizing_claims(d, w)
        found.problems += _slo_lines(d, w, r)


def problem_violations(plan: Plan, ctx: Context, *, stale: bool = False) -> list[str]:
    """The plan against the resolved problem (see `rederived_violations`), after the workloads it
    deploys, the traffic it routes and its racks' nameplate power."""
    p = ctx.problem
    return (workload_presence(plan, (w.name for w in p.workloads), ctx.workload_index)
            + [line for w in p.workloads for line in routed(plan, w)]
            + rack_limit_violations(plan, p.site) + racks_count(plan, p.site)
            + rederived_violations(plan, ctx, stale=stale))


def rederived_violations(plan: Plan, ctx: Context, *, stale: bool = False) -> list[str]:
    """Every claim of ``plan`` that the scenario, the catalog and the estimation core do not support.

    ``stale``: the plan's inputs changed since it was solved; its written figures are then not
    compared with recomputed ones (they answer the old inputs), but its configuration and the
    scenario's limits are checked with the recomputed figures all the same.
    """
    bad_numbers = non_finite(plan)
    if bad_numbers:
        return bad_numbers
    found = deployment_findings(plan, ctx)
    claims = found.claims + fleet_claims(plan, ctx, found)
    return found.problems + ([] if stale else claims) + fleet_problems(plan, ctx, found)
