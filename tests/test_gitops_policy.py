"""Review policies: strict schema, metrics computed by hand on the fixture plans, pass/warn/deny/skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import InputError
from planner.gitops.metrics import all_metric_names, evaluate_metric, slo_margins_pct
from planner.gitops.policy import Policy, PolicyRule, RuleResult, evaluate_policy, load_policy
from planner.plan.io import load_plan

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "gitops"


@pytest.fixture
def base():
    return load_plan(FIXTURES / "chatbot-base.json")


@pytest.fixture
def head():
    return load_plan(FIXTURES / "chatbot-head.json")


def _rule(**kw) -> PolicyRule:
    return PolicyRule(**({"name": "r", "level": "deny", "operator": ">", "threshold": 0} | kw))


def _policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- metrics, against hand calculations on the fixtures -----------------------------------------

def test_rack_utilization_of_breaker(base):
    # peak IT: chat 24 x (560 + 240 x 10/15) W + summarize 4 x (560 + 240 x 20/24) W = 20,320 W;
    # r1 holds 3 of the 4 servers: 3/4 x 20,320 W = 15,240 W of a 32,000 W usable cap.
    figure = evaluate_metric("max_rack_utilization_of_breaker", base)
    assert figure.value == pytest.approx(15_240 / 32_000, rel=1e-5) and figure.where == "rack h100-sxm-r01"
    nameplate = evaluate_metric("max_rack_nameplate_of_breaker", base)
    assert nameplate.value == pytest.approx(30_600 / 32_000)


def test_slo_margins(base):
    margins = dict(slo_margins_pct(base))
    assert margins["chat/h100-sxm/fp8/tp4 TTFT p95"] == pytest.approx(38.0)   # 620 ms of 1000 ms
    assert margins["chat/h100-sxm/fp8/tp4 ITL p95"] == pytest.approx(24.0)    # 38 ms of 50 ms
    figure = evaluate_metric("min_slo_margin_pct", base)
    assert figure.value == pytest.approx(24.0) and figure.where == "chat/h100-sxm/fp8/tp4 ITL p95"


def test_totals_and_deltas(base, head):
    assert evaluate_metric("totals.gpus", head).value == 41
    assert evaluate_metric("delta.totals.gpus", head, base).value == 13
    assert evaluate_metric("gpus_delta", head, base).value == 13
    assert evaluate_metric("capex_delta_pct", head, base).value == pytest.approx(100 * 590 / 1240)
    # head peak IT: chat 32 x 722 W + summarize 5 x 760 W + code 4 x 760 W = 29,944 W
    assert evaluate_metric("delta_pct.totals.it_power_max_w", head, base).value == pytest.approx(
        100 * (29_944 - 20_320) / 20_320, rel=1e-5)


def test_diff_metrics_without_a_base_have_no_value(head):
    assert evaluate_metric("capex_delta_pct", head) is None
    assert evaluate_metric("delta.totals.gpus", head) is None


def test_every_listed_metric_evaluates(base, head):
    for name in all_metric_names():
        evaluate_metric(name, head, base)


# -- schema -------------------------------------------------------------------------------------

def test_the_shipped_default_policy_loads():
    policy = load_policy(ROOT / "policies" / "default.yaml")
    assert {r.level for r in policy.rules} == {"warn", "deny"}


def test_unknown_metric_suggests_close_names(tmp_path):
    path = _policy_file(tmp_path, "rules:\n  - {name: a, level: deny, metric: capex_delta_pc, "
                                  "operator: '>', threshold: 1}\n")
    with pytest.raises(InputError, match=r"rules\[0\]\.metric: .*unknown metric 'capex_delta_pc'; "
                                         r"did you mean capex_delta_pct"):
        load_policy(path)


@pytest.mark.parametrize("rule, words", [
    ("{name: a, level: block, metric: totals.gpus, operator: '>', threshold: 1}", "rules[0].level"),
    ("{name: a, level: deny, metric: totals.gpus, operator: '=>', threshold: 1}", "rules[0].operator"),
    ("{name: a, level: deny, metric: totals.gpus, operator: '>', threshold: lots}", "rules[0].threshold"),
    ("{name: a, level: deny, metric: totals.gpus, operator: '>', threshold: 1, severity: 3}",
     "rules[0].severity: Extra inputs are not permitted"),
    ("{name: a, level: deny, metric: totals.gpus, operator: '>'}", "rules[0].threshold: Field required"),
])
def test_bad_rules_name_the_key(tmp_path, rule, words):
    with pytest.raises(InputError) as err:
        load_policy(_policy_file(tmp_path, f"rules:\n  - {rule}\n"))
    assert words in str(err.value) and str(tmp_path / "policy.yaml") in str(err.value)


def test_rule_names_are_unique():
    rule = {"name": "a", "level": "warn", "metric": "totals.gpus", "operator": ">", "threshold": 1}
    with pytest.raises(ValueError, match="repeated: a"):
        Policy.model_validate({"rules": [rule, rule]})


def test_empty_policy_file(tmp_path):
    with pytest.raises(InputError, match="file is empty"):
        load_policy(_policy_file(tmp_path, "# nothing\n"))


# -- evaluation ---------------------------------------------------------------------------------

def test_outcomes_and_their_lines(base, head):
    policy = Policy(rules=[
        _rule(name="gpus-cap", metric="totals.gpus", operator=">", threshold=40, message="buy fewer GPUs"),
        _rule(name="capex", level="warn", metric="capex_delta_pct", threshold=10, message="ask finance"),
        _rule(name="breaker", metric="max_rack_utilization_of_breaker", threshold=0.8),
    ])
    results = evaluate_policy(policy, head, base)
    assert [r.outcome for r in results] == ["deny", "warn", "pass"]
    assert results[0].line() == "deny  gpus-cap: totals.gpus = 41 (> 40): buy fewer GPUs"
    assert results[1].line() == "warn  capex: capex_delta_pct = +47.6% (> 10.0%): ask finance"
    assert results[2].line() == ("pass  breaker: max_rack_utilization_of_breaker = 46.8% "
                                 "at rack h100-sxm-r02 (not > 80.0%)")


def test_rules_over_changes_are_skipped_without_a_base(head):
    [result] = evaluate_policy(Policy(rules=[_rule(metric="capex_delta_pct", threshold=10)]), head)
    assert result.outcome == "skip"
    assert result.line() == "skip  r: capex_delta_pct: needs a base plan (--base)"


def test_slo_margin_deny(base):
    chat = base.deployments[0].model_copy(update={"itl_p95_s": 0.0485})
    tight = base.model_copy(update={"deployments": [chat, *base.deployments[1:]]})
    [result] = evaluate_policy(Policy(rules=[_rule(name="slo", metric="min_slo_margin_pct", operator="<",
                                                   threshold=5)]), tight)
    assert result.outcome == "deny" and "= 3.0% at chat/h100-sxm/fp8/tp4 ITL p95 (< 5.0%)" in result.line()


# -- figures with their units -------------------------------------------------------------------

@pytest.mark.parametrize("metric, value, threshold, shown", [
    ("totals.capex_usd", 440_000.0, 500_000.0, "totals.capex_usd = $440.0k (not > $500.0k)"),
    ("totals.it_power_max_w", 31_000.0, 30_000.0, "totals.it_power_max_w = 31.0 kW (> 30.0 kW)"),
    ("totals.output_tokens_per_year", 113_530_000_000.0, 1e12,
     "totals.output_tokens_per_year = 113,530,000,000 (not > 1,000,000,000,000)"),
    ("delta.totals.capex_usd", 590_000.0, 100_000.0, "delta.totals.capex_usd = +$590.0k (> $100.0k)"),
    ("delta.totals.gpus", -4.0, -2.0, "delta.totals.gpus = -4 (not > -2)"),
    ("delta_pct.totals.tco_usd", 47.5, 10.0, "delta_pct.totals.tco_usd = +47.5% (> 10.0%)"),
    ("gpus_delta", 24.0, 16.0, "gpus_delta = +24 (> 16)"),
    ("max_deployment_utilization", 0.8, 0.9, "max_deployment_utilization = 80.0% (not > 90.0%)"),
])
def test_policy_lines_show_figures_with_units(metric, value, threshold, shown):
    rule = _rule(level="warn", metric=metric, threshold=threshold)
    fires = value > threshold
    line = RuleResult(rule, "warn" if fires else "pass", value).line()
    assert line == f"{'warn' if fires else 'pass'}  r: {shown}"


def test_a_figure_that_rounds_to_its_threshold_shows_more_digits():
    rule = _rule(metric="max_rack_utilization_of_breaker", threshold=1.0)
    assert RuleResult(rule, "deny", 1.0004).line() == (
        "deny  r: max_rack_utilization_of_breaker = 1.0004 (> 1)")
