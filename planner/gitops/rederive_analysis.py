"""Re-derive what a plan says about how it was chosen: its deployments are operating points candidate
generation keeps, its runner-up alternatives are the ones `planner solve` lists, its objective
alternatives agree with it, its solver record is one solve writes, and the constants and calibrated
coefficients it lists are the ones it rests on. What-if values and the objective alternatives' other
figures come from re-solves, which `planner check` does not run (it stays fast).
"""

from __future__ import annotations

from typing import Any

from planner.candidates import disaggregated
from planner.candidates.generate import Candidates, generate_candidates
from planner.core.constants import COEFFICIENTS, FIXED
from planner.gitops.context import CLAIM_REL_TOL, Context, claim_line
from planner.gitops.diff import deployment_key, parallelism
from planner.gitops.slo import close, within
from planner.optimize.analysis import chosen_keys, runner_ups
from planner.optimize.plan_builder import OBJECTIVE_UNITS
from planner.schemas.plan import Deployment, ObjectiveAlternative, Plan
from planner.schemas.scenario import OBJECTIVES
from planner.units import BTU_PER_HR_PER_W, HOURS_PER_YEAR

OBJECTIVE_FIGURE = {"min_tco": "tco_per_year_usd", "min_power": "it_power_max_w", "min_gpus": "gpus",
                    "min_carbon": "co2e_t_per_year"}
"""The objective_alternatives figure each objective minimizes (min_energy's is not recorded there)."""
PLAN_FIGURE = {"tco_per_year_usd": "tco_per_year_usd", "it_power_max_w": "it_power_max_w", "gpus": "gpus",
               "co2e_t_per_year": "co2e_t_per_year"}
"""objective_alternatives figure -> the plan's total of the same quantity."""
STATUSES = ("optimal", "feasible")


def _candidates(ctx: Context) -> Candidates:
    """The operating points `planner solve` chooses among, generated from the same problem."""
    return generate_candidates(ctx.problem)


def _candidate_claims(plan: Plan, cand: Candidates) -> list[str]:
    """Each deployment is an operating point candidate generation keeps (the solver chooses among them)."""
    c = cand.columns
    kept = {(str(c["workload"][i]), str(c["gpu"][i]), str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i]),
             int(c["batch_size"][i]), int(c["prefill_chunk_tokens"][i]), *_layout(c, i)) for i in range(len(cand))}
    return [f"deployment {deployment_key(d)}: batch_size {d.batch_size} with prefill_chunk_tokens "
            f"{d.prefill_chunk_tokens}{_layout_text(d)} is not an operating point candidate generation keeps for the "
            f"scenario (feasible and not dominated), so `planner solve` cannot have chosen it"
            for d in plan.deployments
            if (d.workload, d.gpu, d.precision, d.tp, d.pp, d.batch_size, d.prefill_chunk_tokens, *parallelism(d))
            not in kept]


def _layout(c: dict[str, Any], i: int) -> tuple[int, int]:
    """(ep, dp) of candidate ``i`` (columns absent, or NaN in a merged table: 1), as plan_builder reads them."""
    ep, dp = (float(c[k][i]) if k in c else 1.0 for k in ("ep", "dp"))
    return (int(ep) if ep == ep else 1), (int(dp) if dp == dp else 1)  # NaN == NaN is False


def _layout_text(d: Deployment) -> str:
    ep, dp = parallelism(d)
    return f" at dp {dp}, ep {ep}" if (ep, dp) != (1, 1) else ""


def _alternative_claims(plan: Plan, ctx: Context, cand: Candidates) -> list[str]:
    want = [a.model_dump() for a in runner_ups(ctx.problem, cand, chosen_keys(plan.deployments))]
    have = [a.model_dump() for a in plan.alternatives]
    if len(want) != len(have):
        return [f"alternatives: {len(have)} listed, `planner solve` lists {len(want)}"]
    pairs = enumerate(zip(have, want, strict=True))
    wrong = [f"alternatives[{i}].{k} {h[k]!r} (recomputed {w[k]!r})" for i, (h, w) in pairs for k in w
             if not _same(h[k], w[k])]
    return claim_line("alternatives", wrong)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and close(float(a), float(b), CLAIM_REL_TOL)
    return bool(a == b)


