"""`planner check` logic: staleness from input hashes, re-verification from the plan's own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner import __version__
from planner.errors import EXIT_INPUT, EXIT_OK, EXIT_POLICY_DENY, EXIT_STALE
from planner.gitops.check import CheckReport, stale_reasons, verified_summary, violations, within
from planner.gitops.policy import PolicyRule, RuleResult
from planner.plan.io import load_plan

FIXTURES = Path(__file__).parent / "fixtures" / "gitops"


@pytest.fixture(params=["chatbot-base", "chatbot-head", "chatbot-doubled"])
def plan(request):
    return load_plan(FIXTURES / f"{request.param}.json")


@pytest.fixture
def base():
    return load_plan(FIXTURES / "chatbot-base.json")


def _deploy(plan, **update):
    return plan.model_copy(update={"deployments": [plan.deployments[0].model_copy(update=update),
                                                   *plan.deployments[1:]]})


# -- re-verification ----------------------------------------------------------------------------

def test_fixture_plans_satisfy_their_constraints(plan):
    assert violations(plan) == []


def test_within_allows_the_rounding_of_plan_files():
    assert within(100.0004, 100.0) and not within(100.01, 100.0)


def _constraint(plan, name: str, **update):
    constraints = [c.model_copy(update=update) if c.name == name else c for c in plan.constraints]
    return plan.model_copy(update={"constraints": constraints})


def test_constraint_over_its_limit(base):
    broken = _constraint(base, "rack_power_h100-sxm-r01", value=33_100.0)
    assert violations(broken) == ["constraint rack_power_h100-sxm-r01: 33100 W exceeds its limit 32000 W"]


def test_demand_constraints_hold_when_value_reaches_the_limit(base):
    assert violations(_constraint(base, "capacity_chat", value=12.0)) == []
    assert violations(_constraint(base, "capacity_chat", value=11.5)) == [
        "constraint capacity_chat: 11.5 requests/s is below its requirement 12 requests/s"]


def test_capacity_below_demand(base):
    assert violations(_deploy(base, capacity_requests_per_s=11.0)) == [
        "deployment chat/h100-sxm/fp8/tp4: capacity 11 req/s is below demand 12 req/s"]


def test_latency_over_its_slo(base):
    assert violations(_deploy(base, itl_p95_s=0.051)) == [
        "deployment chat/h100-sxm/fp8/tp4: ITL p95 51.0 ms misses its SLO 50.0 ms"]


def test_gpu_count_that_does_not_add_up(base):
    assert violations(_deploy(base, gpus=20)) == [
        "deployment chat/h100-sxm/fp8/tp4: 20 GPUs but 6 replicas x tp4 x pp1"]


def test_rack_over_its_usable_cap(base):
    hot = base.racks[0].model_copy(update={"power_max_w": 40_000.0})
    assert violations(base.model_copy(update={"racks": [hot, *base.racks[1:]]})) == [
        "rack h100-sxm-r01: max power 40.0 kW exceeds its usable cap 32.0 kW"]


def test_infeasible_status(base):
    assert violations(base.model_copy(update={"status": "infeasible"})) == ["the plan's status is infeasible"]


def test_verified_summary(base):
    assert verified_summary(base) == "7 constraints, 2 deployments (capacity, SLOs, GPU counts) and 2 racks"


# -- staleness ----------------------------------------------------------------------------------

def test_matching_hashes_are_not_stale(base):
    assert stale_reasons(base, base.input_sha256, override=None, tool_version="0.1.0") == []


def test_each_changed_input_is_named(base):
    current = base.input_sha256.model_copy(update={"scenario": "a" * 64, "calibration": "b" * 64})
    reasons = stale_reasons(base, current, override=None, scenario_file="scenarios/chatbot.yaml",
                            tool_version="0.1.0")
    assert reasons == [
        f"the scenario scenarios/chatbot.yaml changed since the plan was solved "
        f"(sha256 {base.input_sha256.scenario[:12]} -> aaaaaaaaaaaa)",
        "the calibration changed since the plan was solved (sha256 none -> bbbbbbbbbbbb)",
    ]


def test_another_tool_version_is_stale(base):
    assert stale_reasons(base, base.input_sha256, override=None, tool_version="9.9.9") == [
        "the plan was solved by planner 0.1.0, this is 9.9.9"]


def test_another_override_is_stale(base):
    assert stale_reasons(base, base.input_sha256, override="growth", tool_version="0.1.0") == [
        "the plan was solved with override None, expected 'growth'"]


def test_a_hand_edited_combined_hash_is_stale(base):
    current = base.input_sha256.model_copy(update={"combined": "c" * 64})
    assert "edited by hand" in stale_reasons(base, current, override=None, tool_version="0.1.0")[0]


def test_default_tool_version_is_this_one(base):
    other = [f"the plan was solved by planner 0.1.0, this is {__version__}"]
    expected = [] if __version__ == "0.1.0" else other
    assert stale_reasons(base, base.input_sha256, override=None) == expected


# -- verdict ------------------------------------------------------------------------------------

def _result(outcome: str) -> RuleResult:
    rule = PolicyRule(name="r", level="deny", metric="totals.gpus", operator=">", threshold=0)
    return RuleResult(rule, outcome, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("report, code, verdict", [
    (CheckReport(), EXIT_OK, "check passed"),
    (CheckReport(policy=[_result("warn")]), EXIT_OK, "check passed: 1 warned"),
    (CheckReport(stale=["x"]), EXIT_STALE, "check failed: 1 stale"),
    (CheckReport(stale=["x"], policy=[_result("deny")]), EXIT_POLICY_DENY, "check failed: 1 stale, 1 denied"),
    (CheckReport(stale=["x"], violated=["y"], policy=[_result("deny")]), EXIT_INPUT,
     "check failed: 1 stale, 1 violated, 1 denied"),
])
def test_exit_code_precedence(report, code, verdict):
    assert report.exit_code == code and report.verdict() == verdict


def test_one_line_per_finding():
    report = CheckReport(stale=["the scenario changed"], violated=["rack r1: too hot"], verified="v")
    assert report.lines() == ["stale the scenario changed", "fail  rack r1: too hot"]
    assert CheckReport(verified="9 constraints").lines() == [
        "ok    inputs unchanged since the plan was solved", "ok    9 constraints hold"]
