"""The plan of a solved roadmap: the first period as the plan's sections, every period in ``periods``.

Each period's deployments, servers and racks are written by the single-period plan builder's own
functions over that period's fleet program (planner.optimize.plan_builder), its figures by
planner.plan.figures, and every period is verified against its constraints like a single-period plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from planner import __version__
from planner.optimize import plan_builder as pb
from planner.optimize.backend import SolveResult
from planner.optimize.program import int_value, value
from planner.plan import figures
from planner.problem.limits import CAPS, is_binding, limits_of
from planner.problem.model import Problem
from planner.roadmap.program import HORIZON_FAMILIES, ROADMAP_FAMILIES, RoadmapModel, horizon_quantity
from planner.roadmap.whatif import PeriodWhatIf
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
    RoadmapPeriod,
    RoadmapTotals,
    RoadmapWhatIf,
    ScenarioRef,
    ServerGroup,
    Solver,
    Totals,
    WorkloadRow,
)

APPLIED = frozenset(f.kind for f in ROADMAP_FAMILIES)
NOT_APPLIED = frozenset(f.kind for f in CAPS) - APPLIED
"""Limit kinds a roadmap applies over the horizon, not per period (inventory, budget): left out of the
first period's constraints table; the plan's notes state how much of each the horizon uses."""
NOT_ANALYSED = "the single-period what-if values and objective alternatives are not computed for a roadmap"


@dataclass(frozen=True)
class PeriodFleet:
    deployments: list[Deployment]
    servers: list[ServerGroup]
    """On site."""
    rented: list[ServerGroup]
    racks: list[Rack]
    totals: Totals
    constraints: list[Constraint]


def _checked_problem(p: Problem) -> Problem:
    """The period's problem as its constraints table reads it: no inventory or budget (they bound the horizon)."""
    return replace(p, gpus=tuple(replace(g, inventory_gpus=None) for g in p.gpus)).with_money(budget_usd=None)


def period_fleet(rm: RoadmapModel, t: int, solved: SolveResult) -> PeriodFleet:
    """Period ``t``'s deployments, servers, racks, totals and constraints, verified."""
    every = replace(solved, model=rm.fleets[t])
    site = replace(solved, model=rm.onsite[t])
    onsite = set(rm.roadmap.onsite)
    deployments = pb.deployments_of(every)
    local = [d for d in deployments if d.gpu in onsite]
    servers = pb.servers_of(site)
    rented = [s for s in pb.servers_of(every) if s.gpu not in onsite]
    racks = pb.racks_of(site, servers, local)
    p = site.model.problem
    totals = figures.totals(p, local, servers, len(racks), {g.id: g.spare_gpu_w for g in p.gpus})
    constraints = figures.constraints(_checked_problem(every.model.problem), deployments, servers, racks, totals)
    pb.verify(constraints, deployments, servers + rented, every)
    return PeriodFleet(deployments, servers, rented, racks, totals, constraints)


def _counts(items: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(items.items()) if v > 0}


def _average_w(rm: RoadmapModel, t: int, fleet: PeriodFleet) -> float:
    """The period's average IT power: with idle replicas suspended, the program's (the deployments'
    figures keep every replica up); else the plan's figures."""
    return value(rm.onsite[t].expr["it_power_avg_w"]) if rm.roadmap.scale_down_idle else fleet.totals.it_power_avg_w


