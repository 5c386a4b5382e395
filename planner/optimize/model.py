"""The fleet integer program, built by one named function per constraint family.

Decision variables: integer replicas per candidate, the peak request rate routed to each, whole
servers and racks per GPU type. Constraint names are reused by reports and infeasibility answers.
With ``elastic`` naming limit families (capacity, site_power, racks, inventory, budget), those
limits get penalized slacks, so an infeasible scenario still solves and the slacks say what
must be relaxed and by how much.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from planner.candidates.generate import Candidates
from planner.core.constants import HOURS_PER_YEAR
from planner.schemas.scenario import Scenario

ELASTIC_PENALTY = 1e7  # per unit of normalized slack: dominates any objective term


@dataclass(frozen=True)
class GpuType:
    """A GPU type as the program sees it: its server, prices and rack packing."""

    id: str
    gpus_per_server: int
    server_model: str
    server_max_power_w: float
    server_rack_units: int
    gpu_price_usd: float
    server_price_usd: float
    idle_w: float
    servers_per_rack: int
    inventory_gpus: int | None
    overhead_w_per_gpu: float
    """Average non-GPU server power per GPU (planner.core.constants.server_overhead_w_per_gpu)."""


@dataclass
class FleetModel:
    prob: pulp.LpProblem
    cand: Candidates
    gpu_types: dict[str, GpuType]
    scenario: Scenario
    replicas: dict[int, pulp.LpVariable]
    routed: dict[int, pulp.LpVariable]
    used: dict[int, pulp.LpVariable]
    servers: dict[str, pulp.LpVariable]
    racks: dict[str, pulp.LpVariable]
    expr: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, tuple[Any, float, str, str]] = field(default_factory=dict)
    """name -> (expression, limit, unit, kind) of every capped quantity (for reports and checks)."""
    slacks: dict[str, tuple[pulp.LpVariable, float, str]] = field(default_factory=dict)
    """name -> (slack variable, scale, what relaxing it means)."""


def new_var(prob: pulp.LpProblem, name: str, low: float | None = 0, up: float | None = None,
            cat: str = "Continuous") -> pulp.LpVariable:
    """A variable attached to ``prob`` (PuLP 3.3+ / 4 API), or a plain LpVariable on older PuLP."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, lowBound=low, upBound=up, cat=cat)
    return pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)


def usable_rack_w(site: Any) -> float:
    usable = site.rack_power_cap_kw * 1e3 * site.breaker_derating
    if site.cooling == "air":
        usable = min(usable, site.air_cooling_limit_kw * 1e3)
    return usable


def _demand(scenario: Scenario) -> dict[str, tuple[float, float, float, int]]:
    """workload -> (peak rps, required capacity rps, average/peak ratio, redundancy k)."""
    out = {}
    for w in scenario.workloads:
        t = w.traffic
        out[w.name] = (t.peak_requests_per_s, t.peak_requests_per_s * (1.0 + w.headroom), t.average_to_peak,
                       w.redundancy)
    return out


Elastic = frozenset[str]
ALL_FAMILIES: Elastic = frozenset({"capacity", "site_power", "racks", "inventory", "budget"})
NOT_ELASTIC: Elastic = frozenset()


def _slack(m: FleetModel, name: str, scale: float, meaning: str, elastic: Elastic) -> Any:
    family = name.split("_")[0] if name.startswith(("capacity_", "inventory_")) else name
    if family not in elastic:
        return 0
    v = new_var(m.prob, f"slack_{name}")
    m.slacks[name] = (v, scale, meaning)
    return v


def add_variables(m: FleetModel, demand: dict[str, tuple[float, float, float, int]]) -> None:
    c = m.cand.columns
    for i in range(len(m.cand)):
        cap = float(c["capacity_rps"][i])
        _, need, _, k = demand[str(c["workload"][i])]
        upper = math.ceil(need / cap) + k + 1
        m.replicas[i] = new_var(m.prob, f"replicas_{i:05d}", 0, upper, "Integer")
        m.routed[i] = new_var(m.prob, f"routed_{i:05d}")
        if k > 0:
            m.used[i] = new_var(m.prob, f"used_{i:05d}", 0, 1, "Binary")
    for g in sorted(m.gpu_types):
        m.servers[g] = new_var(m.prob, f"servers_{g}", 0, None, "Integer")
        m.racks[g] = new_var(m.prob, f"racks_{g}", 0, None, "Integer")


