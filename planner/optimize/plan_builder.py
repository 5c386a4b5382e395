"""Turn a solved fleet program into a Plan, re-verifying every constraint on the integer values.

Everything comes from the resolved problem (planner.problem) and the solution; the fleet figures
and the constraints table come from planner.plan.figures, the functions `planner check` uses too.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner import __version__
from planner.candidates import disaggregated
from planner.candidates.generate import generate_candidates
from planner.candidates.queueing import ttft_from_candidates
from planner.core.constants import COEFFICIENTS, FIXED
from planner.export.launch import launch_for
from planner.optimize.backend import SolveResult, run_solver
from planner.optimize.program import OBJECTIVE_EXPR, build_program, int_value, power_limits_w, roles, value
from planner.optimize.ties import TIE_RULE
from planner.plan import energy, figures
from planner.problem.model import Problem, WorkloadDemand
from planner.schemas.plan import (
    PLAN_SCHEMA_VERSION,
    Analysis,
    Assumption,
    Constraint,
    Deployment,
    Objective,
    Plan,
    PlanFinance,
    PlanSite,
    Rack,
    ScenarioRef,
    ServerGroup,
    SizingMargin,
    SizingMarginTotals,
    Solver,
    Totals,
    WorkloadRow,
)
from planner.units import BTU_PER_HR_PER_W, HOURS_PER_YEAR, s_to_ms

TOLERANCE = 1e-6
PRUNING_RULES = {
    "heuristic": ("operating points dominated in capacity per GPU, W per request/s at capacity and replica size "
                  "are dropped before the solve; a heuristic that keeps solves fast and can miss a cheaper plan "
                  "by up to one replica per pool (at most 0.56 % of min_tco on the shipped scenarios); "
                  "`planner solve --exact` keeps every point that could matter"),
    "exact": ("only operating points that whole copies of another replace with no more GPUs and no more power "
              "at any load are dropped, so the optimum is the optimum over every operating point"),
}
OBJECTIVE_UNITS = {"min_tco": "USD", "min_power": "W", "min_energy": "kWh/year", "min_gpus": "GPUs",
                   "min_carbon": "tCO2e/year"}


class PlanVerificationError(AssertionError):
    """The solver returned values that break a constraint: a bug, never an expected outcome."""


def _ttft_at_load(c: dict[str, np.ndarray], i: int, per_replica_rps: float) -> float:
    """TTFT p95 of candidate ``i`` at a per-replica arrival rate, with the queueing model candidate
    generation sized its capacity with."""
    return float(ttft_from_candidates(c, i, per_replica_rps, 0.95)[0])


def _deployment(r: SolveResult, i: int, n: int) -> Deployment:
    m = r.model
    c = m.cand.columns
    w = m.problem.workload(str(c["workload"][i]))
    g = m.gpus[str(c["gpu"][i])]
    routed = max(value(m.routed[i]), 0.0)
    point = {k: float(v[i]) for k, v in c.items() if v.dtype.kind in "fiu"}
    # TTFT p95 at the routed peak with the workload's k spare replicas down (its design point)
    role = str(roles(m.cand)[i])
    load = routed / w.serving_replicas(n)
    ttft_peak = _ttft_at_load(c, i, load) if role == "aggregated" else disaggregated.ttft_at_load(c, i, load)
    return Deployment(
        workload=w.name, model=str(c["model"][i]), gpu=g.id, precision=str(c["precision"][i]),
        tp=int(c["tp"][i]), pp=int(c["pp"][i]), replicas=n, gpus=n * int(c["num_gpus"][i]),
        batch_size=int(c["batch_size"][i]), demand_requests_per_s=routed,
        slo_ttft_p95_s=w.slo.ttft_p95_s, slo_itl_p95_s=w.slo.itl_p95_s,
        prefill_chunk_tokens=int(c["prefill_chunk_tokens"][i]), engine=w.engine,
        power_limit_w=None if np.isnan(limit_w := float(power_limits_w(m.cand)[i])) else limit_w,
        speculative=w.speculative, role=role if w.disaggregated else None,
        sizing_margin=sizing_margin(w, g.id), **_parallelism(c, i),
        **figures.deployment_figures(w, g, point, n, routed, ttft_peak))


def _parallelism(c: dict[str, np.ndarray], i: int) -> dict[str, int]:
    """ep and dp of candidate ``i`` where above 1 (candidate columns ``ep``, ``dp``; absent or NaN: 1)."""
    out: dict[str, int] = {}
    for k in ("ep", "dp"):
        v = float(c[k][i]) if k in c else 1.0
        if v == v and v > 1.0:  # NaN (a table without the column) reads as 1
            out[k] = int(v)
    return out


def _with_phase_figures(d: Deployment, r: SolveResult, i: int) -> Deployment:
    """The deployment with its energy and FLOPs by phase and cause (planner.plan.energy)."""
    c = r.model.cand.columns
    # a prefill pool has no output tokens: its per-token columns are NaN, so it carries no phase figures
    point = {k: float(v[i]) for k, v in c.items() if v.dtype.kind in "fiu" and not np.isnan(v[i])}
    return d.model_copy(update=energy.phase_figures(point))


def _with_launch(d: Deployment, p: Problem) -> Deployment:
    """The deployment with its launch spec: the engine command of one replica (planner.export.launch)."""
    g = p.gpu(d.gpu)
    draft = p.catalog.model(d.speculative.draft_model) if d.speculative and d.speculative.draft_model else None
    return d.model_copy(update={"launch": launch_for(d, p.catalog.model(d.model), g.spec, g.gpus_per_server, draft)})


def deployments_of(r: SolveResult) -> list[Deployment]:
    out = []
    for i in range(len(r.model.cand)):
        n = int_value(r.model.replicas[i])
        if n > 0:
            out.append(_with_launch(_with_phase_figures(_deployment(r, i, n), r, i), r.model.problem))
    return sorted(out, key=lambda d: (d.workload, figures.ROLE_ORDER[d.role], d.gpu, d.precision, d.tp, d.pp,
                                      d.batch_size, -(d.power_limit_w or 0.0)))


def servers_of(r: SolveResult) -> list[ServerGroup]:
    out = []
    for pool in r.model.problem.pools:
        g, s = pool.gpu, int_value(r.model.servers[pool.key])
        if s <= 0:
            continue
        psu = g.psu
        out.append(ServerGroup(gpu=g.id, server_model=g.server_model, servers=s, gpus=s * g.gpus_per_server,
                               gpus_per_server=g.gpus_per_server, server_max_power_w=pool.server_max_power_w,
                               rack_units=g.server_rack_units, psu_count=psu.count if psu else None,
                               psu_rating_w=psu.rating_w if psu else None,
                               psu_redundancy=psu.redundancy if psu else None,
                               psu_efficiency_tier=psu.efficiency_tier if psu else None,
                               gpu_price_usd=g.gpu_price_usd, server_price_usd=g.server_price_usd,
                               server_overhead_w_per_gpu=g.overhead_w_per_gpu,
                               power_limit_w=pool.power_limit_w if pool.limited else None))
    return out


def racks_of(r: SolveResult, servers: list[ServerGroup], deployments: list[Deployment]) -> list[Rack]:
    p = r.model.problem
    out = []
    for sg in servers:
        pool = p.pool(sg.gpu, sg.power_limit_w)
        g = pool.gpu
        n_racks = max(int_value(r.model.racks[pool.key]), 1)
        # spread servers evenly over the pool's racks (a balanced layout; fewer hot racks)
        base, extra = divmod(sg.servers, n_racks)
        ds = [d for d in deployments if figures.pool_of(p, d) == pool.key]
        spare_w = figures.spare_power_w(ds, [sg], {g.id: g.spare_gpu_w})
        per_server_max = (sum(d.power_max_w for d in ds) + spare_w) / sg.servers
        per_server_avg = (sum(d.power_avg_w for d in ds) + spare_w) / sg.servers
        for k in range(n_racks):
            s = base + (1 if k < extra else 0)
            if s == 0:
                continue
            p_max = s * per_server_max
            out.append(Rack(id=f"{pool.key}-r{k + 1:02d}", gpu=sg.gpu, servers=s,
                            power_nameplate_w=s * pool.server_max_power_w, power_max_w=p_max,
                            power_avg_w=s * per_server_avg, usable_cap_w=p.site.usable_rack_w,
                            heat_btu_per_hr=p_max * BTU_PER_HR_PER_W,
                            liquid_cooling_required=p.site.needs_liquid(s * pool.server_max_power_w),
                            power_limit_w=sg.power_limit_w))
    return out


def _verify_pools(r: SolveResult, deployments: list[Deployment], servers: list[ServerGroup]) -> None:
    p = r.model.problem
    for sg in servers:
        key = p.pool(sg.gpu, sg.power_limit_w).key
        used = sum(d.gpus for d in deployments if figures.pool_of(p, d) == key)
        if used > sg.servers * sg.gpus_per_server:
            raise PlanVerificationError(f"{key}: {used} GPUs in use but only {sg.servers} servers bought")
    for w in r.model.problem.workloads:
        for side in ("prefill", "decode") if w.disaggregated else ("prefill",):
            _verify_side(w, [d for d in deployments if d.workload == w.name and (d.role or "aggregated")
                             in ("aggregated", side)])


def _verify_side(w: WorkloadDemand, ds: list[Deployment]) -> None:
    """One side of a workload (every deployment; with disaggregated serving, its aggregated deployments and
    one role's): the whole peak routed, one pool with N+k, each pool able to keep its k spares."""
    routed = sum(d.demand_requests_per_s for d in ds)
    if abs(routed - w.peak_requests_per_s) > 1e-6 * w.peak_requests_per_s + 1e-9:
        raise PlanVerificationError(f"{w.name}: {routed} requests/s routed, the peak is {w.peak_requests_per_s}")
    if w.redundancy > 0 and len(ds) > 1:
        raise PlanVerificationError(f"{w.name}: an N+k workload must run one pool, got {len(ds)}")
    for d in ds:
        if w.redundancy > 0 and d.replicas < w.min_replicas:
            raise PlanVerificationError(f"{w.name}: {d.replicas} replicas cannot keep {w.redundancy} spares")


def verify(constraints: list[Constraint], deployments: list[Deployment], servers: list[ServerGroup],
           r: SolveResult) -> None:
    """Every constraint must hold on the returned integer values; otherwise it is a bug."""
    _verify_pools(r, deployments, servers)
    for c in constraints:
        ok = c.value >= c.limit * (1 - TOLERANCE) if c.kind == "demand" else c.value <= c.limit * (1 + TOLERANCE) + 1e-6
        if not ok:
            raise PlanVerificationError(f"solver returned a plan violating {c.name}: {c.value} vs {c.limit}")
    for d in deployments:
        if d.slo_itl_p95_s is not None and d.itl_p95_s > d.slo_itl_p95_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload} misses its ITL SLO")
        if d.slo_ttft_p95_s is not None and d.ttft_p95_s > d.slo_ttft_p95_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload} misses its TTFT SLO")
        if d.demand_requests_per_s > d.capacity_requests_per_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload}/{d.gpu}: routed beyond capacity")


