"""Review policies: YAML rules over plan figures and diffs, each giving pass, warn or deny.

A rule fires when ``<metric> <operator> <threshold>`` holds; a firing ``warn`` rule is printed,
a firing ``deny`` rule fails `planner check` (exit 4). Figures print with their units
(``capex_usd = $440.0k``). Example (policies/default.yaml)::

    rules:
      - name: rack-breaker
        level: deny
        metric: max_rack_utilization_of_breaker
        operator: ">"
        threshold: 1.0
        message: every rack stays within its usable breaker rating
"""

from __future__ import annotations

import difflib
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from planner.gitops.metrics import all_metric_names, evaluate_metric, metric_fn, metric_text, needs_base
from planner.io.files import load_yaml_as
from planner.schemas.base import StrictModel
from planner.schemas.plan import Plan

Outcome = Literal["pass", "warn", "deny", "skip"]
_OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
              "==": operator.eq, "!=": operator.ne}


class PolicyRule(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    """Short id printed with the result."""
    level: Literal["warn", "deny"]
    """What a firing rule does: `warn` prints, `deny` fails `planner check` (exit 4)."""
    metric: str
    """A plan figure (`totals.gpus`, `max_rack_utilization_of_breaker`, `min_slo_margin_pct`) or a
    change from the base plan (`capex_delta_pct`, `delta.totals.it_power_max_w`)."""
    operator: Literal[">", ">=", "<", "<=", "==", "!="]
    """The rule fires when `metric operator threshold` holds."""
    threshold: float
    message: str = ""
    """Why the rule exists, printed when it fires."""

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, name: str) -> str:
        if metric_fn(name) is None:
            close = difflib.get_close_matches(name, all_metric_names(), n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else "see docs/gitops.md for the list"
            raise ValueError(f"unknown metric {name!r}; {hint}")
        return name


class Policy(StrictModel):
    rules: list[PolicyRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique, repeated: {', '.join(dup)}")
        return self


def load_policy(path: str | Path) -> Policy:
    return load_yaml_as(Policy, path)


@dataclass(frozen=True)
class RuleResult:
    rule: PolicyRule
    outcome: Outcome
    value: float | None = None
    where: str = ""

    def line(self) -> str:
        """``deny  rack-breaker: max_rack_utilization_of_breaker = 105.0% at rack r2 (> 100.0%): why``.

        Figures carry their units (gitops/fmt); when the rounded figure would read the same as the
        threshold, both are printed with more digits.
        """
        r = self.rule
        if self.value is None:
            why = "needs a base plan (--base)" if needs_base(r.metric) else "nothing to measure"
            return f"{self.outcome:<5} {r.name}: {r.metric}: {why}"
        value, threshold = metric_text(r.metric, self.value), metric_text(r.metric, r.threshold, threshold=True)
        if value == threshold and self.value != r.threshold:
            value, threshold = f"{self.value:.6g}", f"{r.threshold:.6g}"
        where = f" at {self.where}" if self.where else ""
        test = f"{'' if self.outcome != 'pass' else 'not '}{r.operator} {threshold}"
        text = f"{self.outcome:<5} {r.name}: {r.metric} = {value}{where} ({test})"
        return text + (f": {r.message}" if r.message and self.outcome in ("warn", "deny") else "")


def evaluate_rule(rule: PolicyRule, plan: Plan, base: Plan | None) -> RuleResult:
    figure = evaluate_metric(rule.metric, plan, base)
    if figure is None:
        return RuleResult(rule, "skip")
    fires = _OPERATORS[rule.operator](figure.value, rule.threshold)
    return RuleResult(rule, rule.level if fires else "pass", figure.value, figure.where)


def evaluate_policy(policy: Policy, plan: Plan, base: Plan | None = None) -> list[RuleResult]:
    """Every rule's result, in the policy's order."""
    return [evaluate_rule(rule, plan, base) for rule in policy.rules]
