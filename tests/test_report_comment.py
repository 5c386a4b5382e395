"""`planner report PLAN.json --format comment`: the PR-comment form stays under 60,000 characters for
any fleet (a synthetic 200-workload plan included), keeps the reviewer's figures, says how many rows
it leaves out, points to the full report and is deterministic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.plan import read_plan
from planner.report import render_report
from planner.report.comment import DEFAULT_ROWS, MAX_COMMENT_CHARS, render_comment, watch_items
from planner.schemas.plan import Plan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "plans").glob("*/plan.json"))
BIG_SOURCE = ROOT / "plans" / "multi-model-1mw" / "plan.json"


def big_plan(n_workloads: int = 200, name_chars: int = 60) -> Plan:
    """The 1 MW plan scaled to ``n_workloads`` workloads (long names), one rack per deployment and
    every capacity constraint binding: a fleet far larger than any committed plan."""
    plan = read_plan(BIG_SOURCE).plan
    base = plan.deployments
    deployments, racks, constraints = [], [], []
    for k in range(n_workloads):
        d = base[k % len(base)]
        name = f"w{k:03d}-" + "x" * (name_chars - 5)
        deployments.append(d.model_copy(update={"workload": name}))
        rack = plan.racks[k % len(plan.racks)]
        racks.append(rack.model_copy(update={"id": f"{d.gpu}-r{k:03d}", "liquid_cooling_required": k % 2 == 0}))
        c = plan.constraints[0]
        constraints.append(c.model_copy(update={"name": f"capacity_{name}", "binding": True}))
    return plan.model_copy(update={"deployments": deployments, "racks": racks, "constraints": constraints})


@pytest.mark.parametrize("path", PLANS, ids=[p.parent.name for p in PLANS])
def test_every_committed_plan_gives_a_short_comment_with_its_figures(path):
    plan = read_plan(path).plan
    text = render_comment(plan, "plans/x/plan.json")
    assert len(text) < MAX_COMMENT_CHARS
    assert f"Capacity plan: {plan.scenario.name}".replace("_", "\\_") in text
    servers = f"{plan.totals.servers:,} server" + ("s" if plan.totals.servers != 1 else "")
    assert f"{plan.totals.gpus:,} GPUs in {servers}," in text
    assert "`plans/x/report.md`" in text and "`plans/x/report.html`" in text
    for c in plan.constraints:
        if c.binding:
            assert c.name.replace("_", "\\_") in text
    assert "more deployments" not in text or len(plan.deployments) > DEFAULT_ROWS


def test_a_200_workload_plan_fits_and_says_what_it_leaves_out():
    plan = big_plan()
    md = render_report(plan, "md")
    assert len(md) > MAX_COMMENT_CHARS  # the full report would not fit a comment
    text = render_comment(plan, "plans/big/plan.json")
    assert len(text) < MAX_COMMENT_CHARS
    left = re.search(r"_(\d+) more deployments \(smaller ones\) not shown", text)
    assert left is not None
    shown = text.split("#### Deployments, largest first")[1].count("\n| ") - 1  # minus the header row
    assert shown + int(left.group(1)) == len(plan.deployments)
    assert re.search(r"_(\d+) more binding constraints not shown", text)
    assert "100 racks need liquid cooling" in text


def test_row_caps_halve_until_even_a_huge_fleet_fits():
    plan = big_plan(n_workloads=600, name_chars=200)
    text = render_comment(plan)
    assert len(text) <= MAX_COMMENT_CHARS
    assert "report.md" in text.splitlines()[-1]


def test_the_comment_is_deterministic():
    plan = big_plan(n_workloads=50)
    assert render_comment(plan, "a/plan.json") == render_comment(plan, "a/plan.json")


def test_watch_items_name_what_needs_a_second_look():
    plan = read_plan(BIG_SOURCE).plan
    skipped = plan.model_copy(update={"analysis": plan.analysis.model_copy(update={
        "what_if": "skipped", "objective_alternatives": "skipped", "skipped_reason": "--no-analysis was given"}),
        "status": "feasible"})
    items = watch_items(skipped)
    assert items[0].startswith("the solver did not prove this plan optimal")
    assert "--no-analysis was given" in items[1]
    spare = plan.totals.gpus - sum(d.gpus for d in plan.deployments)
    assert any(i.startswith(f"{spare:,} GPU") for i in items) == (spare > 0)


def test_the_cli_prints_the_comment(tmp_path):
    out = tmp_path / "comment.md"
    result = CliRunner().invoke(cli, ["report", str(BIG_SOURCE), "--format", "comment", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text == render_comment(read_plan(BIG_SOURCE).plan, str(BIG_SOURCE))
    assert "#### Binding limits" in text and "#### Worth a reviewer's eye" in text


def test_with_a_base_the_comment_says_what_changed(tmp_path):
    base = read_plan(BIG_SOURCE).plan
    d = base.deployments[0]
    grown = base.model_copy(update={"deployments": [d.model_copy(update={"replicas": d.replicas + 2,
                                                                         "gpus": d.gpus + 2 * d.tp * d.pp}),
                                                    *base.deployments[1:]]})
    new = tmp_path / "plan.json"
    from planner.plan import dump_plan

    new.write_text(dump_plan(grown))
    result = CliRunner().invoke(cli, ["report", str(new), "--format", "comment", "--base", str(BIG_SOURCE)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "#### Changes against the base: Capacity plan" in text
    assert f"replicas {d.replicas} -> {d.replicas + 2}" in text
    assert text.index("#### Changes against the base") < text.index("#### What to buy")
    assert len(text) < MAX_COMMENT_CHARS


def test_base_is_only_for_the_comment_form():
    result = CliRunner().invoke(cli, ["report", str(BIG_SOURCE), "--format", "md", "--base", str(BIG_SOURCE)])
    assert result.exit_code == 2 and "--base is for --format comment" in result.output


def test_serving_decisions_are_a_compact_column_and_in_the_changes():
    from test_report_serving import _serving_plan

    from planner.gitops.diff import diff_plans
    from planner.gitops.render import render_markdown

    plain = read_plan(ROOT / "plans" / "chatbot" / "plan.json").plan
    if not any(d.speculative or d.power_limit_w for d in plain.deployments):
        assert "| Serving |" not in render_comment(plain)
    plan = _serving_plan(limit_w=560.0)
    text = render_comment(plan)
    assert "Peak IT power | Serving |" in text and "eagle k=3 · 560 W cap |" in text
    d = plan.deployments[0]
    base = plan.model_copy(update={"deployments": [d.model_copy(update={
        "speculative": d.speculative.model_copy(update={"tokens": 4}), "power_limit_w": 700.0})]})
    changes = render_markdown(diff_plans(base, plan))
    text = render_comment(plan, changes=changes)
    assert "speculative eagle k=4 -> k=3" in text and "power limit 700 W -> 560 W" in text


def test_a_huge_fleet_that_changes_every_serving_decision_still_fits():
    from test_report_serving import _serving_plan

    from planner.gitops.diff import diff_plans
    from planner.gitops.render import render_markdown

    d = _serving_plan(limit_w=560.0).deployments[0]
    big = big_plan(n_workloads=300, name_chars=120)
    new = big.model_copy(update={"deployments": [d.model_copy(update={"workload": x.workload})
                                                 for x in big.deployments]})
    changes = render_markdown(diff_plans(big, new))
    text = render_comment(new, "plans/big/plan.json", changes)
    assert len(text) <= MAX_COMMENT_CHARS and "speculative off -> eagle k=3" in text
