"""Capex lines end to end: a solved plan's capex is GPUs + servers + network + storage + racks and PDUs,
its TCO adds support to the running costs, the scenario's finance values replace the catalog's, the
budget bounds the whole capex, and the report shows every line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from planner.api import solve
from planner.catalog import load_catalog
from planner.errors import InfeasibleError
from planner.report import render_report
from planner.schemas.plan import Assumption, Plan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
NO_LINES = {"network_usd_per_server": 0, "storage_usd_per_server": 0, "rack_usd": 0, "support_share_per_year": 0}


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "chatbot.yaml").read_text())


@pytest.fixture(scope="module")
def plan(doc) -> Plan:
    return solve(copy.deepcopy(doc), analysis=False)


def _with_finance(doc: dict, **finance) -> dict:
    out = copy.deepcopy(doc)
    out.setdefault("finance", {}).update(finance)
    return out


def test_capex_is_the_sum_of_its_lines(plan):
    t = plan.totals
    gpus_and_servers = sum(s.gpus * s.gpu_price_usd + s.servers * s.server_price_usd for s in plan.servers)
    assert t.capex_usd == pytest.approx(gpus_and_servers + t.network_capex_usd + t.storage_capex_usd
                                        + t.rack_capex_usd)
    assert t.rack_capex_usd == pytest.approx(t.racks * plan.finance.rack_usd)
    catalog = load_catalog()
    for s in plan.servers:
        infra = catalog.gpus[s.gpu].server.infrastructure
        assert t.network_capex_usd == pytest.approx(s.servers * infra.network_usd_per_server.value)
        share = infra.support_share_per_year.value
        assert t.annual_support_usd == pytest.approx(share * (t.capex_usd - t.rack_capex_usd))


def test_tco_counts_support_as_a_running_cost(plan):
    t, years = plan.totals, plan.finance.amortization_years
    running = t.annual_energy_cost_usd + t.annual_colocation_usd + t.annual_support_usd
    assert t.tco_usd == pytest.approx(t.capex_usd + years * running)
    assert t.tco_per_year_usd == pytest.approx(t.capex_usd / years + running)
    assert plan.objective.value == pytest.approx(t.tco_usd)


def test_zero_lines_give_the_gpus_and_servers_capex(doc, plan):
    bare = solve(_with_finance(doc, **NO_LINES), analysis=False)
    assert bare.deployments == plan.deployments
    t = bare.totals
    assert (t.network_capex_usd, t.storage_capex_usd, t.rack_capex_usd, t.annual_support_usd) == (0, 0, 0, 0)
    assert plan.totals.capex_usd - t.capex_usd == pytest.approx(
        plan.totals.network_capex_usd + plan.totals.storage_capex_usd + plan.totals.rack_capex_usd)


def test_the_budget_bounds_the_whole_capex(doc, plan):
    capex = plan.totals.capex_usd
    assert solve(_with_finance(doc, budget_usd=capex), analysis=False).totals.capex_usd <= capex
    with pytest.raises(InfeasibleError):
        solve(_with_finance(doc, budget_usd=capex - plan.totals.rack_capex_usd / 2), analysis=False)


def test_the_report_shows_every_line(plan):
    md = render_report(plan, "md")
    section = md.split("### Capex by line")[1].split("### Racks")[0]
    for label in ("GPUs", "Servers (without GPUs)", "Network", "Storage", "Racks and PDUs", "Capex (plan total",
                  "Hardware support per year"):
        assert f"| {label}" in section
    assert f"{plan.totals.network_capex_usd:,.0f} USD" in section
    assert f"{plan.totals.annual_support_usd:,.0f} USD/yr" in md.split("| Cost | Value |")[1]


def test_the_appendix_lists_the_capex_figures_as_catalog_estimates(plan, doc):
    from planner.api import loaded_from_dict
    from planner.plan.figures import infrastructure_assumptions
    from planner.problem.build import resolve_problem

    rows = infrastructure_assumptions(resolve_problem(loaded_from_dict(copy.deepcopy(doc)), load_catalog()))
    with_rows = plan.model_copy(update={"assumptions": [*plan.assumptions, *(Assumption(**r) for r in rows)]})
    md = render_report(with_rows, "md")
    catalog = md.split("### Catalog figures used")[1].split("### Notes")[0]
    gpu = plan.servers[0].gpu
    for name in ("network", "storage", "support"):
        line = next(line for line in catalog.splitlines() if line.startswith(f"| {gpu} | {name} |"))
        assert "**estimate**" in line
    assert "| rack with PDUs | 8000 | USD per rack | 4000-15000 |" in md
