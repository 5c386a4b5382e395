"""Reports are byte-deterministic, the HTML is self-contained (no network reference, no script),
and no plotting library is imported to render a report."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import render_report
from planner.schemas.plan import Assumption, Plan

FIXTURES = Path(__file__).parent / "fixtures" / "report"
ROOT = Path(__file__).resolve().parent.parent  # `python -c` in ROOT imports this checkout's planner
URL = re.compile(r"^\s*(https?:)?//", re.I)


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_same_plan_same_bytes(fmt: str) -> None:
    assert render_report(load("fleet"), fmt) == render_report(load("fleet"), fmt)


def test_same_bytes_in_another_process_with_another_hash_seed() -> None:
    code = ("import hashlib, sys; from planner.plan import load_plan;"
            "from planner.report import render_report;"
            f"p = load_plan({str(FIXTURES / 'fleet.plan.json')!r});"
            "sys.stdout.write(hashlib.sha256((render_report(p, 'html') + render_report(p, 'md'))"
            ".encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    plan = load("fleet")
    expected = hashlib.sha256((render_report(plan, "html") + render_report(plan, "md")).encode()).hexdigest()
    assert out.stdout == expected


class _References(HTMLParser):
    """Tags and URL-bearing attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.urls: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset") and value:
                self.urls.append(value)
            if name == "style" and value:
                self.styles.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


@pytest.mark.parametrize("name", ["chatbot", "fleet", "binding"])
def test_html_is_self_contained(name: str) -> None:
    html = render_report(load(name), "html")
    refs = _References()
    refs.feed(html)
    for tag in ("script", "link", "iframe", "object", "embed", "img", "video", "audio", "base", "form"):
        assert refs.tags[tag] == 0, tag
    assert all(url.startswith("#") for url in refs.urls), refs.urls
    for css in refs.styles:
        assert "@import" not in css
        assert not re.search(r"url\(\s*['\"]?(?!#)", css), css
    assert not re.search(r"https?://", html), "no http(s) URL anywhere in the fixture reports"
    assert "@media print" in html


def test_urls_in_plan_text_stay_text() -> None:
    plan = load("chatbot")
    source = Assumption(name="x", value="1", unit="W", source="https://docs.nvidia.com/dgx/", range="")
    html = render_report(plan.model_copy(update={"assumptions": [*plan.assumptions, source]}), "html")
    refs = _References()
    refs.feed(html)
    assert not any(URL.match(url) for url in refs.urls)
    assert ">https://docs.nvidia.com/dgx/<" in html


def test_charts_are_inline_svg_with_unique_ids() -> None:
    html = render_report(load("fleet"), "html")
    assert html.count("<svg ") == 3
    assert 'aria-label="Cost versus power of alternative objectives"' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', html):
        assert ref in ids, ref


def test_pareto_chart_absent_without_alternative_objectives() -> None:
    html = render_report(load("chatbot"), "html")
    assert html.count("<svg ") == 2
    assert "no alternative-objective results" in html


def test_markdown_does_not_import_matplotlib() -> None:
    code = ("import sys; from planner.plan import load_plan; from planner.report import render_report;"
            "import planner.cli.report_cmd;"
            f"render_report(load_plan({str(FIXTURES / 'fleet.plan.json')!r}), 'md');"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
