"""Solve a scenario: candidates -> integer program -> honest status -> verified plan.

HiGHS (through highspy) is the default solver, CBC the fallback. PuLP reports "Optimal" for
time-limited runs, so the status comes from ``sol_status`` and the MIP gap, and every constraint
is re-verified on the returned integer values before a plan is reported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pulp

from planner.candidates.generate import Candidates, generate_candidates
from planner.catalog.loader import Catalog, load_catalog
from planner.errors import InfeasibleError, InputError
from planner.optimize.model import FleetModel, GpuType, build_model, usable_rack_w
from planner.plan.hashing import resolve_calibration
from planner.scenario.load import LoadedScenario, load_scenario
from planner.schemas.catalog import GpuSpec
from planner.schemas.plan import Plan
from planner.schemas.scenario import Scenario

DEFAULT_TIME_LIMIT_S = 60.0
MIP_REL_GAP = 1e-4  # HiGHS default; the plan reports the gap it reached


@dataclass(frozen=True)
class SolveResult:
    model: FleetModel
    status: str  # optimal | feasible
    solver_name: str
    solver_version: str
    solver_status: str
    mip_gap: float
    time_s: float
    time_limit_s: float


def select_gpus(scenario: Scenario, catalog: Catalog, file: str) -> tuple[list[GpuSpec], list[str]]:
    """GPUs the scenario allows, and notes on those left out (no price for a cost objective)."""
    notes: list[str] = []
    if scenario.hardware.gpus is not None:
        gpus = []
        for i, name in enumerate(scenario.hardware.gpus):
            try:
                gpus.append(catalog.gpu(name))
            except InputError as exc:
                raise InputError(exc.message, file=file, key_path=f"hardware.gpus[{i}]", fix=exc.fix) from None
        explicit = True
    else:
        gpus, explicit = list(catalog.gpus.values()), False
    for key in (*scenario.hardware.inventory, *scenario.hardware.servers, *scenario.finance.gpu_prices_usd):
        if not catalog.has_gpu(key):
            try:
                catalog.gpu(key)
            except InputError as exc:
                raise InputError(exc.message, file=file, key_path="hardware/finance GPU keys", fix=exc.fix) from None
    out = []
    for g in sorted({g.id: g for g in gpus}.values(), key=lambda g: g.id):
        if _gpu_price(scenario, g) is None:
            if explicit:
                raise InputError(f"{g.id} has no catalog price", file=file, key_path="finance.gpu_prices_usd",
                                 fix=f"add `{g.id}: <USD per GPU>`")
            notes.append(f"{g.id} left out: no price in the catalog (set finance.gpu_prices_usd to include it)")
            continue
        out.append(g)
    return out, notes


def _lookup(mapping: dict[str, float], g: GpuSpec) -> float | None:
    for k, v in mapping.items():
        if k.lower() == g.id or k.lower() in (a.lower() for a in g.aliases):
            return v
    return None


def _gpu_price(scenario: Scenario, g: GpuSpec) -> float | None:
    override = _lookup(scenario.finance.gpu_prices_usd, g)
    if override is not None:
        return override
    return g.price.usd if g.price else None


def gpu_types(scenario: Scenario, gpus: list[GpuSpec]) -> tuple[dict[str, GpuType], list[str]]:
    site = scenario.site
    rack_w = usable_rack_w(site)
    out, notes = {}, []
    for g in gpus:
        srv = g.server
        o = next((v for k, v in scenario.hardware.servers.items() if k.lower() in (g.id, *map(str.lower, g.aliases))),
                 None)
        per_server = (o.gpus_per_server if o and o.gpus_per_server else srv.gpus_per_server)
        max_w = (o.max_power_w if o and o.max_power_w else srv.max_power_w)
        ru = (o.rack_units if o and o.rack_units else srv.rack_units)
        server_price = _lookup(scenario.finance.server_prices_usd, g)
        if server_price is None:
            server_price = o.price_usd if o and o.price_usd is not None else (srv.price_usd or 0.0)
        per_rack = min(math.floor(rack_w / max_w), site.rack_units // ru)
        if per_rack < 1:
            notes.append(f"{g.id} left out: one {srv.model} draws up to {max_w / 1e3:.1f} kW, above a rack's "
                         f"usable {rack_w / 1e3:.1f} kW (or needs more than {site.rack_units} U)")
            continue
        inv = _lookup({k: float(v) for k, v in scenario.hardware.inventory.items()}, g)
        out[g.id] = GpuType(id=g.id, gpus_per_server=per_server, server_model=(o.model if o and o.model else srv.model),
                            server_max_power_w=max_w, server_rack_units=ru,
                            gpu_price_usd=float(_gpu_price(scenario, g) or 0.0),
                            server_price_usd=float(server_price), idle_w=g.idle_w, servers_per_rack=per_rack,
                            inventory_gpus=None if inv is None else int(inv))
    return out, notes


def _solver(name: str, time_limit_s: float) -> pulp.LpSolver:
    if name == "highs":
        solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=MIP_REL_GAP, threads=1, random_seed=0)
        if solver.available():
            return solver
        name = "cbc"
    if name == "cbc":
        for cls in ("COIN_CMD", "PULP_CBC_CMD"):
            s = getattr(pulp, cls)(msg=False, timeLimit=time_limit_s, gapRel=MIP_REL_GAP, threads=1)
            if s.available():
                return s
    raise InputError(f"solver {name!r} is not available", fix="install highspy (default) or CBC")


def run_solver(m: FleetModel, solver_name: str, time_limit_s: float) -> SolveResult:
    solver = _solver(solver_name, time_limit_s)
    start = time.perf_counter()
    m.prob.solve(solver)
    elapsed = time.perf_counter() - start
    sol = m.prob.sol_status
    gap = 0.0
    version = pulp.__version__
    if isinstance(solver, pulp.HiGHS):
        import highspy

        info = m.prob.solverModel.getInfo()
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else 0.0
        version = f"highspy {getattr(highspy, '__version__', '')}".strip()
        raw = str(m.prob.solverModel.getModelStatus()).split(".")[-1]
    else:
        raw = pulp.LpStatus[m.prob.status]
    if sol == pulp.LpSolutionOptimal:
        status = "optimal"
    elif sol == pulp.LpSolutionIntegerFeasible:
        status = "feasible"
    else:
        status = "infeasible"
    name = "highs" if isinstance(solver, pulp.HiGHS) else "cbc"
    return SolveResult(m, status, name, version, raw, max(gap, 0.0) if status != "infeasible" else 0.0,
                       elapsed, time_limit_s)


def _no_candidate_lines(scenario: Scenario, cand: Candidates) -> list[str]:
    lines = []
    present = set(cand.columns["workload"].tolist())
    for w in scenario.workloads:
        if w.name in present:
            continue
        best = cand.best_latency.get(w.name, {})
        if not best.get("fits_any"):
            lines.append(f"workload {w.name}: {w.model} does not fit any allowed GPU/precision/parallelism "
                         "(allow more GPUs per replica, a lower precision, or larger GPUs)")
            continue
        parts = []
        if w.slo.itl_p95_ms is not None:
            parts.append(f"ITL p95 SLO {w.slo.itl_p95_ms:g} ms (best achievable {best['itl_p95_s'] * 1e3:.1f} ms)")
        if w.slo.ttft_p95_ms is not None:
            parts.append(f"TTFT p95 SLO {w.slo.ttft_p95_ms:g} ms (best achievable without queueing "
                         f"{best['ttft_solo_s'] * 1e3:.0f} ms)")
        lines.append(f"workload {w.name}: no configuration meets " + (" and ".join(parts) or "its SLOs")
                     + "; relax the SLO or allow other GPUs/precisions")
    return lines


def solve_loaded(ls: LoadedScenario, catalog: Catalog, *, solver: str = "highs",
                 time_limit_s: float = DEFAULT_TIME_LIMIT_S, calibration: str | None = None,
                 analysis: bool = True) -> Plan:
    from planner.optimize.plan_builder import build_plan

    sc = ls.scenario
    file = str(ls.path)
    for i, w in enumerate(sc.workloads):
        try:
            catalog.model(w.model)
        except InputError as exc:
            raise InputError(exc.message, file=file, key_path=f"workloads[{i}].model", fix=exc.fix) from None
    cal_path = resolve_calibration(ls.path, ls.override, calibration)
    cal = str(cal_path) if cal_path else None
    gpus, notes = select_gpus(sc, catalog, file)
    types, more = gpu_types(sc, gpus)
    notes += more
    cand = generate_candidates(sc.workloads, [g for g in gpus if g.id in types], catalog, cal)
    missing = _no_candidate_lines(sc, cand)
    if missing:
        raise InfeasibleError(f"scenario {sc.name!r} is infeasible", explanation=missing + notes)
    m = build_model(sc, cand, types)
    r = run_solver(m, solver, time_limit_s)
    if r.status == "infeasible":
        from planner.optimize.explain import explain_infeasible

        def run(model: FleetModel) -> str:
            return run_solver(model, solver, time_limit_s).status

        usable = [g for g in gpus if g.id in types]
        raise explain_infeasible(sc, cand, types, usable, catalog, cal, run, notes)
    plan = build_plan(ls, r, catalog, notes, cal_path)
    return _with_analysis(plan, sc, cand, types, gpus, catalog, cal, solver, time_limit_s, analysis)


def _with_analysis(plan: Plan, sc: Scenario, cand: Candidates, types: dict[str, GpuType], gpus: list[GpuSpec],
                   catalog: Catalog, cal: str | None, solver: str, time_limit_s: float, analysis: bool) -> Plan:
    from planner.optimize import analysis as an

    chosen = {(d.workload, d.gpu, d.precision, d.tp, d.pp, d.batch_size) for d in plan.deployments}
    update: dict[str, object] = {"alternatives": an.runner_ups(sc, cand, types, chosen)}
    if analysis and len(cand) <= an.MAX_CANDIDATES_FOR_RESOLVES:
        solve = an.solve_with(solver, time_limit_s)
        base = float(plan.objective["value"])
        if sc.objective == "min_tco":
            base /= sc.finance.amortization_years
        binding = [c.name for c in plan.constraints if c.binding]
        update["what_if"] = an.what_if(sc, cand, lambda s: gpu_types(s, gpus)[0], solve, base, binding, catalog, cal)
        update["objective_alternatives"] = an.objective_alternatives(sc, cand, types, solve)
    return plan.model_copy(update=update)


def solve_scenario(scenario_path: str | Path, *, override: str | None = None,
                   catalog_dirs: list[str] | None = None, calibration: str | None = None,
                   solver: str = "highs", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                   analysis: bool = True) -> Plan:
    """Load, solve and return the plan of a scenario file (raises InfeasibleError with reasons).

    ``analysis`` adds what-if re-solves and objective alternatives (skipped for large fleets).
    """
    catalog = load_catalog(catalog_dirs)
    return solve_loaded(load_scenario(scenario_path, override), catalog, solver=solver,
                        time_limit_s=time_limit_s, calibration=calibration, analysis=analysis)
