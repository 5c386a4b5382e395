"""Constraint rows of the plan, shown in the unit each constraint states."""

from __future__ import annotations

from planner.problem.limits import scenario_key
from planner.report import format as f
from planner.report.tables import Cell, Table, group_alike, table
from planner.schemas.plan import Constraint, Plan


def unit_of(constraint: Constraint) -> f.Unit:
    return f.unit_named(constraint.unit)


def share_of_limit(constraint: Constraint) -> float | None:
    return constraint.value / constraint.limit if constraint.limit else None


def constraint_row(index: int, c: Constraint) -> list[Cell]:
    unit = unit_of(c)
    src = f"constraints[{index}]"
    return [Cell(c.name, flag=c.binding), Cell(scenario_key(c.name) or c.kind), f.fig(c.value, unit, f"{src}.value"),
            f.fig(c.limit, unit, f"{src}.limit"),
            f.fig(share_of_limit(c), f.PERCENT, "derived:constraint_share_of_limit"),
            f.fig(c.slack, unit, f"{src}.slack"), Cell(f.yes_no(c.binding), flag=c.binding)]


_COLUMNS = ["Constraint", "Set by (scenario key, else kind)", "Planned", "Limit", "Share of limit", "Slack", "Binding"]


def binding_constraints_table(plan: Plan) -> Table:
    rows = [constraint_row(i, c) for i, c in enumerate(plan.constraints) if c.binding]
    return table(_COLUMNS, rows, empty_text="No constraint is binding.")


def all_constraints_table(plan: Plan) -> Table:
    """Every constraint; a run of alike ones (one rack power cap per identical rack) is one row naming them."""
    rows = [constraint_row(i, c) for i, c in enumerate(plan.constraints)]
    return group_alike(table(_COLUMNS, rows, empty_text="The plan lists no constraints."), "constraints")
