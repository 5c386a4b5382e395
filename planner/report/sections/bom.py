"""Section 2, bill of materials: GPUs, servers, racks, PSUs, feeds and circuits."""

from __future__ import annotations

from collections import Counter
from typing import Any

from planner.report import format as f
from planner.report.fleet import PsuPlan, psu_plan, rack_feeds
from planner.report.psu import PsuLoad
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, key_value_table, table
from planner.schemas.plan import Plan


def gpu_table(plan: Plan) -> Table:
    rows = [[Cell(g.gpu), f.fig(g.gpus, f.COUNT, f"servers[{i}].gpus"),
             f.fig(g.gpu_price_usd, f.USD, f"servers[{i}].gpu_price_usd"),
             f.fig(g.gpus * g.gpu_price_usd, f.USD, "derived:gpu_extended_price")]
            for i, g in enumerate(plan.servers)]
    return table(["GPU", "Quantity", "Unit price", "Extended price"], rows)


def server_table(plan: Plan) -> Table:
    rows = [[Cell(g.server_model), Cell(g.gpu if g.power_limit_w is None else f"{g.gpu} at {g.power_limit_w:g} W"),
             f.fig(g.servers, f.COUNT, f"servers[{i}].servers"),
             f.fig(g.gpus_per_server, f.COUNT, f"servers[{i}].gpus_per_server"),
             f.fig(g.rack_units, f.COUNT, f"servers[{i}].rack_units"),
             f.fig(g.server_max_power_w, f.KW_FROM_W, f"servers[{i}].server_max_power_w"),
             f.fig(g.server_price_usd, f.USD, f"servers[{i}].server_price_usd"),
             f.fig(g.servers * g.server_price_usd, f.USD, "derived:server_extended_price")]
            for i, g in enumerate(plan.servers)]
    return table(["Server model", "GPU", "Quantity", "GPUs per server", "Rack units", "Nameplate max",
                  "Unit price (no GPUs)", "Extended price"], rows)


NOT_COUNTED = "not counted (the plan was solved before this line existed)"


def line_cell(plan: Plan, key: str, unit: f.Unit) -> Cell:
    """A capex line or support total of the plan, or a note that the plan predates the line."""
    if key not in plan.totals.model_fields_set:
        return Cell(NOT_COUNTED)
    return f.fig(getattr(plan.totals, key), unit, f"totals.{key}")


def capex_table(plan: Plan) -> Table:
    """Capex by line, then the support it carries per year."""
    t = plan.totals
    rack_usd = plan.finance.rack_usd
    racks = (f"Racks and PDUs ({t.racks:,} x {f.number_text(rack_usd, f.USD)})" if rack_usd is not None
             else "Racks and PDUs")
    return key_value_table([
        ("GPUs", f.fig(sum(g.gpus * g.gpu_price_usd for g in plan.servers), f.USD, "derived:gpu_capex")),
        ("Servers (without GPUs)", f.fig(sum(g.servers * g.server_price_usd for g in plan.servers), f.USD,
                                         "derived:server_capex")),
        ("Network (switch ports, optics, cables; NICs are in the servers)",
         line_cell(plan, "network_capex_usd", f.USD)),
        ("Storage (shared: model weights, logs)", line_cell(plan, "storage_capex_usd", f.USD)),
        (racks, line_cell(plan, "rack_capex_usd", f.USD)),
        ("Capex (plan total; the budget bounds this)", f.fig(t.capex_usd, f.USD, "totals.capex_usd")),
        ("Hardware support per year (not capex)", line_cell(plan, "annual_support_usd", f.USD_PER_YEAR)),
    ], header=("Capex line", "Value"))


