"""The public API of planner.report, and graceful rendering of sparse or unusual plans."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import planner.report
from planner.errors import InputError, PlanFileError
from planner.plan import load_plan
from planner.report import deployment_specs, render_report
from planner.report.pareto import objective_points, pareto_front
from planner.schemas.plan import Plan

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


def test_public_api_is_two_functions() -> None:
    assert planner.report.__all__ == ["deployment_specs", "render_report"]
    public = {name for name, value in vars(planner.report).items()
              if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"}
    assert public == set(planner.report.__all__)


def test_unknown_format_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        render_report(load("chatbot"), "pdf")


def test_missing_site_keys_are_reported_together() -> None:
    plan = load("chatbot")
    with pytest.raises(PlanFileError) as info:
        deployment_specs(plan.model_copy(update={"site": {"pue": "high"}}))
    message = str(info.value)
    assert "site.pue must be a number, got 'high'" in message
    for key in ("site.feeds", "site.cooling", "site.rack_power_cap_kw"):
        assert key in message


def empty_plan() -> Plan:
    plan = load("chatbot")
    totals = plan.totals.model_copy(update={k: 0 for k in type(plan.totals).model_fields})
    return plan.model_copy(update={"status": "infeasible", "deployments": [], "servers": [], "racks": [],
                                   "totals": totals, "alternatives": [], "what_if": [], "assumptions": [],
                                   "constraints": [], "objective": {}})


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_an_empty_infeasible_plan_renders(fmt: str) -> None:
    text = render_report(empty_plan(), fmt)
    if fmt == "md":
        assert "INFEASIBLE" in text
        assert "No racks." in text
        assert "The plan lists no assumptions." in text
    if fmt == "html":
        assert "<svg" not in text
    if fmt == "json":
        assert text == "[]\n"


class PlanWithObjectives(Plan):
    """The plan schema with the proposed ``objective_alternatives`` field."""

    objective_alternatives: list[dict[str, float | str]] = []


def test_dedicated_objective_alternatives_field_is_preferred() -> None:
    plan = load("fleet")
    points = [dict(w) for w in plan.what_if if w.get("kind") == "objective"]
    rest = [w for w in plan.what_if if w.get("kind") != "objective"]
    data = {**plan.model_dump(), "what_if": rest, "objective_alternatives": points}
    extended = PlanWithObjectives.model_validate(data)
    found = objective_points(extended)
    assert [p.src for p in found] == [f"objective_alternatives[{i}]" for i in range(len(points))]
    html = render_report(extended, "html")
    assert 'aria-label="Cost versus power of alternative objectives"' in html
    assert 'data-src="objective_alternatives[1].tco_per_year_usd"' in html


def test_pareto_front() -> None:
    found = objective_points(load("fleet"))
    front = dict(zip([p.objective for p in found], pareto_front(found), strict=True))
    assert front == {"min_tco": True, "min_power": True, "min_gpus": False, "min_carbon": False}
