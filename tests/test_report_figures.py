"""Every figure the reports show equals the plan's value, within the rounding the report chose.

HTML: each numeric cell names its source (``data-src``); plan-sourced cells are parsed back and
compared with the plan (scaled into the unit shown). Markdown shows the same table cells as the
HTML (compared as multisets), and its key figures are also checked by label directly.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from planner.plan import load_plan
from planner.report import render_report
from planner.schemas.plan import Plan
from planner.units import BTU_PER_HR_PER_COOLING_TON

FIXTURES = Path(__file__).parent / "fixtures" / "report"
PLANS = ["chatbot", "fleet", "binding"]
UNITS = ("kW", "W", "kWh", "kWh/yr", "USD", "USD/yr", "USD/kWh", "USD/kW-month", "BTU/hr", "tons",
         "tCO2e/yr", "gCO2e/kWh", "ms", "%", "req/s", "tok/s", "tok/s per kW", "J/token", "billion tok/yr",
         "years", "A", "V", "GPUs", "servers", "racks")
NUMBER = re.compile(r"^(-?[\d,]+(?:\.\d+)?)(?: (" + "|".join(re.escape(u) for u in UNITS) + "))?$")
PATH_PART = re.compile(r"(\w+)(?:\[(\d+)\])?")


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


class _Cells(HTMLParser):
    """(attributes, text) of every <td> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[dict[str, str | None], str]] = []
        self._open: tuple[dict[str, str | None], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._open = (dict(attrs), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._open is not None:
            self.cells.append((self._open[0], "".join(self._open[1])))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)


def html_cells(html: str) -> list[tuple[dict[str, str | None], str]]:
    parser = _Cells()
    parser.feed(html)
    return parser.cells


LEFT_OUT_AS = {"ep": 1, "dp": 1}
"""Keys plan.json leaves out at their plain value (a replica without expert or data parallelism)."""


def resolve(data: Any, path: str) -> Any:
    for part in path.split("."):
        match = PATH_PART.fullmatch(part)
        assert match, path
        if match.group(1) in LEFT_OUT_AS and match.group(1) not in data:
            return LEFT_OUT_AS[match.group(1)]
        data = data[match.group(1)]
        if match.group(2) is not None:
            data = data[int(match.group(2))]
    return data


def unit_key(data: dict[str, Any], path: str) -> str:
    """The key whose suffix says the SI unit of the value at ``path``."""
    key = path.rsplit(".", 1)[-1]
    if path.startswith("constraints[") and key in ("value", "limit", "slack"):
        return "_" + resolve(data, path.rsplit(".", 1)[0])["unit"].lower()
    if path == "objective.value" or key == "objective_delta":
        return "_" + data["objective"]["unit"].lower()
    return key


def display_scale(key: str, shown_unit: str) -> float:
    """How the report scales an SI value into the unit it shows (decided here, independently)."""
    if shown_unit == "kW" and key.endswith("_w"):
        return 1e-3
    if shown_unit == "ms" and key.endswith("_s"):
        return 1e3
    if shown_unit == "%":
        return 100.0
    if shown_unit == "billion tok/yr":
        return 1e-9
    return 1.0


def assert_shows(text: str, value: Any, key: str, where: str) -> None:
    if value is None:
        assert text == "n/a", where
        return
    if isinstance(value, str):
        assert text == value, where
        return
    match = NUMBER.fullmatch(text)
    assert match, f"{where}: {text!r} is not a number with a unit"
    shown = float(match.group(1).replace(",", ""))
    decimals = len(match.group(1).split(".")[1]) if "." in match.group(1) else 0
    scale = display_scale(key, match.group(2) or "")
    tolerance = 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-12
    assert abs(shown - value * scale) <= tolerance, f"{where}: shows {text!r}, plan has {value}"


@pytest.mark.parametrize("name", PLANS)
def test_every_plan_figure_in_the_html_equals_the_plan(name: str) -> None:
    plan = load(name)
    data = plan.model_dump(mode="json")
    checked = 0
    for attrs, text in html_cells(render_report(plan, "html")):
        src = attrs.get("data-src")
        if src is None or ":" in src:
            continue
        assert_shows(text, resolve(data, src), unit_key(data, src), src)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("name", PLANS)
def test_every_number_cell_in_the_html_names_its_source(name: str) -> None:
    untraced = [text for attrs, text in html_cells(render_report(load(name), "html"))
                if NUMBER.fullmatch(text) and "data-src" not in attrs]
    assert untraced == []


SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize("scenario", ["chatbot", "multi-model-1mw"])
def test_figures_of_solved_example_scenarios(scenario: str) -> None:
    from planner.optimize import solve_scenario

    plan = solve_scenario(SCENARIOS / f"{scenario}.yaml")
    data = plan.model_dump(mode="json")
    cells = html_cells(render_report(plan, "html"))
    traced = [(str(attrs["data-src"]), text) for attrs, text in cells
              if attrs.get("data-src") and ":" not in str(attrs["data-src"])]
    for src, text in traced:
        assert_shows(text, resolve(data, src), unit_key(data, src), src)
    assert [text for attrs, text in cells if NUMBER.fullmatch(text) and "data-src" not in attrs] == []
    assert len(traced) > 50


def markdown_cells(md: str) -> list[str]:
    """Body cells of every pipe table, Markdown escapes and bold removed."""
    cells = []
    for line in md.splitlines():
        if not line.startswith("| ") or set(line) <= set("|-: "):
            continue
        for raw in re.split(r"(?<!\\)\|", line)[1:-1]:
            cell = raw.strip()
            if cell.startswith("**") and cell.endswith("**"):
                cell = cell[2:-2]
            cells.append(re.sub(r"\\(.)", r"\1", cell))
    return cells


def markdown_header_lines(md: str) -> set[str]:
    lines = md.splitlines()
    return {lines[i - 1] for i, line in enumerate(lines) if line.startswith("|---") or line.startswith("|--")}


@pytest.mark.parametrize("name", PLANS)
def test_markdown_shows_the_same_cells_as_the_html(name: str) -> None:
    plan = load(name)
    md = render_report(plan, "md")
    headers = markdown_header_lines(md)
    md_body = [c for c in markdown_cells("\n".join(line for line in md.splitlines() if line not in headers))]
    html_body = [text for _, text in html_cells(render_report(plan, "html"))]
    assert Counter(md_body) == Counter(html_body)


KEY_FIGURES = {
    "Capex (GPUs, servers, network, storage, racks)": "totals.capex_usd",
    "TCO per year (capex amortized)": "totals.tco_per_year_usd",
    "Cost per million output tokens": "totals.usd_per_million_tokens",
    "IT power, nameplate maximum (circuits, PSUs)": "totals.it_power_nameplate_w",
    "IT power, expected peak (at peak traffic)": "totals.it_power_max_w",
    "IT power, expected average (energy, cost, carbon)": "totals.it_power_avg_w",
    "Facility power, expected peak (IT x PUE)": "totals.facility_power_max_w",
    "Heat at expected peak": "totals.heat_btu_per_hr",
    "Cooling": "totals.cooling_tons",
    "Carbon, location-based": "totals.co2e_t_per_year",
    "Facility energy per year (IT x PUE)": "totals.annual_facility_energy_kwh",
    "IT energy per year (expected average x 8,760 h)": "totals.annual_energy_kwh",
    "Electricity cost per year": "totals.annual_energy_cost_usd",
    "TCO over the horizon": "totals.tco_usd",
    "IT energy per output token, at peak traffic": "totals.joules_per_output_token",
    "Grid emission factor": "site.carbon_g_per_kwh",
    "PUE": "site.pue",
}


@pytest.mark.parametrize("name", PLANS)
def test_markdown_key_figures_by_label(name: str) -> None:
    plan = load(name)
    data = plan.model_dump(mode="json")
    rows: dict[str, str] = {}
    for line in render_report(plan, "md").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] if line.startswith("| ") else []
        if len(cells) == 2:
            rows.setdefault(re.sub(r"\\(.)", r"\1", cells[0]), cells[1])
    for label, path in KEY_FIGURES.items():
        assert_shows(rows[label], resolve(data, path), unit_key(data, path), label)


