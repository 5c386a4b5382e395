"""The fleet integer program, built by one named function per constraint family.

Decision variables: integer replicas per candidate, the peak request rate routed to each, whole
servers and racks per GPU type. Every capped quantity comes from a limit record
(planner.problem.limits): the record names the quantity, the bound and the sense, and
``add_limit`` writes it. With ``elastic`` naming families, those limits get penalized slacks, so an
infeasible scenario still solves and the slacks say what must be relaxed and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from planner.candidates.generate import Candidates
from planner.problem import economics
from planner.problem.limits import (
    CAPACITY,
    DECODE_CAPACITY_PREFIX,
    FAMILIES,
    Limit,
    LimitFamily,
    limits_of,
    serving_side,
)
from planner.problem.model import GpuOption, Problem

ELASTIC_PENALTY = 1e7  # per unit of normalized slack: dominates any objective term

Elastic = frozenset[str]
ALL_FAMILIES: Elastic = frozenset(f.name for f in FAMILIES)
NOT_ELASTIC: Elastic = frozenset()


@dataclass
class FleetModel:
    prob: pulp.LpProblem
    cand: Candidates
    problem: Problem
    replicas: dict[int, pulp.LpVariable]
    routed: dict[int, pulp.LpVariable]
    used: dict[int, pulp.LpVariable]
    servers: dict[str, pulp.LpVariable]
    """Whole servers per server pool (a GPU type at one power limit; keyed by ServerPool.key, the GPU id
    when the pool runs at TDP)."""
    racks: dict[str, pulp.LpVariable]
    """Racks per server pool."""
    expr: dict[str, Any] = field(default_factory=dict)
    slacks: dict[str, tuple[pulp.LpVariable, LimitFamily, Limit]] = field(default_factory=dict)
    """constraint name -> (slack variable in the family's slack units, its family, its limit)."""

    @property
    def gpus(self) -> dict[str, GpuOption]:
        return self.problem.gpus_by_id

    _rows: dict[tuple[str, str | None], list[int]] = field(default_factory=dict, repr=False, compare=False)
    """rows_of's answers (the table does not change; building a program asks each several times)."""
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Figures derived from the candidate table alone, kept for the program's life (the tie rule's ranks)."""

    def rows_of(self, workload: str, side: str | None = None) -> list[int]:
        """The workload's candidate rows; with ``side`` ("prefill" or "decode"), its aggregated rows and
        those of that disaggregated role only."""
        key = (workload, side if "role" in self.cand.columns else None)
        if key not in self._rows:
            if not self._rows:
                for i, w in enumerate(self.cand.columns["workload"].tolist()):
                    self._rows.setdefault((w, None), []).append(i)
            idx = self._rows.get((workload, None), [])
            if key[1] is not None:
                role = self.cand.columns["role"]
                idx = [i for i in idx if role[i] in ("aggregated", side)]
            self._rows[key] = idx
        return list(self._rows[key])


def new_var(prob: pulp.LpProblem, name: str, low: float | None = 0, up: float | None = None,
            cat: str = "Continuous") -> pulp.LpVariable:
    """A variable attached to ``prob`` (PuLP 3.3+ / 4 API), or a plain LpVariable on older PuLP."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, lowBound=low, upBound=up, cat=cat)
    return pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)


def add_variables(m: FleetModel) -> None:
    c = m.cand.columns
    for i in range(len(m.cand)):
        w = m.problem.workload(str(c["workload"][i]))
        upper = w.replicas_bound(float(c["capacity_rps"][i]))
        m.replicas[i] = new_var(m.prob, f"replicas_{i:05d}", 0, upper, "Integer")
        m.routed[i] = new_var(m.prob, f"routed_{i:05d}")
        if w.redundancy > 0:
            m.used[i] = new_var(m.prob, f"used_{i:05d}", 0, 1, "Binary")
    for s in m.problem.pools:
        m.servers[s.key] = new_var(m.prob, f"servers_{s.key}", 0, None, "Integer")
        m.racks[s.key] = new_var(m.prob, f"racks_{s.key}", 0, None, "Integer")


def server_pools(cand: Candidates) -> np.ndarray:
    """Each candidate's server pool (ServerPool.key); a table without the column runs every GPU at TDP."""
    c = cand.columns
    return c["server_pool"] if "server_pool" in c else c["gpu"]


