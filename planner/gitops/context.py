"""What `planner check` re-derives a plan against, and what re-derivation finds.

The plan is checked against the resolved Problem (planner.problem), built by the same
`resolve_problem` as `planner solve` builds it: names resolved once, units converted once, the
calibration read once. Only the key paths and names of messages come from the scenario as written.

The lower module of the re-deriving check: planner.gitops.rederive (deployments),
planner.gitops.rederive_fleet (servers, racks, totals, constraints) and
planner.gitops.rederive_analysis (how the plan was chosen) all read it, and it reads none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog.loader import Catalog
from planner.gitops.slo import CLAIM_REL_TOL
from planner.problem.build import resolve_problem
from planner.problem.model import GpuOption, Problem
from planner.scenario.load import LoadedScenario

__all__ = ["CLAIM_REL_TOL", "Context", "Findings", "Recomputed", "check_context", "claim_line"]


@dataclass(frozen=True)
class Context:
    """What the plan is checked against: the resolved problem, and where its parts are written."""

    problem: Problem
    workload_index: Mapping[str, int]
    """Workload name (enabled or not) -> its position in the scenario file (for key paths)."""
    inventory_keys: Mapping[str, str]
    """GPU id -> its ``hardware.inventory`` key as the user wrote it (for messages)."""
    gpus_listed: bool
    """The scenario lists ``hardware.gpus`` (else every priced datacenter GPU of the catalog is allowed)."""

    @property
    def catalog(self) -> Catalog:
        return self.problem.catalog

    @property
    def gpus(self) -> dict[str, GpuOption]:
        """The GPUs the scenario allows and whose server fits a rack, as `planner solve` buys them."""
        return self.problem.gpus_by_id

    @property
    def left_out(self) -> dict[str, str]:
        """GPU id -> why solve leaves out a GPU the scenario allows (its server fits no rack)."""
        return dict(self.problem.left_out)


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
    """The resolved problem of the scenario exactly as solve builds it (``calibration``: the
    --calibration the plan was solved with, else the scenario's), and the names its messages use."""
    p = resolve_problem(loaded, catalog, calibration=calibration)
    sc = loaded.scenario
    inventory = {catalog.gpu(k).id: k for k in reversed(sc.hardware.inventory)}  # the first key of a GPU
    return Context(problem=p,
                   workload_index={w.name: i for i, w in enumerate(sc.workloads)},
                   inventory_keys=inventory, gpus_listed=sc.hardware.gpus is not None)


def claim_line(what: str, wrong: list[str]) -> list[str]:
    """One line for every written figure of ``what`` that does not follow (none when all do)."""
    if not wrong:
        return []
    return [f"{what}: figures that do not follow from the scenario, the catalog and the estimation core "
            f"(tolerance {CLAIM_REL_TOL * 100:g} %): {'; '.join(wrong)}"]