def build_plan(r: SolveResult, notes: list[str]) -> Plan:
    """The plan of a solved program (its integer values re-verified against every constraint);
    ``notes`` (GPUs left out, analysis skipped, ...) become assumption rows."""
    p = r.model.problem
    deployments = deployments_of(r)
    servers = servers_of(r)
    racks = racks_of(r, servers, deployments)
    fleet = figures.totals(p, deployments, servers, len(racks), {g.id: g.spare_gpu_w for g in p.gpus})
    constraints = figures.constraints(p, deployments, servers, racks, fleet)
    verify(constraints, deployments, servers, r)
    fleet = with_sizing_totals(fleet, r)
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION, tool_version=__version__,
        scenario=ScenarioRef(name=p.name, description=p.description, file=p.file_name, override=p.override,
                             objective=p.objective),
        input_sha256=p.hashes, status=r.status,  # type: ignore[arg-type]
        objective=Objective(name=p.objective, value=float(getattr(fleet, OBJECTIVE_EXPR[p.objective])),
                            unit=OBJECTIVE_UNITS[p.objective]),
        solver=Solver(name=r.solver_name, version=r.solver_version, status=r.solver_status, mip_gap=r.mip_gap,
                      time_s=r.time_s, time_limit_s=r.time_limit_s, node_limit=r.node_limit),
        deployments=deployments, servers=servers, racks=racks, totals=fleet, constraints=constraints,
        site=PlanSite.model_validate(p.echo.site), finance=PlanFinance.model_validate(p.echo.finance),
        workloads=[WorkloadRow.model_validate(workload_row(w)) for w in p.workloads],
        assumptions=[Assumption.model_validate(a) for a in assumptions_of(p, r, notes)],
        analysis=Analysis(what_if="skipped", objective_alternatives="skipped",
                          skipped_reason="not run (planner.optimize.solve adds the analysis)"))


