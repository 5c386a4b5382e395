"""The roadmap integer program: one program over every period, built by named functions.

Each period is a single-period fleet program (planner.optimize.program) written into the one
roadmap program under a period prefix (``t03_servers_h100-sxm``): the same variables, demand, N+k,
server, rack-packing, power and cost builders, with ``servers`` meaning the servers installed in that
period. The roadmap adds what ties the periods together:

- purchases: servers of a buyable GPU ordered in period s serve from s + ``hardware.lead_time_periods``
  and stay to the end of the horizon;
- the owned fleet: servers kept per owned group, never more than the period before (retiring one
  brings its resale value; after its remaining life it is retired);
- fleet balance: the servers installed in a period (over the GPU's power-limit pools) are the owned
  ones kept plus the purchases delivered;
- racks: built when the fleet needs more than it has, never taken down;
- rentals: instances of ``hardware.cloud`` serve like servers of their own GPU option, off site (no
  site power, racks or energy), paid per hour for the whole period.

Objective ``min_tco``: the discounted cost of the horizon: capex when ordered, energy, colocation and
support per period, rentals, less the resale of what is retired, less the value of what is still
installed at the end (owned: its resale value; bought: its straight-line book value over
``finance.amortization_years``). Other objectives: the single-period quantity summed over periods
(rentals are then not offered: their power and energy are not the site's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pulp

from planner.candidates.generate import Candidates
from planner.optimize.program import (
    ELASTIC_PENALTY,
    NOT_ELASTIC,
    OBJECTIVE_EXPR,
    Elastic,
    FleetModel,
    add_cost_expressions,
    add_demand_constraints,
    add_limit,
    add_rack_packing_constraints,
    add_server_constraints,
    add_variables,
    int_value,
    new_var,
)
from planner.problem.limits import BUDGET, INVENTORY, RACKS, SITE_POWER, Limit, LimitFamily, limits_of
from planner.roadmap.problem import Roadmap
from planner.roadmap.scaledown import apply_scale_down
from planner.units import HOURS_PER_YEAR

ROADMAP_FAMILIES = (SITE_POWER, RACKS)
"""Limit families applied in every period."""
HORIZON_FAMILIES = (INVENTORY, BUDGET)
"""Limit families applied over the whole horizon: hardware.inventory bounds the GPUs of a type bought
over the horizon (owned ones are not bought), finance.budget_usd the capex of the horizon (undiscounted)."""
HORIZON_PREFIX = "horizon_"


class PeriodProblem:
    """The roadmap program seen by one period's single-period builders: every variable and
    constraint name gets the period prefix, so the builders of planner.optimize.program are reused
    unchanged."""

    def __init__(self, prob: pulp.LpProblem, prefix: str) -> None:
        self.prob, self.prefix = prob, prefix

    def add_variable(self, name: str, lowBound: float | None = None, upBound: float | None = None,  # noqa: N803
                     cat: str = "Continuous") -> pulp.LpVariable:
        return new_var(self.prob, self.prefix + name, lowBound, upBound, cat)

    def __iadd__(self, other: tuple[Any, str]) -> PeriodProblem:
        expr, name = other
        self.prob += (expr, self.prefix + name)
        return self


@dataclass
class RoadmapModel:
    prob: pulp.LpProblem
    roadmap: Roadmap
    fleets: list[FleetModel] = field(default_factory=list)
    """Per period: its fleet program (every candidate, on site and rented)."""
    onsite: list[FleetModel] = field(default_factory=list)
    """Per period: the same variables restricted to the site (power, racks, energy, running costs)."""
    buy: dict[tuple[int, str], pulp.LpVariable] = field(default_factory=dict)
    """(period ordered, GPU id) -> servers ordered."""
    kept: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    """(owned group, period) -> servers of the group still installed."""
    racks_built: dict[int, pulp.LpVariable] = field(default_factory=dict)
    """Period -> racks standing (built so far)."""
    slacks: dict[str, tuple[pulp.LpVariable, LimitFamily, Limit]] = field(default_factory=dict)
    """Slacks of the horizon's limits (inventory, budget) in an elastic solve."""
    expr: dict[str, Any] = field(default_factory=dict)

    def period_expr(self, name: str, t: int) -> Any:
        return self.expr[f"{name}:{t}"]


def prefix(t: int) -> str:
    return f"t{t + 1:02d}_"


