"""Section 5, per workload: inputs, chosen configuration, SLO margins, power, runner-ups."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.labels import label
from planner.report.serving import how_to_run, serving_table
from planner.report.tables import Cell, Table, key_value_table, table
from planner.schemas.plan import Alternative, Deployment, Plan, WorkloadRow

POWER_PER_GPU_LABEL = "IT power per GPU incl. server share, average"
"""``power_per_gpu_avg_w`` is the deployment's IT power / its GPUs: the GPU's own draw plus its share
of the server's non-GPU power, so it can exceed the GPU's TDP; never call it GPU power."""


def workload_names(plan: Plan) -> list[str]:
    """Workloads in the order the plan deploys them, then any the plan lists but does not deploy."""
    names = list(dict.fromkeys(d.workload for d in plan.deployments))
    return names + [w.name for w in plan.workloads if w.name not in names]


INPUT_KEYS = tuple(sorted(k for k in WorkloadRow.model_fields if k != "name"))
"""The rows of a workload's inputs table, in key order."""


def inputs_table(plan: Plan, name: str) -> Table:
    for i, w in enumerate(plan.workloads):
        if w.name == name:
            rows = [(label(k), f.value_cell(k, getattr(w, k), f"workloads[{i}].{k}")) for k in INPUT_KEYS]
            return key_value_table(rows, header=("Input", "Value"))
    return key_value_table([], empty_text="The plan lists no inputs for this workload.")


def config_table(plan: Plan, indices: list[int]) -> Table:
    # DP and EP columns only where a deployment records them (a MoE replica of data-parallel ranks)
    layout = any(plan.deployments[i].dp is not None or plan.deployments[i].ep is not None for i in indices)
    rows = []
    for i in indices:
        d = plan.deployments[i]
        src = f"deployments[{i}]"
        parallel = [f.fig(1 if v is None else v, f.COUNT, f"{src}.{k}") for k, v in (("dp", d.dp), ("ep", d.ep))]
        rows.append([Cell(d.model), Cell(d.gpu), Cell(d.precision), f.fig(d.tp, f.COUNT, f"{src}.tp"),
                     f.fig(d.pp, f.COUNT, f"{src}.pp"), *(parallel if layout else []),
                     f.fig(d.batch_size, f.COUNT, f"{src}.batch_size"),
                     f.fig(d.replicas, f.COUNT, f"{src}.replicas"), f.fig(d.gpus, f.COUNT, f"{src}.gpus")])
    return table(["Model", "GPU", "Precision", "TP", "PP", *(["DP", "EP"] if layout else []), "Batch", "Replicas",
                  "GPUs"], rows, empty_text="Not deployed.")


def slo_margin(planned_s: float, slo_s: float | None) -> float | None:
    """Share of the SLO left unused: (SLO - planned) / SLO; negative means the SLO is missed."""
    return None if slo_s is None or slo_s == 0 else (slo_s - planned_s) / slo_s


def _latency_row(label: str, d: Deployment, src: str, key: str) -> list[Cell]:
    planned = getattr(d, key)
    slo = getattr(d, f"slo_{key}")
    margin = slo_margin(planned, slo)
    return [Cell(label), f.fig(planned, f.MS_FROM_S, f"{src}.{key}"),
            f.fig(slo, f.MS_FROM_S, f"{src}.slo_{key}"),
            f.fig(margin, f.PERCENT, "derived:slo_margin", flag=margin is not None and margin < 0)]


def performance_table(d: Deployment, i: int) -> Table:
    src = f"deployments[{i}]"
    na = Cell("")
    rows = [
        [Cell("Capacity vs peak demand"), f.fig(d.capacity_requests_per_s, f.REQ_PER_S,
                                                f"{src}.capacity_requests_per_s"),
         f.fig(d.demand_requests_per_s, f.REQ_PER_S, f"{src}.demand_requests_per_s"),
         f.fig(1 - d.utilization, f.PERCENT, "derived:capacity_margin")],
        [Cell("Utilization at peak"), f.fig(d.utilization, f.PERCENT, f"{src}.utilization"), na, na],
        _latency_row("TTFT p95 at peak, k spare replicas down", d, src, "ttft_p95_s"),
        _latency_row("ITL p95, every batch slot busy", d, src, "itl_p95_s"),
        [Cell("Output tokens/s at peak"), f.fig(d.output_tokens_per_s, f.TOKENS_PER_S,
                                                f"{src}.output_tokens_per_s"), na, na],
        [Cell("IT power, nameplate share"), f.fig(d.power_nameplate_w, f.KW_FROM_W,
                                                  f"{src}.power_nameplate_w"), na, na],
        [Cell("IT power, expected peak"), f.fig(d.power_max_w, f.KW_FROM_W, f"{src}.power_max_w"), na, na],
        [Cell("IT power, expected average"), f.fig(d.power_avg_w, f.KW_FROM_W, f"{src}.power_avg_w"), na, na],
        [Cell(POWER_PER_GPU_LABEL), f.fig(d.power_per_gpu_avg_w, f.W, f"{src}.power_per_gpu_avg_w"), na, na],
        [Cell("IT energy per output token at peak"), f.fig(d.energy_per_output_token_j, f.J_PER_TOKEN,
                                                           f"{src}.energy_per_output_token_j"), na, na],
    ]
    return table(["Metric", "Planned", "Target", "Margin"], rows)


