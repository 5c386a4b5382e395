"""Alternative-objective results (the cost-versus-power trade-off) and their Pareto front.

Each point is the plan the optimizer finds when it re-solves the same scenario with another
objective (the plan's ``objective_alternatives``).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.schemas.plan import ObjectiveAlternative, Plan


@dataclass(frozen=True)
class Point:
    row: ObjectiveAlternative
    src: str
    """Plan key path of this point, e.g. ``objective_alternatives[3]``."""

    @property
    def objective(self) -> str:
        return self.row.objective

    @property
    def cost_usd_per_year(self) -> float:
        return self.row.tco_per_year_usd

    @property
    def power_w(self) -> float:
        return self.row.it_power_max_w


def objective_points(plan: Plan) -> list[Point]:
    """The alternative-objective results the plan carries, in plan order; [] when it has none."""
    return [Point(row, f"objective_alternatives[{i}]") for i, row in enumerate(plan.objective_alternatives)]


def pareto_front(points: list[Point]) -> list[bool]:
    """For each point, whether no other point is at most as costly and as power-hungry, and better in one."""
    def dominated(p: Point) -> bool:
        return any(q.cost_usd_per_year <= p.cost_usd_per_year and q.power_w <= p.power_w
                   and (q.cost_usd_per_year < p.cost_usd_per_year or q.power_w < p.power_w)
                   for q in points)
    return [not dominated(p) for p in points]