def add_demand_constraints(m: FleetModel, demand: dict[str, tuple[float, float, float, int]],
                           elastic: Elastic) -> None:
    """Route all peak traffic; capacity >= peak x (1 + headroom) with k spare replicas (N+k)."""
    c = m.cand.columns
    for w, (peak, need, _, k) in sorted(demand.items()):
        idx = [i for i in range(len(m.cand)) if c["workload"][i] == w]
        short = _slack(m, f"capacity_{w}", 1.0, f"serve {w}", elastic)
        m.prob += (pulp.lpSum(m.routed[i] for i in idx) + short * peak / need == peak, f"route_{w}")
        spare = pulp.lpSum(float(c["capacity_rps"][i]) * k * m.used[i] for i in idx) if k > 0 else 0
        m.prob += (pulp.lpSum(float(c["capacity_rps"][i]) * m.replicas[i] for i in idx) - spare + short
                   >= need, f"capacity_{w}")
        if k > 0:
            # N+k is well defined for a homogeneous pool: a redundant workload runs one configuration
            m.prob += (pulp.lpSum(m.used[i] for i in idx) <= 1, f"one_pool_{w}")
        for i in idx:
            cap = float(c["capacity_rps"][i])
            m.prob += (m.routed[i] <= cap * m.replicas[i], f"load_{i:05d}")
            if k > 0:
                m.prob += (m.replicas[i] <= m.replicas[i].upBound * m.used[i], f"used_{i:05d}")
                m.prob += (m.replicas[i] >= (k + 1) * m.used[i], f"spares_{i:05d}")


def gpus_in_use(m: FleetModel, g: str) -> Any:
    c = m.cand.columns
    return pulp.lpSum(int(c["num_gpus"][i]) * m.replicas[i] for i in range(len(m.cand)) if c["gpu"][i] == g)


def add_server_constraints(m: FleetModel) -> None:
    """Whole servers per GPU type hold every replica's GPUs."""
    for g, t in sorted(m.gpu_types.items()):
        m.prob += (t.gpus_per_server * m.servers[g] >= gpus_in_use(m, g), f"servers_{g}")


def add_rack_power_constraints(m: FleetModel, elastic: Elastic) -> None:
    """Racks per GPU type: servers per rack bounded by the derated breaker (and air limit) at the
    servers' nameplate maximum, and by rack units; the site's rack count bounds the total."""
    for g, t in sorted(m.gpu_types.items()):
        m.prob += (m.servers[g] <= t.servers_per_rack * m.racks[g], f"rack_power_{g}")
        m.prob += (m.racks[g] <= m.servers[g], f"no_empty_racks_{g}")
    site = m.scenario.site
    if site.racks is not None:
        short = _slack(m, "racks", 1.0, "more racks", elastic)
        total = pulp.lpSum(m.racks.values())
        m.prob += (total <= site.racks + short, "racks_total")
        m.limits["racks_total"] = (total, float(site.racks), "racks", "racks")


def add_site_power_constraint(m: FleetModel, elastic: Elastic) -> None:
    """Datacenter IT power: servers at nameplate maximum within the site's cap."""
    site = m.scenario.site
    nameplate = m.expr["it_power_nameplate_w"]
    if site.power_cap_kw is not None:
        cap_w = site.power_cap_kw * 1e3
        short = _slack(m, "site_power", 1e3, "more datacenter IT power (kW)", elastic)
        m.prob += (nameplate <= cap_w + short * 1e3, "site_power")
        m.limits["site_power"] = (nameplate, cap_w, "W", "power")


def add_inventory_constraints(m: FleetModel, elastic: Elastic) -> None:
    for g, t in sorted(m.gpu_types.items()):
        if t.inventory_gpus is None:
            continue
        short = _slack(m, f"inventory_{g}", 1.0, f"more {g} GPUs", elastic)
        bought = t.gpus_per_server * m.servers[g]
        m.prob += (bought <= t.inventory_gpus + short, f"inventory_{g}")
        m.limits[f"inventory_{g}"] = (bought, float(t.inventory_gpus), "GPUs", "inventory")


def add_budget_constraint(m: FleetModel, elastic: Elastic) -> None:
    budget = m.scenario.finance.budget_usd
    if budget is not None:
        short = _slack(m, "budget", 1e3, "more capex budget (k$)", elastic)
        m.prob += (m.expr["capex_usd"] <= budget + short * 1e3, "budget")
        m.limits["budget"] = (m.expr["capex_usd"], budget, "USD", "budget")