def rack_table(plan: Plan) -> Table:
    racks = Counter(r.gpu for r in plan.racks)
    servers: Counter[str] = Counter()
    for r in plan.racks:
        servers[r.gpu] += r.servers
    rows = [[Cell(gpu), f.fig(n, f.COUNT, "derived:racks_per_gpu"),
             f.fig(servers[gpu], f.COUNT, "derived:servers_in_racks")] for gpu, n in racks.items()]
    rows.append([Cell("Total"), f.fig(plan.totals.racks, f.COUNT, "totals.racks"),
                 f.fig(plan.totals.servers, f.COUNT, "totals.servers")])
    return table(["GPU", "Racks", "Servers"], rows)


def _load_cells(load: PsuLoad | None) -> list[Cell]:
    if load is None:
        return [Cell("n/a"), Cell("n/a")]
    efficiency = f.number_text(load.efficiency, f.PERCENT) + (" (below test points)"
                                                                if load.below_test_points else "")
    return [f.fig(load.load_share, f.PERCENT, "derived:psu_load_share"),
            Cell(efficiency, "derived:psu_efficiency", number=True)]


def _psu_row(index: int, p: PsuPlan) -> list[Cell]:
    g = p.group
    src = f"servers[{index}]"
    total = g.psu_count * g.servers if g.psu_count is not None else None
    return [Cell(g.server_model), f.fig(g.psu_count, f.COUNT, f"{src}.psu_count"),
            f.fig(g.psu_rating_w, f.W, f"{src}.psu_rating_w"), Cell(g.psu_redundancy or "n/a"),
            Cell(g.psu_efficiency_tier or "n/a"), f.fig(total, f.COUNT, "derived:psu_total"),
            *_load_cells(p.at_peak), *_load_cells(p.at_average),
            Cell(f.yes_no(p.carries_nameplate_without_spares),
                 flag=p.carries_nameplate_without_spares is False)]


def psu_table(plan: Plan) -> Table:
    rows = [_psu_row(i, psu_plan(plan, g)) for i, g in enumerate(plan.servers)]
    return table(["Server model", "PSUs per server", "Rating", "Redundancy", "80 PLUS tier",
                  "PSUs in total", "Load per PSU at peak", "Efficiency at peak", "Load per PSU at average",
                  "Efficiency at average", "Carries nameplate with spares failed"], rows)


def _site_src(facts: SiteFacts, key: str) -> str:
    return f"derived:default_{key}" if key in facts.circuit_defaults else f"site.{key}"


def circuit_table(plan: Plan, facts: SiteFacts) -> Table:
    sizings = [rack_feeds(r, facts) for r in plan.racks]
    circuits = sum(s.feeds * s.circuits_per_feed for s in sizings)
    c = facts.circuit
    return key_value_table([
        ("Feeds per rack", Cell("A and B (2N: each feed carries the full rack load)"
                                if facts.feeds.upper() == "2N" else "one (N)")),
        ("Rack circuit breaker rating", f.fig(c.rating_w, f.KW_FROM_W, "site.rack_power_cap_kw")),
        ("Continuous-load derating", f.fig(c.derating, f.PERCENT, "site.breaker_derating")),
        ("Usable per circuit", f.fig(c.usable_w, f.KW_FROM_W, "derived:circuit_usable_w")),
        ("Circuit voltage (line to line)",
         f.fig(c.voltage_v, f.VOLTS, _site_src(facts, "circuit_voltage_v"))),
        ("Phases", f.fig(c.phases, f.COUNT, _site_src(facts, "circuit_phases"))),
        ("Power factor", f.fig(c.power_factor, f.RATIO, _site_src(facts, "power_factor"))),
        ("Circuits (one rack PDU each) in total", f.fig(circuits, f.COUNT, "derived:circuits_total")),
    ])


def build(plan: Plan, facts: SiteFacts) -> dict[str, Any]:
    return {
        "gpus": gpu_table(plan),
        "servers": server_table(plan),
        "capex": capex_table(plan),
        "racks": rack_table(plan),
        "psus": psu_table(plan),
        "circuits": circuit_table(plan, facts),
    }