def period_entry(rm: RoadmapModel, t: int, fleet: PeriodFleet) -> RoadmapPeriod:
    r = rm.roadmap
    period = r.periods[t]
    installed: dict[str, int] = {}
    for s in fleet.servers:
        installed[s.gpu] = installed.get(s.gpu, 0) + s.servers
    retired: dict[str, int] = {}
    for k, o in enumerate(r.owned):
        before = o.servers if t == 0 else int_value(rm.kept[k, t - 1])
        retired[o.gpu] = retired.get(o.gpu, 0) + before - int_value(rm.kept[k, t])
    cost = value(rm.period_expr("cost_usd", t))
    site = period.problem.site
    binding = sorted(c.name for c in fleet.constraints if c.binding and c.kind in APPLIED)
    totals = RoadmapTotals(
        servers=sum(installed.values()), gpus=fleet.totals.gpus, gpus_rented=sum(s.gpus for s in fleet.rented),
        racks=fleet.totals.racks, it_power_nameplate_w=fleet.totals.it_power_nameplate_w,
        it_power_max_w=fleet.totals.it_power_max_w, it_power_avg_w=_average_w(rm, t, fleet),
        power_cap_w=site.power_cap_w, racks_available=site.racks,
        capex_usd=value(rm.period_expr("capex_usd", t)), running_usd=value(rm.period_expr("running_usd", t)),
        rental_usd=value(rm.period_expr("rental_usd", t)), resale_usd=value(rm.period_expr("resale_usd", t)),
        cost_usd=cost, discounted_cost_usd=cost * period.discount, binding=binding)
    return RoadmapPeriod(
        label=period.label, deployments=fleet.deployments, installed=_counts(installed),
        purchases=_counts({g: int_value(v) for (s, g), v in rm.buy.items() if s == t}),
        retirements=_counts(retired), rentals=_counts({s.gpu: s.servers for s in fleet.rented}), totals=totals)


def first_binding(periods: list[RoadmapPeriod]) -> dict[str, str]:
    """Each limit -> the label of the first period it binds in."""
    out: dict[str, str] = {}
    for period in periods:
        for name in period.totals.binding:
            out.setdefault(name, period.label)
    return out


def roadmap_notes(rm: RoadmapModel, binds: dict[str, str]) -> list[str]:
    r = rm.roadmap
    notes = [f"roadmap: {len(r.periods)} {r.period_kind}s, one integer program; the plan's fleet sections "
             f"describe the first period ({r.periods[0].label}); `periods` holds every period",
             f"orders serve {r.lead_time_periods} period(s) after they are placed; capex is paid when ordered",
             f"costs discounted at {r.discount_rate_per_year:g} per year; what is still installed at the end is "
             "valued at its resale value (owned) or straight-line book value (bought), and subtracted",
             "installed servers stay powered (idle when unused), take rack space and pay colocation and support; "
             "bought servers are not retired within the horizon",
             "hardware.inventory and finance.budget_usd, when set, bound the whole horizon: the GPUs of a type "
             "bought (owned ones are not counted) and the capex of every period together (undiscounted)",
             "ties among equally good roadmaps are not broken by a rule (proving one took 4-14 s more CPU on the "
             "example); the solver runs single-threaded with a fixed seed, so the same inputs and solver version "
             "give the same roadmap"]
    notes += [f"{c.option}: {c.gpus_per_instance}-GPU instances at {c.usd_per_hour:g} USD/h ({c.pricing}, "
              f"held for whole periods); source: {c.source}" for c in r.cloud]
    notes += [f"{name} first binds in {label}" for name, label in sorted(binds.items())]
    if r.scale_down_idle:
        shaped = ", ".join(sorted(r.shaped))
        notes.append(f"idle replicas suspended in quiet hours (horizon.scale_down_idle) for {shaped}: "
                     "periods[].totals.it_power_avg_w and running_usd count it; the deployments' average power "
                     "and the first period's totals keep every replica up")
    return notes + horizon_limit_notes(rm)


def horizon_limit_notes(rm: RoadmapModel) -> list[str]:
    """Each horizon limit (inventory, budget): how much of it the roadmap uses, and whether it binds."""
    out = []
    for family, lim in limits_of(rm.roadmap.base, HORIZON_FAMILIES):
        used = value(horizon_quantity(rm, lim))
        binds = " (binding)" if is_binding(family, used, lim.bound) else ""
        out.append(f"{family.key_path.format(subject=lim.subject)}: {used:,.0f} of {lim.bound:,.0f} {family.unit} "
                   f"over the horizon{binds}")
    return out


