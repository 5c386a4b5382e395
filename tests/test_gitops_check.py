"""`planner check` logic: staleness from input hashes, re-verification from the plan's own numbers
and counts, and against the limits of the scenario as it is now."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner import __version__
from planner.errors import EXIT_INPUT, EXIT_OK, EXIT_POLICY_DENY, EXIT_STALE
from planner.gitops.check import (
    CheckReport,
    scenario_violations,
    stale_reasons,
    unchecked_slos,
    verified_summary,
    violations,
    within,
)
from planner.gitops.metrics import evaluate_metric
from planner.gitops.policy import PolicyRule, RuleResult
from planner.gitops.slo import SloCheck, slo_checks
from planner.plan.io import load_plan
from planner.scenario.load import load_scenario
from planner.schemas.scenario import Scenario

FIXTURES = Path(__file__).parent / "fixtures" / "gitops"
SCENARIO_OF = {"chatbot-base": ("chatbot.yaml", None), "chatbot-doubled": ("chatbot.yaml", "growth"),
               "chatbot-head": ("chatbot-head.yaml", None)}
"""The fixture scenario (and override) each fixture plan answers."""


@pytest.fixture(params=sorted(SCENARIO_OF))
def plan_and_scenario(request):
    file, override = SCENARIO_OF[request.param]
    return load_plan(FIXTURES / f"{request.param}.json"), load_scenario(FIXTURES / file, override).scenario


@pytest.fixture
def plan(plan_and_scenario):
    return plan_and_scenario[0]


@pytest.fixture
def base():
    return load_plan(FIXTURES / "chatbot-base.json")


@pytest.fixture
def scenario() -> Scenario:
    """The scenario chatbot-base.json answers."""
    return load_scenario(FIXTURES / "chatbot.yaml").scenario


def _edit(scenario: Scenario, **sections) -> Scenario:
    """``scenario`` with keys of its sections replaced, e.g. ``site={"racks": 1}``."""
    doc = scenario.model_dump(exclude_unset=True)
    for section, values in sections.items():
        doc[section] = doc.get(section, {}) | values
    return Scenario.model_validate(doc)


def _edit_workload(scenario: Scenario, name: str, **values) -> Scenario:
    doc = scenario.model_dump(exclude_unset=True)
    for w in doc["workloads"]:
        if w["name"] == name:
            for key, value in values.items():
                w[key] = (w.get(key, {}) | value) if isinstance(value, dict) else value
    return Scenario.model_validate(doc)


def _deploy(plan, **update):
    return plan.model_copy(update={"deployments": [plan.deployments[0].model_copy(update=update),
                                                   *plan.deployments[1:]]})


# -- re-verification ----------------------------------------------------------------------------

def test_fixture_plans_satisfy_their_constraints_and_their_scenarios(plan_and_scenario):
    plan, scenario = plan_and_scenario
    assert violations(plan) == []
    assert scenario_violations(plan, scenario) == []


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
    assert violations(_deploy(base, capacity_requests_per_s=9.0)) == [
        "deployment chat/h100-sxm/fp8/tp4: capacity 9 req/s is below demand 10 req/s"]


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


def test_verified_summary(base, scenario):
    assert verified_summary(base) == [
        "7 constraints, 2 deployments (capacity, SLOs, GPU counts), 2 racks and the totals hold"]
    assert verified_summary(base, scenario)[1] == (
        "the scenario's limits hold: traffic and capacity of 2 workloads, p95 SLOs, rack power, air cooling, "
        "site power, racks, inventory")
    one = base.model_copy(update={"deployments": base.deployments[:1], "racks": base.racks[:1]})
    assert verified_summary(one)[0].startswith("7 constraints, 1 deployment (capacity, SLOs, GPU counts), 1 rack ")


# -- the plan's own counts ----------------------------------------------------------------------

def _totals(plan, **update):
    return plan.model_copy(update={"totals": plan.totals.model_copy(update=update)})


def test_a_hand_edit_that_deletes_deployments_and_sets_negative_gpus(base, scenario):
    edited = _totals(base.model_copy(update={"deployments": []}), gpus=-1)
    assert violations(edited) == [
        "negative count: totals.gpus = -1",
        "totals.gpus: -1 GPUs, but the plan has 28 in its server groups (servers[].gpus)"]
    assert scenario_violations(edited, scenario) == [
        "traffic chat: the plan routes 0 req/s, but the scenario's traffic.peak_requests_per_s is 10 req/s",
        "capacity chat: the plan serves 0 req/s, below the scenario's peak x (1 + headroom) = 10 x 1.2 = 12 req/s",
        "traffic summarize: the plan routes 0 req/s, but the scenario's traffic.peak_requests_per_s is 20 req/s",
        "capacity summarize: the plan serves 0 req/s, below the scenario's peak x (1 + headroom) = 20 x 1 = 20 req/s"]


def test_totals_must_add_up(base):
    assert violations(_totals(base, servers=5, racks=3)) == [
        "totals.servers: 5 servers, but the plan has 4 in its server groups (servers[].servers)",
        "totals.racks: 3 racks, but the plan has 2 listed (racks[])"]


def test_gpus_in_use_must_fit_the_servers_bought(base):
    servers = [base.servers[0].model_copy(update={"servers": 3, "gpus": 24})]
    edited = _totals(base.model_copy(update={"servers": servers}), gpus=24, servers=3)
    assert violations(edited) == [
        "GPUs of h100-sxm: deployments use 28, but the plan buys 24 (servers x gpus_per_server)"]
    elsewhere = _deploy(base, gpu="a100-sxm-80gb")
    assert "GPUs of a100-sxm-80gb: deployments use 24, but the plan buys 0 (servers x gpus_per_server)" in (
        violations(elsewhere))


def test_negative_counts_anywhere(base):
    rack = base.racks[0].model_copy(update={"servers": -3})
    found = violations(_deploy(base.model_copy(update={"racks": [rack, *base.racks[1:]]}), replicas=-6, gpus=-24))
    assert found[:2] == ["negative count: deployment chat/h100-sxm/fp8/tp4 replicas = -6",
                         "negative count: deployment chat/h100-sxm/fp8/tp4 gpus = -24"]
    assert "negative count: rack h100-sxm-r01 servers = -3" in found


# -- against the scenario as it is now ----------------------------------------------------------

def test_the_reviewers_example_a_rack_cap_below_the_servers_nameplate(base, scenario):
    # 3 DGX H100 at 10.2 kW = 30.6 kW in rack r01; a 20 kW breaker x 0.8 leaves 16 kW
    assert scenario_violations(base, _edit(scenario, site={"rack_power_cap_kw": 20})) == [
        "rack power: rack h100-sxm-r01 draws 30.6 kW at nameplate, above the scenario's usable 16.0 kW "
        "(site.rack_power_cap_kw 20 x breaker_derating 0.8)"]


def test_air_cooling_limit_applies_to_air_cooled_racks_only(base, scenario):
    air = _edit(scenario, site={"air_cooling_limit_kw": 25})
    assert scenario_violations(base, air) == [
        "air cooling: rack h100-sxm-r01 draws 30.6 kW at nameplate, above the scenario's "
        "site.air_cooling_limit_kw 25.0 kW"]
    assert scenario_violations(base, _edit(scenario, site={"air_cooling_limit_kw": 25, "cooling": "liquid"})) == []


@pytest.mark.parametrize("sections, line", [
    ({"site": {"power_cap_kw": 40}},
     "site power: IT power at nameplate 40.8 kW is above the scenario's site.power_cap_kw 40.0 kW"),
    ({"site": {"racks": 1}}, "racks: the plan uses 2 racks, above the scenario's site.racks 1"),
    ({"hardware": {"inventory": {"h100-sxm": 24}}},
     "inventory h100-sxm: the plan buys 32 GPUs, above the scenario's hardware.inventory 24"),
    ({"finance": {"budget_usd": 1_000_000}},
     "budget: capex $1.24M is above the scenario's finance.budget_usd $1.00M"),
])
def test_each_site_and_finance_limit(base, scenario, sections, line):
    assert scenario_violations(base, _edit(scenario, **sections)) == [line]


def test_limits_at_the_plans_figures_hold(base, scenario):
    at = _edit(scenario, site={"power_cap_kw": 40.8, "racks": 2}, hardware={"inventory": {"h100-sxm": 32}},
               finance={"budget_usd": 1_240_000})
    assert scenario_violations(base, at) == []


def test_inventory_keys_may_be_aliases(base, scenario):
    edited = _edit(scenario, hardware={"inventory": {"H100": 24}})
    assert scenario_violations(base, edited) == []  # without a resolver "H100" names no GPU of the plan
    assert scenario_violations(base, edited, {"H100": "h100-sxm"}.get) == [
        "inventory H100: the plan buys 32 GPUs, above the scenario's hardware.inventory 24"]


def test_traffic_must_equal_the_routed_peak(base, scenario):
    assert scenario_violations(base, _edit_workload(scenario, "chat", traffic={"peak_requests_per_s": 12})) == [
        "traffic chat: the plan routes 10 req/s, but the scenario's traffic.peak_requests_per_s is 12 req/s"]
    assert scenario_violations(base, _edit_workload(scenario, "chat", traffic={"peak_requests_per_s": 13})) == [
        "traffic chat: the plan routes 10 req/s, but the scenario's traffic.peak_requests_per_s is 13 req/s",
        "capacity chat: the plan serves 15 req/s, below the scenario's peak x (1 + headroom) = 13 x 1.2 = "
        "15.6 req/s"]


def test_traffic_split_over_deployments_allows_for_file_rounding(base, scenario):
    chat = base.deployments[0]
    halves = [chat.model_copy(update={"demand_requests_per_s": 5.00004, "batch_size": 16}),
              chat.model_copy(update={"demand_requests_per_s": 5.00004})]
    split = base.model_copy(update={"deployments": [*halves, *base.deployments[1:]]})
    assert [v for v in scenario_violations(split, scenario) if v.startswith("traffic")] == []
    off = [halves[0].model_copy(update={"demand_requests_per_s": 5.001}), halves[1]]
    assert [v for v in scenario_violations(base.model_copy(update={"deployments": [*off, *base.deployments[1:]]}),
                                           scenario) if v.startswith("traffic")] == [
        "traffic chat: the plan routes 10.001 req/s, but the scenario's traffic.peak_requests_per_s is 10 req/s"]


def test_capacity_keeps_headroom_and_n_plus_k_spares(base, scenario):
    assert scenario_violations(base, _edit_workload(scenario, "chat", headroom=0.6)) == [
        "capacity chat: the plan serves 15 req/s, below the scenario's peak x (1 + headroom) = 10 x 1.6 = 16 req/s"]
    assert scenario_violations(base, _edit_workload(scenario, "chat", redundancy=1)) == []  # 15 x 5/6 >= 12
    assert scenario_violations(base, _edit_workload(scenario, "chat", redundancy=2)) == [
        "capacity chat: the plan serves 10 req/s with 2 replicas spare (N+2), below the scenario's "
        "peak x (1 + headroom) = 10 x 1.2 = 12 req/s"]


def test_latencies_against_the_scenarios_slos(base, scenario):
    tighter = _edit_workload(scenario, "chat", slo={"itl_p95_ms": 30, "ttft_p95_ms": 600})
    assert scenario_violations(base, tighter) == [
        "deployment chat/h100-sxm/fp8/tp4: TTFT p95 620 ms misses the scenario's slo.ttft_p95_ms 600 ms",
        "deployment chat/h100-sxm/fp8/tp4: ITL p95 38.0 ms misses the scenario's slo.itl_p95_ms 30.0 ms"]


def test_a_miss_of_an_unchanged_slo_is_one_line(base, scenario):
    slow = _deploy(base, itl_p95_s=0.051)
    assert violations(slow) + scenario_violations(slow, scenario) == [
        "deployment chat/h100-sxm/fp8/tp4: ITL p95 51.0 ms misses its SLO 50.0 ms"]


def test_workloads_the_scenario_disables_removes_or_adds(base, scenario):
    assert scenario_violations(base, _edit_workload(scenario, "summarize", enabled=False)) == [
        "workload summarize: the plan deploys it, but the scenario disables it (enabled: false)"]
    doc = scenario.model_dump(exclude_unset=True)
    doc["workloads"] = [w | {"name": "chat2"} if w["name"] == "chat" else w for w in doc["workloads"]]
    assert scenario_violations(base, Scenario.model_validate(doc)) == [
        "workload chat: the plan deploys it, but the scenario has no such workload",
        "traffic chat2: the plan routes 0 req/s, but the scenario's traffic.peak_requests_per_s is 10 req/s",
        "capacity chat2: the plan serves 0 req/s, below the scenario's peak x (1 + headroom) = 10 x 1.2 = 12 req/s"]


def test_p50_and_p99_slos_are_named_once_as_not_checked(base, scenario):
    assert unchecked_slos(scenario) is None
    edited = _edit_workload(_edit_workload(scenario, "chat", slo={"ttft_p99_ms": 2000, "itl_p50_ms": 20}),
                            "summarize", slo={"itl_p99_ms": 60})
    assert unchecked_slos(edited) == ("p50/p99 SLOs are not checked, the plan records p95 latencies only: "
                                      "chat (ttft_p99_ms, itl_p50_ms); summarize (itl_p99_ms)")
    assert scenario_violations(base, edited) == []


# -- one SLO comparison -------------------------------------------------------------------------

def test_one_slo_comparison_for_check_and_policy_metrics(base):
    checks = slo_checks(base)
    assert [c.where for c in checks] == ["chat/h100-sxm/fp8/tp4 TTFT p95", "chat/h100-sxm/fp8/tp4 ITL p95",
                                         "summarize/h100-sxm/fp8/tp1 TTFT p95",
                                         "summarize/h100-sxm/fp8/tp1 ITL p95"]
    # within the rounding of plan files: met, and a margin of 0, never slightly negative
    rounding = SloCheck("d", "ITL", 0.0500002, 0.05)
    assert rounding.met and rounding.margin_pct == 0.0
    missed = SloCheck("d", "ITL", 0.0501, 0.05)
    assert not missed.met and missed.margin_pct == pytest.approx(-0.2)
    edge = _deploy(base, itl_p95_s=0.0500002)
    assert violations(edge) == [] and evaluate_metric("min_slo_margin_pct", edge).value == 0.0


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
    report = CheckReport(stale=["the scenario changed"], violated=["rack r1: too hot"], verified=["v"],
                         notes=["p50 not checked"])
    assert report.lines() == ["stale the scenario changed", "fail  rack r1: too hot", "note  p50 not checked"]
    assert CheckReport(verified=["9 constraints hold", "the scenario's limits hold"]).lines() == [
        "ok    inputs unchanged since the plan was solved", "ok    9 constraints hold",
        "ok    the scenario's limits hold"]
    assert CheckReport(notes=["n"]).exit_code == EXIT_OK
