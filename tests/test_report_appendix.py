"""Audit fixes: power-per-GPU labels, years without separators, the grouped assumptions appendix
(model constants, calibrated coefficients, catalog figures with estimates flagged, notes) and the
what-if section of a plan whose solver skipped the re-solves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from planner.plan import load_plan, parse_plan
from planner.report import assumptions as a
from planner.report import format as f
from planner.report import render_report
from planner.report.sections.workloads import POWER_PER_GPU_LABEL
from planner.schemas.plan import Analysis, Assumption, Plan, WhatIf

FIXTURES = Path(__file__).parent / "fixtures" / "report"
PLANS_1X = Path(__file__).parent / "fixtures" / "plans-1.x"
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
        # one row per deployment (the specs note names its keys, which say whose power they are)
        assert text.count(POWER_PER_GPU_LABEL) == len(plan.deployments)
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
    """1.x plans wrote the year as 2022.0 (or, by hand, "2022"); 2.0 reads it as the integer 2022."""
    data = json.loads((PLANS_1X / "chatbot.json").read_text(encoding="utf-8"))
    data["site"]["carbon_year"] = year
    plan = parse_plan(json.dumps(data), "plan.json")
    assert plan.site.carbon_year == 2022
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
    bought = {g.gpu for g in plan.servers}
    for i, row in enumerate(plan.assumptions):
        cells = re.findall(rf'data-src="assumptions\[{i}\]\.value"[^>]*>([^<]*)<', html)
        gpu = (a.catalog_figure(row.name) or ("", ""))[0]
        if gpu and gpu not in bought:  # a GPU type considered but not bought: in plan.json, not the report
            assert cells == [] and gpu in html, (i, row)
            continue
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
    named = [("gpu_memory_utilization", "0.9"), ("coefficient eta_compute", "0.7"), ("calibration file", "priors"),
             ("b200 price", "40000"), ("b200 datasheet", "x"), ("h100-sxm server", "y"),
             ("electricity price", "0.1"), ("note", "z price"), ("hours per year", "8760")]
    rows = [Assumption(name=name, value=value, unit="", source="", range="") for name, value in named]
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
    # per GPU: price, datasheet, server, and the capex lines network, storage and support
    assert len(groups.catalog) == 6 * len(gpus) and {g.gpu for g in plan.servers} <= gpus
    md = render_report(plan, "md")
    bought = {g.gpu for g in plan.servers}
    estimates = [r for r in groups.catalog if a.is_estimate(r.get("source")) and a.catalog_figure(r.name)[0] in bought]
    assert section(md, 7).count("| **estimate** |") == len(estimates)


# 4. What-if skipped by the solver.

SKIPPED = "were not computed for this plan"


def test_skipped_what_if_is_explained() -> None:
    plan = load("binding")
    assert plan.analysis.skipped and plan.analysis.skipped_reason
    whatif = section(render_report(plan, "md"), 6)
    assert SKIPPED in whatif
    assert "Reason: 1184 candidates (over 400): the tie-break pass" in whatif
    assert "The plan carries no marginal values" not in whatif
    assert "### Marginal values of the limits" not in whatif
    assert "### All constraints" in whatif
    html = render_report(plan, "html")
    assert 'id="what-if-skipped"' in html and "Reason: 1184 candidates" in html


def test_a_skipped_analysis_is_read_from_the_plan_not_from_its_notes() -> None:
    """The note row stays in the appendix, but only ``analysis`` decides the what-if section."""
    plan = load("binding")
    done = plan.model_copy(update={"analysis": Analysis(what_if="done", objective_alternatives="done")})
    assert any(r.name == "note" and "were skipped" in r.value for r in done.assumptions)
    assert SKIPPED not in section(render_report(done, "md"), 6)
    no_notes = load("chatbot").model_copy(update={"assumptions": [], "analysis": plan.analysis})
    assert "Reason: 1184 candidates" in section(render_report(no_notes, "md"), 6)


def test_empty_what_if_without_a_skip_note_keeps_the_empty_tables() -> None:
    plan = load("chatbot").model_copy(update={"what_if": []})
    whatif = section(render_report(plan, "md"), 6)
    assert SKIPPED not in whatif
    assert "The plan carries no marginal values" in whatif
    assert "no alternative-objective results" in whatif


def test_skip_note_is_not_shown_when_the_analysis_ran() -> None:
    entry = WhatIf.model_validate({"limit": "racks", "constraint": "racks", "change": "+1 rack",
                                   "objective_delta_usd_per_year": -1000.0, "method": "re-solve"})
    plan = load("binding").model_copy(update={
        "what_if": [entry], "analysis": Analysis(what_if="done", objective_alternatives="done")})
    whatif = section(render_report(plan, "md"), 6)
    assert SKIPPED not in whatif
    assert "### Marginal values of the limits" in whatif
    assert md_line(whatif, "| racks | racks | +1 rack | re-solve |").endswith("| -1,000 USD/yr |")


@pytest.mark.parametrize(("unit", "header", "shown"), [
    ("usd_per_year", "Objective change per year", "-1,000 USD/yr"),
    ("w", "Objective change (expected peak IT power)", "-1.00 kW"),
    ("kwh_per_year", "Objective change per year", "-1,000 kWh/yr"),
    ("gpus", "Objective change (GPUs)", "-1,000 GPUs"),
    ("t_co2e_per_year", "Objective change per year", "-1,000.0 tCO2e/yr")])
def test_a_what_if_value_is_shown_in_its_objective_unit(unit: str, header: str, shown: str) -> None:
    entry = WhatIf(limit="racks", constraint="racks", change="+1 rack", method="re-solve", objective_delta=-1000.0,
                   objective_unit=unit)  # type: ignore[arg-type]
    whatif = section(render_report(load("chatbot").model_copy(update={"what_if": [entry]}), "md"), 6)
    assert f"| Limit | Constraint | Change | Method | {header} |" in whatif
    assert md_line(whatif, "| racks | racks | +1 rack |").endswith(f"| {shown} |")