TIES = "not broken: the solver's first optimum is kept"
"""How a roadmap's ties are settled (the plan's ``tie-break rule`` row)."""
TIES_WHY = (
    "a roadmap keeps the solver's first optimum among equally good roadmaps (proven within the relative gap "
    "the plan states): the solver runs single-threaded with a fixed seed, so the same inputs and solver version "
    "give the same bytes. No rule is proven: a tie term below the proven gap cannot move the solver's stopping "
    "test, so it orders nothing for certain; one above it may trade up to its own size of the objective; and a "
    "second, lexicographic solve (fewest servers ordered, then the single-period configuration ranks) took "
    "4.3-14 s more CPU on scenarios/roadmaps/roadmap.yaml against a 2-3 s solve (measured 2026-11-28)")
"""Why the single-period tie rule (planner.optimize.ties.TIE_RULE) is not applied to a roadmap."""


def _with_roadmap_ties(rows: list[Assumption]) -> list[Assumption]:
    """The assumptions with the tie-break row stating the roadmap's rule, not the single-period one."""
    return [a.model_copy(update={"source": TIES_WHY}) if a.name == "tie-break rule" else a for a in rows]


def _analysis(what_ifs: list[PeriodWhatIf] | None) -> tuple[Analysis, list[RoadmapWhatIf] | None]:
    """The plan's analysis state and its roadmap what-ifs (the plan's ``what_if`` list is single-period)."""
    if what_ifs is None:
        reason = NOT_ANALYSED + "; what-if per period: not requested (planner solve runs it unless --no-analysis)"
        return Analysis(what_if="skipped", objective_alternatives="skipped", skipped_reason=reason), None
    rows = [RoadmapWhatIf(limit=w.limit, from_period=w.from_period, change=w.change, first_binds=w.first_binds,
                          objective_delta=w.objective_delta, objective_unit=w.unit, answer=w.text) for w in what_ifs]
    reason = NOT_ANALYSED + f"; what-if per period: {len(rows) or 'no'} site limit(s) that bind, in roadmap_what_if"
    return Analysis(what_if="skipped", objective_alternatives="skipped", skipped_reason=reason), rows


def build_roadmap_plan(rm: RoadmapModel, solved: SolveResult, notes: list[str],
                       what_ifs: list[PeriodWhatIf] | None = None) -> Plan:
    """The plan: the first period's fleet in the single-period sections, every period in ``periods``."""
    r = rm.roadmap
    fleets = [period_fleet(rm, t, solved) for t in range(len(r.periods))]
    periods = [period_entry(rm, t, f) for t, f in enumerate(fleets)]
    first, p = fleets[0], rm.onsite[0].problem
    objective = value(rm.expr["objective"])
    unit = pb.OBJECTIVE_UNITS[r.base.objective]
    all_notes = [*notes, *roadmap_notes(rm, first_binding(periods))]
    analysis, roadmap_what_if = _analysis(what_ifs)
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION, tool_version=__version__,
        scenario=ScenarioRef(name=p.name, description=p.description, file=p.file_name, override=p.override,
                             objective=p.objective),
        input_sha256=p.hashes, status=solved.status,  # type: ignore[arg-type]
        objective=Objective(name=p.objective, value=objective,
                            unit="USD (discounted, horizon)" if p.objective == "min_tco" else f"{unit} (summed)"),
        solver=Solver(name=solved.solver_name, version=solved.solver_version, status=solved.solver_status,
                      mip_gap=solved.mip_gap, time_s=solved.time_s, time_limit_s=solved.time_limit_s),
        deployments=first.deployments, servers=first.servers, racks=first.racks, totals=first.totals,
        constraints=[c for c in first.constraints if c.kind not in NOT_APPLIED],
        site=PlanSite.model_validate(r.base.echo.site), finance=PlanFinance.model_validate(r.base.echo.finance),
        workloads=[WorkloadRow.model_validate(pb.workload_row(w)) for w in r.base.workloads],
        assumptions=_with_roadmap_ties([Assumption.model_validate(a) for a in pb.assumptions_of(p, solved, all_notes)]),
        analysis=analysis,
        periods=periods, roadmap_what_if=roadmap_what_if)

