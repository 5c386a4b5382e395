"""JSON deployment specs for DevOps: one flat record per deployment, derived from the plan only.

Meaning of the keys (all powers are IT input power at the wall, before PUE):
- ``estimated_power_per_gpu_watts``: IT power per GPU incl. server share, average (the deployment's
  expected average IT power / its GPUs; not the GPU's own draw, so it can exceed the GPU's TDP).
- ``total_power_watts``: expected peak power of the deployment (at peak traffic).
- ``power_watts``: the three figures, nameplate (circuits), expected peak, expected average.
- ``cooling_requirement_btu_hr``: heat at the expected peak (W x 3.412142).
- ``recommended_psu_watts``: rating of one PSU of the server model (``psu`` gives count, redundancy).
- ``annual_electricity_cost_usd``: the plan's electricity cost, apportioned by each deployment's
  share of expected average power (so the deployments add up to the plan's total).
- ``assumptions.duty_cycle``: expected average / expected peak power of the deployment.
"""

from __future__ import annotations

from typing import Any

from planner.report.site import SiteFacts, site_facts
from planner.schemas.plan import Deployment, Plan, ServerGroup
from planner.units import BTU_PER_HR_PER_W, HOURS_PER_YEAR

_W_DECIMALS = 1
_USD_DECIMALS = 2
_RATIO_DECIMALS = 4


def _group_of(plan: Plan, gpu: str) -> ServerGroup | None:
    return next((g for g in plan.servers if g.gpu == gpu), None)


def _cost_share_usd(plan: Plan, d: Deployment) -> float:
    total_avg_w = sum(x.power_avg_w for x in plan.deployments)
    if total_avg_w <= 0:
        return 0.0
    return plan.totals.annual_energy_cost_usd * d.power_avg_w / total_avg_w


def _psu(group: ServerGroup | None) -> dict[str, Any]:
    if group is None:
        return {"server_model": None, "count_per_server": None, "redundancy": None, "efficiency_tier": None}
    return {"server_model": group.server_model, "count_per_server": group.psu_count,
            "redundancy": group.psu_redundancy, "efficiency_tier": group.psu_efficiency_tier}


def deployment_spec(plan: Plan, d: Deployment, facts: SiteFacts) -> dict[str, Any]:
    group = _group_of(plan, d.gpu)
    rating = group.psu_rating_w if group is not None else None
    return {
        "workload": d.workload, "model": d.model, "gpu": d.gpu, "precision": d.precision,
        "tensor_parallel": d.tp, "pipeline_parallel": d.pp, "replicas": d.replicas,
        "batch_size": d.batch_size, "num_gpus": d.gpus,
        "estimated_power_per_gpu_watts": round(d.power_per_gpu_avg_w, _W_DECIMALS),
        "total_power_watts": round(d.power_max_w, _W_DECIMALS),
        "power_watts": {"nameplate": round(d.power_nameplate_w, _W_DECIMALS),
                        "expected_peak": round(d.power_max_w, _W_DECIMALS),
                        "expected_average": round(d.power_avg_w, _W_DECIMALS)},
        "cooling_requirement_btu_hr": round(d.power_max_w * BTU_PER_HR_PER_W, _W_DECIMALS),
        "recommended_psu_watts": None if rating is None else round(rating, _W_DECIMALS),
        "psu": _psu(group),
        "annual_electricity_cost_usd": round(_cost_share_usd(plan, d), _USD_DECIMALS),
        "assumptions": {
            "duty_cycle": round(d.power_avg_w / d.power_max_w if d.power_max_w else 0.0, _RATIO_DECIMALS),
            "electricity_rate_per_kwh": facts.electricity_usd_per_kwh,
            "pue": facts.pue,
            "hours_per_year": HOURS_PER_YEAR,
        },
    }


def deployment_specs(plan: Plan) -> list[dict[str, Any]]:
    """One JSON-ready spec per deployment of ``plan``, in plan order (pure and deterministic)."""
    facts = site_facts(plan)
    return [deployment_spec(plan, d, facts) for d in plan.deployments]
