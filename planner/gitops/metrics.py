"""Figures of a plan (and of its change from a base plan) that policies and checks test.

Each metric is a function of (plan, base) that returns a Figure (the value and where it comes
from, e.g. "rack r2"), or None when the plan has nothing to measure (no racks, no SLOs). Metric
names are the policy vocabulary: ``totals.<field>``, ``delta.totals.<field>``,
``delta_pct.totals.<field>`` and the named ones in NAMED_METRICS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.gitops.diff import TOTAL_FIELDS, deployment_key
from planner.gitops.fmt import pct, quantity, signed
from planner.gitops.slo import slo_checks
from planner.schemas.plan import Plan


@dataclass(frozen=True)
class Figure:
    value: float
    where: str = ""


MetricFn = Callable[[Plan, Plan | None], Figure | None]


def slo_margins_pct(plan: Plan) -> list[tuple[str, float]]:
    """(deployment key + SLO, margin %) for every SLO: 100 x (SLO - p95) / SLO; negative = missed
    (with the tolerance of `planner check`: see gitops/slo.py)."""
    return [(c.where, c.margin_pct) for c in slo_checks(plan)]


def _min_slo_margin_pct(plan: Plan, base: Plan | None) -> Figure | None:
    margins = slo_margins_pct(plan)
    if not margins:
        return None
    where, value = min(margins, key=lambda m: m[1])
    return Figure(value, where)


def _max_rack_ratio(plan: Plan, power_field: str) -> Figure | None:
    ratios = [(getattr(r, power_field) / r.usable_cap_w, r.id) for r in plan.racks if r.usable_cap_w > 0]
    if not ratios:
        return None
    value, rack_id = max(ratios)
    return Figure(value, f"rack {rack_id}")


def _max_utilization(plan: Plan, base: Plan | None) -> Figure | None:
    if not plan.deployments:
        return None
    d = max(plan.deployments, key=lambda d: d.utilization)
    return Figure(d.utilization, deployment_key(d))


def _liquid_racks(plan: Plan, base: Plan | None) -> Figure:
    return Figure(float(sum(r.liquid_cooling_required for r in plan.racks)))


def _total(field: str) -> MetricFn:
    return lambda plan, base: Figure(float(getattr(plan.totals, field)))


def _delta(field: str) -> MetricFn:
    def fn(plan: Plan, base: Plan | None) -> Figure | None:
        if base is None:
            return None
        return Figure(float(getattr(plan.totals, field) - getattr(base.totals, field)))
    return fn


def _delta_pct(field: str) -> MetricFn:
    def fn(plan: Plan, base: Plan | None) -> Figure | None:
        before = getattr(base.totals, field) if base else 0
        if base is None or before == 0:
            return None
        return Figure(100.0 * (getattr(plan.totals, field) - before) / abs(before))
    return fn


NAMED_METRICS: dict[str, MetricFn] = {
    "max_rack_utilization_of_breaker": lambda p, b: _max_rack_ratio(p, "power_max_w"),
    "max_rack_nameplate_of_breaker": lambda p, b: _max_rack_ratio(p, "power_nameplate_w"),
    "min_slo_margin_pct": _min_slo_margin_pct,
    "max_deployment_utilization": _max_utilization,
    "liquid_cooled_racks": _liquid_racks,
    "capex_delta_pct": _delta_pct("capex_usd"),
    "tco_delta_pct": _delta_pct("tco_usd"),
    "it_power_max_delta_pct": _delta_pct("it_power_max_w"),
    "gpus_delta": _delta("gpus"),
}
DIFF_METRICS = frozenset({"capex_delta_pct", "tco_delta_pct", "it_power_max_delta_pct", "gpus_delta"})


def all_metric_names() -> list[str]:
    totals = [f"{prefix}totals.{f}" for prefix in ("", "delta.", "delta_pct.") for f in TOTAL_FIELDS]
    return sorted(NAMED_METRICS) + totals


def needs_base(name: str) -> bool:
    """Whether the metric compares with a base plan (``--base`` in `planner check`)."""
    return name in DIFF_METRICS or name.startswith("delta")


def metric_fn(name: str) -> MetricFn | None:
    if name in NAMED_METRICS:
        return NAMED_METRICS[name]
    prefix, _, field = name.rpartition("totals.")
    makers = {"": _total, "delta.": _delta, "delta_pct.": _delta_pct}
    if field in TOTAL_FIELDS and prefix in makers:
        return makers[prefix](field)
    return None


def evaluate_metric(name: str, plan: Plan, base: Plan | None = None) -> Figure | None:
    fn = metric_fn(name)
    if fn is None:
        raise KeyError(name)
    return fn(plan, base)


_RATIO_METRICS = frozenset({"max_rack_utilization_of_breaker", "max_rack_nameplate_of_breaker",
                            "max_deployment_utilization"})
_PCT_DELTA_METRICS = frozenset({"capex_delta_pct", "tco_delta_pct", "it_power_max_delta_pct"})


def metric_text(name: str, value: float, *, threshold: bool = False) -> str:
    """``value`` of metric ``name`` with its unit (gitops/fmt): "$440.0k", "48.4%", "+$590.0k".

    Changes carry their sign ("+13", "-2.5%"); a threshold only when it is negative.
    """
    field = name.rpartition("totals.")[2]
    is_change = name.startswith(("delta.", "delta_pct.")) or name in _PCT_DELTA_METRICS or name == "gpus_delta"
    if name.startswith("delta_pct.") or name in _PCT_DELTA_METRICS:
        return f"{value:.1f}%" if threshold and value >= 0 else pct(value)
    if name in _RATIO_METRICS:
        field = "utilization"
    elif name == "gpus_delta":
        field = "gpus"
    if is_change and not (threshold and value >= 0):
        return signed(field, value)
    return quantity(field, value)