def onsite_view(m: FleetModel, roadmap: Roadmap) -> FleetModel:
    """``m`` restricted to the GPUs installed on site: its on-site candidates (re-indexed), servers and racks."""
    keep = set(roadmap.onsite)
    base = roadmap.base.gpus_by_id
    gpus = tuple(base.get(g.id, g) for g in m.problem.gpus if g.id in keep)  # support at the base prices
    problem = replace(m.problem, gpus=gpus)
    rows = [i for i in range(len(m.cand)) if str(m.cand.columns["gpu"][i]) in keep]
    cand = Candidates({k: v[np.asarray(rows, dtype=int)] for k, v in m.cand.columns.items()},
                      m.cand.best_latency, m.cand.evaluated, m.cand.pruning)
    pools = {s.key for s in problem.pools}
    return FleetModel(prob=m.prob, cand=cand, problem=problem,
                      replicas={j: m.replicas[i] for j, i in enumerate(rows)},
                      routed={j: m.routed[i] for j, i in enumerate(rows)},
                      used={j: m.used[i] for j, i in enumerate(rows) if i in m.used},
                      servers={k: v for k, v in m.servers.items() if k in pools},
                      racks={k: v for k, v in m.racks.items() if k in pools})


def add_period_fleets(rm: RoadmapModel, cands: list[Candidates], elastic: Elastic = NOT_ELASTIC) -> None:
    """Each period's fleet program: demand, N+k, whole servers, rack packing, site power and racks (with
    penalized slacks on the ``elastic`` families, for the infeasibility answer)."""
    tco = rm.roadmap.base.objective == "min_tco"
    for period, cand in zip(rm.roadmap.periods, cands, strict=True):
        m = FleetModel(prob=PeriodProblem(rm.prob, prefix(period.index)), cand=cand, problem=period.problem,
                       replicas={}, routed={}, used={}, servers={}, racks={})
        add_variables(m)
        add_demand_constraints(m, elastic)
        add_server_constraints(m)
        for offer in rm.roadmap.cloud:
            m.racks[offer.option].upBound = 0  # rented instances stand in the provider's racks
            if not tco:
                m.servers[offer.option].upBound = 0
        view = onsite_view(m, rm.roadmap)
        add_rack_packing_constraints(view)
        add_cost_expressions(view)
        if rm.roadmap.scale_down_idle:
            apply_scale_down(view, rm.roadmap.shaped)
        for family, lim in limits_of(view.problem, ROADMAP_FAMILIES):
            add_limit(view, family, lim, elastic)
        rm.fleets.append(m)
        rm.onsite.append(view)


def add_purchase_variables(rm: RoadmapModel) -> None:
    """Servers ordered per buyable GPU and period; orders that would arrive after the horizon are not offered."""
    last = len(rm.roadmap.periods) - rm.roadmap.lead_time_periods
    for t in range(last):
        for g in rm.roadmap.buyable:
            rm.buy[t, g] = new_var(rm.prob, f"buy_{g}_t{t + 1:02d}", 0, None, "Integer")


def add_owned_fleet(rm: RoadmapModel) -> None:
    """Owned servers kept per group and period: never more than the period before, none after their life."""
    for k, o in enumerate(rm.roadmap.owned):
        for t in range(len(rm.roadmap.periods)):
            up = o.servers if t < o.life_periods else 0
            rm.kept[k, t] = new_var(rm.prob, f"kept_{k:02d}_{o.gpu}_t{t + 1:02d}", 0, up, "Integer")
            if t:
                rm.prob += (rm.kept[k, t] <= rm.kept[k, t - 1], f"retire_only_{k:02d}_t{t + 1:02d}")


def delivered(rm: RoadmapModel, gpu: str, t: int) -> Any:
    """Servers of ``gpu`` ordered early enough to serve in period ``t``."""
    return pulp.lpSum(rm.buy[s, gpu] for s in range(t - rm.roadmap.lead_time_periods + 1) if (s, gpu) in rm.buy)


def kept_of(rm: RoadmapModel, gpu: str, t: int) -> Any:
    return pulp.lpSum(rm.kept[k, t] for k, o in enumerate(rm.roadmap.owned) if o.gpu == gpu)


def add_fleet_balance(rm: RoadmapModel) -> None:
    """Servers installed in a period (over the GPU's power-limit pools) = owned kept + purchases delivered."""
    for t, view in enumerate(rm.onsite):
        for g in rm.roadmap.onsite:
            installed = pulp.lpSum(view.servers[s.key] for s in view.problem.pools if s.gpu.id == g)
            rm.prob += (installed == kept_of(rm, g, t) + delivered(rm, g, t), f"fleet_{g}_t{t + 1:02d}")


