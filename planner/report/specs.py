"""JSON deployment specs for DevOps and facilities: one record per deployment, from the plan only.

Every power is IT input power at the wall, before PUE; each key says whose power it is:
- ``gpu_power_watts``: the GPUs' own draw, without the server (per GPU and for the deployment, at
  the expected average and the expected peak); null when the plan does not record the server's
  share (``servers[].server_overhead_w_per_gpu``, or the "<gpu> server" assumption of older plans).
- ``power_per_gpu_with_server_share_watts``: IT power per GPU including its share of the server
  (CPUs, memory, NICs, fans, PSU loss); it can exceed the GPU's TDP.
- ``node_power_watts``: one server (node) running this deployment: its nameplate maximum, and the
  expected peak and average of a full node (gpus_per_server GPUs with the server's share).
- ``total_power_watts``: expected peak IT power of the deployment (GPUs with their server share).
- ``power_watts``: the deployment's three figures: nameplate (circuits), expected peak, expected average.
- ``cooling_requirement_btu_hr``: heat at the expected peak (W x 3.412142).
- ``psu``: the server's power-supply set: count per server, rating of each PSU, redundancy
  (``needed`` PSUs carry the server, ``redundant`` are spares), the set as text ("6 x 3,300 W (5+1)")
  and what the needed PSUs deliver together.
- ``gpus_bought``: every GPU of this type the plan buys (whole servers): in this deployment, in the
  type's other deployments, and unassigned (bought with a whole server, idle).
- ``annual_electricity_cost_usd``: the plan's electricity cost apportioned by expected average power.
- ``role``, ``speculative``, ``gpu_power_limit_watts``, ``launch_command``: the serving decisions, each only
  when the plan records it (a disaggregated pool, speculative decoding on, GPUs below TDP, a launch spec).
- ``assumptions.duty_cycle``: share of the time the deployment is busy at peak-equivalent load (the
  workload's average / peak traffic: a year's requests served at peak rate take this share of the
  hours). ``assumptions.average_to_peak_power`` is the expected average / expected peak power.

Changed from planner 0.1's first specs (issue 14): ``estimated_power_per_gpu_watts`` (IT power per GPU with
the server's share, read as the GPU's draw) is now ``power_per_gpu_with_server_share_watts``;
``recommended_psu_watts`` (one PSU's rating, read as a recommendation) is ``psu.rating_per_psu_watts``;
``duty_cycle`` was the average / peak power and is now the share of time (the power ratio is
``average_to_peak_power``). The other keys keep their names and meanings.
"""

from __future__ import annotations

import re
from typing import Any

from planner.report.psu import parse_redundancy
from planner.report.site import SiteFacts, site_facts
from planner.schemas.plan import Deployment, Plan, ServerGroup
from planner.units import BTU_PER_HR_PER_W, HOURS_PER_YEAR

_W_DECIMALS = 1
_USD_DECIMALS = 2
_RATIO_DECIMALS = 4
_OVERHEAD_IN_ASSUMPTION = re.compile(r"([0-9.]+) W non-GPU per GPU")


def _group_of(plan: Plan, gpu: str) -> ServerGroup | None:
    return next((g for g in plan.servers if g.gpu == gpu), None)


def _w(value: float | None) -> float | None:
    return None if value is None else round(value, _W_DECIMALS)


def _cost_share_usd(plan: Plan, d: Deployment) -> float:
    total_avg_w = sum(x.power_avg_w for x in plan.deployments)
    if total_avg_w <= 0:
        return 0.0
    return plan.totals.annual_energy_cost_usd * d.power_avg_w / total_avg_w


def server_overhead_w_per_gpu(plan: Plan, gpu: str) -> float | None:
    """The server's average non-GPU power per GPU of this type, as the plan records it: the server
    group's field, else the "<gpu> server" assumption row older plans write; None when neither does."""
    group = _group_of(plan, gpu)
    if group is not None and group.server_overhead_w_per_gpu is not None:
        return group.server_overhead_w_per_gpu
    row = next((a for a in plan.assumptions if a.name == f"{gpu} server"), None)
    found = _OVERHEAD_IN_ASSUMPTION.search(row.value) if row is not None else None
    return float(found.group(1)) if found else None


def _gpu_power(d: Deployment, overhead_w: float | None) -> dict[str, float | None]:
    if overhead_w is None or d.gpus <= 0:
        return {"per_gpu_expected_average": None, "per_gpu_expected_peak": None,
                "expected_average": None, "expected_peak": None}
    avg, peak = d.power_avg_w - overhead_w * d.gpus, d.power_max_w - overhead_w * d.gpus
    return {"per_gpu_expected_average": _w(avg / d.gpus), "per_gpu_expected_peak": _w(peak / d.gpus),
            "expected_average": _w(avg), "expected_peak": _w(peak)}


def _node_power(d: Deployment, group: ServerGroup | None) -> dict[str, float | None]:
    if group is None or d.gpus <= 0:
        return {"nameplate": None, "expected_peak": None, "expected_average": None}
    per_node = group.gpus_per_server / d.gpus
    return {"nameplate": _w(group.server_max_power_w), "expected_peak": _w(d.power_max_w * per_node),
            "expected_average": _w(d.power_avg_w * per_node)}


