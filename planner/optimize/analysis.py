"""What the plan's reader asks next: runner-up configurations, the value of relaxing each binding
limit, and the plans other objectives would give (a cost-versus-power Pareto view).

Runner-ups are priced standalone from the candidate table (no solve). What-if values and
objective alternatives come from re-solving the same candidates with one thing changed, so they
are exact for the integer program, not LP-relaxation duals (which are often zero or misleading
for integer fleets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from planner.candidates.generate import Candidates, workload_candidates
from planner.catalog.loader import Catalog
from planner.core.constants import HOURS_PER_YEAR
from planner.errors import InfeasibleError, SolverLimitError
from planner.optimize.model import OBJECTIVE_EXPR, GpuType, build_model, value
from planner.scenario.names import resolve_names
from planner.schemas.plan import Alternative
from planner.schemas.scenario import OBJECTIVES, Scenario

RUNNER_UPS_PER_WORKLOAD = 3
# Re-solving costs one integer program each: above this many candidates the analysis is skipped
# (a deterministic rule, so the same input always gives the same plan bytes).
MAX_CANDIDATES_FOR_RESOLVES = 400
ITL_STEP_MS = 10.0
SolveFn = Callable[[Scenario, Candidates, dict[str, GpuType]], Any]


def _standalone(scenario: Scenario, cand: Candidates, types: dict[str, GpuType]) -> dict[str, np.ndarray]:
    """Objective figures of serving each candidate's workload with that candidate alone."""
    c = cand.columns
    site, fin = scenario.site, scenario.finance
    wl = {w.name: w for w in scenario.workloads}
    need = np.array([wl[w].traffic.peak_requests_per_s * (1 + wl[w].headroom) for w in c["workload"]])
    peak = np.array([wl[w].traffic.peak_requests_per_s for w in c["workload"]])
    avg = np.array([wl[w].traffic.average_or_default_requests_per_s for w in c["workload"]])
    k = np.array([wl[w].redundancy for w in c["workload"]])
    replicas = np.ceil(need / c["capacity_rps"] - 1e-9) + k
    gpus = replicas * c["num_gpus"]
    per_server = np.array([types[g].gpus_per_server for g in c["gpu"]])
    servers = np.ceil(gpus / per_server)
    unit = np.array([types[g].gpus_per_server * types[g].gpu_price_usd + types[g].server_price_usd for g in c["gpu"]])
    capex = servers * unit
    power_max = replicas * c["power_base_w"] + c["power_slope_w_per_rps"] * peak
    power_avg = replicas * c["power_base_w"] + c["power_slope_w_per_rps"] * avg
    kwh = power_avg * HOURS_PER_YEAR / 1e3
    nameplate = servers * np.array([types[g].server_max_power_w for g in c["gpu"]])
    colo = nameplate * (fin.colocation_usd_per_kw_month or 0.0) * 12.0 / 1e3
    tco = capex + fin.amortization_years * (kwh * site.pue * site.electricity_usd_per_kwh + colo)
    return {"min_tco": tco, "min_power": power_max, "min_energy": kwh, "min_gpus": servers * per_server,
            "min_carbon": kwh * site.pue * site.carbon_g_per_kwh / 1e6, "replicas": replicas}


