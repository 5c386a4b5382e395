"""User text (scenario name and description, reasons, ids) is shown as text in both formats:
HTML autoescapes it, Markdown escapes it, and Jinja syntax in it is never evaluated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import render_report
from planner.schemas.plan import Plan

FIXTURES = Path(__file__).parent / "fixtures" / "report"
SCRIPT = "<script>alert('x')</script>"
JINJA = "{{ 7*7 }} {% if true %}yes{% endif %} {# comment #}"


def hostile_plan() -> Plan:
    plan = load_plan(FIXTURES / "fleet.plan.json")
    scenario = plan.scenario.model_copy(update={"name": f"evil{SCRIPT}", "description": f"{JINJA} {SCRIPT} "
                                                "<img src=x onerror=alert(1)> a | b *c* $x$ [l](u)"})
    alternatives = [plan.alternatives[0].model_copy(update={"reason": f"{SCRIPT} {{{{ 6*7 }}}} | pipe"}),
                    *plan.alternatives[1:]]
    racks = [plan.racks[0].model_copy(update={"id": "<b>R1</b>"}), *plan.racks[1:]]
    return plan.model_copy(update={"scenario": scenario, "alternatives": alternatives, "racks": racks})


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(hostile_plan(), "html")


@pytest.fixture(scope="module")
def markdown() -> str:
    return render_report(hostile_plan(), "md")


def test_html_has_no_script_or_injected_markup(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<b>r1</b>" not in lowered
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_html_shows_jinja_syntax_as_text(html: str) -> None:
    assert "{{ 7*7 }} {% if true %}yes{% endif %} {# comment #}" in html
    assert "{{ 6*7 }}" in html
    assert ">49<" not in html and " 42 " not in html


def test_chart_labels_are_escaped(html: str) -> None:
    assert "&lt;b&gt;R1&lt;/b&gt;" in html.split("<figure")[1]


def test_markdown_escapes_user_text(markdown: str) -> None:
    assert re.search(r"(?<!\\)[<>]", markdown) is None, "an unescaped < or > reached the Markdown"
    assert "\\<script\\>alert('x')\\</script\\>" in markdown
    assert "{{ 7\\*7 }} {% if true %}yes{% endif %} {\\# comment \\#}" in markdown
    assert "a \\| b \\*c\\* \\$x\\$ \\[l\\](u)" in markdown


def test_markdown_table_rows_keep_their_columns(markdown: str) -> None:
    row = next(line for line in markdown.splitlines() if "pipe" in line and line.startswith("| "))
    assert row.count(" | ") + 2 == row.count("|") - row.count("\\|")
    assert "\\| pipe" in row
