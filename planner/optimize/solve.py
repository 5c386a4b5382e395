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
from typing import Any

import pulp

from planner.candidates.generate import Candidates, generate_candidates
from planner.catalog.loader import Catalog, load_catalog
from planner.core.constants import server_overhead_w_per_gpu
from planner.errors import InfeasibleError, InputError, SolverLimitError
from planner.optimize.model import FleetModel, GpuType, build_model, usable_rack_w
from planner.optimize.quiet import solver_output_silenced
from planner.optimize.ties import TIE_SCORE_GAP_ABS, break_ties, derive_the_rest
from planner.plan.hashing import resolve_calibration
from planner.scenario.load import LoadedScenario, load_scenario
from planner.scenario.names import ResolvedNames, check_names, resolve_names
from planner.schemas.catalog import GpuSpec
from planner.schemas.plan import Plan
from planner.schemas.scenario import Scenario

DEFAULT_TIME_LIMIT_S = 60.0
# Proven far inside the tie band (planner.optimize.ties): every solver version then finds the same
# set of tied plans. The plan reports the gap it reached.
MIP_REL_GAP = 1e-9


@dataclass(frozen=True)
class SolveResult:
    model: FleetModel
    status: str  # optimal | feasible
    solver_name: str
    solver_version: str
    solver_status: str
    mip_gap: float | None
    time_s: float
    time_limit_s: float
    ties: str = "broken by the rule"
    """How ties were settled: by the stated rule, or why not (planner.optimize.ties)."""


def select_gpus(scenario: Scenario, catalog: Catalog, file: str) -> tuple[list[GpuSpec], list[str]]:
    """GPUs the scenario allows, and notes on those left out: without ``hardware.gpus`` every priced
    datacenter GPU of the catalog (workstation and consumer cards only when listed)."""
    names = resolve_names(scenario, catalog, file=file)
    explicit = names.gpu_ids is not None
    ids = names.gpu_ids if names.gpu_ids is not None else tuple(catalog.gpus)
    notes: list[str] = []
    out = []
    for g in sorted((catalog.gpus[i] for i in set(ids)), key=lambda g: g.id):
        if not explicit and g.segment != "datacenter":
            notes.append(f"{g.id} left out: a {g.segment} GPU (list it in hardware.gpus to consider it)")
            continue
        if _gpu_price(names, g) is None:
            if explicit:
                raise InputError(f"{g.id} has no catalog price", file=file, key_path="finance.gpu_prices_usd",
                                 fix=f"add `{g.id}: <USD per GPU>`")
            notes.append(f"{g.id} left out: no price in the catalog (set finance.gpu_prices_usd to include it)")
            continue
        out.append(g)
    return out, notes


def _gpu_price(names: ResolvedNames, g: GpuSpec) -> float | None:
    override = names.gpu_prices_usd.get(g.id)
    if override is not None:
        return override
    return g.price.usd if g.price else None


def gpu_types(scenario: Scenario, gpus: list[GpuSpec], catalog: Catalog) -> tuple[dict[str, GpuType], list[str]]:
    """The program's view of each allowed GPU: its server (catalog, then ``hardware.servers``), prices,
    inventory and servers per rack; notes on GPUs whose server fits no rack."""
    names = resolve_names(scenario, catalog)
    rack_w = usable_rack_w(scenario.site)
    out, notes = {}, []
    for g in gpus:
        srv, o = g.server, names.servers.get(g.id)
        max_w = (o.max_power_w if o and o.max_power_w else srv.max_power_w)
        ru = (o.rack_units if o and o.rack_units else srv.rack_units)
        per_rack = min(math.floor(rack_w / max_w), scenario.site.rack_units // ru)
        if per_rack < 1:
            notes.append(f"{g.id} left out: one {srv.model} draws up to {max_w / 1e3:.1f} kW, above a rack's "
                         f"usable {rack_w / 1e3:.1f} kW (or needs more than {scenario.site.rack_units} U)")
            continue
        out[g.id] = _gpu_type(g, o, names, max_w, ru, per_rack)
    return out, notes


def _gpu_type(g: GpuSpec, o: Any, names: ResolvedNames, max_w: float, ru: int, per_rack: int) -> GpuType:
    srv = g.server
    per_server = (o.gpus_per_server if o and o.gpus_per_server else srv.gpus_per_server)
    server_price = names.server_prices_usd.get(g.id)
    if server_price is None:
        server_price = o.price_usd if o and o.price_usd is not None else (srv.price_usd or 0.0)
    return GpuType(id=g.id, gpus_per_server=per_server, server_model=(o.model if o and o.model else srv.model),
                   server_max_power_w=max_w, server_rack_units=ru, gpu_price_usd=float(_gpu_price(names, g) or 0.0),
                   server_price_usd=float(server_price), idle_w=g.idle_w, servers_per_rack=per_rack,
                   inventory_gpus=names.inventory_gpus.get(g.id),
                   overhead_w_per_gpu=server_overhead_w_per_gpu(max_w, per_server, g.tdp_w))


def _solver(name: str, time_limit_s: float, gap_rel: float = MIP_REL_GAP, gap_abs: float | None = None
            ) -> pulp.LpSolver:
    if name == "highs":
        solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1,
                            random_seed=0)
        if solver.available():
            return solver
        name = "cbc"
    if name == "cbc":
        import warnings

        for cls in ("COIN_CMD", "PULP_CBC_CMD"):
            if not hasattr(pulp, cls):
                continue
            with warnings.catch_warnings():
                # PuLP 3.3 deprecates its bundled CBC (PuLP 4 drops it; COIN_CMD finds a `cbc` on
                # PATH or from pulp[cbc]); the bundled one is the fallback of last resort
                warnings.simplefilter("ignore", DeprecationWarning)
                s = getattr(pulp, cls)(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1)
                if s.available():
                    return s
    raise InputError(f"solver {name!r} is not available", fix="install highspy (default) or CBC")


