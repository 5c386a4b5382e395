"""What-if per period: each site limit that binds, relaxed one step from the period it first binds in,
and the roadmap solved again ("with 2 more racks from 2027-Q2 the racks bind one quarter later, in
2027-Q3, and the horizon costs 310,000 USD less").

The step is the single-period what-if's (planner.problem.limits: +10 % site IT power; +10 % racks,
at least one). The relaxed roadmap keeps every candidate (site limits do not change operating points)
and starts from the roadmap just found, which still fits: one warm-started solve per binding limit,
under the single-period analysis's deterministic rule (planner.roadmap.solve.what_if_solver: a node
limit that is a multiple of the roadmap's own solve; a re-solve stopped by it gives no value).

The relaxed program is built again rather than edited in place: building it costs about 0.02 s of
CPU on the example (8 quarters, 557 variables), against 1-2 s for its solve, and the plan keeps the
solved program's values untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from planner.candidates.generate import Candidates
from planner.optimize.program import quantity, value
from planner.problem.limits import RACKS, SITE_POWER, LimitFamily, is_binding, limits_of
from planner.problem.model import SiteLimits
from planner.roadmap.problem import Roadmap
from planner.roadmap.program import RoadmapModel, build_roadmap_program, derive_racks
from planner.units import W_PER_KW

RELAX_SHARE = 0.10
"""The what-if step: +10 % of the limit, as the single-period what-if relaxes site power and racks."""
FAMILIES: tuple[LimitFamily, ...] = (SITE_POWER, RACKS)
WORDS = {SITE_POWER.name: "site IT power", RACKS.name: "racks"}
Solve = Callable[[RoadmapModel, dict[str, float]], str]
"""Runs the solver from a start (variable name -> value) and returns "optimal", or why not in words."""


@dataclass(frozen=True)
class PeriodWhatIf:
    limit: str
    """The constraint name (site_power, racks_total)."""
    from_period: str
    """Label of the period the limit first binds in (relaxed from there on)."""
    change: str
    """The step in words (``+2 racks from 2027-Q2 (from 12 to 14)``)."""
    first_binds: str | None
    """Label of the period the relaxed limit first binds in; None when it no longer binds or no optimum was proven."""
    objective_delta: float | None
    """Objective change (negative: better); None when the re-solve proved no optimum."""
    unit: str
    text: str
    """The answer in words."""


def _relaxed_site(site: SiteLimits, family: LimitFamily) -> SiteLimits:
    if family is SITE_POWER:
        assert site.power_cap_w is not None
        return replace(site, power_cap_w=site.power_cap_w * (1.0 + RELAX_SHARE))
    assert site.racks is not None
    return replace(site, racks=site.racks + max(1, math.ceil(site.racks * RELAX_SHARE)))


def relaxed(roadmap: Roadmap, family: LimitFamily, first: int) -> Roadmap:
    """The roadmap with ``family``'s limit one step larger from period ``first`` on."""
    periods = tuple(p if p.index < first else replace(p, problem=replace(p.problem, site=_relaxed_site(
        p.problem.site, family))) for p in roadmap.periods)
    return replace(roadmap, periods=periods)


def first_binding(rm: RoadmapModel, family: LimitFamily) -> int | None:
    """The first period in which ``family``'s limit binds in the solved model (None: it never does)."""
    for t, view in enumerate(rm.onsite):
        for _, lim in limits_of(view.problem, (family,)):
            if is_binding(family, value(quantity(view, lim.quantity)), lim.bound):
                return t
    return None


def _step(roadmap: Roadmap, family: LimitFamily, t: int) -> str:
    site, more = roadmap.periods[t].problem.site, relaxed(roadmap, family, t).periods[t].problem.site
    if family is SITE_POWER:
        assert site.power_cap_w is not None and more.power_cap_w is not None
        return (f"+10 % site IT power from {roadmap.periods[t].label} (from {site.power_cap_w / W_PER_KW:,.0f} "
                f"to {more.power_cap_w / W_PER_KW:,.0f} kW)")
    label = roadmap.periods[t].label
    return f"+{(more.racks or 0) - (site.racks or 0)} racks from {label} (from {site.racks} to {more.racks})"


def _binds(roadmap: Roadmap, family: LimitFamily, t: int, later: int | None) -> str:
    labels, words = [p.label for p in roadmap.periods], WORDS[family.name]
    if later is None:
        return f"the {words} limit no longer binds within the horizon"
    if later > t:
        return f"the {words} limit first binds {later - t} {roadmap.period_kind}(s) later, in {labels[later]}"
    return f"the {words} limit still first binds in {labels[later]}"


def period_what_ifs(roadmap: Roadmap, cands: list[Candidates], solved: RoadmapModel, solve: Solve,
                    unit: str) -> list[PeriodWhatIf]:
    """Each site limit that binds in ``solved``, relaxed from its first binding period, re-solved."""
    start = {v.name: float(v.varValue) for v in solved.prob.variables() if v.varValue is not None}
    z = value(solved.expr["objective"])
    out = []
    for family in FAMILIES:
        t = first_binding(solved, family)
        if t is None:
            continue
        name = limits_of(roadmap.periods[t].problem, (family,))[0][1].name
        step, label = _step(roadmap, family, t), roadmap.periods[t].label
        rm = build_roadmap_program(relaxed(roadmap, family, t), cands)
        status = solve(rm, start)
        if status != "optimal":
            out.append(PeriodWhatIf(name, label, step, None, None, unit,
                                    f"{step}: the re-solve proved no optimum ({status})"))
            continue
        derive_racks(rm)  # as the roadmap's own solve: the racks limit binds by the racks the fleet needs
        delta = value(rm.expr["objective"]) - z
        later = first_binding(rm, family)
        binds = _binds(roadmap, family, t, later)
        out.append(PeriodWhatIf(name, label, step, None if later is None else roadmap.periods[later].label,
                                delta, unit, f"{step}: {binds}; objective {delta:+,.0f} {unit}"))
    return out
