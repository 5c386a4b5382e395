"""What the plan's reader asks next: runner-up configurations, the value of relaxing each binding
limit, and the plans other objectives would give (a cost-versus-power Pareto view).

Runner-ups are priced standalone from the candidate table (no solve). What-if values and
objective alternatives come from re-solving the same candidates with one thing changed, so they
are exact for the integer program, not LP-relaxation duals (which are often zero or misleading
for integer fleets). Every re-solve follows one rule at every fleet size (ReSolveRule): it starts
from the plan, proves the plan's gap within a node limit that is a multiple of the plan's own
solve, and reports no value rather than an unproven one.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.candidates.generate import Candidates, merge_columns, replace_workload, workload_candidates
from planner.errors import InfeasibleError, SolverLimitError
from planner.optimize.backend import SolveResult, run_solver
from planner.optimize.program import OBJECTIVE_EXPR, build_program, power_limits_w, roles, server_pools, value
from planner.optimize.warm import Replicas, carried_over, config_keys, plan_replicas, start_values
from planner.problem import economics
from planner.problem.limits import CAPS, RACK_POWER, SLOS, family_of, limits_of
from planner.problem.model import Problem
from planner.schemas.plan import OBJECTIVE_DELTA_UNITS, Alternative
from planner.schemas.scenario import OBJECTIVES

RUNNER_UPS_PER_WORKLOAD = 3
SolveFn = Callable[..., SolveResult]
"""solve(problem, candidates, also=()) -> result; ``also``: more plans (replicas per configuration) the
re-solve may start from (solve_with starts from the one best under the problem's objective)."""


def _standalone(p: Problem, cand: Candidates) -> dict[str, np.ndarray]:
    """Objective figures of serving each candidate's workload with that candidate alone."""
    c = cand.columns
    wl = [p.workload(str(w)) for w in c["workload"]]
    gpu = [p.gpu(str(g)) for g in c["gpu"]]
    need = np.array([w.required_requests_per_s for w in wl])
    peak = np.array([w.peak_requests_per_s for w in wl])
    avg = np.array([w.average_requests_per_s for w in wl])
    k = np.array([w.redundancy for w in wl])
    replicas = np.ceil(need / c["capacity_rps"] - 1e-9) + k
    per_server = np.array([g.gpus_per_server for g in gpu])
    servers = np.ceil(replicas * c["num_gpus"] / per_server)
    capex = servers * np.array([g.server_capex_usd for g in gpu])
    power_max = replicas * c["power_base_w"] + c["power_slope_w_per_rps"] * peak
    power_avg = replicas * c["power_base_w"] + c["power_slope_w_per_rps"] * avg
    kwh = economics.annual_energy_kwh(power_avg)
    limits = [None if np.isnan(w) else float(w) for w in power_limits_w(cand)]
    nameplate = servers * np.array([g.server_max_power_at_w(w) for g, w in zip(gpu, limits, strict=True)])
    tco = economics.tco_usd(p, capex, economics.annual_energy_cost_usd(p, kwh),
                            economics.annual_colocation_usd(p, nameplate))
    return {"min_tco": tco, "min_power": power_max, "min_energy": kwh, "min_gpus": servers * per_server,
            "min_carbon": economics.co2e_t_per_year(p, kwh), "replicas": replicas}


Chosen = set[tuple[str, str, str, int, int, int, int, int]]
"""(workload, gpu, precision, tp, pp, batch, ep, dp) of each deployment a plan runs (ep, dp: 1 when plain)."""


def chosen_keys(deployments: Any) -> Chosen:
    return {(d.workload, d.gpu, d.precision, d.tp, d.pp, d.batch_size, d.ep or 1, d.dp or 1) for d in deployments}


def runner_ups(p: Problem, cand: Candidates, chosen: Chosen) -> list[Alternative]:
    """Per workload, the best few configurations the plan did not use, and why they lost; a MoE layout
    (ep/dp) is a configuration of its own."""
    c = cand.columns
    ones = np.ones(len(cand))
    # NaN: rows of a table merged with MoE rows that have no layout of their own (a plain replica)
    ep, dp = (np.nan_to_num(np.asarray(c.get(k, ones), dtype=float), nan=1.0).astype(int) for k in ("ep", "dp"))
    standalone = _standalone(p, cand)
    obj = standalone[p.objective]
    unit = {"min_tco": "$ over the horizon", "min_power": "W at peak", "min_energy": "kWh/year",
            "min_gpus": "GPUs", "min_carbon": "tCO2e/year"}[p.objective]
    out: list[Alternative] = []
    # a prefill or a decode pool serves no request alone: runner-ups are whole (aggregated) configurations
    alone = c["role"] == "aggregated" if "role" in c else np.ones(len(cand), dtype=bool)
    for w in p.workloads:
        idx = [i for i in range(len(cand)) if c["workload"][i] == w.name and alone[i]]
        if not idx:
            continue
        used = [i for i in idx if (w.name, str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]),
                                   int(c["pp"][i]), int(c["batch_size"][i]), int(ep[i]), int(dp[i])) in chosen]
        best = min((obj[i] for i in used), default=min(obj[i] for i in idx))
        seen = {(str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i]), int(ep[i]), int(dp[i]))
                for i in used}
        for i in sorted(idx, key=lambda i: (obj[i], i)):
            key = (str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i]), int(ep[i]), int(dp[i]))
            if key in seen:
                continue
            seen.add(key)
            delta = float(obj[i] - best)
            size = f"{int(standalone['replicas'][i])} replicas of {int(c['num_gpus'][i])} GPUs"
            reason = (f"serving {w.name} alone this way: {delta:+,.0f} {unit} versus the chosen configuration ({size})"
                      if delta >= 0 else
                      f"serving {w.name} alone this way would cost {-delta:,.0f} less ({unit}; {size}), but not "
                      "within the fleet's shared limits and whole servers: the chosen configuration is better for the "
                      "fleet")
            out.append(Alternative(workload=w.name, gpu=key[0], precision=key[1], tp=key[2], pp=key[3],
                                   batch_size=int(c["batch_size"][i]), replicas_needed=int(standalone["replicas"][i]),
                                   objective_delta=delta, reason=reason,
                                   ep=int(ep[i]) if ep[i] > 1 else None, dp=int(dp[i]) if dp[i] > 1 else None))
            if sum(a.workload == w.name for a in out) >= RUNNER_UPS_PER_WORKLOAD:
                break
    return out


