"""Golden Markdown reports: the PR comment of each fixture plan is pinned byte for byte.

After an intended change to the report, regenerate the goldens and review their diff:

    UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_report_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import render_report

FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_markdown_matches_golden(name: str) -> None:
    markdown = render_report(load_plan(FIXTURES / f"{name}.plan.json"), "md")
    golden = FIXTURES / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(markdown, encoding="utf-8", newline="\n")
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1 to create it"
    assert markdown == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs from the rendered report; if the change is intended, "
        "regenerate with UPDATE_GOLDEN=1 python3 -m pytest -q tests/test_report_golden.py")
