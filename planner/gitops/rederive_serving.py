"""`planner check` for a deployment's serving decisions: its speculative decoding is what the scenario asks
now, its launch spec is the one planner.export.launch_for derives from the deployment, and its energy and
FLOPs by phase and cause (planner.plan.energy) follow from its recomputed operating point.

A wrong speculative setting breaks the scenario as it is now (a problem); a stale launch or energy figure is
a claim that does not follow from the inputs (a violation when the plan is current; a re-solve rewrites it
when the plan is stale), like the other written figures (see planner.gitops.context.Findings).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from planner.export.launch import launch_for
from planner.gitops.context import CLAIM_REL_TOL, Context
from planner.gitops.diff import deployment_key
from planner.gitops.serving import launch_changes, speculative_parts
from planner.gitops.slo import close
from planner.plan.energy import phase_figures
from planner.problem.model import WorkloadDemand
from planner.schemas.plan import Deployment, EnergyBreakdown, Launch

__all__ = ["launch_claims", "phase_mismatches", "rederived_launch", "sizing_claims", "speculative_problem"]


def speculative_problem(d: Deployment, w: WorkloadDemand) -> str | None:
    """Why the deployment's speculative decoding is not what the workload asks now (None when it is)."""
    if d.speculative == w.speculative:
        return None
    return (f"speculative {' '.join(speculative_parts(d.speculative))} is not what workload {w.name} asks now "
            f"(workloads.{w.name}.speculative: {' '.join(speculative_parts(w.speculative))}); re-solve the scenario")


def rederived_launch(d: Deployment, ctx: Context) -> Launch:
    """The launch spec the plan builder writes for ``d`` (planner.optimize.plan_builder)."""
    g = ctx.gpus[d.gpu]
    spec = d.speculative
    draft = ctx.catalog.model(spec.draft_model) if spec is not None and spec.draft_model else None
    return launch_for(d, ctx.catalog.model(d.model), g.spec, g.gpus_per_server, draft)


def launch_claims(d: Deployment, ctx: Context) -> list[str]:
    """A written launch spec that is not the one derived from the deployment, naming what differs
    (written -> re-derived); none for a plan written before deployments carried one."""
    if d.launch is None:
        return []
    derived = rederived_launch(d, ctx)
    if d.launch == derived:
        return []
    return [f"deployment {deployment_key(d)}: launch is stale, it does not follow from the deployment "
            f"(planner export's launch_for; written -> re-derived): {', '.join(launch_changes(d.launch, derived))}"]


def phase_mismatches(d: Deployment, points: Mapping[str, np.ndarray], i: int) -> list[str]:
    """The deployment's written energy and FLOPs by phase and cause against those of its recomputed point
    (configuration ``i`` of ``points``), within CLAIM_REL_TOL; none that the plan does not record."""
    # NaN: a column the configuration's role has none of (a prefill pool has no output tokens), as plan_builder
    point = {k: float(v[i]) for k, v in points.items() if np.asarray(v).dtype.kind in "fiu" and not np.isnan(v[i])}
    out = []
    for key, value in phase_figures(point).items():
        written = getattr(d, key)
        if written is None:
            continue
        if isinstance(value, EnergyBreakdown):
            out += [f"{key}.{cause} {getattr(written, cause):.6g} (recomputed {v:.6g})"
                    for cause, v in value.model_dump().items() if not close(getattr(written, cause), v, CLAIM_REL_TOL)]
        elif not close(written, value, CLAIM_REL_TOL):
            out.append(f"{key} {written:.6g} (recomputed {value:.6g})")
    return out


def sizing_claims(d: Deployment, w: WorkloadDemand) -> list[str]:
    """A written sizing margin (the confidence, factors and error group the report prints) that is not the one
    the workload's sizing_confidence gives on the deployment's GPU now (planner.optimize.plan_builder)."""
    from planner.optimize.plan_builder import sizing_margin

    derived, written = sizing_margin(w, d.gpu), d.sizing_margin
    where = f"deployment {deployment_key(d)}: sizing_margin"
    if written is None or derived is None:
        if written is derived:
            return []
        told = "none" if derived is None else f"confidence {derived.confidence:g}"
        return [f"{where} is {'absent' if written is None else f'confidence {written.confidence:g}'}, but "
                f"workloads.{w.name}.sizing_confidence gives {told}"]
    wrong = [f"{k} {getattr(written, k):.6g} (re-derived {getattr(derived, k):.6g})"
             for k in ("confidence", "ttft_factor", "itl_factor", "throughput_factor")
             if not close(getattr(written, k), getattr(derived, k), CLAIM_REL_TOL)]
    if written.group != derived.group:
        wrong.append(f"group {written.group[:80]!r} (re-derived {derived.group[:80]!r})")
    return [f"{where} does not follow from the expected-error table: {'; '.join(wrong)}"] if wrong else []