def objective_per_year(p: Problem, m: Any) -> float:
    """The objective in per-year terms (TCO is spread over the amortization horizon)."""
    v = value(m.expr[OBJECTIVE_EXPR[p.objective]])
    return v / p.money.amortization_years if p.objective == "min_tco" else v


Relaxation = tuple[str, str, str, Problem, str | None]


def _relaxations(p: Problem, binding: list[str]) -> list[Relaxation]:
    """(limit, constraint, what changes, relaxed problem, workload whose candidates change) for each
    binding cap, rack power when a rack binds, and each ITL SLO (always: it changes the candidates)."""
    out: list[Relaxation] = []
    for family, lim in limits_of(p, CAPS):
        if lim.name in binding and family.what_if is not None:
            change, relaxed = family.what_if(p, lim)
            out.append((lim.name, lim.name, change, relaxed, None))
    if any(family_of(b) is RACK_POWER for b in binding):
        change, relaxed = RACK_POWER.what_if(p, RACK_POWER.limits(p)[0])  # type: ignore[misc]
        out.append(("rack_power", "rack_power", change, relaxed, None))
    for family, lim in limits_of(p, SLOS):
        if family.what_if is not None:
            change, relaxed = family.what_if(p, lim)
            out.append((lim.name, f"slo_{lim.name.replace('_slo_', '_', 1)}", change, relaxed, lim.subject))
    return out


def what_if(p: Problem, cand: Candidates, solve: SolveFn, base_value: float,
            binding: list[str], notes: list[str] | None = None,
            plan: Replicas | None = None) -> list[dict[str, float | str | None]]:
    """Re-solve with each binding limit relaxed by one step (and each ITL SLO by 10 ms); a re-solve
    that proves no optimum gives null, and ``notes`` (when given) says why. ``plan``: the plan's replicas
    per configuration, kept in every relaxed table (planner.optimize.analysis.with_plan_rows)."""
    out: list[dict[str, float | str | None]] = []
    for limit, constraint, change, relaxed, workload in _relaxations(p, binding):
        table, method = cand, "re-solve"
        if workload is not None:
            w = relaxed.workload(workload)
            table = replace_workload(cand, w.name, workload_candidates(relaxed, w)[0])
            if plan is not None:
                table = with_plan_rows(table, cand, w.name, plan, relaxed)
        if table is not cand and same_program_rows(cand, table):
            # an SLO enters the program only through the candidates: the same rows are the same program
            # (its variables in another order), so the same optimum
            delta: float | None = 0.0
            why: str | None = None
            method = IMPLIED
        else:
            delta, why = _delta(relaxed, table, solve, base_value)
        if why is not None and notes is not None:
            notes.append(f"what-if {limit} ({change}): no value, the re-solve {why}")
        out.append({"limit": limit, "constraint": constraint, "change": change, "method": method,
                    "objective_delta": delta, "objective_unit": OBJECTIVE_DELTA_UNITS[p.objective]})
    return out