def power_limits_w(cand: Candidates) -> np.ndarray:
    """Each candidate's GPU power limit (W); NaN where the table does not say (at TDP)."""
    c = cand.columns
    return c["power_limit_w"] if "power_limit_w" in c else np.full(len(cand), np.nan)


def gpus_in_use(m: FleetModel, pool: str) -> Any:
    """GPUs the replicas of one server pool use (``pool``: a ServerPool.key)."""
    c, pools = m.cand.columns, server_pools(m.cand)
    return terms((m.replicas[i], int(c["num_gpus"][i])) for i in np.flatnonzero(pools == pool).tolist())


def terms(pairs: Any) -> pulp.LpAffineExpression:
    """The sum of coefficient x variable over (variable, coefficient) pairs of distinct variables: the
    expression ``pulp.lpSum(c * v for v, c in pairs)`` builds, term for term (a zero coefficient leaves its
    variable out, as PuLP's product does), without the temporary expression per term."""
    return pulp.LpAffineExpression([(v, c) for v, c in pairs if c != 0])


def gpus_bought(m: FleetModel, gpu: str) -> Any:
    """GPUs of one type bought, over its power limits (inventory counts GPUs, whatever their limit)."""
    return pulp.lpSum(s.gpu.gpus_per_server * m.servers[s.key] for s in m.problem.pools if s.gpu.id == gpu)


def roles(cand: Candidates) -> np.ndarray:
    """Each candidate's serving role (aggregated, prefill, decode); a table without the column is aggregated."""
    c = cand.columns
    return c["role"] if "role" in c else np.full(len(cand), "aggregated")


def capacity_after_spares_expr(m: FleetModel, workload: str, side: str = "prefill") -> Any:
    """Capacity of the workload's replicas less what its k spares hold back (one pool when k > 0); with
    disaggregated serving, of its aggregated replicas and its ``side`` pool (prefill or decode)."""
    c = m.cand.columns
    w = m.problem.workload(workload)
    idx = m.rows_of(workload, side)
    total = terms((m.replicas[i], float(c["capacity_rps"][i])) for i in idx)
    if w.redundancy == 0:
        return total
    return total - terms((m.used[i], w.spare_requests_per_s(float(c["capacity_rps"][i]))) for i in idx)


def quantity(m: FleetModel, name: str) -> Any:
    """The program quantity a limit record names: a fleet expression, or one per GPU type or workload."""
    kind, _, subject = name.partition(":")
    if kind == "gpus_bought":
        return gpus_bought(m, subject)
    if kind == "capacity_after_spares":
        return capacity_after_spares_expr(m, subject)
    if kind == f"{DECODE_CAPACITY_PREFIX}_after_spares":
        return capacity_after_spares_expr(m, subject, "decode")
    if kind == "racks":
        return pulp.lpSum(m.racks.values())
    return m.expr[kind]


def slack(m: FleetModel, family: LimitFamily, lim: Limit, elastic: Elastic) -> Any:
    """The limit's slack variable when its family is elastic, else 0."""
    if family.name not in elastic:
        return 0
    v = new_var(m.prob, f"slack_{lim.name}")
    m.slacks[lim.name] = (v, family, lim)
    return v


def add_limit(m: FleetModel, family: LimitFamily, lim: Limit, elastic: Elastic) -> None:
    """quantity <= bound (or >= for requirements), relaxed by the slack when elastic."""
    q = quantity(m, lim.quantity)
    s = slack(m, family, lim, elastic) * family.slack_unit
    if family.sense == "<=":
        m.prob += (q <= lim.bound + s, lim.name)
    else:
        m.prob += (q + s >= lim.bound, lim.name)


