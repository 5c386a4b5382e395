"""Why a scenario is infeasible, in the scenario's own terms, and what would make it feasible.

Each limit family is relaxed on its own (an elastic re-solve with a penalized slack on that family
only), so the answer lists independent alternatives: "needs +220 kW datacenter power, or +3
racks, or ITL SLO 20 -> 35 ms". SLO relaxations regenerate the workload's candidates at looser
SLOs. Only when no single relaxation suffices is the all-families elastic solve reported, as the
combination that would be needed.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.candidates.generate import Candidates, replace_workload, workload_candidates
from planner.errors import InfeasibleError
from planner.optimize.program import ALL_FAMILIES, FleetModel, build_program, value
from planner.problem.limits import CAPS, RACK_POWER, SLOS, limits_of
from planner.problem.model import Problem

SLO_FACTORS = (1.25, 1.5, 2.0, 3.0, 5.0)
RACK_FACTORS = (1.25, 1.5, 2.0)
Runner = Callable[[FleetModel], str]  # solves a model, returns "optimal" | "feasible" | "infeasible" | ...


def _slack_lines(m: FleetModel) -> list[str]:
    """Each non-zero slack in the plain words of its limit record."""
    lines = []
    for _, (var, family, lim) in sorted(m.slacks.items()):
        amount = value(var) * family.slack_unit
        if amount > 1e-6:
            lines.append(family.shortfall(lim, amount))
    return lines


def _cap_alternatives(p: Problem, cand: Candidates, run: Runner) -> list[str]:
    """Each cap family relaxed on its own (an elastic slack on that family only)."""
    out = []
    for family in CAPS:
        if not family.limits(p):
            continue
        m = build_program(p, cand, elastic=frozenset({family.name}))
        if run(m) != "infeasible":
            out += _slack_lines(m)
    return out


def _rack_alternatives(p: Problem, cand: Candidates, run: Runner) -> list[str]:
    """Bigger rack circuits (and air-cooling limit, when air cooled) fit more servers per rack."""
    lim = RACK_POWER.limits(p)[0]
    for factor in RACK_FACTORS:
        text, relaxed = RACK_POWER.scaled(p, lim, factor)  # type: ignore[misc]
        if run(build_program(relaxed, cand)) != "infeasible":
            return [text]
    return []


def _slo_alternatives(p: Problem, cand: Candidates, run: Runner) -> list[str]:
    """Per workload and SLO, the smallest factor of relaxation that admits a plan."""
    out = []
    for w in p.workloads:
        for family, lim in limits_of(p, SLOS):
            if lim.subject != w.name:
                continue
            for factor in SLO_FACTORS:
                text, relaxed = family.scaled(p, lim, factor)  # type: ignore[misc]
                cols, _, _ = workload_candidates(relaxed, relaxed.workload(w.name))
                if len(cols["workload"]) == 0:
                    continue
                if run(build_program(relaxed, replace_workload(cand, w.name, cols))) != "infeasible":
                    out.append(text)
                    break
    return out


def explain_infeasible(p: Problem, cand: Candidates, run: Runner, notes: list[str]) -> InfeasibleError:
    """Independent alternatives ("needs +220 kW datacenter power, or +3 racks, or ITL SLO 20 -> 35 ms");
    when none suffices alone, the combination the all-families elastic solve needs."""
    alternatives = _cap_alternatives(p, cand, run) + _rack_alternatives(p, cand, run)
    alternatives += _slo_alternatives(p, cand, run)
    lines: list[str]
    if alternatives:
        lines = ["needs " + alternatives[0]] + [f"or {a}" for a in alternatives[1:]]
    else:
        m = build_program(p, cand, elastic=ALL_FAMILIES)
        combined = _slack_lines(m) if run(m) != "infeasible" else []
        lines = (["no single relaxation suffices; together it needs: " + "; ".join(combined)] if combined
                 else ["no relaxation of the limits or SLOs found a plan"])
    return InfeasibleError(f"scenario {p.name!r} is infeasible", explanation=lines + notes)
