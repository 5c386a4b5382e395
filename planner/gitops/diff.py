"""A structured diff of two plans: deployments added, removed or changed, total deltas, binding
constraints that appeared or went away. Pure: plans in, a PlanDiff out (renderers live in render.py).

Deployments are matched by ``workload/gpu/precision/tpN[/ppN]`` (``/bsN`` is appended only when a
plan holds two deployments that would otherwise share a key). A missing side (``None``) is an
empty plan, so a new scenario diffs as all additions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from planner.plan.hashing import INPUT_PARTS
from planner.schemas.plan import PHASE_ENERGY_KEYS, Deployment, Plan, Totals

Action = Literal["add", "remove", "change"]
Value = float | int | str | None

_KEY_FIELDS = ("workload", "gpu", "precision", "tp", "pp")
DEPLOYMENT_FIELDS: tuple[str, ...] = tuple(f for f in Deployment.model_fields if f not in _KEY_FIELDS)
NESTED_TOTALS = frozenset({"sizing_margin"})
"""Totals that are a section, not a figure (a sizing_confidence plan's margin): no delta; what they add shows
in the figures (GPUs, capex, power)."""
TOTAL_FIELDS: tuple[str, ...] = tuple(f for f in Totals.model_fields if f not in NESTED_TOTALS)


def same(a: Value, b: Value) -> bool:
    """Equal, with floats compared to a relative 1e-9 (plans are rounded to 6 digits anyway)."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Value
    after: Value


@dataclass(frozen=True)
class DeploymentChange:
    action: Action
    key: str
    before: Deployment | None
    after: Deployment | None
    fields: tuple[FieldChange, ...] = ()

    @property
    def gpus_delta(self) -> int:
        return (self.after.gpus if self.after else 0) - (self.before.gpus if self.before else 0)


@dataclass(frozen=True)
class TotalDelta:
    field: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def delta_pct(self) -> float | None:
        return None if self.before == 0 else 100.0 * self.delta / abs(self.before)

    @property
    def changed(self) -> bool:
        return not same(self.before, self.after)


@dataclass(frozen=True)
class PlanDiff:
    base_label: str
    new_label: str
    scenario: str
    deployments: tuple[DeploymentChange, ...]
    totals: tuple[TotalDelta, ...]
    binding_appeared: tuple[str, ...]
    binding_gone: tuple[str, ...]
    status_before: str | None
    status_after: str | None
    inputs_changed: tuple[str, ...]
    """Which inputs differ (scenario, catalog, calibration, tool version): context, not a change."""
    pue: float | None = None

    @property
    def changed(self) -> bool:
        return bool(self.deployments or self.binding_appeared or self.binding_gone
                    or self.status_before != self.status_after
                    or any(t.changed for t in self.totals))

    def count(self, action: Action) -> int:
        return sum(1 for d in self.deployments if d.action == action)

    def total(self, field: str) -> TotalDelta:
        return next(t for t in self.totals if t.field == field)


def deployment_key(d: Deployment) -> str:
    key = f"{d.workload}/{d.gpu}/{d.precision}/tp{d.tp}"
    return key + (f"/pp{d.pp}" if d.pp > 1 else "")


def parallelism(d: Deployment) -> tuple[int, int]:
    """(ep, dp) of a deployment: expert and attention data parallelism, 1 where the plan records none."""
    return (1 if d.ep is None else d.ep, 1 if d.dp is None else d.dp)


def keyed_deployments(plan: Plan | None) -> dict[str, Deployment]:
    """Deployments by key; keys shared by several deployments get ``/bsN`` to stay unique."""
    if plan is None:
        return {}
    keys = [deployment_key(d) for d in plan.deployments]
    keys = [k + f"/bs{d.batch_size}" if keys.count(k) > 1 else k for k, d in zip(keys, plan.deployments, strict=True)]
    # the same configuration at two GPU power limits (their servers are different pools)
    keys = [k + f"/pl{d.power_limit_w or 0:.0f}w" if keys.count(k) > 1 else k
            for k, d in zip(keys, plan.deployments, strict=True)]
    # the same configuration as plain replicas and as attention data-parallel ranks
    keys = [k + f"/dp{parallelism(d)[1]}" if keys.count(k) > 1 else k
            for k, d in zip(keys, plan.deployments, strict=True)]
    # a deployment written twice (an edited plan): the later ones are numbered, so none is lost from the diff
    keys = [k + f"#{keys[:i].count(k) + 1}" if k in keys[:i] else k for i, k in enumerate(keys)]
    return dict(zip(keys, plan.deployments, strict=True))


UNRECORDED_IS_NO_CHANGE = frozenset({"power_limit_w", "launch", *PHASE_ENERGY_KEYS})
"""Deployment fields older plans do not record: a side without one is no change (not the GPU's TDP vs null,
not a launch command or energy figures against none). ``speculative`` is not one: absent means off."""


def _field_changes(before: Deployment, after: Deployment) -> tuple[FieldChange, ...]:
    def changed(f: str) -> bool:
        a, b = getattr(before, f), getattr(after, f)
        if f == "role":  # no role recorded: aggregated serving
            a, b = a or "aggregated", b or "aggregated"
        if f in ("ep", "dp"):  # none recorded: 1 (plain replicas)
            a, b = (1 if a is None else a), (1 if b is None else b)
        if f in UNRECORDED_IS_NO_CHANGE and (a is None or b is None):
            return False
        return not same(a, b)
    return tuple(FieldChange(f, getattr(before, f), getattr(after, f)) for f in DEPLOYMENT_FIELDS if changed(f))


def diff_deployments(base: Plan | None, new: Plan | None) -> tuple[DeploymentChange, ...]:
    """Changes sorted by key (removals and additions of one key cannot both happen)."""
    old_by_key, new_by_key = keyed_deployments(base), keyed_deployments(new)
    changes = []
    for key in sorted(old_by_key.keys() | new_by_key.keys()):
        before, after = old_by_key.get(key), new_by_key.get(key)
        if before is None:
            changes.append(DeploymentChange("add", key, None, after))
        elif after is None:
            changes.append(DeploymentChange("remove", key, before, None))
        elif fields := _field_changes(before, after):
            changes.append(DeploymentChange("change", key, before, after, fields))
    return tuple(changes)


def _totals(plan: Plan | None) -> dict[str, float]:
    if plan is None:
        return dict.fromkeys(TOTAL_FIELDS, 0.0)
    return {f: getattr(plan.totals, f) for f in TOTAL_FIELDS}


def _recorded(plan: Plan | None) -> set[str]:
    """Totals the plan holds (a plan solved before a total existed does not hold it)."""
    return set(TOTAL_FIELDS) if plan is None else set(plan.totals.model_fields_set)


def diff_totals(base: Plan | None, new: Plan | None) -> tuple[TotalDelta, ...]:
    """Every total either plan holds (one neither plan records is no change worth a line)."""
    before, after = _totals(base), _totals(new)
    shown = _recorded(base) | _recorded(new) if base is not None and new is not None else set(TOTAL_FIELDS)
    return tuple(TotalDelta(f, before[f], after[f]) for f in TOTAL_FIELDS if f in shown)


def binding_names(plan: Plan | None) -> set[str]:
    return {c.name for c in plan.constraints if c.binding} if plan else set()


def inputs_changed(base: Plan | None, new: Plan | None) -> tuple[str, ...]:
    if base is None or new is None:
        return ()
    parts = [p for p in INPUT_PARTS if getattr(base.input_sha256, p) != getattr(new.input_sha256, p)]
    if base.tool_version != new.tool_version:
        parts.append(f"tool version {base.tool_version} -> {new.tool_version}")
    return tuple(parts)


def scenario_mismatch(base: Plan | None, new: Plan | None) -> str | None:
    """Why comparing these plans may mislead (they answer two different scenarios), or None."""
    if base is None or new is None or base.scenario.name == new.scenario.name:
        return None
    return (f"comparing plans of two different scenarios, {base.scenario.name!r} and "
            f"{new.scenario.name!r}; deployments are matched by workload name all the same")


def _scenario_name(base: Plan | None, new: Plan | None) -> str:
    plan = new or base
    return plan.scenario.name if plan else ""


def _pue(plan: Plan | None) -> float | None:
    return plan.site.pue if plan else None


def diff_plans(base: Plan | None, new: Plan | None, *, base_label: str = "base",
               new_label: str = "new") -> PlanDiff:
    """What changes from ``base`` to ``new``; either may be None (no plan on that side)."""
    old_binding, new_binding = binding_names(base), binding_names(new)
    return PlanDiff(
        base_label=base_label, new_label=new_label, scenario=_scenario_name(base, new),
        deployments=diff_deployments(base, new), totals=diff_totals(base, new),
        binding_appeared=tuple(sorted(new_binding - old_binding)),
        binding_gone=tuple(sorted(old_binding - new_binding)),
        status_before=base.status if base else None, status_after=new.status if new else None,
        inputs_changed=inputs_changed(base, new), pue=_pue(new or base),
    )