def add_demand_constraints(m: FleetModel, elastic: Elastic) -> None:
    """Route all peak traffic to replicas within their capacity; N+k workloads run one pool. With
    disaggregated serving each request runs on a prompt side (aggregated or prefill replicas) and on a
    decode side (aggregated or decode replicas): each side holds the required capacity and carries the
    whole peak, and with N+k each side is one pool (one aggregated pool, or one prefill and one decode)."""
    c = m.cand.columns
    for lim in CAPACITY.limits(m.problem):
        w = m.problem.workload(str(lim.subject))
        side = serving_side(lim)
        idx = m.rows_of(w.name, side)
        add_limit(m, CAPACITY, lim, elastic)
        short = m.slacks[lim.name][0] if lim.name in m.slacks else 0
        suffix = "" if side == "prefill" else "decode_"
        # traffic the capacity slack drops is not routed either
        m.prob += (terms((m.routed[i], 1) for i in idx) + short * w.peak_requests_per_s / lim.bound
                   == w.peak_requests_per_s, f"route_{suffix}{w.name}")
        if w.redundancy > 0:
            # N+k is well defined for a homogeneous pool: a redundant workload runs one configuration
            m.prob += (terms((m.used[i], 1) for i in idx) <= 1, f"one_pool_{suffix}{w.name}")
        if side == "decode":
            continue  # the rows' own constraints are written once, with the prompt side
        for i in m.rows_of(w.name):
            m.prob += (at_most(m.routed[i], float(c["capacity_rps"][i]), m.replicas[i]), f"load_{i:05d}")
            if w.redundancy > 0:
                m.prob += (at_most(m.replicas[i], m.replicas[i].upBound, m.used[i]), f"used_{i:05d}")
                m.prob += (at_most(m.replicas[i], w.min_replicas, m.used[i], pulp.LpConstraintGE), f"spares_{i:05d}")


def at_most(x: pulp.LpVariable, a: float, y: pulp.LpVariable, sense: int = pulp.LpConstraintLE) -> pulp.LpConstraint:
    """``x <= a * y`` (``x >= a * y`` with ``sense`` GE) as PuLP writes it, x - a y against 0, term for term,
    without the three temporary expressions of the operators (the constant too: PuLP's 0 is an int when ``a`` is)."""
    e = terms(((x, 1), (y, a * -1)))
    e.constant = 0 + (0 * a if a != 0 else 0.0) * -1
    return pulp.LpConstraint(e, sense)


def add_server_constraints(m: FleetModel) -> None:
    """Whole servers per server pool hold every replica's GPUs: a server runs one power limit."""
    for s in m.problem.pools:
        m.prob += (s.gpu.gpus_per_server * m.servers[s.key] >= gpus_in_use(m, s.key), f"servers_{s.key}")


def add_rack_packing_constraints(m: FleetModel) -> None:
    """Racks per server pool: servers per rack bounded by the usable rack power at the servers'
    nameplate maximum (at the pool's power limit) and by rack units (SiteLimits.servers_per_rack);
    no empty racks."""
    site = m.problem.site
    for s in m.problem.pools:
        per_rack = site.servers_per_rack(s.gpu, s.power_limit_w)
        m.prob += (m.servers[s.key] <= per_rack * m.racks[s.key], f"rack_power_{s.key}")
        m.prob += (m.racks[s.key] <= m.servers[s.key], f"no_empty_racks_{s.key}")


def add_cap_constraints(m: FleetModel, elastic: Elastic) -> None:
    """Every capped quantity of the limit records (site power, racks, inventory, budget)."""
    for family, lim in limits_of(m.problem):
        if family is not CAPACITY:
            add_limit(m, family, lim, elastic)