def psu_set(group: ServerGroup | None) -> dict[str, Any]:
    """The server's PSU set: count x rating, redundancy, and the power the needed PSUs deliver."""
    keys = ("server_model", "count_per_server", "rating_per_psu_watts", "redundancy", "needed", "redundant",
            "set", "capacity_without_redundant_watts", "efficiency_tier")
    if group is None:
        return dict.fromkeys(keys)
    count, rating = group.psu_count, group.psu_rating_w
    red = parse_redundancy(group.psu_redundancy, count)
    text = None
    if count is not None and rating is not None:
        text = f"{count} x {rating:,.0f} W" + (f" ({group.psu_redundancy})" if group.psu_redundancy else "")
    return {"server_model": group.server_model, "count_per_server": count, "rating_per_psu_watts": _w(rating),
            "redundancy": group.psu_redundancy, "needed": red.needed if red else None,
            "redundant": red.spare if red else None, "set": text,
            "capacity_without_redundant_watts": _w(red.needed * rating) if red and rating is not None else None,
            "efficiency_tier": group.psu_efficiency_tier}


def gpus_bought(plan: Plan, d: Deployment) -> dict[str, int | None]:
    """Every GPU of the deployment's type the plan buys, and where each one goes."""
    group = _group_of(plan, d.gpu)
    if group is None:
        return {"servers": None, "gpus_per_server": None, "total": None, "in_this_deployment": d.gpus,
                "in_other_deployments": None, "unassigned": None}
    in_use = sum(x.gpus for x in plan.deployments if x.gpu == d.gpu)
    return {"servers": group.servers, "gpus_per_server": group.gpus_per_server, "total": group.gpus,
            "in_this_deployment": d.gpus, "in_other_deployments": in_use - d.gpus,
            "unassigned": group.gpus - in_use}


def duty_cycle(plan: Plan, d: Deployment) -> float | None:
    """Share of the time at peak-equivalent load: the workload's average / peak traffic."""
    row = next((w for w in plan.workloads if w.name == d.workload), None)
    if row is None or row.peak_requests_per_s <= 0:
        return None
    return round(row.average_requests_per_s / row.peak_requests_per_s, _RATIO_DECIMALS)


def deployment_spec(plan: Plan, d: Deployment, facts: SiteFacts) -> dict[str, Any]:
    group = _group_of(plan, d.gpu)
    return {
        "workload": d.workload, "model": d.model, "gpu": d.gpu, "precision": d.precision,
        "tensor_parallel": d.tp, "pipeline_parallel": d.pp, "replicas": d.replicas,
        "batch_size": d.batch_size, "num_gpus": d.gpus,
        "gpu_power_watts": _gpu_power(d, server_overhead_w_per_gpu(plan, d.gpu)),
        "power_per_gpu_with_server_share_watts": {
            "expected_average": _w(d.power_per_gpu_avg_w),
            "expected_peak": _w(d.power_max_w / d.gpus) if d.gpus else None},
        "node_power_watts": _node_power(d, group),
        "total_power_watts": _w(d.power_max_w),
        "power_watts": {"nameplate": _w(d.power_nameplate_w), "expected_peak": _w(d.power_max_w),
                        "expected_average": _w(d.power_avg_w)},
        "cooling_requirement_btu_hr": round(d.power_max_w * BTU_PER_HR_PER_W, _W_DECIMALS),
        "psu": psu_set(group),
        "gpus_bought": gpus_bought(plan, d),
        "annual_electricity_cost_usd": round(_cost_share_usd(plan, d), _USD_DECIMALS),
        "assumptions": {
            "duty_cycle": duty_cycle(plan, d),
            "average_to_peak_power": round(d.power_avg_w / d.power_max_w if d.power_max_w else 0.0,
                                           _RATIO_DECIMALS),
            "electricity_rate_per_kwh": facts.electricity_usd_per_kwh,
            "pue": facts.pue,
            "hours_per_year": HOURS_PER_YEAR,
        },
    }


def serving_spec(plan: Plan, d: Deployment) -> dict[str, Any]:
    """The deployment's serving decisions, each key only when the plan records it: ``role`` (a pool of
    disaggregated serving), ``speculative`` (its settings), ``gpu_power_limit_watts`` (below TDP) and
    ``launch_command`` (one replica's engine command as one shell line)."""
    out: dict[str, Any] = {}
    role = getattr(d, "role", None)
    if role in ("prefill", "decode"):
        out["role"] = role
    if d.speculative is not None:
        out["speculative"] = d.speculative.model_dump(mode="json")
    if d.power_limit_w is not None and any(g.gpu == d.gpu and g.power_limit_w == d.power_limit_w for g in plan.servers):
        out["gpu_power_limit_watts"] = _w(d.power_limit_w)
    if d.launch is not None:
        out["launch_command"] = d.launch.command
    return out


def deployment_specs(plan: Plan) -> list[dict[str, Any]]:
    """One JSON-ready spec per deployment of ``plan``, in plan order (pure and deterministic)."""
    facts = site_facts(plan)
    return [{**deployment_spec(plan, d, facts), **serving_spec(plan, d)} for d in plan.deployments]
