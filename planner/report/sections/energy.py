"""Energy and FLOPs by phase and by cause, per deployment (issue 14 item 1): where a token's energy goes
(static draw, memory traffic, tensor math, tensor-parallel links) and what a request's prefill and each
decoded token cost. Shown only for plans that record them (planner.plan.energy); GPU basis at each
deployment's batch with every slot busy, as the note in the report says."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.tables import Cell, Table, table
from planner.schemas.plan import Deployment, Plan

CAUSES = (("static", "Static"), ("memory", "Memory"), ("compute", "Compute"), ("communication", "Communication"))
TFLOP = f.Unit(1e-12, 1, "")
GFLOP = f.Unit(1e-9, 1, "")
KWH_PER_MILLION = f.Unit(1.0, 3, "kWh")
TOKENS_PER_S_PER_W = f.Unit(1.0, 2, "")
J = f.Unit(1.0, 2, "")
NOTE = ("GPU energy only (no server share), at each deployment's batch with every slot busy: the figures "
        "planner estimate gives for the same configuration. The causes sum to the GPU energy per output "
        "token at that point; the plan's IT energy per output token (section 4) is another figure, at the "
        "routed peak traffic and with the servers' share.")


def _label(d: Deployment) -> Cell:
    layout = f", DP {d.dp}, EP {d.ep or 1}" if (d.dp or 1) > 1 else (f", EP {d.ep}" if (d.ep or 1) > 1 else "")
    return Cell(f"{d.workload} on {d.gpu} ({d.precision}, TP {d.tp}{layout}, batch {d.batch_size})")


def _cause_row(i: int, d: Deployment) -> list[Cell]:
    src = f"deployments[{i}]"
    parts = d.energy_breakdown_j_per_token
    assert parts is not None
    return [_label(d),
            *[f.fig(getattr(parts, key), f.J_PER_TOKEN, f"{src}.energy_breakdown_j_per_token.{key}")
              for key, _ in CAUSES],
            f.fig(sum(getattr(parts, key) for key, _ in CAUSES), f.J_PER_TOKEN, "derived:gpu_j_per_output_token"),
            f.fig(d.kwh_per_million_output_tokens, KWH_PER_MILLION, f"{src}.kwh_per_million_output_tokens"),
            f.fig(d.output_tokens_per_s_per_w, TOKENS_PER_S_PER_W, f"{src}.output_tokens_per_s_per_w")]


def _phase_row(i: int, d: Deployment) -> list[Cell]:
    src = f"deployments[{i}]"
    return [_label(d),
            f.fig(d.prefill_flops, TFLOP, f"derived:{src}.prefill_flops in TFLOP"),
            f.fig(d.decode_flops_per_token, GFLOP, f"derived:{src}.decode_flops_per_token in GFLOP"),
            f.fig(d.prefill_energy_j, J, f"{src}.prefill_energy_j"),
            f.fig(d.decode_energy_per_token_j, J, f"{src}.decode_energy_per_token_j")]


def _recorded(plan: Plan) -> list[tuple[int, Deployment]]:
    return [(i, d) for i, d in enumerate(plan.deployments) if d.energy_breakdown_j_per_token is not None]


def cause_table(plan: Plan) -> Table:
    return table(["Deployment", *[label for _, label in CAUSES], "GPU total",
                  "GPU energy per million output tokens", "Output tok/s per GPU W"],
                 [_cause_row(i, d) for i, d in _recorded(plan)])


def phase_table(plan: Plan) -> Table:
    return table(["Deployment", "Prefill (TFLOP per request)", "Decode (GFLOP per token)",
                  "Prefill (GPU J per request)", "Decode (GPU J per token)"],
                 [_phase_row(i, d) for i, d in _recorded(plan)])


def build(plan: Plan) -> dict[str, Any]:
    """The section's content; ``recorded`` is False for plans written before deployments carried these figures."""
    return {"recorded": bool(_recorded(plan)), "note": NOTE, "causes": cause_table(plan),
            "phases": phase_table(plan)}
