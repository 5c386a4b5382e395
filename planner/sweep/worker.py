"""Solve one variant in a worker process (local or a Dask worker): the plan's bytes and its table figures.

The catalog is loaded once per process (``init_worker`` warms it), so a variant costs a resolve and
a solve. A Dask worker may run tasks in threads: a process-wide lock runs its solves one at a time
(start workers with ``--nthreads 1`` to use every core). An infeasible or unsolved variant is an
outcome with its reason, not an error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner import __version__
from planner.catalog.loader import Catalog, load_catalog
from planner.errors import InfeasibleError, PlannerError, SolverLimitError
from planner.optimize.solve import solve_problem
from planner.plan.io import dump_plan, round_floats
from planner.problem.build import resolve_problem
from planner.schemas.plan import Plan
from planner.sweep.prepare import Context, Task, variant_loaded

_CATALOGS: dict[tuple[str, ...], Catalog] = {}
_CATALOG_SHA256: dict[tuple[str, ...], str] = {}  # Catalog.sha256 reads every file again: once per process
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    index: int
    input_sha256: str
    status: str
    """The plan's status (optimal, feasible), or infeasible, no_solution (a solver limit), error."""
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    plan_text: str | None = None
    tool_version: str = __version__
    catalog_sha256: str = ""


def _catalog(dirs: tuple[str, ...]) -> Catalog:
    if dirs not in _CATALOGS:
        _CATALOGS[dirs] = load_catalog(list(dirs))
    return _CATALOGS[dirs]


def remember_catalog(dirs: tuple[str, ...], catalog: Catalog) -> None:
    """Use the caller's catalog for in-process solves (``--workers 1``) instead of loading it again."""
    _CATALOGS.setdefault(dirs, catalog)


def init_worker(catalog_dirs: tuple[str, ...]) -> None:
    """Process-pool initializer: load the catalog once, before the first variant."""
    _catalog(catalog_dirs)


def configuration(d: Any) -> str:
    """One deployment as ``workload:gpu/precision/tpNppN/bN x replicas``."""
    return f"{d.workload}:{d.gpu}/{d.precision}/tp{d.tp}pp{d.pp}/b{d.batch_size}x{d.replicas}"


def figures(plan: Plan) -> dict[str, Any]:
    """The table's decisions and totals of a plan, rounded as plan.json writes them (round_floats is
    what dump_plan applies, so these are the file's numbers without parsing it again)."""
    t = plan.totals
    by_gpu: dict[str, int] = {}
    for s in plan.servers:
        by_gpu[s.gpu] = by_gpu.get(s.gpu, 0) + s.gpus
    return round_floats({
        "gpus_by_type": dict(sorted(by_gpu.items())), "gpus": t.gpus, "servers": t.servers, "racks": t.racks,
        "it_power_nameplate_w": t.it_power_nameplate_w, "it_power_max_w": t.it_power_max_w, "capex_usd": t.capex_usd,
        "tco_per_year_usd": t.tco_per_year_usd, "joules_per_output_token": t.joules_per_output_token,
        "usd_per_million_tokens": t.usd_per_million_tokens,
        "configurations": "; ".join(configuration(d) for d in plan.deployments)})


def _reason(exc: PlannerError) -> str:
    lines = [exc.render(), *getattr(exc, "explanation", [])]
    return "\n".join(lines)


def solve_task(ctx: Context, task: Task) -> Outcome:
    """The outcome of one variant (the same bytes in any process: see planner.plan.io.dump_plan)."""
    with _LOCK:
        catalog = _catalog(ctx.catalog_dirs)
        if ctx.catalog_dirs not in _CATALOG_SHA256:
            _CATALOG_SHA256[ctx.catalog_dirs] = catalog.sha256()
        base = Outcome(task.index, task.input_sha256, "", catalog_sha256=_CATALOG_SHA256[ctx.catalog_dirs])
        loaded = variant_loaded(task.doc, Path(ctx.scenario_path), ctx.override)
        o = ctx.options
        try:
            p = resolve_problem(loaded, catalog, calibration=ctx.calibration)
            plan = solve_problem(p, solver=o.solver, time_limit_s=o.time_limit_s, analysis=o.analysis)
        except InfeasibleError as exc:
            return replace(base, status="infeasible", reason=_reason(exc))
        except SolverLimitError as exc:
            return replace(base, status="no_solution", reason=_reason(exc))
        except PlannerError as exc:
            return replace(base, status="error", reason=_reason(exc))
        text = dump_plan(plan)
        return replace(base, status=plan.status, figures=figures(plan), plan_text=text)