@pytest.mark.parametrize("name", PLANS)
def test_rack_cooling_tons_are_heat_over_12000(name: str) -> None:
    """Each row of the rack table (one per run of alike racks) shows its first rack's heat / 12,000."""
    plan = load(name)
    cells = html_cells(render_report(plan, "html"))
    shown = [(str(heat.get("data-src")), tons) for (heat, _), (attrs, tons) in zip(cells, cells[1:], strict=False)
             if attrs.get("data-src") == "derived:rack_cooling_tons"]
    assert shown
    for src, text in shown:
        index = re.fullmatch(r"racks\[(\d+)\]\.heat_btu_per_hr", src)
        assert index, src
        rack = plan.racks[int(index.group(1))]
        assert_shows(text, rack.heat_btu_per_hr / BTU_PER_HR_PER_COOLING_TON, "tons", rack.id)


def test_three_power_figures_are_labelled_and_distinct() -> None:
    md = render_report(load("fleet"), "md")
    for label in ("| Nameplate maximum |", "| Expected peak |", "| Expected average |"):
        assert label in md
    assert "PUE is an annualized energy ratio" in md


def test_flags_racks_above_the_air_cooling_limit() -> None:
    plan = load("fleet")
    liquid = [r.id for r in plan.racks if r.liquid_cooling_required]
    assert liquid == ["R01", "R02", "R04", "R05"]
    md = render_report(plan, "md")
    assert "Racks above the air-cooling limit (liquid cooling required): R01, R02, R04, R05." in md
    assert "No rack is above the air-cooling limit." in render_report(load("chatbot"), "md")


def test_binding_rack_power_is_reported() -> None:
    md = render_report(load("binding"), "md")
    summary = md.split("## 2.")[0]
    assert "**rack\\_power\\[FRA-1\\]**" in summary
    assert "| 100.0 % |" in summary