def with_plan_rows(table: Candidates, cand: Candidates, workload: str, plan: Replicas,
                   p: Problem | None = None) -> Candidates:
    """``table`` (``workload``'s candidates regenerated under a relaxed SLO) with the configurations the plan
    runs for it that ``table`` lacks and nothing in it replaces, as ``cand`` has them. A configuration that met
    the SLO meets the relaxed one at the same capacity, but pruning against the configurations the relaxation
    admits can drop it (a heuristic: planner.candidates.prune); without it or a replacement the relaxed optimum
    could lie above the plan's, a relaxation that seems to cost more (the bench's 20 x 8 fleet: +0.80 $/year
    for 10 ms more ITL on w008, its one l40s configuration pruned). A replacement (``replaces``) is a row the
    same replicas of which serve more at no more power on the same GPUs; the plan then stays feasible with it,
    and the table is left as it is (a dominated column beside a start that uses it trips HiGHS 1.16 into
    claiming an objective its solution does not have: one more solve without the start each time)."""
    present = set(config_keys(table))
    ours = [i for i, w in enumerate(table.columns["workload"].tolist()) if w == workload]
    rows = [i for i, key in enumerate(config_keys(cand)) if key[0] == workload and key in plan and key not in present
            and not any(replaces(table, j, cand, i, plan[key], p) for j in ours)]
    if not rows:
        return table
    extra = {k: v[rows] for k, v in cand.columns.items()}
    return Candidates(merge_columns([table.columns, extra]), table.best_latency, table.evaluated, table.pruning)


def replaces(new: Candidates, j: int, old: Candidates, i: int, replicas: int, p: Problem | None) -> bool:
    """Whether ``replicas`` replicas of row ``j`` of ``new`` do all ``replicas`` of row ``i`` of ``old`` do in the
    program (planner.optimize.program): the same server pool, role and GPUs per replica, at least the capacity
    (so at least the capacity after spares), at most the base power and power per routed request/s, and within
    the program's bound on replicas of one configuration."""
    a, b = new.columns, old.columns
    if (server_pools(new)[j] != server_pools(old)[i] or roles(new)[j] != roles(old)[i]
            or int(a["num_gpus"][j]) != int(b["num_gpus"][i])):
        return False
    cap = float(a["capacity_rps"][j])
    better = (cap >= float(b["capacity_rps"][i]) and float(a["power_base_w"][j]) <= float(b["power_base_w"][i])
              and float(a["power_slope_w_per_rps"][j]) <= float(b["power_slope_w_per_rps"][i]))
    return better and (p is None or replicas <= p.workload(str(a["workload"][j])).replicas_bound(cap))


IMPLIED = "implied: the relaxation changes no configuration the program sees, so the plan stays optimal"
PROGRAM_COLUMNS = ("workload", "gpu", "server_pool", "power_limit_w", "role", "num_gpus", "capacity_rps",
                   "power_base_w", "power_slope_w_per_rps")
"""The candidate columns planner.optimize.program reads (with the problem, which an SLO relaxation leaves
as it was for the program: SLOs are no program limit)."""


def same_program_rows(a: Candidates, b: Candidates) -> bool:
    """Whether two candidate tables hold the same rows in the columns the program reads, in any order."""
    if len(a) != len(b) or any((k in a.columns) != (k in b.columns) for k in PROGRAM_COLUMNS):
        return False
    keys = [k for k in PROGRAM_COLUMNS if k in a.columns]

    def rows(t: Candidates) -> list[tuple[Any, ...]]:
        cols = [np.nan_to_num(c, nan=-1.0) if c.dtype.kind == "f" else c for c in (t.columns[k] for k in keys)]
        return sorted(zip(*(c.tolist() for c in cols), strict=True))

    return rows(a) == rows(b)


