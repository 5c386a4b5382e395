"""Section 4, energy and money: annual energy, electricity, colocation, capex, TCO, carbon, efficiency."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.sections.bom import line_cell
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, key_value_table
from planner.schemas.plan import Plan


def energy_table(plan: Plan, facts: SiteFacts) -> Table:
    t = plan.totals
    return key_value_table([
        ("IT energy per year (expected average x 8,760 h)",
         f.fig(t.annual_energy_kwh, f.KWH, "totals.annual_energy_kwh")),
        ("Facility energy per year (IT x PUE)",
         f.fig(t.annual_facility_energy_kwh, f.KWH, "totals.annual_facility_energy_kwh")),
        ("Electricity price", f.fig(facts.electricity_usd_per_kwh, f.USD_PER_KWH,
                                    "site.electricity_usd_per_kwh")),
        ("Electricity cost per year", f.fig(t.annual_energy_cost_usd, f.USD_PER_YEAR,
                                            "totals.annual_energy_cost_usd")),
    ], header=("Energy", "Value"))


def cost_table(plan: Plan, facts: SiteFacts) -> Table:
    t = plan.totals
    rows = [("Capex (GPUs, servers, network, storage, racks; see the bill of materials)",
             f.fig(t.capex_usd, f.USD, "totals.capex_usd")),
            ("Electricity per year", f.fig(t.annual_energy_cost_usd, f.USD_PER_YEAR,
                                           "totals.annual_energy_cost_usd")),
            ("Colocation per year", f.fig(t.annual_colocation_usd, f.USD_PER_YEAR,
                                          "totals.annual_colocation_usd")),
            ("Hardware support per year", line_cell(plan, "annual_support_usd", f.USD_PER_YEAR))]
    colo_rate = plan.finance.colocation_usd_per_kw_month
    if colo_rate is not None:
        rows.append(("Colocation rate (per kW of nameplate capacity)",
                     f.fig(colo_rate, f.USD_PER_KW_MONTH, "finance.colocation_usd_per_kw_month")))
    rows += [("Amortization horizon", f.fig(facts.amortization_years, f.YEARS, "finance.amortization_years")),
             ("TCO over the horizon", f.fig(t.tco_usd, f.USD, "totals.tco_usd")),
             ("TCO per year", f.fig(t.tco_per_year_usd, f.USD_PER_YEAR, "totals.tco_per_year_usd"))]
    budget = plan.finance.budget_usd
    if budget is not None:
        rows.append(("Capex budget", f.fig(budget, f.USD, "finance.budget_usd")))
    return key_value_table(rows, header=("Cost", "Value"))


def efficiency_table(plan: Plan) -> Table:
    t = plan.totals
    return key_value_table([
        ("Output tokens per year", f.fig(t.output_tokens_per_year, f.BILLION_TOKENS_PER_YEAR,
                                         "totals.output_tokens_per_year")),
        ("Cost per million output tokens", f.fig(t.usd_per_million_tokens, f.USD_CENTS,
                                                 "totals.usd_per_million_tokens")),
        ("IT energy per output token, at peak traffic", f.fig(t.joules_per_output_token, f.J_PER_TOKEN,
                                                              "totals.joules_per_output_token")),
        ("IT energy per output token, annual average (idle share included)",
         f.fig(t.joules_per_output_token_avg, f.J_PER_TOKEN, "totals.joules_per_output_token_avg")),
        ("Output tokens/s per kW of expected peak IT power",
         f.fig(t.output_tokens_per_s_per_kw, f.TOKENS_PER_S_PER_KW, "totals.output_tokens_per_s_per_kw")),
    ], header=("Efficiency", "Value"))


def carbon_table(plan: Plan, facts: SiteFacts) -> Table:
    return key_value_table([
        ("Emissions, location-based (facility energy x grid factor)",
         f.fig(plan.totals.co2e_t_per_year, f.TCO2E_PER_YEAR, "totals.co2e_t_per_year")),
        ("Grid emission factor", f.fig(facts.carbon_g_per_kwh, f.G_PER_KWH, "site.carbon_g_per_kwh")),
        ("Factor year", Cell(facts.carbon_year, "site.carbon_year") if facts.carbon_year
         else Cell("not stated in the plan (see source)")),
        ("Factor source", Cell(facts.carbon_source, "site.carbon_source")),
        ("Emissions, market-based (GHG Protocol Scope 2 dual reporting)",
         Cell("not in the plan: add PPA/REC factors to report it")),
    ], header=("Carbon", "Value"))


def annual_cost_parts(plan: Plan, facts: SiteFacts) -> list[tuple[str, float]]:
    """Yearly cost by kind, capex straight-line over the horizon (for the cost chart)."""
    years, t = facts.amortization_years, plan.totals
    gpu_capex = sum(g.gpus * g.gpu_price_usd for g in plan.servers)
    server_capex = sum(g.servers * g.server_price_usd for g in plan.servers)
    parts = [("GPUs (capex / year)", gpu_capex / years), ("Servers (capex / year)", server_capex / years)]
    parts += [(label, value / years) for label, value in (
        ("Network (capex / year)", t.network_capex_usd), ("Storage (capex / year)", t.storage_capex_usd),
        ("Racks and PDUs (capex / year)", t.rack_capex_usd)) if value > 0]
    parts += [("Electricity", t.annual_energy_cost_usd), ("Colocation", t.annual_colocation_usd)]
    return parts + ([("Hardware support", t.annual_support_usd)] if t.annual_support_usd > 0 else [])


def build(plan: Plan, facts: SiteFacts) -> dict[str, Any]:
    return {
        "energy": energy_table(plan, facts),
        "cost": cost_table(plan, facts),
        "efficiency": efficiency_table(plan),
        "carbon": carbon_table(plan, facts),
    }
