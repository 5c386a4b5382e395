"""Audit fixes: power-per-GPU labels, years without separators, the grouped assumptions appendix
(model constants, calibrated coefficients, catalog figures with estimates flagged, notes) and the
what-if section of a plan whose solver skipped the re-solves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import assumptions as a
from planner.report import format as f
from planner.report import render_report
from planner.report.sections.workloads import POWER_PER_GPU_LABEL
from planner.schemas.plan import Plan

FIXTURES = Path(__file__).parent / "fixtures" / "report"
PLANS = ["chatbot", "fleet", "binding"]
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def load(name: str) -> Plan:
    return load_plan(FIXTURES / f"{name}.plan.json")


def section(md: str, number: int) -> str:
    """The Markdown of report section ``number`` (from its heading to the next one)."""
    start = md.index(f"\n## {number}. ")
    end = md.find("\n## ", start + 1)
    return md[start:] if end < 0 else md[start:end]


def md_line(md: str, *parts: str) -> str:
    lines = [line for line in md.splitlines() if line.startswith("| ") and all(p in line for p in parts)]
    assert len(lines) == 1, (parts, lines)
    return lines[0]


# 1. power_per_gpu_avg_w is IT power per GPU with the server's non-GPU share, not GPU power.

@pytest.mark.parametrize("name", PLANS)
def test_power_per_gpu_is_labelled_as_it_power_with_server_share(name: str) -> None:
    plan = load(name)
    for fmt in ("md", "html"):
        text = render_report(plan, fmt)
        # one row per deployment, plus the note explaining estimated_power_per_gpu_watts in the specs
        assert text.count(POWER_PER_GPU_LABEL) == len(plan.deployments) + 1
        assert "Expected average power per GPU" not in text
        prefixes = re.findall(r"(\w+) power per GPU", text, flags=re.I)
        assert prefixes and {p.lower() for p in prefixes} == {"it"}, prefixes


def test_power_per_gpu_label_sits_beside_the_plan_figure() -> None:
    plan = load("fleet")
    html = render_report(plan, "html")
    for i, d in enumerate(plan.deployments):
        row = re.search(rf"<td>{re.escape(POWER_PER_GPU_LABEL)}</td><td[^>]*"
                        rf'data-src="deployments\[{i}\]\.power_per_gpu_avg_w"[^>]*>([^<]*)</td>', html)
        assert row, i
        assert row.group(1) == f.number_text(d.power_per_gpu_avg_w, f.W)


# 2. Years and other identifier-like integers print without thousands separators.

@pytest.mark.parametrize(("key", "value", "text"), [
    ("carbon_year", 2022.0, "2022"), ("carbon_year", 2022, "2022"), ("year", 1999.0, "1999"),
    ("schema_version", 11.0, "11"), ("rack_id", 10234.0, "10234"), ("seed", 123456.0, "123456"),
    ("co2e_t_per_year", 2022.0, "2,022.0 tCO2e/yr"), ("racks", 2022.0, "2,022"),
])
def test_identifier_like_numbers_have_no_separators(key: str, value: float, text: str) -> None:
    cell = f.value_cell(key, value, f"site.{key}")
    assert cell.text == text
    assert cell.src == f"site.{key}"


@pytest.mark.parametrize("year", [2022.0, 2022, "2022"])
def test_factor_year_prints_without_a_separator(year: float | int | str) -> None:
    plan = load("fleet")
    plan = plan.model_copy(update={"site": {**plan.site, "carbon_year": year}})
    for fmt in ("md", "html"):
        text = render_report(plan, fmt)
        assert "2,022" not in text
    md = render_report(plan, "md")
    assert "| Emission factor year | 2022 |" in md
    assert "| Factor year | 2022 |" in md


# 3. The assumptions appendix, grouped.

GROUPS = ["### Model constants", "### Calibrated coefficients", "### Catalog figures used", "### Notes"]


@pytest.mark.parametrize("name", PLANS)
def test_appendix_groups_in_order(name: str) -> None:
    appendix = section(render_report(load(name), "md"), 7)
    positions = [appendix.index(heading) for heading in GROUPS]
    assert positions == sorted(positions)
    assert appendix.index(GROUPS[-1]) < appendix.index("### Site inputs")
    assert "### Plan assumptions" not in appendix


@pytest.mark.parametrize("name", PLANS)
def test_every_assumption_row_is_shown_once_and_traceable(name: str) -> None:
    plan = load(name)
    html = render_report(plan, "html")
    for i, row in enumerate(plan.assumptions):
        cells = re.findall(rf'data-src="assumptions\[{i}\]\.value"[^>]*>([^<]*)<', html)
        assert len(cells) == 1, (i, row)
        assert cells[0] == row["value"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if row.get("source") and row["name"] != "note":
            assert html.count(f'data-src="assumptions[{i}].source"') == 1


def test_fixtures_carry_every_kind_of_assumption() -> None:
    kinds = {name: a.group(load(name).assumptions) for name in PLANS}
    for groups in kinds.values():
        assert groups.constants and groups.coefficients and groups.catalog
    assert any(g.notes for g in kinds.values())
    assert any(a.is_estimate(r.get("source")) for g in kinds.values() for r in g.catalog)


def test_catalog_rows_flag_estimates() -> None:
    plan = load("fleet")
    md = render_report(plan, "md")
    catalog = a.group(plan.assumptions).catalog
    assert len(catalog) == 9  # price, datasheet and server of three GPU types
    for row in catalog:
        gpu, figure = a.catalog_figure(row.name) or ("", "")
        line = md_line(section(md, 7), f"| {gpu} | {figure} |")
        assert ("| **estimate** |" in line) == ("ESTIMATE" in row.get("source")), line
    assert "| **estimate** |" in md_line(md, "| b200 | price |")
    assert "| **estimate** |" in md_line(md, "| l40s | server |")
    assert "| **estimate** |" not in md_line(md, "| h100-sxm | price |")
    html = render_report(plan, "html")
    assert html.count('<td class="flag" data-src="derived:catalog_estimate">estimate</td>') == 2


def test_coefficients_show_value_range_and_whether_the_fit_hit_a_bound() -> None:
    md = section(render_report(load("fleet"), "md"), 7)
    assert "| Coefficient | Value | Unit | Plausible range | Within range | Source |" in md
    assert md_line(md, "| eta\\_weight\\_bw |").startswith("| eta\\_weight\\_bw | 0.776811 | 1 | 0.5-0.95 | yes |")
    assert "| 0.6 | 1 | 0-0.6 | **at bound** |" in md_line(md, "| power\\_active\\_share |")
    assert "| calibration file | calibration.yaml |" in md
    priors = section(render_report(load("binding"), "md"), 7)
    assert "at bound" not in priors.split("### Catalog figures used")[0].split("\n| Coefficient")[1]
    assert "| calibration file | priors |" in priors


def test_notes_are_listed() -> None:
    md = section(render_report(load("fleet"), "md"), 7)
    notes = md.split("### Notes")[1].split("###")[0]
    assert "| h200 left out: no price in the catalog" in notes


@pytest.mark.parametrize(("value", "bounds", "position"), [
    ("0.5", "0.2-0.85", "within"), ("0.6", "0-0.6", "at bound"), ("0.2", "0.2-0.85", "at bound"),
    ("0", "0-0.0001", "at bound"), ("5.1e-05", "0-0.0001", "within"), ("3e+09", "5e+08-8e+09", "within"),
    ("9e+09", "5e+08-8e+09", "outside"), ("0.1", "0.2-0.85", "outside"), ("calibration.yaml", "", None),
    ("0.5", "", None), ("0.5", "low-high", None),
])
def test_range_position(value: str, bounds: str, position: str | None) -> None:
    assert a.range_position(value, bounds) == position


def test_grouping_of_solver_rows() -> None:
    rows = [{"name": "gpu_memory_utilization", "value": "0.9"}, {"name": "coefficient eta_compute", "value": "0.7"},
            {"name": "calibration file", "value": "priors"}, {"name": "b200 price", "value": "40000"},
            {"name": "b200 datasheet", "value": "x"}, {"name": "h100-sxm server", "value": "y"},
            {"name": "electricity price", "value": "0.1"}, {"name": "note", "value": "z price"},
            {"name": "hours per year", "value": "8760"}]
    g = a.group(rows, ["h100-sxm"])
    assert [r.index for r in g.constants] == [0, 6, 8]
    assert [r.index for r in g.coefficients] == [2, 1]
    assert [r.index for r in g.catalog] == [3, 4, 5]
    assert [r.index for r in g.notes] == [7]
    assert [r.index for r in a.group(rows).catalog] == [3, 4]  # h100-sxm: no datasheet row, not bought


def test_solved_plan_assumptions_are_grouped() -> None:
    from planner.optimize import solve_scenario

    plan = solve_scenario(SCENARIOS / "chatbot.yaml")
    groups = a.group(plan.assumptions)
    coefficient_rows = [x for x in plan.assumptions if x["name"].startswith("coefficient ")]
    assert len(groups.coefficients) == len(coefficient_rows) + 1  # and the calibration file
    gpus = {a.catalog_figure(r.name)[0] for r in groups.catalog}  # type: ignore[index]
    assert len(groups.catalog) == 3 * len(gpus) and {g.gpu for g in plan.servers} <= gpus
    md = render_report(plan, "md")
    estimates = [r for r in groups.catalog if a.is_estimate(r.get("source"))]
    assert section(md, 7).count("| **estimate** |") == len(estimates)


# 4. What-if skipped by the solver.

SKIPPED = "were not computed for this plan"


def test_skipped_what_if_is_explained() -> None:
    plan = load("binding")
    note = a.skipped_analysis_note(plan.assumptions)
    assert note and "were skipped" in note
    whatif = section(render_report(plan, "md"), 6)
    assert SKIPPED in whatif
    assert "Solver note: 1184 candidates (over 400): the tie-break pass" in whatif
    assert "The plan carries no marginal values" not in whatif
    assert "### Marginal values of the limits" not in whatif
    assert "### All constraints" in whatif
    html = render_report(plan, "html")
    assert 'id="what-if-skipped"' in html and "Solver note: 1184 candidates" in html


def test_empty_what_if_without_a_skip_note_keeps_the_empty_tables() -> None:
    plan = load("chatbot").model_copy(update={"what_if": []})
    whatif = section(render_report(plan, "md"), 6)
    assert SKIPPED not in whatif
    assert "The plan carries no marginal values" in whatif
    assert "no alternative-objective results" in whatif


@pytest.mark.parametrize("update", [
    {"what_if": [{"limit": "racks", "constraint": "racks", "change": "+1 rack",
                  "objective_delta_usd_per_year": -1000.0, "method": "re-solve"}]},
    {"objective_alternatives": [{"objective": "min_power", "status": "optimal", "tco_per_year_usd": 1.0e6,
                                 "it_power_max_w": 9.0e4}]},
])
def test_skip_note_is_not_shown_when_the_plan_has_what_if_results(update: dict[str, object]) -> None:
    whatif = section(render_report(load("binding").model_copy(update=update), "md"), 6)
    assert SKIPPED not in whatif
    assert "### Marginal values of the limits" in whatif