_HIGHS_INFEASIBLE = ("kInfeasible", "kUnboundedOrInfeasible")


def _solve_once(m: FleetModel, solver: pulp.LpSolver) -> tuple[str, str, float | None]:
    """Solve; (status, solver's own status word, gap). status: optimal | feasible | infeasible |
    no_solution (a limit stopped the solver before any plan: not a proof of infeasibility)."""
    with solver_output_silenced():  # highspy >= 1.16 prints a banner on stdout whatever its options say
        m.prob.solve(solver)
    sol = m.prob.sol_status
    if isinstance(solver, pulp.HiGHS):
        raw = str(m.prob.solverModel.getModelStatus()).split(".")[-1]
        info = m.prob.solverModel.getInfo()
        gap: float | None = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
        proven_infeasible = raw in _HIGHS_INFEASIBLE
    else:
        raw = pulp.LpStatus[m.prob.status]
        gap = None
        proven_infeasible = m.prob.status == pulp.LpStatusInfeasible
    if sol == pulp.LpSolutionOptimal:
        return "optimal", raw, (gap if gap is not None else 0.0)
    if sol == pulp.LpSolutionIntegerFeasible:
        return "feasible", raw, gap
    return ("infeasible" if proven_infeasible else "no_solution"), raw, None


def _snap_integers(m: FleetModel) -> None:
    """Round integer variables to their integers so no solver noise (2.9999999999998) reaches a plan."""
    for v in m.prob.variables():
        if v.cat in (pulp.LpInteger, pulp.LpBinary) and v.varValue is not None:
            v.varValue = float(round(v.varValue))


def _solver_version(solver: pulp.LpSolver) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = "highspy" if isinstance(solver, pulp.HiGHS) else "pulp"
    try:
        v = version(package)
    except PackageNotFoundError:
        v = "unknown"
    return f"highspy {v}" if package == "highspy" else f"CBC via PuLP {v}"


def run_solver(m: FleetModel, solver_name: str, time_limit_s: float, *, tie_break: bool = True) -> SolveResult:
    """Solve the program honestly: optimal only when proven, feasible with its gap when a limit
    stopped the search, infeasible only when proven; a limit with no plan raises SolverLimitError."""
    solver = _solver(solver_name, time_limit_s)
    start = time.perf_counter()
    status, raw, gap = _solve_once(m, solver)
    if status == "no_solution":
        raise SolverLimitError(f"the solver stopped ({raw}) before finding any plan, which is not a proof "
                               "that none exists", fix=f"raise --time-limit (now {time_limit_s:g} s)")
    ties = _settle_ties(m, status, solver_name, time_limit_s - (time.perf_counter() - start), tie_break)
    elapsed = time.perf_counter() - start
    name = "highs" if isinstance(solver, pulp.HiGHS) else "cbc"
    return SolveResult(m, status, name, _solver_version(solver), raw, gap if status != "infeasible" else 0.0,
                       elapsed, time_limit_s, ties)


