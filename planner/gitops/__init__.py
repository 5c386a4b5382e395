"""Review of committed plans: structured diffs, staleness, consistency and scenario checks, policies."""

from planner.gitops.check import CheckReport, scenario_violations, stale_reasons, violations
from planner.gitops.diff import PlanDiff, diff_plans
from planner.gitops.policy import Policy, evaluate_policy, load_policy
from planner.gitops.render import COMMENT_MARKER, FORMATS, render

__all__ = [
    "COMMENT_MARKER",
    "FORMATS",
    "CheckReport",
    "Policy",
    "PlanDiff",
    "diff_plans",
    "evaluate_policy",
    "load_policy",
    "render",
    "scenario_violations",
    "stale_reasons",
    "violations",
]
