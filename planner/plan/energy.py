"""A deployment's energy and FLOPs by phase and by cause, from its candidate's columns (issue 14 item 1).

Basis, stated once: GPUs only (no server share), at the deployment's batch with every slot busy, the
point `planner estimate` reports for the same configuration. The plan's energy_per_output_token_j is
another figure: IT power (GPUs and their server share) at the routed peak traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.schemas.plan import EnergyBreakdown
from planner.units import kwh_per_million_tokens

CAUSES = ("static", "memory", "compute", "communication")
"""Keys of energy_breakdown_j_per_token; the candidate columns are energy_<cause>_j_per_token."""


def phase_figures(point: Mapping[str, float]) -> dict[str, Any]:
    """The plan's per-phase and per-cause fields of one deployment (``point``: its candidate's numeric columns);
    empty when the candidate carries none (candidates from before the core computed them)."""
    if any(f"energy_{c}_j_per_token" not in point for c in CAUSES):
        return {}
    parts = {c: float(point[f"energy_{c}_j_per_token"]) for c in CAUSES}
    return {"energy_breakdown_j_per_token": EnergyBreakdown(**parts),
            "kwh_per_million_output_tokens": kwh_per_million_tokens(sum(parts.values())),
            "output_tokens_per_s_per_w": float(point["gpu_output_tokens_per_s_per_w"]),
            "prefill_flops": float(point["prefill_flops"]),
            "decode_flops_per_token": float(point["decode_flops_per_token"]),
            "prefill_energy_j": float(point["prefill_energy_j"]),
            "decode_energy_per_token_j": float(point["decode_energy_per_token_j"])}
