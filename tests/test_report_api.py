"""The public API of planner.report, and graceful rendering of sparse or unusual plans."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

import planner.report
from planner.errors import InputError, PlanFileError
from planner.plan import load_plan, parse_plan
from planner.report import render_report
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
    """The plan schema types the site: a report never sees text where a number belongs or a missing key."""
    data = json.loads((FIXTURES / "chatbot.plan.json").read_text(encoding="utf-8"))
    data["site"] = {"pue": "high"}
    with pytest.raises(PlanFileError) as info:
        parse_plan(json.dumps(data), "plan.json")
    message = str(info.value)
    assert "site.pue: Input should be a valid number, got 'high'" in message
    for key in ("site.feeds", "site.cooling", "site.rack_power_cap_kw"):
        assert f"{key}: Field required" in message


def empty_plan() -> Plan:
    plan = load("chatbot")
    totals = plan.totals.model_copy(update={k: 0 for k in type(plan.totals).model_fields if k != "sizing_margin"})
    return plan.model_copy(update={"status": "infeasible", "deployments": [], "servers": [], "racks": [],
                                   "totals": totals, "alternatives": [], "what_if": [], "assumptions": [],
                                   "constraints": [], "objective_alternatives": []})


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


def test_objective_alternatives_are_the_pareto_points() -> None:
    plan = load("fleet")
    found = objective_points(plan)
    assert [p.src for p in found] == [f"objective_alternatives[{i}]" for i in range(len(plan.objective_alternatives))]
    assert [p.objective for p in found] == ["min_tco", "min_power", "min_gpus", "min_carbon"]
    html = render_report(plan, "html")
    assert 'aria-label="Cost versus power of alternative objectives"' in html
    assert 'data-src="objective_alternatives[1].tco_per_year_usd"' in html


def test_pareto_front() -> None:
    found = objective_points(load("fleet"))
    front = dict(zip([p.objective for p in found], pareto_front(found), strict=True))
    assert front == {"min_tco": True, "min_power": True, "min_gpus": False, "min_carbon": False}


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_the_report_reads_typed_fields_only(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No report code reads a plan section as a 1.x dict (``site.get("pue")``, ``row["name"]``): with the
    dict-style access of schemas.plan.MappingView switched off, every format still renders."""
    from planner.schemas.plan import MappingView

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the report read a plan section as a dict")

    for method in ("get", "__getitem__", "__contains__", "keys", "items", "values"):
        monkeypatch.setattr(MappingView, method, refuse)
    for fmt in ("md", "html", "json"):
        assert render_report(load(name), fmt)