def _outcome(solve: SolveFn, p: Problem, cand: Candidates) -> tuple[SolveResult | None, str | None]:
    """The re-solve's result when it proved its optimum, else None and why not (in words)."""
    try:
        r = solve(p, cand)
    except InfeasibleError:
        return None, "found no plan (infeasible)"
    except SolverLimitError as e:
        return None, e.message.removeprefix("the solver ").split(", which")[0]
    if r.status != "optimal":
        return None, f"stopped by its {r.stopped_by or 'limit'} before proving the optimum (gap {r.mip_gap or 0:.2g})"
    return r, None


def _delta(p: Problem, cand: Candidates, solve: SolveFn, base_value: float) -> tuple[float | None, str | None]:
    """Objective change of the relaxed re-solve (None, and why, when it gave no proven-optimal answer)."""
    r, why = _outcome(solve, p, cand)
    if r is None:
        return None, why
    delta = objective_per_year(p, r.model) - base_value
    # the base comes from the plan's figures, the re-solve from the program: below this they agree
    return (0.0 if abs(delta) <= 1e-9 * max(1.0, abs(base_value)) else delta), None


def objective_alternatives(p: Problem, cand: Candidates, solve: SolveFn, primary: SolveResult | None = None,
                           notes: list[str] | None = None) -> list[dict[str, float | str]]:
    """The plan under every objective (same candidates and limits): the cost-versus-power trade-off.

    The plan's own objective is ``primary`` when given (the same program, already solved and
    tie-broken); an objective whose re-solve proves no optimum is left out, and ``notes`` says why."""
    out: list[dict[str, float | str]] = []
    solved: dict[str, SolveResult] = {} if primary is None else {p.objective: primary}
    for objective in OBJECTIVES:
        r: SolveResult | None = solved.get(objective) or _same_optimum(p, objective, solved)
        if r is None:
            # every plan solved so far is feasible here too; one minimizing another measure of power is
            # a good start for a power objective (min_energy from min_power: 2-4x fewer nodes on the bench
            # fleets), while for min_gpus it slows the proof (4-10x more nodes), so only those are offered
            later = tuple(plan_replicas(x.model) for o, x in solved.items()
                          if x is not primary and o in POWER_OBJECTIVES and objective in POWER_OBJECTIVES)
            r, why = _outcome(functools.partial(solve, also=later), p.with_objective(objective), cand)
            if r is None:
                if notes is not None:
                    notes.append(f"objective alternative {objective}: left out, the re-solve {why}")
                continue
            solved[objective] = r
        e = {k: value(v) for k, v in r.model.expr.items()}
        out.append({"objective": objective, "status": r.status,
                    "tco_per_year_usd": e["tco_per_year_usd"],
                    "it_power_max_w": e["it_power_max_w"], "it_power_nameplate_w": e["it_power_nameplate_w"],
                    "co2e_t_per_year": e["co2e_t_per_year"], "gpus": round(e["gpus"])})
    return out


POWER_OBJECTIVES = ("min_power", "min_energy", "min_carbon")


def _same_optimum(p: Problem, objective: str, solved: dict[str, SolveResult]) -> SolveResult | None:
    """An objective already solved whose optimal plans are exactly this objective's, so no re-solve is
    needed: carbon is energy times a positive constant (planner.problem.economics.co2e_t_per_year:
    PUE x grid intensity), so a plan is optimal for one exactly when it is for the other, the 1 ppm tie
    band (relative) is the same set of plans, and the tie rule keeps the same one among them."""
    pair = {"min_carbon": "min_energy", "min_energy": "min_carbon"}.get(objective)
    if pair is None or pair not in solved or not economics.co2e_t_per_year(p, 1.0) > 0:
        return None
    return solved[pair]