def sizing_margin(w: WorkloadDemand, gpu_id: str) -> SizingMargin | None:
    """The factors ``w``'s sizing_confidence applied on ``gpu_id`` (None: sized at the point estimate)."""
    if w.sizing is None:
        return None
    f = w.sizing.factors(gpu_id)
    return SizingMargin(confidence=w.sizing.confidence, ttft_factor=f.ttft, itl_factor=f.itl,
                        throughput_factor=f.throughput, group=f.group)


def with_sizing_totals(fleet: Totals, r: SolveResult) -> Totals:
    """``fleet`` with the GPUs sizing at a confidence adds, measured: the same problem solved again with every
    workload at its point estimate (the same solver and time limit). Unchanged when no workload has one."""
    p = r.model.problem
    if all(w.sizing is None for w in p.workloads):
        return fleet
    point = replace(p, workloads=tuple(replace(w, sizing=None) for w in p.workloads))
    r0 = run_solver(build_program(point, generate_candidates(point)), r.solver_name, r.time_limit_s)
    if r0.status == "infeasible":  # looser than the plan's own problem: never expected
        return fleet
    base = build_plan(r0, []).totals
    value0 = float(getattr(base, OBJECTIVE_EXPR[p.objective]))
    return fleet.model_copy(update={"sizing_margin": SizingMarginTotals(
        gpus_at_point_estimate=base.gpus, gpus_added=fleet.gpus - base.gpus, objective_at_point_estimate=value0)})