def _settle_ties(m: FleetModel, status: str, solver_name: str, time_left_s: float, tie_break: bool) -> str:
    """Apply the tie rule (planner.optimize.ties) to a solution; say how ties were settled."""
    if status == "infeasible":
        return "no plan"
    ties = "broken by the rule"
    if status != "optimal":
        ties = "not broken among deployments: the first solve was not proven optimal"
    elif not tie_break:
        ties = "not broken among deployments: the tie-break solve was skipped (a large fleet)"
    else:
        solver = _solver(solver_name, max(time_left_s, 1.0), gap_rel=0.0, gap_abs=TIE_SCORE_GAP_ABS)
        status = break_ties(m, lambda model: _solve_once(model, solver)[0])
        if status != "optimal":
            ties = (f"not broken among deployments: the tie-break solve ended {status.replace('_', ' ')}, "
                    "not proven (raise --time-limit)")
    _snap_integers(m)
    derive_the_rest(m)
    return ties


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
    active = [w for w in sc.workloads if w.enabled]
    if not active:
        raise InputError("every workload is disabled", file=file, key_path="workloads",
                         fix="enable at least one workload (enabled: true)")
    sc = sc.model_copy(update={"workloads": active})
    check_names(ls, catalog)
    cal_path = resolve_calibration(ls.path, ls.override, calibration)
    cal = str(cal_path) if cal_path else None
    gpus, notes = select_gpus(sc, catalog, file)
    types, more = gpu_types(sc, gpus, catalog)
    notes += more
    from planner.optimize.analysis import candidate_options

    cand = generate_candidates(sc.workloads, [g for g in gpus if g.id in types], catalog, cal,
                               **candidate_options(types))
    missing = _no_candidate_lines(sc, cand)
    if missing:
        raise InfeasibleError(f"scenario {sc.name!r} is infeasible", explanation=missing + notes)
    m = build_model(sc, cand, types)
    from planner.optimize.analysis import MAX_CANDIDATES_FOR_RESOLVES

    small = len(cand) <= MAX_CANDIDATES_FOR_RESOLVES
    if not small:
        notes.append(f"{len(cand)} candidates (over {MAX_CANDIDATES_FOR_RESOLVES}): the tie-break solve, what-if "
                     "values and objective alternatives were skipped to keep the solve fast; the plan is still "
                     "optimal, and servers, racks and routing still follow the tie-break rule")
    r = run_solver(m, solver, time_limit_s, tie_break=small)
    if r.status == "infeasible":
        from planner.optimize.explain import explain_infeasible

        def run(model: FleetModel) -> str:
            try:
                return run_solver(model, solver, time_limit_s).status
            except SolverLimitError:
                return "no_solution"

        usable = [g for g in gpus if g.id in types]
        raise explain_infeasible(sc, cand, types, usable, catalog, cal, run, notes,
                                 types_fn=lambda s: gpu_types(s, gpus, catalog)[0])
    plan = build_plan(ls, r, catalog, notes, cal_path)
    return _with_analysis(plan, sc, cand, types, gpus, catalog, cal, solver, time_limit_s, analysis)


def _with_analysis(plan: Plan, sc: Scenario, cand: Candidates, types: dict[str, GpuType], gpus: list[GpuSpec],
                   catalog: Catalog, cal: str | None, solver: str, time_limit_s: float, analysis: bool) -> Plan:
    from planner.optimize import analysis as an

    chosen = {(d.workload, d.gpu, d.precision, d.tp, d.pp, d.batch_size) for d in plan.deployments}
    update: dict[str, object] = {"alternatives": an.runner_ups(sc, cand, types, chosen)}
    if analysis and plan.status == "optimal" and len(cand) <= an.MAX_CANDIDATES_FOR_RESOLVES:
        solve = an.solve_with(solver, time_limit_s)
        base = float(plan.objective["value"])
        if sc.objective == "min_tco":
            base /= sc.finance.amortization_years
        binding = [c.name for c in plan.constraints if c.binding]
        types_fn = lambda s: gpu_types(s, gpus, catalog)[0]  # noqa: E731
        update["what_if"] = an.what_if(sc, cand, types_fn, solve, base, binding, catalog, cal, gpus)
        update["objective_alternatives"] = an.objective_alternatives(sc, cand, types, solve)
    elif not analysis or plan.status != "optimal":
        why = "--no-analysis was given" if not analysis else f"the plan is {plan.status}, not proven optimal"
        update["assumptions"] = [*plan.assumptions, {
            "name": "note", "value": f"what-if values and objective alternatives were skipped: {why}",
            "unit": "", "source": "planner", "range": ""}]
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
