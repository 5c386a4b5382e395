"""The one comparison of plan figures against limits used by gitops: `within`, with one tolerance,
and the p95 TTFT/ITL of each deployment against an SLO (`slo_checks`), which `planner check`
(against the plan's recorded SLOs and the current scenario's) and the `min_slo_margin_pct` policy
metric all use, so a latency that passes the check never shows a negative margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planner.gitops.diff import deployment_key
from planner.gitops.fmt import quantity
from planner.schemas.plan import Deployment, Plan

REL_TOL = 1e-5
"""Plans are written with 6 significant digits, so figures may differ by up to 5e-6 relative."""
CLAIM_REL_TOL = 1e-4
"""A written figure matches its recomputed value within 0.01 % (relative): plan files round to 6
significant digits (5e-6); the rest allows for floating-point differences between machines."""
LATENCIES = ("TTFT", "ITL")
"""The latencies a plan records (their p95)."""


def within(value: float, limit: float, rel_tol: float = REL_TOL) -> bool:
    """``value <= limit``, allowing for the rounding of plan files."""
    return value <= limit + rel_tol * max(abs(limit), abs(value)) + 1e-12


def close(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    """``a == b``, allowing for the rounding of plan files."""
    return within(a, b, rel_tol) and within(b, a, rel_tol)


@dataclass(frozen=True)
class SloCheck:
    """One deployment's p95 latency against one SLO (seconds)."""

    deployment: str
    latency: str
    """TTFT or ITL."""
    value_s: float
    slo_s: float

    @property
    def met(self) -> bool:
        return within(self.value_s, self.slo_s)

    @property
    def margin_pct(self) -> float:
        """``100 x (SLO - p95) / SLO``; negative only when the SLO is missed (not by rounding)."""
        margin = 100.0 * (self.slo_s - self.value_s) / self.slo_s
        return max(margin, 0.0) if self.met else margin

    @property
    def where(self) -> str:
        return f"{self.deployment} {self.latency} p95"

    def miss(self, slo_name: str = "its SLO") -> str:
        """``deployment chat/...: ITL p95 51.0 ms misses its SLO 50.0 ms``."""
        return (f"deployment {self.deployment}: {self.latency} p95 {quantity('latency_s', self.value_s)} "
                f"misses {slo_name} {quantity('latency_s', self.slo_s)}")


SloSeconds = Mapping[str, tuple[float | None, float | None]]
"""Per workload: (TTFT p95 SLO, ITL p95 SLO) in seconds, None where there is none."""


def recorded_slos(d: Deployment) -> tuple[float | None, float | None]:
    return d.slo_ttft_p95_s, d.slo_itl_p95_s


def slo_checks(plan: Plan, slos: SloSeconds | None = None) -> list[SloCheck]:
    """Every deployment's p95 TTFT and ITL against its SLO: the one the plan records, or with
    ``slos`` the workload's from there (deployments of a workload not in ``slos`` are left out)."""
    out = []
    for d in plan.deployments:
        if slos is None:
            limits = recorded_slos(d)
        elif d.workload in slos:
            limits = slos[d.workload]
        else:
            continue
        for latency, value_s, slo_s in zip(LATENCIES, (d.ttft_p95_s, d.itl_p95_s), limits, strict=True):
            if slo_s:
                out.append(SloCheck(deployment_key(d), latency, value_s, slo_s))
    return out
