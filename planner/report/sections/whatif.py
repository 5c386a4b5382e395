"""Section 6, what-if: marginal values of the binding limits and the alternative-objective trade-off."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.constraints import all_constraints_table
from planner.report.labels import label
from planner.report.pareto import objective_points, pareto_front
from planner.report.tables import Cell, Table, table
from planner.schemas.plan import DELTA_KEY_PREFIX, Plan, WhatIf

_TEXT_KEYS = ("limit", "constraint", "change", "method")


def _delta_key(entry: WhatIf) -> str:
    """The entry's 1.x key (``objective_delta_usd_per_year``): its label and unit name the objective's unit."""
    return f"{DELTA_KEY_PREFIX}{entry.objective_unit}"


def _row(i: int, entry: WhatIf, delta_keys: list[str]) -> list[Cell]:
    src = f"what_if[{i}]"
    cells = [Cell(getattr(entry, k), f"{src}.{k}") for k in _TEXT_KEYS]
    return cells + [f.value_cell(k, entry.objective_delta, f"{src}.{k}") if k == _delta_key(entry) else Cell("n/a")
                    for k in delta_keys]


def marginal_table(plan: Plan) -> Table:
    delta_keys = list(dict.fromkeys(_delta_key(e) for e in plan.what_if))
    rows = [_row(i, e, delta_keys) for i, e in enumerate(plan.what_if)]
    return table([label(k) for k in (*_TEXT_KEYS, *delta_keys)], rows,
                 empty_text="The plan carries no marginal values (no LP duals or re-solves).")


_POINT_COLUMNS = ("objective", "status", "tco_per_year_usd", "it_power_max_w", "it_power_nameplate_w",
                  "co2e_t_per_year", "gpus")


def pareto_table(plan: Plan) -> Table:
    points = objective_points(plan)
    front = pareto_front(points)
    rows = []
    for p, on_front in zip(points, front, strict=True):
        cells = [f.value_cell(k, getattr(p.row, k), f"{p.src}.{k}") for k in _POINT_COLUMNS]
        chosen = p.objective == plan.scenario.objective
        rows.append(cells + [Cell(f.yes_no(on_front)), Cell("this plan" if chosen else "", flag=chosen)])
    return table([label(k) for k in _POINT_COLUMNS] + ["Pareto-optimal", "Chosen"], rows,
                 empty_text="The plan carries no alternative-objective results, so there is no "
                            "cost-versus-power trade-off to show.")


def one_point(plan: Plan) -> bool:
    """Every alternative objective lands on the chosen plan's cost and peak power (to the dollar and watt):
    there is no trade-off to draw."""
    points = objective_points(plan)
    return len(points) >= 2 and len({(round(p.cost_usd_per_year), round(p.power_w)) for p in points}) == 1


def pareto_note(plan: Plan) -> str | None:
    """The sentence shown instead of a one-dot chart."""
    if not one_point(plan):
        return None
    names = ", ".join(p.objective for p in objective_points(plan))
    return (f"Every objective ({names}) leads to the same yearly cost and peak power, so cost and power do not "
            "trade off in this scenario: the table below lists them, and no chart is drawn.")


def skipped_note(plan: Plan) -> str | None:
    """Why the what-if re-solves and objective alternatives were not computed, when they were not."""
    if not plan.analysis.skipped:
        return None
    return plan.analysis.skipped_reason or "the plan does not say why"


def build(plan: Plan) -> dict[str, Any]:
    return {"marginal": marginal_table(plan), "pareto": pareto_table(plan), "pareto_note": pareto_note(plan),
            "constraints": all_constraints_table(plan), "skipped": skipped_note(plan)}