def add_cost_expressions(m: FleetModel, demand: dict[str, tuple[float, float, float, int]]) -> None:
    """Power, energy, money and carbon as linear expressions of the decisions."""
    c = m.cand.columns
    site, fin = m.scenario.site, m.scenario.finance
    peak_terms, avg_terms = [], []
    for i in range(len(m.cand)):
        base, slope = float(c["power_base_w"][i]), float(c["power_slope_w_per_rps"][i])
        ratio = demand[str(c["workload"][i])][2]
        peak_terms.append(base * m.replicas[i] + slope * m.routed[i])
        avg_terms.append(base * m.replicas[i] + slope * ratio * m.routed[i])
    idle_spare = pulp.lpSum((t.idle_w + t.overhead_w_per_gpu) * (t.gpus_per_server * m.servers[g] - gpus_in_use(m, g))
                            for g, t in sorted(m.gpu_types.items()))
    e = m.expr
    e["it_power_max_w"] = pulp.lpSum(peak_terms) + idle_spare
    e["it_power_avg_w"] = pulp.lpSum(avg_terms) + idle_spare
    e["it_power_nameplate_w"] = pulp.lpSum(t.server_max_power_w * m.servers[g] for g, t in sorted(m.gpu_types.items()))
    e["gpus"] = pulp.lpSum(t.gpus_per_server * m.servers[g] for g, t in sorted(m.gpu_types.items()))
    e["capex_usd"] = pulp.lpSum((t.gpus_per_server * t.gpu_price_usd + t.server_price_usd) * m.servers[g]
                                for g, t in sorted(m.gpu_types.items()))
    kwh = e["it_power_avg_w"] * (HOURS_PER_YEAR / 1e3)
    e["annual_energy_kwh"] = kwh
    e["annual_energy_cost_usd"] = kwh * site.pue * site.electricity_usd_per_kwh
    colo = fin.colocation_usd_per_kw_month or 0.0
    e["annual_colocation_usd"] = e["it_power_nameplate_w"] * (colo * 12.0 / 1e3)
    e["tco_usd"] = e["capex_usd"] + fin.amortization_years * (e["annual_energy_cost_usd"] + e["annual_colocation_usd"])
    e["co2e_t_per_year"] = kwh * site.pue * site.carbon_g_per_kwh / 1e6


OBJECTIVE_EXPR = {"min_tco": "tco_usd", "min_power": "it_power_max_w", "min_energy": "annual_energy_kwh",
                  "min_gpus": "gpus", "min_carbon": "co2e_t_per_year"}


def set_objective(m: FleetModel, objective: str) -> None:
    """The chosen objective (plus elastic penalties). Ties are settled afterwards by the rule in
    planner.optimize.ties: a tie term small enough not to disturb the primary objective would sit
    below the solver's gap tolerance and decide nothing."""
    e = m.expr
    primary = e[OBJECTIVE_EXPR[objective]]
    # dropping demand is the last resort: relaxing a limit is always preferred in the answer
    penalty = pulp.lpSum(ELASTIC_PENALTY * (100.0 if name.startswith("capacity_") else 1.0) * v
                         for name, (v, _, _) in sorted(m.slacks.items())) if m.slacks else 0
    e["objective"] = primary + penalty
    m.prob += e["objective"]


def build_model(scenario: Scenario, cand: Candidates, gpu_types: dict[str, GpuType], *,
                elastic: Elastic = NOT_ELASTIC) -> FleetModel:
    m = FleetModel(prob=pulp.LpProblem(f"fleet_{scenario.name}".replace("-", "_"), pulp.LpMinimize),
                   cand=cand, gpu_types=gpu_types, scenario=scenario, replicas={}, routed={}, used={},
                   servers={}, racks={})
    demand = _demand(scenario)
    add_variables(m, demand)
    add_cost_expressions(m, demand)
    add_demand_constraints(m, demand, elastic)
    add_server_constraints(m)
    add_rack_power_constraints(m, elastic)
    add_site_power_constraint(m, elastic)
    add_inventory_constraints(m, elastic)
    add_budget_constraint(m, elastic)
    set_objective(m, scenario.objective)
    return m


def value(x: Any) -> float:
    v = pulp.value(x)
    return 0.0 if v is None else float(v)


def int_value(v: pulp.LpVariable) -> int:
    return int(np.rint(value(v)))
