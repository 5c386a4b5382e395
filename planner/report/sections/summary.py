"""Header and section 1: what is served, what to buy, what it costs, headline power, binding limits."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.constraints import binding_constraints_table
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, key_value_table, table, text
from planner.schemas.plan import Plan

_STATUS_TEXT = {
    "optimal": "Optimal: the solver proved that no better plan meets every constraint.",
    "feasible": "Feasible, not proven optimal: the solver stopped before closing the MIP gap.",
    "infeasible": "INFEASIBLE: no plan meets every constraint; see the binding constraints.",
}


def provenance_table(plan: Plan) -> Table:
    s = plan.solver
    return key_value_table([
        ("Scenario file", text(plan.scenario.file or "n/a")),
        ("Override", text(plan.scenario.override or "none")),
        ("Objective", text(plan.scenario.objective)),
        ("Status", text(plan.status)),
        ("Solver", text(f"{s.name} {s.version} ({s.status})")),
        ("MIP gap", f.fig(s.mip_gap, f.PERCENT, "solver.mip_gap")),
        ("Input hash (combined SHA-256)", text(plan.input_sha256.combined[:16])),
        ("Planner / plan schema", text(f"{plan.tool_version} / {plan.schema_version}")),
    ])


def objective_table(plan: Plan) -> Table:
    o = plan.objective
    return key_value_table([("Name", Cell(o.name, "objective.name")), ("Unit", Cell(o.unit, "objective.unit")),
                            ("Value", f.fig(o.value, f.unit_named(o.unit), "objective.value"))],
                           header=("Objective", "Value"))


def served_table(plan: Plan) -> Table:
    rows = [[Cell(d.workload), Cell(d.model), Cell(d.gpu),
             f.fig(d.demand_requests_per_s, f.REQ_PER_S, f"deployments[{i}].demand_requests_per_s"),
             f.fig(d.slo_ttft_p95_s, f.MS_FROM_S, f"deployments[{i}].slo_ttft_p95_s"),
             f.fig(d.slo_itl_p95_s, f.MS_FROM_S, f"deployments[{i}].slo_itl_p95_s")]
            for i, d in enumerate(plan.deployments)]
    return table(["Workload", "Model", "GPU", "Peak demand routed", "TTFT p95 SLO",
                  "ITL p95 SLO"], rows, empty_text="No deployments: nothing is served.")


def buy_table(plan: Plan) -> Table:
    rows = [[Cell(g.gpu), f.fig(g.gpus, f.COUNT, f"servers[{i}].gpus"), Cell(g.server_model),
             f.fig(g.servers, f.COUNT, f"servers[{i}].servers")] for i, g in enumerate(plan.servers)]
    if plan.periods:  # a roadmap: these are the first period's servers on site, owned ones included
        first = plan.periods[0].label
        rows.append([Cell(f"Total installed in {first} (owned and delivered; orders per period: see Roadmap)"),
                     f.fig(plan.totals.gpus, f.COUNT, "totals.gpus"), Cell(""),
                     f.fig(plan.totals.servers, f.COUNT, "totals.servers")])
        return table(["GPU", f"GPUs on site in {first}", "Server model", f"Servers on site in {first}"], rows)
    rows.append([Cell("Total"), f.fig(plan.totals.gpus, f.COUNT, "totals.gpus"), Cell(""),
                 f.fig(plan.totals.servers, f.COUNT, "totals.servers")])
    return table(["GPU", "GPUs", "Server model", "Servers"], rows)


def key_figures_table(plan: Plan, facts: SiteFacts) -> Table:
    t = plan.totals
    return key_value_table([
        ("Racks", f.fig(t.racks, f.COUNT, "totals.racks")),
        (_capex_label(plan), f.fig(t.capex_usd, f.USD, "totals.capex_usd")),
        ("TCO per year (capex amortized)", f.fig(t.tco_per_year_usd, f.USD_PER_YEAR,
                                                 "totals.tco_per_year_usd")),
        ("Amortization horizon", f.fig(facts.amortization_years, f.YEARS, "finance.amortization_years")),
        ("Cost per million output tokens", f.fig(t.usd_per_million_tokens, f.USD_CENTS,
                                                 "totals.usd_per_million_tokens")),
        ("IT power, nameplate maximum (circuits, PSUs)", f.fig(t.it_power_nameplate_w, f.KW_FROM_W,
                                                               "totals.it_power_nameplate_w")),
        ("IT power, expected peak (at peak traffic)", f.fig(t.it_power_max_w, f.KW_FROM_W,
                                                            "totals.it_power_max_w")),
        ("IT power, expected average (energy, cost, carbon)", f.fig(t.it_power_avg_w, f.KW_FROM_W,
                                                                    "totals.it_power_avg_w")),
        ("Facility power, expected peak (IT x PUE)", f.fig(t.facility_power_max_w, f.KW_FROM_W,
                                                           "totals.facility_power_max_w")),
        ("Heat at expected peak", f.fig(t.heat_btu_per_hr, f.BTU_PER_HR, "totals.heat_btu_per_hr")),
        ("Cooling", f.fig(t.cooling_tons, f.COOLING_TONS, "totals.cooling_tons")),
        ("Carbon, location-based", f.fig(t.co2e_t_per_year, f.TCO2E_PER_YEAR, "totals.co2e_t_per_year")),
    ], header=("Figure", "Value"))


def sizing_margin_rows(plan: Plan) -> list[tuple[str, Cell]]:
    """What sizing at a confidence adds (totals.sizing_margin, measured by solving the scenario both ways);
    none when no workload sets sizing_confidence (or a roadmap, which does not solve twice)."""
    m = plan.totals.sizing_margin
    if m is None:
        return []
    return [("GPUs at the point estimate (without sizing_confidence)",
             f.fig(m.gpus_at_point_estimate, f.COUNT, "totals.sizing_margin.gpus_at_point_estimate")),
            ("GPUs added by sizing_confidence", f.fig(m.gpus_added, f.COUNT, "totals.sizing_margin.gpus_added")),
            (f"Objective ({plan.objective.name}) at the point estimate",
             f.fig(m.objective_at_point_estimate, f.unit_named(plan.objective.unit),
                   "totals.sizing_margin.objective_at_point_estimate"))]


def _spread(values: list[float]) -> str:
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}-{high}"


def sizing_margin_text(plan: Plan) -> str:
    """What workloads[].sizing_confidence did, in one line (planner solve's summary, the PR comment): the GPUs
    it adds over the point estimate, the objective both ways, the range of the factors; "" without one."""
    margins = [d.sizing_margin for d in plan.deployments if d.sizing_margin is not None]
    m = plan.totals.sizing_margin
    if not margins and m is None:
        return ""
    confidence = "/".join(sorted({f"{x.confidence:g}" for x in margins}))
    parts = []
    if m is not None:
        parts.append(f"{m.gpus_added:+d} GPUs over the point estimate's {m.gpus_at_point_estimate} "
                     f"({plan.objective.name} {plan.objective.value:,.0f} vs {m.objective_at_point_estimate:,.0f} "
                     f"{plan.objective.unit})")
    if margins:
        parts.append(f"TTFT x{_spread([x.ttft_factor for x in margins])}, "
                     f"ITL x{_spread([x.itl_factor for x in margins])}, "
                     f"capacity /{_spread([x.throughput_factor for x in margins])} (per deployment in the report)")
    head = f"sizing margin (sizing_confidence {confidence})" if margins else "sizing margin"
    return f"{head}: " + "; ".join(parts)


def report_key_figures(plan: Plan, facts: SiteFacts) -> Table:
    """The key figures, then the sizing margin when the plan records one."""
    t = key_figures_table(plan, facts)
    extra = key_value_table(sizing_margin_rows(plan))
    return Table(t.columns, t.rows + extra.rows, t.numeric_columns | extra.numeric_columns, t.empty_text)


def _capex_label(plan: Plan) -> str:
    if plan.periods:  # a roadmap's first period: its installed fleet valued as if bought (its own capex per period
        # is in the Roadmap section)
        return f"Capex of the fleet on site in {plan.periods[0].label}, valued as if bought (owned ones included)"
    return "Capex (GPUs, servers, network, storage, racks)"


def build(plan: Plan, facts: SiteFacts) -> dict[str, Any]:
    return {
        "status_text": _STATUS_TEXT[plan.status],
        "provenance": provenance_table(plan),
        "objective": objective_table(plan),
        "served": served_table(plan),
        "buy": buy_table(plan),
        "key_figures": report_key_figures(plan, facts),
        "binding": binding_constraints_table(plan),
    }
