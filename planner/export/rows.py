"""A plan's deployments with their names and launch specs, as the exporters take them.

A plan written by `planner solve` carries each deployment's launch spec; a plan written before that
(schema 2.0 without ``launch``) gets it derived here from the catalog, with the same function the
plan builder uses (planner.export.launch.launch_for).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from planner.errors import PlanFileError
from planner.export.engines import ENGINE_FLAGS
from planner.export.launch import engine_name, launch_for
from planner.export.names import deployment_names
from planner.schemas.plan import Deployment, Launch, Plan

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

Row = tuple[str, Deployment, Launch]

_FILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,253}")
"""A config file's name: one path component, also a valid ConfigMap key (Kubernetes: [-._a-zA-Z0-9]+)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
"""An environment variable name as POSIX shells accept it."""
_RESOURCE = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?")
"""A Kubernetes extended resource name (vendor domain / name), e.g. nvidia.com/gpu."""
_RESOLVE = "a plan written by `planner solve` never holds this: re-solve the scenario"
_CONTROL = re.compile("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
"""Control and bidirectional-override characters: they would break or disguise a script's comment line."""


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
    if engine_name(d) not in ENGINE_FLAGS:
        raise PlanFileError(f"engine {d.engine[:80]!r} is not one planner launches ({', '.join(ENGINE_FLAGS)})",
                            file=file, key_path=f"deployments[{i}].engine", fix=_RESOLVE)
    spec = getattr(d, "speculative", None)
    draft = catalog.model(spec.draft_model) if spec is not None and spec.draft_model else None
    return launch_for(d, catalog.model(d.model), catalog.gpu(d.gpu), per_server, draft)


def _launch_problem(d: Deployment, launch: Launch) -> tuple[str, str] | None:
    """(key under the deployment, what is wrong) of a launch spec a script or manifest cannot carry."""
    names = [("launch.visible_devices_env", launch.visible_devices_env)]
    names += [(f"launch.env.{k}", k) for k in sorted(launch.env)]
    paths = [f.path for f in launch.config_files]
    checks = [
        (d.replicas < 1, "replicas", f"must be at least 1, got {d.replicas}"),
        (launch.gpus_per_replica < 1, "launch.gpus_per_replica", f"must be at least 1, got {launch.gpus_per_replica}"),
        (launch.nodes_per_replica < 1 or launch.gpus_per_replica % launch.nodes_per_replica != 0,
         "launch.nodes_per_replica", f"{launch.nodes_per_replica} servers cannot split "
         f"{launch.gpus_per_replica} GPUs evenly"),
        (launch.engine not in ENGINE_FLAGS, "launch.engine",
         f"{launch.engine[:80]!r} is not an engine planner launches ({', '.join(ENGINE_FLAGS)})"),
        (not launch.argv, "launch.argv", "no command to run (the list is empty)"),
        (launch.nodes_per_replica > 1 and not launch.worker_argv, "launch.worker_argv",
         "is empty, but a replica spans servers"),
        (not _RESOURCE.fullmatch(launch.gpu_resource), "launch.gpu_resource",
         f"{launch.gpu_resource!r} is not a Kubernetes resource name (nvidia.com/gpu, amd.com/gpu)"),
        *[(not _ENV_NAME.fullmatch(n), key, f"{n!r} is not an environment variable name") for key, n in names],
        *[(not _FILE_NAME.fullmatch(p) or p in (".", ".."), f"launch.config_files[{j}].path",
           f"{p!r} is not a plain file name (letters, digits, '.', '_', '-'; no folders)")
          for j, p in enumerate(paths)],
        *[(paths.count(p) > 1, f"launch.config_files[{j}].path", f"{p!r} is given twice") for j, p in enumerate(paths)],
        *[(bool(_CONTROL.search(text)), key, f"{text[:80]!r} holds a control character")
          for key, text in (("launch.engine", launch.engine), ("launch.model_id", launch.model_id))],
    ]
    return next(((key, why) for bad, key, why in checks if bad), None)


def _checked(i: int, d: Deployment, launch: Launch, file: str) -> Launch:
    problem = _launch_problem(d, launch)
    if problem is not None:
        raise PlanFileError(problem[1], file=file, key_path=f"deployments[{i}].{problem[0]}", fix=_RESOLVE)
    return launch


def launch_rows(plan: Plan, catalog: Catalog | None, file: str) -> list[Row]:
    """(name, deployment, launch spec) per deployment, in the plan's order; a launch spec no script or manifest
    can carry (no command, GPUs that do not split over the servers, a file name with a folder) is an error."""
    launches = [_checked(i, d, d.launch or _derived(i, d, plan, catalog, file), file)
                for i, d in enumerate(plan.deployments)]
    return list(zip(deployment_names(plan.deployments), plan.deployments, launches, strict=True))


def plan_title(plan: Plan, file: str, period: str | None = None) -> str:
    """What the output runs; a roadmap's top-level deployments are its first period's (``period``: the one
    chosen with --period), and the title says which."""
    if plan.periods:
        labels = [p.label for p in plan.periods]
        if period is None:
            return (f"plan {plan.scenario.name}, period {labels[0]} (the first of {len(labels)}; the later "
                    f"periods are not exported: --period LABEL exports another) ({file})")
        return (f"plan {plan.scenario.name}, period {period} ({labels.index(period) + 1} of {len(labels)}; "
                f"--period LABEL exports another) ({file})")
    return f"plan {plan.scenario.name} ({file})"


def of_period(plan: Plan, period: str | None, file: str) -> Plan:
    """The plan with the deployments of roadmap period ``period`` (None: as it is, a roadmap's first
    period). InputError for a period the plan lacks, or for --period on a single-period plan."""
    from planner.errors import InputError

    if period is None:
        return plan
    if not plan.periods:
        raise InputError(f"{file}: --period {period[:80]!r} given, but this plan has no periods (it is not a "
                         "roadmap)", fix="leave --period out")
    labels = [p.label for p in plan.periods]
    if period not in labels:
        raise InputError(f"{file}: no period {period[:80]!r} in this roadmap", fix=f"use one of {', '.join(labels)}")
    return plan.model_copy(update={"deployments": plan.periods[labels.index(period)].deployments})
