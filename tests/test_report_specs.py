"""JSON deployment specs (issue 4 item 8): required keys, values traced to the plan, JSON output."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import deployment_specs, render_report
from planner.schemas.plan import Plan
from planner.units import BTU_PER_HR_PER_W

FIXTURES = Path(__file__).parent / "fixtures" / "report"
REQUIRED = ("model", "gpu", "num_gpus", "estimated_power_per_gpu_watts", "total_power_watts",
            "cooling_requirement_btu_hr", "recommended_psu_watts", "annual_electricity_cost_usd",
            "assumptions")


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_specs_have_the_required_keys(name: str) -> None:
    specs = deployment_specs(load(name))
    assert specs
    for spec in specs:
        assert set(REQUIRED) <= set(spec)
        assert set(spec["assumptions"]) >= {"duty_cycle", "electricity_rate_per_kwh", "pue"}


def test_spec_values_come_from_the_plan() -> None:
    plan = load("fleet")
    for d, spec in zip(plan.deployments, deployment_specs(plan), strict=True):
        group = next(g for g in plan.servers if g.gpu == d.gpu)
        assert (spec["model"], spec["gpu"], spec["num_gpus"]) == (d.model, d.gpu, d.gpus)
        assert spec["estimated_power_per_gpu_watts"] == pytest.approx(d.power_per_gpu_avg_w, abs=0.05)
        assert spec["total_power_watts"] == pytest.approx(d.power_max_w, abs=0.05)
        assert spec["cooling_requirement_btu_hr"] == pytest.approx(d.power_max_w * BTU_PER_HR_PER_W, abs=0.05)
        assert spec["recommended_psu_watts"] == group.psu_rating_w
        assert spec["assumptions"]["pue"] == plan.site["pue"]
        assert spec["assumptions"]["electricity_rate_per_kwh"] == plan.site["electricity_usd_per_kwh"]
        assert spec["assumptions"]["duty_cycle"] == pytest.approx(d.power_avg_w / d.power_max_w, abs=5e-5)


def test_electricity_cost_adds_up_to_the_plan_total() -> None:
    plan = load("fleet")
    total = sum(s["annual_electricity_cost_usd"] for s in deployment_specs(plan))
    assert total == pytest.approx(plan.totals.annual_energy_cost_usd, abs=0.01 * len(plan.deployments))


def test_json_format_is_the_specs() -> None:
    plan = load("chatbot")
    text = render_report(plan, "json")
    assert text.endswith("\n")
    assert json.loads(text) == deployment_specs(plan)


def test_specs_are_in_the_markdown_and_html() -> None:
    plan = load("chatbot")
    block = json.dumps(deployment_specs(plan), indent=2)
    assert f"```json\n{block}\n```" in render_report(plan, "md")
    assert block in html.unescape(render_report(plan, "html"))
