"""Section 3, power, heat and cooling: three distinct power figures, facility power, racks, feeds."""

from __future__ import annotations

from typing import Any

from planner.report import format as f
from planner.report.fleet import rack_feeds
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, group_alike, key_value_table, table
from planner.schemas.plan import Plan, Rack
from planner.units import BTU_PER_HR_PER_COOLING_TON, BTU_PER_HR_PER_W


def three_figures_table(plan: Plan) -> Table:
    t = plan.totals
    rows = [
        [Cell("Nameplate maximum"), Cell("sizes circuits, feeds and PSUs"),
         f.fig(t.it_power_nameplate_w, f.KW_FROM_W, "totals.it_power_nameplate_w"),
         Cell("n/a (not a facility figure)")],
        [Cell("Expected peak"), Cell("estimated draw at peak traffic"),
         f.fig(t.it_power_max_w, f.KW_FROM_W, "totals.it_power_max_w"),
         f.fig(t.facility_power_max_w, f.KW_FROM_W, "totals.facility_power_max_w")],
        [Cell("Expected average"), Cell("at the traffic profile: energy, cost and carbon"),
         f.fig(t.it_power_avg_w, f.KW_FROM_W, "totals.it_power_avg_w"),
         f.fig(t.facility_power_avg_w, f.KW_FROM_W, "totals.facility_power_avg_w")],
    ]
    return table(["Power figure", "Use", "IT power", "Facility power (IT x PUE)"], rows)


def site_table(plan: Plan, facts: SiteFacts) -> Table:
    rows = [("PUE", f.fig(facts.pue, f.RATIO, "site.pue")),
            ("PUE category", Cell(facts.pue_category or "not stated in the plan"))]
    cap = plan.site.power_cap_kw
    if cap is not None:
        rows.append(("Site IT power cap", f.fig(cap, f.KW, "site.power_cap_kw")))
    rows += [("Cooling", Cell(facts.cooling)),
             ("Air-cooling limit per rack", f.fig(facts.air_cooling_limit_w, f.KW_FROM_W,
                                                  "site.air_cooling_limit_kw"))]
    return key_value_table(rows, header=("Site", "Value"))


def heat_table(plan: Plan) -> Table:
    t = plan.totals
    return key_value_table([
        ("Heat at expected peak (all input power becomes heat)",
         f.fig(t.heat_btu_per_hr, f.BTU_PER_HR, "totals.heat_btu_per_hr")),
        ("Cooling capacity", f.fig(t.cooling_tons, f.COOLING_TONS, "totals.cooling_tons")),
    ], header=("Total", "Value"))


def cooling_tons(rack: Rack) -> float:
    return rack.heat_btu_per_hr / BTU_PER_HR_PER_COOLING_TON


def _rack_row(i: int, r: Rack) -> list[Cell]:
    src = f"racks[{i}]"
    return [Cell(r.id, flag=r.liquid_cooling_required), Cell(r.gpu),
            f.fig(r.servers, f.COUNT, f"{src}.servers"),
            f.fig(r.power_nameplate_w, f.KW_FROM_W, f"{src}.power_nameplate_w"),
            f.fig(r.power_max_w, f.KW_FROM_W, f"{src}.power_max_w"),
            f.fig(r.power_avg_w, f.KW_FROM_W, f"{src}.power_avg_w"),
            f.fig(r.usable_cap_w, f.KW_FROM_W, f"{src}.usable_cap_w"),
            f.fig(r.power_nameplate_w / r.usable_cap_w if r.usable_cap_w else None, f.PERCENT,
                  "derived:rack_nameplate_share_of_cap"),
            f.fig(r.heat_btu_per_hr, f.BTU_PER_HR, f"{src}.heat_btu_per_hr"),
            f.fig(cooling_tons(r), f.COOLING_TONS, "derived:rack_cooling_tons"),
            Cell("liquid (above air limit)" if r.liquid_cooling_required else "air",
                 flag=r.liquid_cooling_required)]


def rack_table(plan: Plan) -> Table:
    """One row per run of identical racks (ids named), so a fleet of alike racks stays short."""
    return group_alike(table(["Rack", "GPU", "Servers", "Nameplate max", "Expected peak", "Expected average",
                  "Usable cap", "Nameplate / cap", "Heat at expected peak", "Cooling", "Cooling by"],
                 [_rack_row(i, r) for i, r in enumerate(plan.racks)], empty_text="No racks."), "racks")


def feed_table(plan: Plan, facts: SiteFacts) -> Table:
    rows = []
    for i, r in enumerate(plan.racks):
        s = rack_feeds(r, facts)
        rows.append([Cell(r.id), f.fig(s.feeds, f.COUNT, "derived:feeds_per_rack"),
                     f.fig(s.feed_load_w, f.KW_FROM_W, f"racks[{i}].power_nameplate_w"),
                     f.fig(s.circuits_per_feed, f.COUNT, "derived:circuits_per_feed"),
                     f.fig(s.load_share_of_usable, f.PERCENT, "derived:feed_share_of_usable",
                           flag=s.load_share_of_usable > 1.0),
                     f.fig(s.current_a, f.AMPS, "derived:feed_current_a"),
                     f.fig(s.breaker_min_a, f.Unit(1.0, 0, "A"), "derived:breaker_min_a")])
    return group_alike(table(["Rack", "Feeds", "Load per feed (nameplate)", "Circuits per feed",
                              "Share of usable circuit capacity", "Current per feed", "Smallest standard breaker"],
                             rows, empty_text="No racks."), "racks")


def liquid_racks(plan: Plan) -> list[str]:
    return [r.id for r in plan.racks if r.liquid_cooling_required]


def heat_rule_text() -> str:
    """How heat and cooling follow from power, with planner.units' factors."""
    return (f"{BTU_PER_HR_PER_W:.3f} (all electrical input becomes heat); cooling tons = BTU/hr / "
            f"{BTU_PER_HR_PER_COOLING_TON:,.0f}")


def build(plan: Plan, facts: SiteFacts) -> dict[str, Any]:
    return {
        "heat_rule": heat_rule_text(),
        "three_figures": three_figures_table(plan),
        "site": site_table(plan, facts),
        "heat": heat_table(plan),
        "racks": rack_table(plan),
        "liquid_racks": liquid_racks(plan),
        "feeds": feed_table(plan, facts),
    }
