"""Runs of alike rows (identical racks, their power-cap constraints) are one table row naming every member."""

from __future__ import annotations

import re

import pytest

from planner.report.sections.power import rack_table
from planner.report.tables import Cell, group_alike, table
from planner.schemas.plan import Plan

pytestmark = pytest.mark.unit


def _row(name: str, value: str, flag: bool = False) -> list[Cell]:
    return [Cell(name, flag=flag), Cell(value, src=f"x.{name}", number=True)]


def test_consecutive_alike_rows_become_one_row_naming_the_run() -> None:
    rows = [_row("r01", "1 kW"), _row("r02", "1 kW"), _row("r03", "1 kW"), _row("r04", "2 kW"), _row("r05", "1 kW")]
    grouped = group_alike(table(["Rack", "Power"], rows), "racks")
    assert [[c.text for c in r] for r in grouped.rows] == [["r01 to r03 (3 racks)", "1 kW"], ["r04", "2 kW"],
                                                            ["r05", "1 kW"]]
    assert grouped.rows[0][1].src == "x.r01"
    assert grouped.numeric_columns == frozenset({1})


def test_a_flag_separates_rows_that_show_the_same_text() -> None:
    rows = [_row("r01", "1 kW"), _row("r02", "1 kW", flag=True)]
    assert len(group_alike(table(["Rack", "Power"], rows), "racks").rows) == 2


def test_no_rows_stays_empty() -> None:
    grouped = group_alike(table(["Rack"], [], empty_text="No racks."), "racks")
    assert grouped.rows == [] and grouped.empty_text == "No racks."


def test_the_rack_table_names_every_rack_once(fleet_plan: Plan) -> None:
    counts = []
    for row in rack_table(fleet_plan).rows:
        run = re.fullmatch(r".+ to .+ \((\d+) racks\)", row[0].text)
        counts.append(int(run.group(1)) if run else 1)
    assert sum(counts) == len(fleet_plan.racks)
    assert len(counts) < len(fleet_plan.racks)


@pytest.fixture
def fleet_plan() -> Plan:
    from test_report_figures import load

    plan = load("fleet")
    alike = plan.racks[-1]
    return plan.model_copy(update={"racks": [*plan.racks, *[alike.model_copy(update={"id": f"Z{k:02d}"})
                                                              for k in range(4)]]})