def initial_racks(roadmap: Roadmap) -> int:
    """Racks the owned fleet stands in before the horizon (packed as the first period's site allows)."""
    p = roadmap.periods[0].problem
    total = 0
    for g in sorted({o.gpu for o in roadmap.owned}):
        servers = sum(o.servers for o in roadmap.owned if o.gpu == g)
        total += math.ceil(servers / max(p.site.servers_per_rack(p.gpu(g)), 1))
    return total


def add_rack_build(rm: RoadmapModel) -> None:
    """Racks standing: at least those the period's fleet packs into, never fewer than the period before."""
    before: Any = initial_racks(rm.roadmap)
    for t, view in enumerate(rm.onsite):
        b = new_var(rm.prob, f"racks_standing_t{t + 1:02d}")
        rm.prob += (b >= pulp.lpSum(view.racks.values()), f"racks_standing_t{t + 1:02d}")
        rm.prob += (b >= before, f"racks_kept_t{t + 1:02d}")
        rm.racks_built[t] = b
        rm.expr[f"racks_built:{t}"] = b - before
        before = b


def racks_standing_just_in_time(initial: int, racks_used: list[int]) -> list[int]:
    """Racks standing per period when each rack is built in the first period whose fleet packs into it and
    none is taken down: ``initial`` (the owned fleet's) raised to the most racks any period so far uses."""
    out, standing = [], initial
    for used in racks_used:
        standing = max(standing, used)
        out.append(standing)
    return out


def derive_racks(rm: RoadmapModel) -> None:
    """After a solve: each pool's racks the fewest that hold its servers, racks standing built just in time.

    The solver leaves both free within the optimum: a rack already standing costs nothing more to fill, and
    with no discount a rack built a period early costs the same (two HiGHS versions return different ones).
    Neither is ever strictly better: rack_usd is the same in every period and the discount factors never rise
    (finance.discount_rate_per_year >= 0), so the discounted rack capex, sum over t of d_t x rack_usd x
    (b_t - b_(t-1)), is non-decreasing in every b_t; the budget counts b_T - b_0; no other term reads them.
    So the fewest racks (planner.optimize.ties.derive_the_rest's rule) built just in time are optimal, and the
    plan, check and what-ifs read the same figures whatever optimum the solver returned."""
    used = []
    for view in rm.onsite:
        site = view.problem.site
        for s in view.problem.pools:
            servers = int_value(view.servers[s.key])
            racks = math.ceil(servers / site.servers_per_rack(s.gpu, s.power_limit_w)) if servers > 0 else 0
            view.racks[s.key].varValue = float(racks)
        used.append(sum(int_value(v) for v in view.racks.values()))
    for t, standing in enumerate(racks_standing_just_in_time(initial_racks(rm.roadmap), used)):
        rm.racks_built[t].varValue = float(standing)


def _book_share(rm: RoadmapModel, ordered: int) -> float:
    """Share of a bought server's capex still on the books at the end of the horizon (straight line)."""
    r = rm.roadmap
    age_years = (len(r.periods) - ordered - r.lead_time_periods) * r.period_years
    return max(0.0, 1.0 - age_years / r.base.money.amortization_years)


def add_period_costs(rm: RoadmapModel) -> None:
    """Per period (undiscounted USD): capex, running costs, rentals, resale; and the end-of-horizon value."""
    r = rm.roadmap
    for period, m, view in zip(r.periods, rm.fleets, rm.onsite, strict=True):
        t, p, e = period.index, period.problem, view.expr
        rm.expr[f"capex_usd:{t}"] = (
            pulp.lpSum(p.gpu(g).server_hardware_usd * rm.buy[t, g] for g in r.buyable if (t, g) in rm.buy)
            + p.money.rack_usd * rm.expr[f"racks_built:{t}"])
        rm.expr[f"running_usd:{t}"] = r.period_years * (e["annual_energy_cost_usd"] + e["annual_colocation_usd"]
                                                        + e["annual_support_usd"])
        rm.expr[f"rental_usd:{t}"] = pulp.lpSum(
            c.usd_per_hour * HOURS_PER_YEAR * r.period_years * m.servers[c.option] for c in r.cloud)
        rm.expr[f"resale_usd:{t}"] = pulp.lpSum(
            o.resale_usd_per_server * ((o.servers if t == 0 else rm.kept[k, t - 1]) - rm.kept[k, t])
            for k, o in enumerate(r.owned))
        rm.expr[f"cost_usd:{t}"] = (rm.expr[f"capex_usd:{t}"] + rm.expr[f"running_usd:{t}"]
                                    + rm.expr[f"rental_usd:{t}"] - rm.expr[f"resale_usd:{t}"])
    last = len(r.periods) - 1
    rm.expr["end_value_usd"] = (
        pulp.lpSum(o.resale_usd_per_server * rm.kept[k, last] for k, o in enumerate(r.owned))
        + pulp.lpSum(r.periods[s].problem.gpu(g).server_hardware_usd * _book_share(rm, s) * v
                     for (s, g), v in sorted(rm.buy.items())))


