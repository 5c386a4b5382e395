"""Everything a report shows, built once from the plan and shared by the Markdown and HTML templates."""

from __future__ import annotations

import json
from typing import Any

from planner.report.pareto import objective_points, pareto_front
from planner.report.sections import appendix, bom, energy, money, power, roadmap, summary, whatif, workloads
from planner.report.site import SiteFacts, site_facts
from planner.report.specs import deployment_specs
from planner.schemas.plan import Plan


def build_view(plan: Plan) -> dict[str, Any]:
    facts = site_facts(plan)
    return {
        "scenario_name": plan.scenario.name,
        "description": plan.scenario.description,
        "status": plan.status,
        "tool_version": plan.tool_version,
        "schema_version": plan.schema_version,
        "summary": summary.build(plan, facts),
        "bom": bom.build(plan, facts),
        "power": power.build(plan, facts),
        "money": money.build(plan, facts),
        "energy": energy.build(plan),
        "workloads": workloads.build(plan),
        "whatif": whatif.build(plan),
        "roadmap": roadmap.build(plan),
        "appendix": appendix.build(plan, facts),
        "specs_json": json.dumps(deployment_specs(plan), indent=2, ensure_ascii=False),
    }


def build_charts(plan: Plan) -> dict[str, str | None]:
    """Inline SVG charts for the HTML report; None where there is no data."""
    from planner.report import charts

    facts = site_facts(plan)
    return {"rack_power": _rack_chart(plan, facts, charts),
            "cost": _cost_chart(plan, facts, charts),
            "pareto": _pareto_chart(plan, charts)}


def _rack_chart(plan: Plan, facts: SiteFacts, charts: Any) -> str | None:
    if not plan.racks:
        return None
    kw = 1e-3
    return str(charts.rack_power_svg([r.id for r in plan.racks],
                                     [r.power_nameplate_w * kw for r in plan.racks],
                                     [r.power_max_w * kw for r in plan.racks],
                                     [r.power_avg_w * kw for r in plan.racks],
                                     [r.usable_cap_w * kw for r in plan.racks],
                                     facts.air_cooling_limit_w * kw))


def _cost_chart(plan: Plan, facts: SiteFacts, charts: Any) -> str | None:
    parts = money.annual_cost_parts(plan, facts)
    if not any(value > 0 for _, value in parts):
        return None
    return str(charts.cost_svg([label for label, _ in parts], [value for _, value in parts]))


def _pareto_chart(plan: Plan, charts: Any) -> str | None:
    points = objective_points(plan)
    if len(points) < 2 or whatif.one_point(plan):  # one dot says nothing: the section says so in a sentence
        return None
    return str(charts.pareto_svg(points, pareto_front(points), plan.scenario.objective))