def add_cost_expressions(m: FleetModel) -> None:
    """Power, energy, money and carbon as linear expressions of the decisions."""
    c, p = m.cand.columns, m.problem
    peak_terms: list[tuple[pulp.LpVariable, float]] = []
    avg_terms: list[tuple[pulp.LpVariable, float]] = []
    for i, (w, base, slope) in enumerate(zip(c["workload"].tolist(), c["power_base_w"].tolist(),
                                             c["power_slope_w_per_rps"].tolist(), strict=True)):
        ratio = p.workload(str(w)).average_to_peak
        peak_terms += ((m.replicas[i], float(base)), (m.routed[i], float(slope)))
        avg_terms += ((m.replicas[i], float(base)), (m.routed[i], float(slope) * ratio))
    idle_spare = pulp.lpSum(s.gpu.spare_gpu_w * (s.gpu.gpus_per_server * m.servers[s.key] - gpus_in_use(m, s.key))
                            for s in p.pools)
    e = m.expr
    e["it_power_max_w"] = terms(peak_terms) + idle_spare
    e["it_power_avg_w"] = terms(avg_terms) + idle_spare
    # nameplate at each pool's power limit (ServerPool.server_max_power_w: the limit is a hard cap)
    e["it_power_nameplate_w"] = pulp.lpSum(s.server_max_power_w * m.servers[s.key] for s in p.pools)
    e["gpus"] = pulp.lpSum(s.gpu.gpus_per_server * m.servers[s.key] for s in p.pools)
    # capex: every server with its GPUs, network and storage shares, and every rack with its PDUs
    # (the budget limit bounds this); support is a running cost, beside energy and colocation
    e["capex_usd"] = (pulp.lpSum(s.gpu.server_hardware_usd * m.servers[s.key] for s in p.pools)
                      + p.money.rack_usd * pulp.lpSum(m.racks.values()))
    e["annual_support_usd"] = pulp.lpSum(s.gpu.support_usd_per_server_year * m.servers[s.key] for s in p.pools)
    kwh = economics.annual_energy_kwh(e["it_power_avg_w"])
    e["annual_energy_kwh"] = kwh
    e["annual_energy_cost_usd"] = economics.annual_energy_cost_usd(p, kwh)
    e["annual_colocation_usd"] = economics.annual_colocation_usd(p, e["it_power_nameplate_w"])
    running = e["annual_colocation_usd"] + e["annual_support_usd"]
    e["tco_usd"] = economics.tco_usd(p, e["capex_usd"], e["annual_energy_cost_usd"], running)
    e["tco_per_year_usd"] = economics.tco_per_year_usd(p, e["capex_usd"], e["annual_energy_cost_usd"], running)
    e["co2e_t_per_year"] = economics.co2e_t_per_year(p, kwh)


OBJECTIVE_EXPR = {"min_tco": "tco_usd", "min_power": "it_power_max_w", "min_energy": "annual_energy_kwh",
                  "min_gpus": "gpus", "min_carbon": "co2e_t_per_year"}


def set_objective(m: FleetModel) -> None:
    """The chosen objective (plus elastic penalties). Ties are settled afterwards by the rule in
    planner.optimize.ties: a tie term small enough not to disturb the primary objective would sit
    below the solver's gap tolerance and decide nothing."""
    e = m.expr
    primary = e[OBJECTIVE_EXPR[m.problem.objective]]
    penalty = pulp.lpSum(ELASTIC_PENALTY * family.elastic_weight * v
                         for _, (v, family, _) in sorted(m.slacks.items())) if m.slacks else 0
    e["objective"] = primary + penalty
    m.prob += e["objective"]


def program_rows(prob: pulp.LpProblem) -> dict[str, pulp.LpConstraint]:
    """The program's constraints by name, in the order they were added (PuLP < 3 calls them ``constraints``)."""
    rows: dict[str, pulp.LpConstraint] = prob._constraints if hasattr(prob, "_constraints") else prob.constraints
    return rows


def program_variables(m: Any) -> list[pulp.LpVariable]:
    """``m.prob.variables()``, listed once per set of rows. PuLP walks every row and sorts the variables on
    each call (about 120 calls in the 20 x 8 bench fleet's analysis); no row planner adds after the build
    (the tie rule's band and score caps) brings a new variable, so the list holds while the rows are the
    same. A model without ``memo`` (a roadmap's) is listed each time."""
    memo = getattr(m, "memo", None)
    if memo is None:
        return list(m.prob.variables())
    key = (id(m.prob), len(program_rows(m.prob)), id(m.prob.objective))
    hit = memo.get("variables")
    if hit is None or hit[0] != key:
        hit = (key, list(m.prob.variables()))
        memo["variables"] = hit
    return list(hit[1])


def build_program(problem: Problem, cand: Candidates, *, elastic: Elastic = NOT_ELASTIC) -> FleetModel:
    """The fleet program of ``problem`` over the candidates ``cand``."""
    m = FleetModel(prob=pulp.LpProblem(f"fleet_{problem.name}".replace("-", "_"), pulp.LpMinimize),
                   cand=cand, problem=problem, replicas={}, routed={}, used={}, servers={}, racks={})
    add_variables(m)
    add_cost_expressions(m)
    add_demand_constraints(m, elastic)
    add_server_constraints(m)
    add_rack_packing_constraints(m)
    add_cap_constraints(m, elastic)
    set_objective(m)
    return m


def value(x: Any) -> float:
    v = pulp.value(x)
    return 0.0 if v is None else float(v)


def int_value(v: pulp.LpVariable) -> int:
    return int(np.rint(value(v)))