def runner_ups(scenario: Scenario, cand: Candidates, types: dict[str, GpuType],
               chosen: set[tuple[str, str, str, int, int, int]]) -> list[Alternative]:
    """Per workload, the best few configurations the plan did not use, and why they lost."""
    c = cand.columns
    figures = _standalone(scenario, cand, types)
    obj = figures[scenario.objective]
    unit = {"min_tco": "$ over the horizon", "min_power": "W at peak", "min_energy": "kWh/year",
            "min_gpus": "GPUs", "min_carbon": "tCO2e/year"}[scenario.objective]
    out: list[Alternative] = []
    for w in scenario.workloads:
        idx = [i for i in range(len(cand)) if c["workload"][i] == w.name]
        if not idx:
            continue
        used = [i for i in idx if (w.name, str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]),
                                   int(c["pp"][i]), int(c["batch_size"][i])) in chosen]
        best = min((obj[i] for i in used), default=min(obj[i] for i in idx))
        seen = {(str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i])) for i in used}
        for i in sorted(idx, key=lambda i: (obj[i], i)):
            key = (str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i]))
            if key in seen:
                continue
            seen.add(key)
            delta = float(obj[i] - best)
            reason = (f"serving {w.name} alone this way: {delta:+,.0f} {unit} versus the chosen configuration "
                      f"({int(figures['replicas'][i])} replicas of {int(c['num_gpus'][i])} GPUs)")
            out.append(Alternative(workload=w.name, gpu=key[0], precision=key[1], tp=key[2], pp=key[3],
                                   batch_size=int(c["batch_size"][i]), replicas_needed=int(figures["replicas"][i]),
                                   objective_delta=delta, reason=reason))
            if sum(a.workload == w.name for a in out) >= RUNNER_UPS_PER_WORKLOAD:
                break
    return out


def _objective_per_year(scenario: Scenario, m: Any) -> float:
    """The objective in per-year terms (TCO is spread over the amortization horizon)."""
    v = value(m.expr[OBJECTIVE_EXPR[scenario.objective]])
    return v / scenario.finance.amortization_years if scenario.objective == "min_tco" else v


def _objective_unit(objective: str) -> str:
    return {"min_tco": "usd_per_year", "min_power": "w", "min_energy": "kwh_per_year", "min_gpus": "gpus",
            "min_carbon": "t_co2e_per_year"}[objective]


def what_if(scenario: Scenario, cand: Candidates, types_fn: Callable[[Scenario], dict[str, GpuType]],
            solve: SolveFn, base_value: float, binding: list[str], catalog: Catalog,
            calibration: str | None, gpus: list[Any]) -> list[dict[str, float | str | None]]:
    """Re-solve with each binding limit relaxed by one step (and each tight ITL SLO by 10 ms)."""
    site, fin, hw = scenario.site, scenario.finance, scenario.hardware
    changes: list[tuple[str, str, Scenario]] = []
    if "site_power" in binding and site.power_cap_kw is not None:
        bigger = site.model_copy(update={"power_cap_kw": site.power_cap_kw * 1.1})
        changes.append(("site_power", "+10 % datacenter IT power", scenario.model_copy(update={"site": bigger})))
    if "racks_total" in binding and site.racks is not None:
        changes.append(("racks_total", "+1 rack",
                        scenario.model_copy(update={"site": site.model_copy(update={"racks": site.racks + 1})})))
    if any(b.startswith("rack_power") for b in binding):
        # relax whichever limit binds: the air-cooling limit when it is below the derated breaker
        air_binds = site.cooling == "air" and site.air_cooling_limit_kw < site.rack_power_cap_kw * site.breaker_derating
        if air_binds:
            change = "+10 kW air-cooling limit per rack"
            update = {"air_cooling_limit_kw": site.air_cooling_limit_kw + 10.0}
        else:
            change, update = "+10 kW usable per rack breaker", {
                "rack_power_cap_kw": site.rack_power_cap_kw + 10.0 / site.breaker_derating}
        changes.append(("rack_power", change, scenario.model_copy(update={"site": site.model_copy(update=update)})))
    if "budget" in binding and fin.budget_usd is not None:
        richer = fin.model_copy(update={"budget_usd": fin.budget_usd * 1.1})
        changes.append(("budget", "+10 % capex budget", scenario.model_copy(update={"finance": richer})))
    for b in binding:
        if b.startswith("inventory_"):
            gpu = b[len("inventory_"):]
            inv = dict(resolve_names(scenario, catalog).inventory_gpus)  # keyed by GPU id, as `gpu` is
            inv[gpu] += types_fn(scenario)[gpu].gpus_per_server
            changes.append((b, f"+1 {gpu} server of inventory",
                            scenario.model_copy(update={"hardware": hw.model_copy(update={"inventory": inv})})))
    out: list[dict[str, float | str | None]] = []
    unit = _objective_unit(scenario.objective)
    for constraint, change, sc in changes:
        delta = _delta(sc, cand, types_fn, solve, base_value)
        out.append({"limit": constraint, "constraint": constraint, "change": change,
                    f"objective_delta_{unit}": delta, "method": "re-solve"})
    for i, w in enumerate(scenario.workloads):
        if w.slo.itl_p95_ms is None:
            continue
        relaxed = w.model_copy(update={"slo": w.slo.model_copy(update={"itl_p95_ms": w.slo.itl_p95_ms + ITL_STEP_MS})})
        workloads = list(scenario.workloads)
        workloads[i] = relaxed
        sc = scenario.model_copy(update={"workloads": workloads})
        types = types_fn(scenario)
        cols, _, _ = workload_candidates(relaxed, [g for g in gpus if g.id in types], catalog, calibration,
                                         **candidate_options(types))
        merged = _replace_workload(cand, w.name, cols)
        delta = _delta(sc, merged, types_fn, solve, base_value)
        out.append({"limit": f"itl_slo_{w.name}", "constraint": f"slo_itl_{w.name}",
                    "change": f"ITL p95 SLO {w.slo.itl_p95_ms:g} -> {w.slo.itl_p95_ms + ITL_STEP_MS:g} ms",
                    f"objective_delta_{unit}": delta, "method": "re-solve"})
    return out