def horizon_quantity(rm: RoadmapModel, lim: Limit) -> Any:
    """The quantity a horizon limit bounds: GPUs of its type bought over the horizon, or the capex of every period."""
    r = rm.roadmap
    if lim.family == INVENTORY.name:
        per_server = r.base.gpu(str(lim.subject)).gpus_per_server
        return pulp.lpSum(per_server * v for (_, g), v in sorted(rm.buy.items()) if g == lim.subject)
    return pulp.lpSum(rm.expr[f"capex_usd:{period.index}"] for period in r.periods)


def add_horizon_limits(rm: RoadmapModel, elastic: Elastic = NOT_ELASTIC) -> None:
    """hardware.inventory and finance.budget_usd over the horizon (see HORIZON_FAMILIES)."""
    for family, lim in limits_of(rm.roadmap.base, HORIZON_FAMILIES):
        name = HORIZON_PREFIX + lim.name
        bound: Any = lim.bound
        if family.name in elastic:
            v = new_var(rm.prob, f"slack_{name}", 0, None)
            rm.slacks[name] = (v, family, lim)
            bound = bound + family.slack_unit * v
        rm.prob += (horizon_quantity(rm, lim) <= bound, name)


def set_roadmap_objective(rm: RoadmapModel) -> None:
    """min_tco: the discounted cost of the horizon less the discounted end value; else the period sum."""
    r = rm.roadmap
    if r.base.objective == "min_tco":
        objective = (pulp.lpSum(period.discount * rm.expr[f"cost_usd:{period.index}"] for period in r.periods)
                     - r.end_discount * rm.expr["end_value_usd"])
    else:
        objective = pulp.lpSum(view.expr[OBJECTIVE_EXPR[r.base.objective]] for view in rm.onsite)
    slacks = [(v, family) for m in (*rm.fleets, *rm.onsite) for _, (v, family, _) in sorted(m.slacks.items())]
    slacks += [(v, family) for _, (v, family, _) in sorted(rm.slacks.items())]
    if slacks:
        objective = objective + pulp.lpSum(ELASTIC_PENALTY * family.elastic_weight * v for v, family in slacks)
    rm.expr["objective"] = objective
    rm.prob += objective


def build_roadmap_program(roadmap: Roadmap, cands: list[Candidates], *,
                          elastic: Elastic = NOT_ELASTIC) -> RoadmapModel:
    """The one program of the roadmap over the candidates of each period (``elastic``: families whose
    limits get penalized slacks, so an infeasible roadmap still solves and says what to relax)."""
    rm = RoadmapModel(prob=pulp.LpProblem(f"roadmap_{roadmap.base.name}".replace("-", "_"), pulp.LpMinimize),
                      roadmap=roadmap)
    add_period_fleets(rm, cands, elastic)
    add_purchase_variables(rm)
    add_owned_fleet(rm)
    add_fleet_balance(rm)
    add_rack_build(rm)
    add_period_costs(rm)
    add_horizon_limits(rm, elastic)
    set_roadmap_objective(rm)
    return rm


def shortfalls(rm: RoadmapModel) -> list[str]:
    """After an elastic solve: per period, each limit that had to be relaxed and by how much."""
    out = []
    for _, (v, family, lim) in sorted(rm.slacks.items()):
        amount = (v.varValue or 0.0) * family.slack_unit
        if amount > 1e-6 * max(abs(lim.bound), 1.0):
            out.append(f"over the horizon: {family.shortfall(lim, amount)}")
    for period, m, view in zip(rm.roadmap.periods, rm.fleets, rm.onsite, strict=True):
        for _, (v, family, lim) in sorted({**m.slacks, **view.slacks}.items()):
            amount = (v.varValue or 0.0) * family.slack_unit
            if amount > 1e-6 * max(abs(lim.bound), 1.0):
                out.append(f"{period.label}: {family.shortfall(lim, amount)}")
    return out