def workload_row(w: WorkloadDemand) -> dict[str, float | int | str | None]:
    """The plan's record of a workload's inputs, in the scenario's units."""
    return {"name": w.name, "model": w.model_as_written, "peak_requests_per_s": w.peak_requests_per_s,
            "average_requests_per_s": w.average_requests_per_s,
            "input_tokens_mean": w.input_tokens.mean, "input_tokens_p95": w.input_tokens.p95,
            "output_tokens_mean": w.output_tokens.mean, "output_tokens_p95": w.output_tokens.p95,
            "ttft_p95_ms": None if w.slo.ttft_p95_s is None else s_to_ms(w.slo.ttft_p95_s),
            "itl_p95_ms": None if w.slo.itl_p95_s is None else s_to_ms(w.slo.itl_p95_s),
            "redundancy": w.redundancy, "headroom": w.headroom, "precisions": ",".join(w.precisions)}


def _power_limit_assumption(p: Problem) -> dict[str, str]:
    """The GPU power limits the plan could set, and how they enter it."""
    offered = "; ".join(f"{g.id} {', '.join(f'{w:g}' for w in g.power_limits_w)} W (TDP {g.tdp_w:g} W)" for g in p.gpus)
    return {"name": "GPU power limits offered", "value": offered, "unit": "W",
            "source": ("hardware.power_limit_fractions x TDP, at or above each GPU's catalog minimum "
                       "(power_limit_min_w); a limit is a hard cap (nvidia-smi -pl), so a server's nameplate "
                       "falls by (TDP - limit) per GPU and its servers run that one limit; throughput, latency "
                       "and power at the limit from the estimation core's power-limit model; among tied plans "
                       "the full TDP is kept"), "range": ""}


