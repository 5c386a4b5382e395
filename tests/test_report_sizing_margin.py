"""The sizing margin (workloads[].sizing_confidence, issue 11 item 7) where people read a plan: the report shows
per deployment the factors and the error groups they come from and in the key figures the GPUs added versus the
point estimate; planner solve's summary and the PR comment say it in one line. Also: the summary's GPU power
limit column when a deployment runs below TDP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_report_figures import assert_shows, html_cells, resolve, unit_key
from test_report_serving import _serving_plan

from planner.api import solve
from planner.cli.main import main
from planner.cli.solve_cmd import _summary
from planner.plan import load_plan
from planner.report import render_report
from planner.report.comment import MAX_COMMENT_CHARS, render_comment
from planner.report.markdown import escape
from planner.schemas.plan import Plan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"
FIXTURE = Path(__file__).parent / "fixtures" / "report" / "chatbot.plan.json"


def _doc(confidence: float) -> dict[str, Any]:
    doc = yaml.safe_load(CHATBOT.read_text(encoding="utf-8"))
    doc.pop("overrides", None)
    doc["workloads"][0]["sizing_confidence"] = confidence
    return doc


@pytest.fixture(scope="module")
def sized() -> Plan:
    return solve(_doc(0.9))


def test_the_report_shows_each_deployments_factors_and_groups(sized: Plan) -> None:
    md = render_report(sized, "md")
    for d in sized.deployments:
        m = d.sizing_margin
        assert m is not None
        assert f"| TTFT estimate multiplied by | {m.ttft_factor:.3f} |" in md
        assert f"| ITL estimate multiplied by | {m.itl_factor:.3f} |" in md
        assert f"| Capacity divided by (throughput error) | {m.throughput_factor:.3f} |" in md
        assert escape(m.group) in md
    totals = sized.totals.sizing_margin
    assert totals is not None
    assert f"| GPUs added by sizing\\_confidence | {totals.gpus_added:,} |" in md
    assert f"| GPUs at the point estimate (without sizing\\_confidence) | {totals.gpus_at_point_estimate:,} |" in md


def test_every_margin_figure_in_the_html_is_the_plans(sized: Plan) -> None:
    data = sized.model_dump(mode="json")
    cells = [(str(a["data-src"]), text) for a, text in html_cells(render_report(sized, "html"))
             if "sizing_margin" in str(a.get("data-src"))]
    keys = {src.rsplit(".", 1)[-1] for src, _ in cells}
    assert keys == {"confidence", "ttft_factor", "itl_factor", "throughput_factor", "group", "gpus_added",
                    "gpus_at_point_estimate", "objective_at_point_estimate"}
    for src, text in cells:
        assert_shows(text, resolve(data, src), unit_key(data, src), src)


def test_solve_prints_the_margin_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "sized.yaml"
    scenario.write_text(yaml.safe_dump(_doc(0.9)), encoding="utf-8")
    assert main(["solve", str(scenario), "--no-write", "--no-analysis"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "sizing margin" in line]
    assert len(lines) == 1
    assert lines[0].startswith("sizing margin (sizing_confidence 0.9): ")
    assert "GPUs over the point estimate's" in lines[0] and "TTFT x" in lines[0] and "capacity /" in lines[0]


def test_the_pr_comment_says_it_in_one_line(sized: Plan) -> None:
    text = render_comment(sized)
    margin = sized.totals.sizing_margin
    assert margin is not None
    lines = [line for line in text.splitlines() if "sizing\\_confidence" in line]
    assert len(lines) == 1
    assert f"{margin.gpus_added:+d} GPUs over the point estimate's {margin.gpus_at_point_estimate}" in lines[0]
    assert len(text) < MAX_COMMENT_CHARS


def test_a_plan_at_the_point_estimate_mentions_no_margin() -> None:
    plan = load_plan(FIXTURE)
    assert plan.totals.sizing_margin is None and all(d.sizing_margin is None for d in plan.deployments)
    for text in (render_report(plan, "md"), render_report(plan, "html"), render_comment(plan), _summary(plan)):
        lowered = text.lower().replace("\\_", "_")
        assert "sizing_confidence" not in lowered and "sizing margin" not in lowered and "sized at" not in lowered


def test_the_summary_has_a_power_limit_column_only_below_tdp() -> None:
    limited = _summary(_serving_plan(limit_w=560.0)).splitlines()
    header = next(line for line in limited if line.startswith("workload"))
    assert header.rstrip().endswith("GPU W cap")
    row = next(line for line in limited if line.startswith(_serving_plan().deployments[0].workload))
    assert row.rstrip().endswith(" 560")
    assert "GPU W cap" not in _summary(_serving_plan())