def candidate_options(types: dict[str, GpuType]) -> dict[str, Any]:
    """The server facts candidate generation needs from the program's GPU types."""
    return {"per_server": {g: t.gpus_per_server for g, t in types.items()},
            "overhead_w_per_gpu": {g: t.overhead_w_per_gpu for g, t in types.items()}}


def _replace_workload(cand: Candidates, name: str, cols: dict[str, np.ndarray]) -> Candidates:
    from planner.candidates.prune import prune

    keep_other = cand.columns["workload"] != name
    merged = {k: np.concatenate([v[keep_other], cols[k]]) for k, v in cand.columns.items()}
    mask = prune(merged)
    return Candidates({k: v[mask] for k, v in merged.items()}, cand.best_latency, cand.evaluated)


def _delta(sc: Scenario, cand: Candidates, types_fn: Callable[[Scenario], dict[str, GpuType]], solve: SolveFn,
           base_value: float) -> float | None:
    """Objective change of the relaxed re-solve (None when it gave no proven-optimal answer)."""
    try:
        r = solve(sc, cand, types_fn(sc))
    except (InfeasibleError, SolverLimitError):
        return None
    if r.status != "optimal":
        return None
    return _objective_per_year(sc, r.model) - base_value


def objective_alternatives(scenario: Scenario, cand: Candidates, types: dict[str, GpuType],
                           solve: SolveFn) -> list[dict[str, float | str]]:
    """The plan under every objective (same candidates and limits): the cost-versus-power trade-off."""
    out: list[dict[str, float | str]] = []
    for objective in OBJECTIVES:
        sc = scenario.model_copy(update={"objective": objective})
        try:
            r = solve(sc, cand, types)
        except (InfeasibleError, SolverLimitError):
            continue
        e = {k: value(v) for k, v in r.model.expr.items()}
        out.append({"objective": objective, "status": r.status,
                    "tco_per_year_usd": e["capex_usd"] / sc.finance.amortization_years
                    + e["annual_energy_cost_usd"] + e["annual_colocation_usd"],
                    "it_power_max_w": e["it_power_max_w"], "it_power_nameplate_w": e["it_power_nameplate_w"],
                    "co2e_t_per_year": e["co2e_t_per_year"], "gpus": e["gpus"]})
    return out


def solve_with(solver_name: str, time_limit_s: float) -> SolveFn:
    from planner.optimize.solve import run_solver

    def solve(sc: Scenario, cand: Candidates, types: dict[str, GpuType]) -> Any:
        r = run_solver(build_model(sc, cand, types), solver_name, time_limit_s)
        if r.status == "infeasible":
            raise InfeasibleError("infeasible")
        return r

    return solve
