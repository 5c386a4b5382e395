"""The HTML report in headless Chromium at 1400 and 800 px: no table cell, table or code block
is wider than its box (nothing hidden behind a scrollbar or cut), no chart label leaves its chart,
and a five-model plan prints to fewer than 12 A4 pages.

A copy of each committed report gets a small measuring script (tests/fixtures/report/
layout_probe.js; the report itself has no script and a CSP that forbids one) whose findings
Chromium's --dump-dom returns. Skipped with a reason when Chromium is not on PATH.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from test_report_browser import CHROMIUM, run_chromium

from planner.plan import load_plan
from planner.report import render_report

ROOT = Path(__file__).resolve().parent.parent
PLANS = sorted((ROOT / "plans").glob("*/plan.json"))
PROBE = (Path(__file__).parent / "fixtures" / "report" / "layout_probe.js").read_text(encoding="utf-8")
CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH; CI installs Debian's "
                                "`chromium` package in .ci/run (apt-get install chromium)")


def _page(tmp_path: Path, plan_path: Path) -> Path:
    page = tmp_path / f"{plan_path.parent.name}.html"
    text = render_report(load_plan(plan_path), "html")
    assert CSP.search(text), "the report should carry its Content-Security-Policy"
    page.write_text(CSP.sub("", text).replace("</body>", f"<script>{PROBE}</script></body>"), encoding="utf-8")
    return page


@pytest.mark.parametrize("width_px", [1400, 800])
@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.parent.name)
def test_nothing_overflows_its_box(plan_path: Path, width_px: int, tmp_path: Path) -> None:
    result = run_chromium(tmp_path, _page(tmp_path, plan_path), f"--window-size={width_px},2000", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, "the layout probe did not run"
    assert json.loads(html.unescape(found.group(1))) == []


def test_a_five_model_plan_prints_to_fewer_than_12_pages(tmp_path: Path) -> None:
    plan_path = ROOT / "plans" / "multi-model-1mw" / "plan.json"
    assert len({d.workload for d in load_plan(plan_path).deployments}) >= 5
    page = tmp_path / "report.html"
    page.write_text(render_report(load_plan(plan_path), "html"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    result = run_chromium(tmp_path, page, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert result.returncode == 0, result.stderr[-2000:]
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 0 < pages < 12, f"{pages} pages"


@pytest.mark.parametrize("width_px", [1400, 800])
def test_a_long_launch_command_wraps_inside_its_box(width_px: int, tmp_path: Path) -> None:
    """How to run blocks (section 5): a speculative vLLM command with a long JSON argument and notes."""
    from test_report_serving import _serving_plan

    from planner.plan.io import write_plan

    plan = _serving_plan(limit_w=560.0, notes=["x" * 300])
    plan_path = tmp_path / "launch" / "plan.json"
    plan_path.parent.mkdir()
    write_plan(plan, plan_path)
    assert "How to run" in render_report(load_plan(plan_path), "html")
    result = run_chromium(tmp_path, _page(tmp_path, plan_path), f"--window-size={width_px},2000", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, "the layout probe did not run"
    assert json.loads(html.unescape(found.group(1))) == []
