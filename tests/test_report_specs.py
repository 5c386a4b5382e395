"""JSON deployment specs (issue 4 item 8, issue 14 item 6): required keys, values traced to the plan,
each power named for whose it is (GPU only, with the server's share, per node), the PSU set, duty
cycle as a share of time, every GPU bought; JSON output."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import deployment_specs, render_report
from planner.report.specs import server_overhead_w_per_gpu
from planner.schemas.plan import Plan
from planner.units import BTU_PER_HR_PER_W

FIXTURES = Path(__file__).parent / "fixtures" / "report"
REQUIRED = ("model", "gpu", "num_gpus", "gpu_power_watts", "power_per_gpu_with_server_share_watts",
            "node_power_watts", "total_power_watts", "cooling_requirement_btu_hr", "psu", "gpus_bought",
            "annual_electricity_cost_usd", "assumptions")
RENAMED = ("estimated_power_per_gpu_watts", "recommended_psu_watts")
"""Keys whose meaning was wrong: gone, so a reader of the old key fails instead of misreading."""


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_specs_have_the_required_keys(name: str) -> None:
    specs = deployment_specs(load(name))
    assert specs
    for spec in specs:
        assert set(REQUIRED) <= set(spec)
        assert not set(RENAMED) & set(spec)
        assert set(spec["assumptions"]) >= {"duty_cycle", "average_to_peak_power", "electricity_rate_per_kwh", "pue"}


def test_spec_values_come_from_the_plan() -> None:
    plan = load("fleet")
    for d, spec in zip(plan.deployments, deployment_specs(plan), strict=True):
        group = next(g for g in plan.servers if g.gpu == d.gpu)
        assert (spec["model"], spec["gpu"], spec["num_gpus"]) == (d.model, d.gpu, d.gpus)
        shared = spec["power_per_gpu_with_server_share_watts"]
        assert shared["expected_average"] == pytest.approx(d.power_per_gpu_avg_w, abs=0.05)
        assert shared["expected_peak"] == pytest.approx(d.power_max_w / d.gpus, abs=0.05)
        assert spec["total_power_watts"] == pytest.approx(d.power_max_w, abs=0.05)
        assert spec["cooling_requirement_btu_hr"] == pytest.approx(d.power_max_w * BTU_PER_HR_PER_W, abs=0.05)
        assert spec["psu"]["rating_per_psu_watts"] == group.psu_rating_w
        assert spec["psu"]["count_per_server"] == group.psu_count
        assert spec["assumptions"]["pue"] == plan.site["pue"]
        assert spec["assumptions"]["electricity_rate_per_kwh"] == plan.site["electricity_usd_per_kwh"]
        assert spec["assumptions"]["average_to_peak_power"] == pytest.approx(d.power_avg_w / d.power_max_w, abs=5e-5)
        row = next(w for w in plan.workloads if w.name == d.workload)
        assert spec["assumptions"]["duty_cycle"] == pytest.approx(
            row.average_requests_per_s / row.peak_requests_per_s, abs=5e-5)


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


def test_gpu_only_power_is_the_deployment_power_less_the_server_share() -> None:
    plan = load("fleet")
    for d, spec in zip(plan.deployments, deployment_specs(plan), strict=True):
        overhead = server_overhead_w_per_gpu(plan, d.gpu)
        assert overhead is not None and overhead > 0
        gpu = spec["gpu_power_watts"]
        assert gpu["expected_average"] == pytest.approx(d.power_avg_w - overhead * d.gpus, abs=0.05)
        assert gpu["per_gpu_expected_peak"] == pytest.approx((d.power_max_w - overhead * d.gpus) / d.gpus, abs=0.05)
        # the GPU-only figure is below the figure with the server's share, by exactly that share
        shared = spec["power_per_gpu_with_server_share_watts"]["expected_average"]
        assert shared - gpu["per_gpu_expected_average"] == pytest.approx(overhead, abs=0.1)


def test_the_server_group_field_wins_over_the_assumption_row() -> None:
    plan = load("chatbot")
    group = plan.servers[0]
    recorded = plan.model_copy(update={"servers": [group.model_copy(update={"server_overhead_w_per_gpu": 100.0})]})
    assert server_overhead_w_per_gpu(recorded, group.gpu) == 100.0
    bare = plan.model_copy(update={"assumptions": [a for a in plan.assumptions if not a.name.endswith(" server")]})
    assert server_overhead_w_per_gpu(bare, group.gpu) is None
    assert set(deployment_specs(bare)[0]["gpu_power_watts"].values()) == {None}


def test_node_power_is_a_full_server_of_the_deployment() -> None:
    plan = load("fleet")
    for d, spec in zip(plan.deployments, deployment_specs(plan), strict=True):
        group = next(g for g in plan.servers if g.gpu == d.gpu)
        node = spec["node_power_watts"]
        assert node["nameplate"] == group.server_max_power_w
        assert node["expected_peak"] == pytest.approx(d.power_max_w / d.gpus * group.gpus_per_server, abs=0.05)


def test_the_psu_set_says_count_rating_and_redundancy() -> None:
    plan = load("chatbot")
    group = plan.servers[0]
    psu = deployment_specs(plan)[0]["psu"]
    assert psu["set"] == f"{group.psu_count} x {group.psu_rating_w:,.0f} W ({group.psu_redundancy})"
    assert psu["needed"] + psu["redundant"] == group.psu_count
    assert psu["capacity_without_redundant_watts"] == pytest.approx(psu["needed"] * group.psu_rating_w)


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_every_gpu_bought_is_accounted_for(name: str) -> None:
    plan = load(name)
    for d, spec in zip(plan.deployments, deployment_specs(plan), strict=True):
        bought = spec["gpus_bought"]
        group = next(g for g in plan.servers if g.gpu == d.gpu)
        assert bought["total"] == group.gpus == group.servers * group.gpus_per_server
        assert bought["in_this_deployment"] + bought["in_other_deployments"] + bought["unassigned"] == bought["total"]
        assert bought["unassigned"] >= 0
