"""Why a scenario is infeasible, in the scenario's own terms, and what would make it feasible.

The answer lists independent alternatives: "needs +220 kW datacenter power, or +3 racks, or ITL SLO
20 -> 35 ms", each verified by a solve that finds a plan. It takes a handful of solves:

1. One elastic solve with every limit family relaxable (penalized slacks) says which families and
   which workloads carry slack.
2. Each cap family that carries slack is relaxed on its own (an elastic solve on that family only):
   its slack is the alternative. When one family alone carries slack, step 1 already solved it.
3. Bigger rack circuits are tried when racks or a workload's demand carry slack, by bisection over
   the rack factors (feasibility is monotone: a bigger circuit holds at least as many servers).
4. SLO relaxations by group testing and bisection: relaxing SLOs only adds candidates, so if all the
   workloads of a group at the loosest factor still find no plan, no single one of them does; a
   group that does is split until single workloads remain, and each SLO of such a workload gets
   the smallest factor that admits a plan by bisection over the factors.

Only when no single relaxation suffices is the all-families elastic solve of step 1 reported, as
the combination that would be needed. Feasibility checks stop at the first plan found (they need
no optimum); elastic solves are solved to optimality, since their slacks are the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace as dc_replace
from typing import Protocol

import numpy as np

from planner.candidates.generate import (
    Candidates,
    generate_candidates,
    merge_columns,
    replace_workload,
    workload_candidates,
)
from planner.errors import InfeasibleError
from planner.optimize.program import ALL_FAMILIES, FleetModel, build_program, value
from planner.optimize.warm import Replicas, start_values
from planner.problem.build import power_limits
from planner.problem.limits import CAPACITY, CAPS, RACK_POWER, RACKS, SITE_POWER, SLOS, Limit, LimitFamily, limits_of
from planner.problem.model import Problem

SLO_FACTORS = (1.25, 1.5, 2.0, 3.0, 5.0)
RACK_FACTORS = (1.25, 1.5, 2.0)
SLACK_EPS = 1e-6


class Runner(Protocol):
    """Solves a model; returns "optimal" | "feasible" | "infeasible" | "no_solution". With
    ``feasibility_only`` it may stop at the first plan it finds; ``start`` is a MIP start."""

    def __call__(self, m: FleetModel, feasibility_only: bool = False,
                 start: dict[str, float] | None = None) -> str: ...


def _slack_lines(m: FleetModel) -> list[str]:
    """Each non-zero slack in the plain words of its limit record."""
    lines = []
    for _, (var, family, lim) in sorted(m.slacks.items()):
        amount = value(var) * family.slack_unit
        if amount > SLACK_EPS:
            lines.append(family.shortfall(lim, amount))
    return lines


def _slack_of(m: FleetModel) -> dict[str, set[str]]:
    """Family name -> subjects (GPU, workload or "") whose limits carry slack in a solved elastic model."""
    out: dict[str, set[str]] = {}
    for _, (var, family, lim) in sorted(m.slacks.items()):
        if value(var) * family.slack_unit > SLACK_EPS:
            out.setdefault(family.name, set()).add(lim.subject or "")
    return out


def _cap_alternatives(p: Problem, cand: Candidates, run: Runner, combined: FleetModel,
                      slack: dict[str, set[str]]) -> list[str]:
    """Each cap family that carries slack, relaxed on its own (an elastic slack on that family only).
    When it is the only family with slack, the combined solve already is that family's optimum (its
    other slacks are zero, so it solves the family's program, which cannot do better)."""
    out = []
    for family in CAPS:
        if family.name not in slack or not family.limits(p):
            continue
        if set(slack) == {family.name}:
            out += _slack_lines(combined)
            continue
        m = build_program(p, cand, elastic=frozenset({family.name}))
        if run(m) != "infeasible":
            out += _slack_lines(m)
    return out


def smallest_feasible(factors: Sequence[float], feasible: Callable[[float], bool]) -> float | None:
    """The smallest factor for which ``feasible`` holds, by bisection (``feasible`` is monotone in the
    factor); None when even the largest fails. About log2(len(factors)) + 1 calls."""
    if not factors or not feasible(factors[-1]):
        return None
    lo, hi = -1, len(factors) - 1  # factors[hi] is feasible; factors[lo] is not (or below the list)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if feasible(factors[mid]):
            hi = mid
        else:
            lo = mid
    return factors[hi]