def assumptions_of(p: Problem, r: SolveResult, notes: list[str]) -> list[dict[str, str]]:
    """Every constant, calibrated coefficient and catalog figure the plan rests on, with its source."""
    out = [{"name": c.name, "value": f"{c.value:g}", "unit": c.unit, "source": c.source,
            "range": f"{c.low:g}-{c.high:g}"} for c in FIXED.values()]
    fitted = p.calibration.for_config("", "vllm")
    out += [{"name": f"coefficient {c.name}", "value": f"{fitted[c.name]:g}", "unit": c.unit,
             "source": f"{p.calibration_origin}; prior {c.value:g}: {c.source}", "range": f"{c.low:g}-{c.high:g}"}
            for c in COEFFICIENTS.values()]
    out.append({"name": "calibration file", "value": p.calibration_file or "priors",
                "unit": "", "source": "planner calibrate on the project's measurements", "range": ""})
    for g in p.gpus:
        spec = g.spec
        price_source = ("scenario finance.gpu_prices_usd" if g.price_from_scenario or not spec.price
                        else f"{spec.price.source} ({spec.price.date})")
        out += [
            {"name": f"{g.id} price", "value": f"{g.gpu_price_usd:g}", "unit": "USD per GPU",
             "source": price_source, "range": ""},
            {"name": f"{g.id} datasheet", "value": f"{spec.memory_gib:g} GiB, {spec.memory_bandwidth_tb_per_s:g} "
             f"TB/s, TDP {spec.tdp_w:g} W, idle {spec.idle_w:g} W", "unit": "", "source": spec.source, "range": ""},
            {"name": f"{g.id} server", "value": f"{g.server_model}: {g.gpus_per_server} GPUs, "
             f"{g.server_max_power_w:g} W max, {g.server_price_usd:g} USD without GPUs, "
             f"{g.overhead_w_per_gpu:.0f} W non-GPU per GPU", "unit": "",
             "source": g.server.source + (f"; price: {g.server.price_source}"
                                          if g.server.price_source else ""), "range": ""},
        ]
    out += figures.infrastructure_assumptions(p)
    if p.power_limited:
        out.append(_power_limit_assumption(p))
    out += disaggregated.assumption_rows(p)
    out.append({"name": "candidate pruning", "value": p.candidate_pruning, "unit": "",
                "source": PRUNING_RULES[p.candidate_pruning], "range": ""})
    out.append({"name": "tie-break rule", "value": f"ties {r.ties}", "unit": "", "source": TIE_RULE, "range": ""})
    out.append({"name": "W to BTU/hr", "value": f"{BTU_PER_HR_PER_W}", "unit": "BTU/hr per W",
                "source": "NIST SP 811 App. B", "range": ""})
    out.append({"name": "hours per year", "value": f"{HOURS_PER_YEAR:g}", "unit": "h", "source": "8760 h", "range": ""})
    out += [{"name": "note", "value": n, "unit": "", "source": "planner", "range": ""} for n in notes]
    return out