def alternatives_table(plan: Plan, name: str) -> Table:
    unit = f.unit_named(plan.objective.unit)
    mine = [(i, a) for i, a in enumerate(plan.alternatives) if a.workload == name]
    layout = any(a.ep is not None or a.dp is not None for _, a in mine)  # MoE layouts: DP and EP columns
    rows = [_alternative_row(i, a, unit, layout) for i, a in mine]
    return table(["GPU", "Precision", "TP", "PP", *(["DP", "EP"] if layout else []), "Batch", "Replicas needed",
                  "Objective worse by", "Why it lost"], rows,
                 empty_text="The plan records no runner-up for this workload.")


def _alternative_row(i: int, a: Alternative, unit: f.Unit, layout: bool) -> list[Cell]:
    src = f"alternatives[{i}]"
    parallel = [f.fig(1 if v is None else v, f.COUNT, f"{src}.{k}") for k, v in (("dp", a.dp), ("ep", a.ep))] \
        if layout else []
    return [Cell(a.gpu), Cell(a.precision), f.fig(a.tp, f.COUNT, f"{src}.tp"),
            f.fig(a.pp, f.COUNT, f"{src}.pp"), *parallel,
            f.fig(a.batch_size, f.COUNT, f"{src}.batch_size"),
            f.fig(a.replicas_needed, f.COUNT, f"{src}.replicas_needed"),
            f.fig(a.objective_delta, unit, f"{src}.objective_delta"), Cell(a.reason)]


def power_limited(plan: Plan, d: Deployment) -> bool:
    """The deployment runs below its GPU's TDP (its servers record the limit)."""
    return any(s.gpu == d.gpu and s.power_limit_w is not None and s.power_limit_w == d.power_limit_w
               for s in plan.servers)


def power_limit_text(plan: Plan, d: Deployment) -> str:
    """", GPUs capped at N W" when the deployment runs below TDP (its servers record the limit), else ""."""
    return f", GPUs capped at {d.power_limit_w:g} W (nvidia-smi -pl)" if power_limited(plan, d) else ""


def parallel_text(d: Deployment) -> str:
    """", 2 attention data-parallel ranks of tp 1, experts over 2 GPUs" for a MoE replica laid out that way;
    "" for a plain replica (no ep or dp above 1)."""
    dp, ep = d.dp or 1, d.ep or 1
    ranks = f", {dp} attention data-parallel ranks of tp {d.tp}" if dp > 1 else ""
    return ranks + (f", experts over {ep} GPUs (ep {ep})" if ep > 1 else "")


def role_text(d: Deployment) -> str:
    """The pool a deployment of disaggregated serving is, and which latency it owns; "" for aggregated replicas."""
    role = getattr(d, "role", None)
    if role == "prefill":
        return (", prefill pool of disaggregated serving (its TTFT includes the KV-cache transfer; "
                "ITL is the decode pool's)")
    if role == "decode":
        return ", decode pool of disaggregated serving (its ITL; TTFT is the prefill pool's)"
    return ""


def workload_view(plan: Plan, name: str) -> dict[str, Any]:
    indices = [i for i, d in enumerate(plan.deployments) if d.workload == name]
    return {
        "name": name,
        "inputs": inputs_table(plan, name),
        "config": config_table(plan, indices),
        "deployments": [{"title": f"{plan.deployments[i].model} on {plan.deployments[i].gpu} "
                                  f"({plan.deployments[i].precision}){parallel_text(plan.deployments[i])}"
                                  f"{power_limit_text(plan, plan.deployments[i])}{role_text(plan.deployments[i])}",
                         "performance": performance_table(plan.deployments[i], i),
                         "serving": serving_table(plan.deployments[i], i, power_limited(plan, plan.deployments[i])),
                         "how_to_run": how_to_run(plan.deployments[i])} for i in indices],
        "alternatives": alternatives_table(plan, name),
    }


def build(plan: Plan) -> list[dict[str, Any]]:
    return [workload_view(plan, name) for name in workload_names(plan)]