def _rack_alternatives(p: Problem, cand: Candidates, run: Runner, slack: dict[str, set[str]]) -> list[str]:
    """Bigger rack circuits (and air-cooling limit, when air cooled) fit more servers per rack."""
    if RACKS.name not in slack and CAPACITY.name not in slack:
        return []
    lim = RACK_POWER.limits(p)[0]

    def feasible(factor: float) -> bool:
        _, relaxed = RACK_POWER.scaled(p, lim, factor)  # type: ignore[misc]
        return run(build_program(relaxed, cand), feasibility_only=True) != "infeasible"

    factor = smallest_feasible(RACK_FACTORS, feasible)
    return [] if factor is None else [RACK_POWER.scaled(p, lim, factor)[0]]  # type: ignore[misc]


SUGGESTED_POWER_LIMIT_FRACTIONS = (1.0, 0.85, 0.7)
"""The GPU power limits an infeasibility answer tries when the scenario allows none."""


def _power_limited(p: Problem) -> Problem | None:
    """``p`` with SUGGESTED_POWER_LIMIT_FRACTIONS offered to every GPU that accepts them (its catalog
    minimum; one of its servers fits a rack); None when no GPU gains a limit below its TDP."""
    gpus = []
    for g in p.gpus:
        if getattr(g.spec, "power_limit_min_w", None) is None:
            gpus.append(g)  # no catalogued minimum: no limit is offered (see planner.problem.build.power_limits)
            continue
        offered, _ = power_limits(g.spec, SUGGESTED_POWER_LIMIT_FRACTIONS)
        gpus.append(dc_replace(g, power_limits_w=tuple(w for w in offered if p.site.servers_per_rack(g, w) >= 1)
                               or g.power_limits_w))
    relaxed = dc_replace(p, gpus=tuple(gpus))
    return relaxed if relaxed.power_limited else None


def power_limited_candidates(cand: Candidates, relaxed: Problem) -> Candidates:
    """The candidates of ``relaxed`` (the problem of ``cand`` with power limits offered, _power_limited),
    generating only the limits below TDP: its TDP pools' rows are ``cand``'s own (the core's figures at a
    limit equal to the TDP are those without one, and every row keeps its pool key), and pruning works
    within a workload and server pool, so this is generate_candidates(relaxed) up to row order (rows
    here: ``cand``'s, then the new ones, each workload's together in ``cand``'s workload order)."""
    below = tuple(dc_replace(g, power_limits_w=lower) for g in relaxed.gpus
                  if (lower := tuple(w for w in g.power_limits_w if w < g.tdp_w)))
    if not below:
        return cand
    extra = generate_candidates(dc_replace(relaxed, gpus=below))
    cols = merge_columns([cand.columns, extra.columns])
    rank = {w.name: i for i, w in enumerate(relaxed.workloads)}
    order = np.argsort(np.array([rank[str(w)] for w in cols["workload"]], dtype=np.int64), kind="stable")
    return Candidates({k: v[order] for k, v in cols.items()}, cand.best_latency, cand.evaluated + extra.evaluated,
                      cand.pruning)


def _power_limit_alternatives(p: Problem, cand: Candidates, run: Runner, slack: dict[str, set[str]]) -> list[str]:
    """GPUs run power-capped: a lower limit lowers every server's nameplate, so more fit the site and
    its racks (tried when site power or racks carry slack and the scenario allows no limit)."""
    if p.power_limited or not slack.keys() & {SITE_POWER.name, RACKS.name}:
        return []
    relaxed = _power_limited(p)
    if relaxed is None:
        return []
    if run(build_program(relaxed, power_limited_candidates(cand, relaxed)), feasibility_only=True) == "infeasible":
        return []
    fractions = ", ".join(str(f) for f in SUGGESTED_POWER_LIMIT_FRACTIONS)
    return [f"GPUs run power-capped (hardware.power_limit_fractions: [{fractions}]; each server's nameplate "
            "falls by (TDP - limit) per GPU)"]


SloLimit = tuple[LimitFamily, Limit]


