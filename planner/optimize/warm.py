"""MIP starts: a known plan handed to the solver so it begins from a feasible incumbent.

A plan is kept as replicas per configuration (workload, GPU, precision, TP, PP, batch size, prefill
chunk), so it carries over to a program over another candidate table (an SLO relaxed for one
workload regenerates that workload's rows). Everything else in the start (pools in use, servers,
racks, routing) is derived from the replicas by the tie rule's own derivation
(planner.optimize.ties.derive_the_rest), so the start is consistent: feasible whenever the replicas
cover every workload's demand within the program's caps. A start that is not feasible is only a
wasted hint: the solver checks it and discards it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pulp

from planner.candidates.generate import Candidates
from planner.optimize.program import (
    FleetModel,
    build_program,
    int_value,
    power_limits_w,
    program_variables,
    quantity,
    value,
)
from planner.optimize.ties import derive_the_rest
from planner.problem.limits import CAPS, limits_of
from planner.problem.model import Problem, WorkloadDemand

ConfigKey = tuple[str, str, str, int, int, int, int, float]
"""workload, GPU, precision, TP, PP, batch, step token budget, GPU power limit (W)."""
Replicas = dict[ConfigKey, int]


def config_keys(cand: Candidates) -> list[ConfigKey]:
    """Each candidate row's configuration, the same in any table that holds it."""
    c, limit_w = cand.columns, np.nan_to_num(power_limits_w(cand), nan=0.0)
    # column by column (tolist gives Python str, int and float): the same keys as element by element, ~5x faster
    texts = [np.asarray(c[k]).astype(str).tolist() for k in ("workload", "gpu", "precision")]
    whole = [np.asarray(c[k]).astype(np.int64).tolist() for k in ("tp", "pp", "batch_size", "prefill_chunk_tokens")]
    return list(zip(*texts, *whole, np.asarray(limit_w, dtype=float).tolist(), strict=True))


def plan_replicas(m: FleetModel) -> Replicas:
    """The replicas of a solved program, per configuration (configurations in use only)."""
    return {k: n for k, i in zip(config_keys(m.cand), range(len(m.cand)), strict=True)
            if (n := int_value(m.replicas[i])) > 0}


def carried_over(replicas: Replicas, old: Candidates, new: Candidates, redundancy: dict[str, int]) -> Replicas:
    """The plan's replicas in another candidate table (an SLO relaxed for one workload): a configuration
    the new table lacks (pruned by a better one) is replaced by the same GPU, precision and parallelism
    at its largest capacity, with enough replicas for the capacity it had; none such: left out."""
    new_keys = config_keys(new)
    present = set(new_keys)
    old_capacity = dict(zip(config_keys(old), old.columns["capacity_rps"].tolist(), strict=True))
    by_shape: dict[tuple[str | int | float, ...], tuple[float, ConfigKey]] = {}
    for key, cap in zip(new_keys, new.columns["capacity_rps"].tolist(), strict=True):
        shape = _shape(key)
        if shape not in by_shape or cap > by_shape[shape][0]:
            by_shape[shape] = (cap, key)
    out: Replicas = {}
    for key, n in replicas.items():
        if key in present:
            out[key] = out.get(key, 0) + n
        elif _shape(key) in by_shape:
            cap, substitute = by_shape[_shape(key)]
            k = redundancy.get(key[0], 0)
            out[substitute] = out.get(substitute, 0) + math.ceil((n - k) * old_capacity[key] / cap - 1e-9) + k
    return out


def _shape(key: ConfigKey) -> tuple[str | int | float, ...]:
    """Workload, GPU, precision, parallelism and power limit: what a substitute must keep."""
    return (*key[:5], key[7])


def start_values(m: FleetModel, replicas: Replicas) -> dict[str, float]:
    """A complete MIP start for ``m`` (variable name -> value) from replicas per configuration:
    configurations the table lacks get none, the rest is derived, and an elastic slack holds what the
    plan exceeds its limit by (so the start of an elastic program is feasible)."""
    for i, key in enumerate(config_keys(m.cand)):
        m.replicas[i].varValue = float(replicas.get(key, 0))
    for var, _, _ in m.slacks.values():
        var.varValue = 0.0
    derive_the_rest(m)
    for var, family, lim in m.slacks.values():  # an elastic limit takes up what the plan exceeds it by
        q = value(quantity(m, lim.quantity))
        var.varValue = max(q - lim.bound if family.sense == "<=" else lim.bound - q, 0.0) / family.slack_unit
    variables = program_variables(m)
    values = {v.name: float(v.varValue) for v in variables if v.varValue is not None}
    for v in variables:  # the solve, not the start, sets the model's values
        v.varValue = None
    return values


@dataclass(frozen=True)
class Separable:
    """The fleet relaxed to whole replicas but fractional servers and racks, with no cap: it splits
    into one small program per workload. Its optimum is a lower bound on the fleet's (every fleet
    plan is a plan of the relaxation, at no lower objective), and its replicas are a start for the
    fleet, feasible whenever they fit the caps; on large fleets, where whole servers cost little
    extra, the two bound the optimum tightly."""
    replicas: Replicas
    lower_bound: float | None
    """The relaxation's optimum (the fleet objective's units); None when a workload's program was
    not solved to optimality, so no bound is proven."""


def _workload_program(p: Problem, cand: Candidates, w: WorkloadDemand) -> FleetModel:
    """The program of one workload alone, servers and racks fractional, without caps."""
    mask = cand.columns["workload"] == w.name
    sub = Candidates({k: v[mask] for k, v in cand.columns.items()}, cand.best_latency, cand.evaluated)
    m = build_program(replace(_uncapped(p), workloads=(w,)), sub)
    for var in (*m.servers.values(), *m.racks.values()):
        var.cat = pulp.LpContinuous
    return m


def _uncapped(p: Problem) -> Problem:
    """``p`` without site power, rack, budget and inventory caps."""
    out = p.with_site(power_cap_w=None, racks=None).with_money(budget_usd=None)
    for g in p.gpus:
        out = out.with_gpu(g.id, inventory_gpus=None)
    if limits_of(out, CAPS):
        raise ValueError("a cap family the separable relaxation does not lift (add it to _uncapped)")
    return out


def separable(fleet: FleetModel, solve: Callable[[FleetModel], float | None]) -> Separable:
    """Each workload's best plan on its own with fractional servers. ``solve`` solves a program,
    leaving its plan in the model, and returns its proven lower bound (without the objective's
    constant term) or None; ``fleet`` is the fleet's program (its constant term is counted once)."""
    replicas: Replicas = {}
    bound: float | None = _constant(fleet)
    for w in fleet.problem.workloads:
        m = _workload_program(fleet.problem, fleet.cand, w)
        part = solve(m)
        replicas.update(plan_replicas(m))
        bound = None if bound is None or part is None else bound + part
    return Separable(replicas, bound)


def _constant(m: FleetModel) -> float:
    return float(getattr(m.expr["objective"], "constant", 0.0))