@dataclass(frozen=True)
class ReSolveRule:
    """How every analysis re-solve runs, the same at every fleet size (a deterministic rule).

    Each re-solve starts from the primary plan (feasible under every relaxation of a cap, and under
    every objective), proves the same gap as the primary, and may explore at most ``node_limit``
    branch-and-bound nodes: a multiple of the primary solve's own node count, so the analysis is
    bounded by a multiple of the primary's work. A re-solve stopped by the node limit reports no value.
    The wall-clock ``time_limit_s`` (the solve's --time-limit, shared by the whole analysis) is only a
    safety net; the plan says when it applied, since a wall-clock stop is not reproducible."""
    solver: str
    node_limit: int
    deadline_s: float
    """time.perf_counter() value after which re-solves are stopped by the safety net."""
    start: Replicas
    table: Candidates
    """The plan's candidate table (a re-solve over another one carries the start over by configuration)."""

    def describe(self) -> str:
        return (f"what-if values and objective alternatives re-solve from the plan as a MIP start, each within "
                f"{self.node_limit} branch-and-bound nodes ({ANALYSIS_NODE_FACTOR} x the plan's own solve, at "
                f"least {ANALYSIS_NODE_FLOOR}); a re-solve stopped by that limit gives no value")


WHOLE_NUMBER_OBJECTIVES = ("min_gpus",)
WHOLE_NUMBER_GAP_ABS = 0.5  # a whole-number objective is proven optimal once its gap is below 1


def objective_step(p: Problem) -> int:
    """The step of min_gpus: planner.optimize.program writes the GPUs as whole servers times each pool's
    GPUs per server, so every plan's count is a multiple of their greatest common divisor."""
    return math.gcd(*(s.gpu.gpus_per_server for s in p.pools)) or 1


def whole_number_gap_abs(p: Problem) -> float | None:
    """The absolute gap that proves a whole-number objective optimal: a plan whose objective is within
    less than one step of the proven lower bound has no better plan (the next one down is a whole step
    lower). 8 GPUs a server everywhere: a bound of 34.3 proves 40 optimal (the bench's 20 x 8 fleet:
    576 branch-and-bound nodes, 0.52 s, to close the last 5.7 GPUs with a gap of 0.5; 1 node with 7.5)."""
    if p.objective not in WHOLE_NUMBER_OBJECTIVES:
        return None
    return objective_step(p) - WHOLE_NUMBER_GAP_ABS


ANALYSIS_NODE_FACTOR = 4
ANALYSIS_NODE_FLOOR = 1000


def rule_for(primary: SolveResult, solver_name: str, time_limit_s: float) -> ReSolveRule:
    """The re-solve rule of an analysis after the primary solve ``primary``."""
    return ReSolveRule(solver_name, max(ANALYSIS_NODE_FLOOR, ANALYSIS_NODE_FACTOR * primary.nodes),
                       time.perf_counter() + time_limit_s, plan_replicas(primary.model), primary.model.cand)


def _start(p: Problem, cand: Candidates, rule: ReSolveRule) -> Replicas:
    if cand is rule.table:
        return rule.start
    return carried_over(rule.start, rule.table, cand, {w.name: w.redundancy for w in p.workloads})


def _best_start(m: Any, plans: list[Replicas]) -> dict[str, float]:
    """The MIP start, of the plans given, whose objective in ``m`` is lowest (the first of equals)."""
    starts = [start_values(m, plan) for plan in plans]
    if len(starts) == 1:
        return starts[0]
    objective = m.expr["objective"]

    def objective_of(start: dict[str, float]) -> float:
        return float(objective.constant) + sum(c * start.get(v.name, 0.0) for v, c in objective.items())

    return min(starts, key=objective_of)


def solve_with(solver_name: str, time_limit_s: float, rule: ReSolveRule | None = None, *,
               tie_break: bool = True) -> SolveFn:
    """A re-solve function for the analysis: with ``rule``, warm-started and node-limited. What-if
    values use only the objective value, so they need no tie-break pass (``tie_break=False``);
    objective alternatives report the plan's other figures, so they keep it."""
    def solve(p: Problem, cand: Candidates, also: tuple[Replicas, ...] = ()) -> SolveResult:
        m = build_program(p, cand)
        if rule is None:
            r = run_solver(m, solver_name, time_limit_s, tie_break=tie_break)
        else:
            left_s = rule.deadline_s - time.perf_counter()
            if left_s <= 0:
                raise SolverLimitError("the solver stopped by the analysis's wall-clock limit (the solve's "
                                       "--time-limit) before this re-solve began")
            r = run_solver(m, solver_name, left_s, tie_break=tie_break,
                           node_limit=rule.node_limit, start=_best_start(m, [_start(p, cand, rule), *also]),
                           reprove=True,
                           gap_abs=whole_number_gap_abs(p))
        if r.status == "infeasible":
            raise InfeasibleError("infeasible")
        return r

    return solve
