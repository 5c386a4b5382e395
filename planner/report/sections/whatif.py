"""Section 6, what-if: marginal values of the binding limits and the alternative-objective trade-off."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.assumptions import skipped_analysis_note
from planner.report.constraints import all_constraints_table
from planner.report.labels import label
from planner.report.pareto import marginal_values as marginal_entries
from planner.report.pareto import objective_points, pareto_front
from planner.report.tables import Cell, Table, table
from planner.schemas.plan import Plan

_LEADING_KEYS = ("limit", "constraint", "change", "method")


def _columns(entries: list[dict[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(k for e in entries for k in e if k != "kind"))
    return [k for k in _LEADING_KEYS if k in keys] + [k for k in keys if k not in _LEADING_KEYS]


def marginal_table(plan: Plan) -> Table:
    entries = marginal_entries(plan)
    columns = _columns([e for _, e in entries])
    rows = [[f.value_cell(k, e.get(k), f"what_if[{i}].{k}") for k in columns] for i, e in entries]
    return table([label(k) for k in columns], rows,
                 empty_text="The plan carries no marginal values (no LP duals or re-solves).")


_POINT_COLUMNS = ("objective", "status", "tco_per_year_usd", "it_power_max_w", "it_power_nameplate_w",
                  "co2e_t_per_year", "gpus")


def pareto_table(plan: Plan) -> Table:
    points = objective_points(plan)
    front = pareto_front(points)
    columns = [k for k in _POINT_COLUMNS if any(k in p.values for p in points)]
    rows = []
    for p, on_front in zip(points, front, strict=True):
        cells = [f.value_cell(k, p.values.get(k), f"{p.src}.{k}") for k in columns]
        chosen = p.objective == plan.scenario.objective
        rows.append(cells + [Cell(f.yes_no(on_front)), Cell("this plan" if chosen else "", flag=chosen)])
    return table([label(k) for k in columns] + ["Pareto-optimal", "Chosen"], rows,
                 empty_text="The plan carries no alternative-objective results, so there is no "
                            "cost-versus-power trade-off to show.")


def skipped_note(plan: Plan) -> str | None:
    """The solver's note, when it skipped the what-if re-solves and the plan carries no what-if result."""
    if plan.what_if or getattr(plan, "objective_alternatives", None):
        return None
    return skipped_analysis_note(plan.assumptions)


def build(plan: Plan) -> dict[str, Any]:
    return {"marginal": marginal_table(plan), "pareto": pareto_table(plan),
            "constraints": all_constraints_table(plan), "skipped": skipped_note(plan)}
