"""A plan's deployments with their names and launch specs, as the exporters take them.

A plan written by `planner solve` carries each deployment's launch spec; a plan written before that
(schema 2.0 without ``launch``) gets it derived here from the catalog, with the same function the
plan builder uses (planner.export.launch.launch_for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.errors import PlanFileError
from planner.export.launch import launch_for
from planner.export.names import deployment_names
from planner.schemas.plan import Deployment, Launch, Plan

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

Row = tuple[str, Deployment, Launch]


def gpus_per_server(plan: Plan) -> dict[str, int]:
    return {s.gpu: s.gpus_per_server for s in plan.servers}


def _derived(i: int, d: Deployment, plan: Plan, catalog: Catalog | None, file: str) -> Launch:
    per_server = gpus_per_server(plan).get(d.gpu)
    known = catalog is not None and catalog.has_model(d.model) and catalog.has_gpu(d.gpu)
    if catalog is None or not known or per_server is None:
        raise PlanFileError(f"deployment {d.workload} on {d.gpu} has no launch spec, and its model {d.model!r} "
                            "or GPU is not in the catalog to derive one", file=file,
                            key_path=f"deployments[{i}].launch",
                            fix="re-solve the scenario with this planner, or pass --catalog DIR holding them")
    spec = getattr(d, "speculative", None)
    draft = catalog.model(spec.draft_model) if spec is not None and spec.draft_model else None
    return launch_for(d, catalog.model(d.model), catalog.gpu(d.gpu), per_server, draft)


def launch_rows(plan: Plan, catalog: Catalog | None, file: str) -> list[Row]:
    """(name, deployment, launch spec) per deployment, in the plan's order."""
    launches = [d.launch or _derived(i, d, plan, catalog, file) for i, d in enumerate(plan.deployments)]
    return list(zip(deployment_names(plan.deployments), plan.deployments, launches, strict=True))


def plan_title(plan: Plan, file: str) -> str:
    return f"plan {plan.scenario.name} ({file})"