class _SloSearch:
    """Feasibility of the problem with some SLOs scaled, the regenerated candidates cached per workload."""

    def __init__(self, p: Problem, cand: Candidates, run: Runner) -> None:
        self.p, self.cand, self.run = p, cand, run
        self.tables: dict[tuple[str, tuple[tuple[str, float], ...]], dict[str, np.ndarray] | None] = {}

    def _relaxed(self, scaled: list[tuple[SloLimit, float]]) -> tuple[Problem, list[str]]:
        p, texts = self.p, []
        for (family, lim), factor in scaled:
            text, p = family.scaled(p, lim, factor)  # type: ignore[misc]
            texts.append(text)
        return p, texts

    def feasible(self, scaled: list[tuple[SloLimit, float]]) -> bool:
        relaxed, _ = self._relaxed(scaled)
        table = self.cand
        for w in dict.fromkeys(str(lim.subject) for (_, lim), _ in scaled):
            key = (w, tuple(sorted((f.name, x) for (f, lim), x in scaled if lim.subject == w)))
            if key not in self.tables:
                cols = workload_candidates(relaxed, relaxed.workload(w))[0]
                self.tables[key] = cols if len(cols["workload"]) else None
            found = self.tables[key]
            if found is not None:
                table = replace_workload(table, w, found)
        return self.run(build_program(relaxed, table), feasibility_only=True) != "infeasible"

    def text(self, slo: SloLimit, factor: float) -> str:
        return self._relaxed([(slo, factor)])[1][0]


def _feasible_at(search: _SloSearch, slo: SloLimit, factor: float) -> bool:
    return search.feasible([(slo, factor)])


def _slo_alternatives(p: Problem, cand: Candidates, run: Runner) -> list[str]:
    """Per workload and SLO, the smallest factor of relaxation that admits a plan (group testing over
    workloads at the loosest factor, then bisection over the factors)."""
    search = _SloSearch(p, cand, run)
    by_workload = {w.name: [(f, lim) for f, lim in limits_of(p, SLOS) if lim.subject == w.name] for w in p.workloads}
    loosest = SLO_FACTORS[-1]

    def groups(names: list[str]) -> list[str]:
        """The workloads among ``names`` whose SLOs, relaxed alone, admit a plan."""
        if not search.feasible([(s, loosest) for n in names for s in by_workload[n]]):
            return []
        if len(names) == 1:
            return names
        half = len(names) // 2
        return groups(names[:half]) + groups(names[half:])

    out = []
    for name in groups([n for n, slos in by_workload.items() if slos]):
        for slo in by_workload[name]:
            factor = smallest_feasible(SLO_FACTORS, functools.partial(_feasible_at, search, slo))
            if factor is not None:
                out.append(search.text(slo, factor))
    return out


def explain_infeasible(p: Problem, cand: Candidates, run: Runner, notes: list[str],
                       start: Replicas | None = None) -> InfeasibleError:
    """Independent alternatives ("needs +220 kW datacenter power, or +3 racks, or ITL SLO 20 -> 35 ms");
    when none suffices alone, the combination the all-families elastic solve needs. ``start``: replicas
    of a plan that breaks the limits (the elastic solve starts from it, its slacks taking up the excess)."""
    combined_model = build_program(p, cand, elastic=ALL_FAMILIES)
    initial = None if start is None else start_values(combined_model, start)
    solved = run(combined_model, start=initial) != "infeasible"
    slack = _slack_of(combined_model) if solved else {}
    alternatives = _cap_alternatives(p, cand, run, combined_model, slack) + _rack_alternatives(p, cand, run, slack)
    alternatives += _power_limit_alternatives(p, cand, run, slack)
    alternatives += _slo_alternatives(p, cand, run)
    lines: list[str]
    if alternatives:
        lines = ["needs " + alternatives[0]] + [f"or {a}" for a in alternatives[1:]]
    else:
        combined = _slack_lines(combined_model) if solved else []
        lines = (["no single relaxation suffices; together it needs: " + "; ".join(combined)] if combined
                 else ["no relaxation of the limits or SLOs found a plan"])
    return InfeasibleError(f"scenario {p.name!r} is infeasible", explanation=lines + notes)
