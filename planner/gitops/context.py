"""What `planner check` re-derives a plan against, and what re-derivation finds.

The lower module of the re-deriving check: planner.gitops.rederive (deployments),
planner.gitops.rederive_fleet (servers, racks, totals, constraints) and
planner.gitops.rederive_analysis (how the plan was chosen) all read it, and it reads none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog.loader import Catalog
from planner.gitops.slo import CLAIM_REL_TOL
from planner.optimize.model import GpuType
from planner.optimize.solve import gpu_types, select_gpus
from planner.plan.hashing import resolve_calibration
from planner.scenario.load import LoadedScenario
from planner.scenario.names import ResolvedNames, resolve_names
from planner.schemas.scenario import Scenario

__all__ = ["CLAIM_REL_TOL", "Context", "Findings", "Recomputed", "check_context", "claim_line"]


@dataclass(frozen=True)
class Context:
    """What the plan is checked against: the scenario as solve sees it (enabled workloads only)."""

    scenario: Scenario
    names: ResolvedNames
    types: dict[str, GpuType]
    """The GPUs the scenario allows and whose server fits a rack, as `planner solve` builds them."""
    catalog: Catalog
    calibration: str | None
    workload_index: dict[str, int]
    """Workload name -> its position in the scenario file (for key paths)."""
    left_out: dict[str, str]
    """GPU id -> why solve leaves out a GPU the scenario allows (its server fits no rack)."""


@dataclass(frozen=True)
class Recomputed:
    """One deployment's figures recomputed for its configuration (the plan's Deployment fields)."""

    capacity_requests_per_s: float
    ttft_p95_band_s: tuple[float, float]
    """TTFT p95 at the routed rate less and more its rounding in the plan file (rederive.ROUNDING)."""
    figures: dict[str, float]
    ttft_low_s: dict[float, float]
    """TTFT at quantiles 0.5, 0.95 and 0.99 at the routed rate less its rounding (for the SLOs)."""


@dataclass
class Findings:
    """What re-derivation found: ``problems`` break the scenario as it is now (always violations);
    ``claims`` are written figures that do not follow from the inputs (violations when the plan is
    current; when it is stale its figures answer the old inputs and a re-solve rewrites them)."""

    problems: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    recomputed: dict[int, Recomputed] = field(default_factory=dict)
    """Recomputed figures by position in plan.deployments (those whose configuration could be evaluated)."""


def check_context(loaded: LoadedScenario, catalog: Catalog, calibration: str | Path | None = None) -> Context:
    """Resolve the scenario's names, allowed GPUs, servers and calibration exactly as solve does."""
    file = str(loaded.path)
    sc = loaded.scenario
    sc = sc.model_copy(update={"workloads": [w for w in sc.workloads if w.enabled]})
    names = resolve_names(sc, catalog, file=file)
    gpus, _ = select_gpus(sc, catalog, file)
    types, notes = gpu_types(sc, gpus, catalog)
    left_out = {g.id: next((n.removeprefix(f"{g.id} left out: ") for n in notes if n.startswith(f"{g.id} ")),
                           "its server fits no rack of the scenario") for g in gpus if g.id not in types}
    cal = resolve_calibration(loaded.path, loaded.override, calibration)
    index = {w.name: i for i, w in enumerate(loaded.scenario.workloads)}
    return Context(sc, names, types, catalog, str(cal) if cal else None, index, left_out)


def claim_line(what: str, wrong: list[str]) -> list[str]:
    """One line for every written figure of ``what`` that does not follow (none when all do)."""
    if not wrong:
        return []
    return [f"{what}: figures that do not follow from the scenario, the catalog and the estimation core "
            f"(tolerance {CLAIM_REL_TOL * 100:g} %): {'; '.join(wrong)}"]
