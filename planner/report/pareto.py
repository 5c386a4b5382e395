"""Alternative-objective results (the cost-versus-power trade-off) and their Pareto front.

A plan carries them either in a dedicated ``objective_alternatives`` list (proposed schema field)
or, until the schema has it, as ``what_if`` entries with ``kind: "objective"``. Each point is the
plan the optimizer finds when it re-solves the same scenario with another objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.schemas.plan import Plan

OBJECTIVE_KIND = "objective"
COST_KEY = "tco_per_year_usd"
POWER_KEY = "it_power_max_w"


@dataclass(frozen=True)
class Point:
    values: dict[str, Any]
    src: str
    """Plan key path of this point, e.g. ``what_if[3]``."""

    @property
    def objective(self) -> str:
        return str(self.values.get("objective", "?"))

    @property
    def cost_usd_per_year(self) -> float:
        return float(self.values[COST_KEY])

    @property
    def power_w(self) -> float:
        return float(self.values[POWER_KEY])


def _is_point(values: dict[str, Any]) -> bool:
    return all(isinstance(values.get(k), int | float) and not isinstance(values.get(k), bool)
               for k in (COST_KEY, POWER_KEY))


def objective_points(plan: Plan) -> list[Point]:
    """The alternative-objective results the plan carries, in plan order; [] when it has none."""
    dedicated = getattr(plan, "objective_alternatives", None)
    if dedicated:
        raw = [(p.model_dump() if hasattr(p, "model_dump") else dict(p), f"objective_alternatives[{i}]")
               for i, p in enumerate(dedicated)]
    else:
        raw = [(dict(w), f"what_if[{i}]") for i, w in enumerate(plan.what_if)
               if w.get("kind") == OBJECTIVE_KIND]
    return [Point(values, src) for values, src in raw if _is_point(values)]


def marginal_values(plan: Plan) -> list[tuple[int, dict[str, Any]]]:
    """``what_if`` entries that are marginal values (not objective re-solves), with their index."""
    return [(i, dict(w)) for i, w in enumerate(plan.what_if) if w.get("kind") != OBJECTIVE_KIND]


def pareto_front(points: list[Point]) -> list[bool]:
    """For each point, whether no other point is at most as costly and as power-hungry, and better in one."""
    def dominated(p: Point) -> bool:
        return any(q.cost_usd_per_year <= p.cost_usd_per_year and q.power_w <= p.power_w
                   and (q.cost_usd_per_year < p.cost_usd_per_year or q.power_w < p.power_w)
                   for q in points)
    return [not dominated(p) for p in points]
