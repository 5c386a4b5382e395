"""Solve a scenario: resolved problem -> candidates -> integer program -> honest status -> plan.

The orchestration only: the problem is resolved once (planner.problem.build), candidates come from
planner.candidates, the program from planner.optimize.program, the honest solve from
planner.optimize.backend, the plan from planner.optimize.plan_builder, and what-if values and
infeasibility answers from planner.optimize.analysis and planner.optimize.explain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from planner.candidates.generate import Candidates, generate_candidates
from planner.catalog.loader import Catalog, load_catalog
from planner.errors import InfeasibleError, SolverLimitError
from planner.optimize import analysis as an
from planner.optimize.backend import DEFAULT_TIME_LIMIT_S, MIP_REL_GAP, SolveResult, run_solver
from planner.optimize.plan_builder import build_plan
from planner.optimize.program import FleetModel, build_program
from planner.optimize.warm import separable, start_values
from planner.problem.build import resolve_problem
from planner.problem.model import Problem
from planner.scenario.load import LoadedScenario, load_scenario
from planner.schemas.plan import Plan
from planner.units import s_to_ms


def no_candidate_lines(p: Problem, cand: Candidates) -> list[str]:
    lines = []
    present = set(cand.columns["workload"].tolist())
    for w in p.workloads:
        if w.name in present:
            continue
        best = cand.best_latency.get(w.name, {})
        if not best.get("fits_any"):
            lines.append(f"workload {w.name}: {w.model_as_written} does not fit any allowed GPU/precision/parallelism "
                         "(allow more GPUs per replica, a lower precision, or larger GPUs)")
            continue
        parts = []
        if w.slo.itl_p95_s is not None:
            parts.append(f"ITL p95 SLO {s_to_ms(w.slo.itl_p95_s):g} ms (best achievable "
                         f"{s_to_ms(best['itl_p95_s']):.1f} ms)")
        if w.slo.ttft_p95_s is not None:
            parts.append(f"TTFT p95 SLO {s_to_ms(w.slo.ttft_p95_s):g} ms (best achievable without queueing "
                         f"{s_to_ms(best['ttft_solo_s']):.0f} ms)")
        lines.append(f"workload {w.name}: no configuration meets " + (" and ".join(parts) or "its SLOs")
                     + "; relax the SLO or allow other GPUs/precisions")
    return lines


def solve_problem(p: Problem, *, solver: str = "highs", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                  analysis: bool = True, mip_rel_gap: float = MIP_REL_GAP) -> Plan:
    """The plan of a resolved problem (raises InfeasibleError with the reasons and the relaxations).

    The same rules at every fleet size: the solve starts from each workload's best plan on its own
    (planner.optimize.warm.separable, whose optimum also bounds the fleet's from below), ties
    are settled by the rule, and the analysis re-solves under planner.optimize.analysis.ReSolveRule.
    ``mip_rel_gap``: the relative gap that counts as proven (the plan reports the gap it reached)."""
    notes = list(p.notes)
    cand = generate_candidates(p)
    missing = no_candidate_lines(p, cand)
    if missing:
        raise InfeasibleError(f"scenario {p.name!r} is infeasible", explanation=missing + notes)
    m = build_program(p, cand)
    sep = separable(m, _bound_of(solver, time_limit_s))
    r = run_solver(m, solver, time_limit_s, gap_rel=mip_rel_gap, start=start_values(m, sep.replicas),
                   lower_bound=sep.lower_bound)
    if r.status == "infeasible":
        from planner.optimize.explain import explain_infeasible  # only an infeasible scenario needs it

        raise explain_infeasible(p, cand, Runner(solver, time_limit_s), notes, sep.replicas)
    if r.stopped_by is not None:
        notes.append(f"the solve was stopped by its {r.stopped_by} at a proven gap of {r.mip_gap or 0:.3g}")
    if mip_rel_gap != MIP_REL_GAP:
        notes.append(f"proven optimal means within a relative gap of {mip_rel_gap:g}")
    return _with_analysis(build_plan(r, notes), r, solver, time_limit_s, analysis)


def _with_analysis(plan: Plan, r: SolveResult, solver: str, time_limit_s: float, analysis: bool) -> Plan:
    p, cand = r.model.problem, r.model.cand
    update: dict[str, object] = {"alternatives": an.runner_ups(p, cand, an.chosen_keys(plan.deployments))}
    reason = None
    if not analysis:
        reason = "--no-analysis was given"
    elif plan.status != "optimal":
        reason = f"the plan is {plan.status}, not proven optimal"
    notes: list[str] = []
    if reason is None:
        rule = an.rule_for(r, solver, time_limit_s)
        base = float(plan.objective.value)
        if p.objective == "min_tco":
            base /= p.money.amortization_years
        binding = [c.name for c in plan.constraints if c.binding]
        update["what_if"] = an.what_if(p, cand, an.solve_with(solver, time_limit_s, rule, tie_break=False), base,
                                       binding, notes, rule.start)
        update["objective_alternatives"] = an.objective_alternatives(
            p, cand, an.solve_with(solver, time_limit_s, rule), r, notes)
        update["analysis"] = {"what_if": "done", "objective_alternatives": "done", "skipped_reason": None}
        if notes:
            notes.insert(0, rule.describe())
    else:
        update["analysis"] = {"what_if": "skipped", "objective_alternatives": "skipped", "skipped_reason": reason}
        notes.append(f"what-if values and objective alternatives were skipped: {reason}")
    update["assumptions"] = [*plan.assumptions, *({"name": "note", "value": n, "unit": "", "source": "planner",
                                                   "range": ""} for n in notes)]
    return Plan.model_validate({**plan.model_dump(), **_dump(update)})


def _bound_of(solver: str, time_limit_s: float) -> Callable[[FleetModel], float | None]:
    """Solves a program and returns its proven lower bound (None: no plan, or no bound reported)."""
    def bound(m: FleetModel) -> float | None:
        try:
            return run_solver(m, solver, time_limit_s, tie_break=False).dual_bound
        except SolverLimitError:
            return None

    return bound


class Runner:
    """Solves a model for the infeasibility answer: its status, a limit with no plan counting as none."""

    def __init__(self, solver: str, time_limit_s: float) -> None:
        self.solver, self.time_limit_s, self.solves = solver, time_limit_s, 0

    def __call__(self, m: FleetModel, feasibility_only: bool = False,
                 start: dict[str, float] | None = None) -> str:
        self.solves += 1
        try:
            return run_solver(m, self.solver, self.time_limit_s, tie_break=False,
                              first_plan=feasibility_only, start=start).status
        except SolverLimitError:
            return "no_solution"


def _dump(update: dict[str, object]) -> dict[str, object]:
    return {k: [a.model_dump() if hasattr(a, "model_dump") else a for a in v] if isinstance(v, list) else v
            for k, v in update.items()}


def solve_loaded(ls: LoadedScenario, catalog: Catalog, *, solver: str = "highs",
                 time_limit_s: float = DEFAULT_TIME_LIMIT_S, calibration: str | Path | None = None,
                 analysis: bool = True) -> Plan:
    return solve_problem(resolve_problem(ls, catalog, calibration=calibration), solver=solver,
                         time_limit_s=time_limit_s, analysis=analysis)


def solve_scenario(scenario_path: str | Path, *, override: str | None = None,
                   catalog_dirs: list[str] | None = None, calibration: str | Path | None = None,
                   solver: str = "highs", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                   analysis: bool = True) -> Plan:
    """Load, solve and return the plan of a scenario file (raises InfeasibleError with reasons).

    ``analysis`` adds what-if re-solves and objective alternatives (the same rule at every size).
    """
    catalog = load_catalog(catalog_dirs)
    return solve_loaded(load_scenario(scenario_path, override), catalog, solver=solver,
                        time_limit_s=time_limit_s, calibration=calibration, analysis=analysis)