def _objective_alternative_claims(plan: Plan) -> list[str]:
    """Each row is the plan re-solved under one objective: valid, and no worse than the plan at what it
    minimizes; the row of the plan's own objective matches the plan there."""
    wrong, seen = [], set()
    own = plan.objective.get("name")
    for i, row in enumerate(plan.objective_alternatives):
        objective, status = row.get("objective"), row.get("status")
        if objective not in OBJECTIVES or objective in seen or status not in STATUSES:
            wrong.append(f"objective_alternatives[{i}]: objective {objective!r} / status {status!r} (each of "
                         f"{', '.join(OBJECTIVES)} once, status {' or '.join(STATUSES)})")
            continue
        seen.add(objective)
        figure = OBJECTIVE_FIGURE.get(str(objective))
        value = row.get(figure) if figure else None
        if objective == own:
            wrong += _own_row(i, row, plan)
            continue
        if figure is None or status != "optimal" or not isinstance(value, int | float):
            continue
        total = float(getattr(plan.totals, PLAN_FIGURE[figure]))
        if not within(float(value), total, CLAIM_REL_TOL):
            wrong.append(f"objective_alternatives[{i}].{figure} {value:.6g} is above the plan's {total:.6g}, "
                         f"yet {objective} minimizes it over a set of plans that includes this one")
    return claim_line("objective alternatives", wrong)


def _own_row(i: int, row: ObjectiveAlternative, plan: Plan) -> list[str]:
    """The row of the plan's own objective is the same solve: every figure is the plan's."""
    wrong = []
    for figure in (*PLAN_FIGURE, "it_power_nameplate_w"):
        value, total = row.get(figure), float(getattr(plan.totals, PLAN_FIGURE.get(figure, figure)))
        if not isinstance(value, int | float) or not close(float(value), total, CLAIM_REL_TOL):
            wrong.append(f"objective_alternatives[{i}].{figure} {value!r} is not the plan's {total:.6g} "
                         f"(the same objective, the same solve)")
    return wrong


def _solver_claims(plan: Plan) -> list[str]:
    """The solver's record is one `planner solve` writes (its gap cannot be re-derived without a re-solve)."""
    s, wrong = plan.solver, []
    if s.name not in ("highs", "cbc"):
        wrong.append(f"solver.name {s.name!r} (highs or cbc)")
    if s.mip_gap is not None and not s.mip_gap >= 0:
        wrong.append(f"solver.mip_gap {s.mip_gap:g} is negative")
    if plan.status == "optimal" and s.mip_gap is None:
        wrong.append("solver.mip_gap is missing, yet the status is optimal (solve records the gap it proved)")
    return claim_line("solver", wrong)


def _expected_assumptions(ctx: Context) -> dict[str, str]:
    """The value of each constant and calibrated coefficient the plan lists, as optimize.plan_builder
    writes it (the catalog lines are checked through the server groups)."""
    p = ctx.problem
    fitted = p.calibration.for_config("", "vllm")
    out = {c.name: f"{c.value:g}" for c in FIXED.values()}
    out |= {f"coefficient {c.name}": f"{fitted[c.name]:g}" for c in COEFFICIENTS.values()}
    out["calibration file"] = p.calibration_file or "priors"
    out |= {f"{g.id} price": f"{g.gpu_price_usd:g}" for g in p.gpus}
    out |= {"W to BTU/hr": f"{BTU_PER_HR_PER_W}", "hours per year": f"{HOURS_PER_YEAR:g}"}
    out |= {a["name"]: a["value"] for a in disaggregated.assumption_rows(p)}
    return out


def _assumption_claims(plan: Plan, ctx: Context) -> list[str]:
    want = _expected_assumptions(ctx)
    have: dict[str, str] = {}
    for a in plan.assumptions:
        have.setdefault(a.get("name", ""), a.get("value", ""))
    wrong = [f"{name} {have.get(name)!r} (the constants and calibration: {value!r})" for name, value in want.items()
             if have.get(name) != value]
    return claim_line("assumptions", wrong)


def _objective_unit_claims(plan: Plan) -> list[str]:
    name, unit = plan.objective.get("name"), plan.objective.get("unit")
    want = OBJECTIVE_UNITS.get(str(name))
    return [] if want is None or unit == want else [f"objective: unit {unit!r} is not {name}'s {want!r}"]


def analysis_claims(plan: Plan, ctx: Context, *, deployments_clean: bool) -> list[str]:
    """Claims about how the plan was chosen that do not follow (see the module docstring)."""
    out = (_objective_alternative_claims(plan) + _solver_claims(plan) + _assumption_claims(plan, ctx)
           + _objective_unit_claims(plan))
    if not deployments_clean:
        return out  # a deployment found wrong is reported once, at the deployment
    cand = _candidates(ctx)
    return _candidate_claims(plan, cand) + _alternative_claims(plan, ctx, cand) + out
