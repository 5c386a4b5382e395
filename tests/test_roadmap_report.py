"""The report of a roadmap opens with its Roadmap section; single-period reports have none."""

from __future__ import annotations

from pathlib import Path

import pytest
from roadmap_helpers import roadmap, scenario

from planner.plan.io import load_plan
from planner.report.render import _html_env, _markdown_env
from planner.report.sections import roadmap as section
from planner.report.view import build_view
from planner.roadmap.solve import solve_roadmap

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def _plan(tmp_path: Path):  # type: ignore[no-untyped-def]
    horizon = {"period": "quarter", "count": 3, "start": "2027-Q1",
               "traffic": {"chat": {"growth_per_period": 3.0}}, "site": [{"from_period": 2, "racks": 1}]}
    owned = [{"gpu": "h100-sxm", "servers": 1, "remaining_life_periods": 3}]
    return solve_roadmap(roadmap(tmp_path, scenario(horizon=horizon, hardware={"gpus": ["h100-sxm"], "owned": owned})))


def test_the_roadmap_section_answers_what_to_order_when(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    view = section.build(plan)
    assert view is not None
    md = _markdown_env().get_template("report.md.j2").render(**build_view(plan))
    head = md[:md.index("## 1. Summary")]
    assert "## Roadmap" in head
    assert "- Order " in head and "2027-Q1" in head
    assert "The racks limit first binds in 2027-Q2" in head
    assert "| racks | 2027-Q2 |" in head
    # the single-period sections after it describe the first period's fleet on site, not an order
    assert "GPUs on site in 2027-Q1" in md and "Total installed in 2027-Q1" in md
    assert "Capex of the fleet on site in 2027-Q1" in md
    html = _html_env().get_template("report.html.j2").render(**build_view(plan), charts={
        "rack_power": None, "cost": None, "pareto": None})
    assert '<section id="roadmap">' in html and html.index('id="roadmap"') < html.index('id="summary"')


def test_a_single_period_plan_has_no_roadmap_section() -> None:
    plan = load_plan(ROOT / "plans" / "chatbot" / "plan.json")
    assert section.build(plan) is None
    md = _markdown_env().get_template("report.md.j2").render(**build_view(plan))
    assert "## Roadmap" not in md and "on site in" not in md


def test_the_roadmap_section_shows_each_what_if_per_period(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "start": "2027-Q1",
               "traffic": {"chat": {"growth_per_period": 3.0}}, "site": [{"from_period": 2, "racks": 1}]}
    owned = [{"gpu": "h100-sxm", "servers": 1, "remaining_life_periods": 3}]
    doc = scenario(horizon=horizon, hardware={"gpus": ["h100-sxm"], "owned": owned})
    plan = solve_roadmap(roadmap(tmp_path, doc), analysis=True)
    md = _markdown_env().get_template("report.md.j2").render(**build_view(plan))
    head = md[:md.index("## 1. Summary")]
    assert "### What if a binding limit were larger" in head
    assert "- +1 racks from 2027-Q2 (from 1 to 2): the racks limit" in head
    assert head.endswith("\n\n")  # the section ends before the summary's heading
