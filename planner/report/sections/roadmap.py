"""The Roadmap section of a plan with ``periods`` (planner.roadmap): what to order when, the fleet,
power, racks and cost per period, and the period each site limit first binds. None for a
single-period plan (the templates then show nothing)."""

from __future__ import annotations

from typing import Any

from planner.report.tables import Cell, Table, table
from planner.schemas.plan import Plan, RoadmapPeriod
from planner.units import W_PER_KW

USD_PER_KUSD = 1e3
LIMIT_WORDS = {"site_power": "site IT power", "racks_total": "racks"}


def _counts(items: dict[str, int], unit: str) -> str:
    return ", ".join(f"{n} {gpu} {unit}" for gpu, n in items.items()) or "-"


def _num(value: float, src: str, fmt: str = ",.0f") -> Cell:
    return Cell(format(value, fmt), src, number=True)


def _of(value: float, cap: float | None, src: str, scale: float = 1.0) -> Cell:
    shown = f"{value / scale:,.0f}" + ("" if cap is None else f" / {cap / scale:,.0f}")
    return Cell(shown, src, number=True)


def _gpus_in_use(p: RoadmapPeriod) -> int:
    """GPUs of the period's deployments on site (rented ones run on ``<gpu>.cloud``)."""
    return sum(d.gpus for d in p.deployments if d.gpu in p.installed)


def _row(i: int, p: RoadmapPeriod) -> list[Cell]:
    t, src = p.totals, f"periods[{i}]"
    return [Cell(p.label), Cell(_counts(p.purchases, "servers"), f"{src}.purchases"),
            Cell(_counts(p.retirements, "servers"), f"{src}.retirements"),
            Cell(_counts(p.rentals, "instances"), f"{src}.rentals"),
            Cell(_counts(p.installed, "servers"), f"{src}.installed"),
            Cell(f"{_gpus_in_use(p)} / {t.gpus}", f"derived:{src}.gpus_in_use", number=True),
            _of(t.it_power_nameplate_w, t.power_cap_w, f"{src}.totals.it_power_nameplate_w", W_PER_KW),
            _of(t.racks, t.racks_available, f"{src}.totals.racks"),
            _num(t.cost_usd / USD_PER_KUSD, f"{src}.totals.cost_usd"),
            Cell(", ".join(LIMIT_WORDS.get(b, b) for b in t.binding) or "-", f"{src}.totals.binding",
                 flag=bool(t.binding))]


def periods_table(periods: list[RoadmapPeriod]) -> Table:
    columns = ["Period", "Order", "Retire", "Rent", "Installed", "GPUs in use / on site",
               "IT power kW (nameplate / cap)", "Racks (used / available)", "Cost k$", "Binding"]
    return table(columns, [_row(i, p) for i, p in enumerate(periods)])


def _headroom(p: RoadmapPeriod, name: str) -> str:
    t = p.totals
    if name == "site_power" and t.power_cap_w:
        return f"{(t.power_cap_w - t.it_power_nameplate_w) / W_PER_KW:,.0f} kW left"
    if name == "racks_total" and t.racks_available:
        return f"{t.racks_available - t.racks} racks left"
    return ""


def binds_table(periods: list[RoadmapPeriod]) -> Table:
    rows, seen = [], set()
    for i, p in enumerate(periods):
        for name in p.totals.binding:
            if name not in seen:
                seen.add(name)
                rows.append([Cell(LIMIT_WORDS.get(name, name)), Cell(p.label, f"periods[{i}].label"),
                             Cell(_headroom(p, name))])
    return table(["Limit", "First binds in", "Headroom then"], rows,
                 empty_text="No site limit binds within the horizon.")


def headline(plan: Plan, periods: list[RoadmapPeriod]) -> list[str]:
    """The question's answer in sentences: orders, retirements, rentals, and when power or racks run out."""
    lines = []
    orders = [f"{p.label}: {_counts(p.purchases, 'servers')}" for p in periods if p.purchases]
    lines.append("Order " + "; ".join(orders) + "." if orders else "Order nothing: the owned fleet suffices.")
    retired = [f"{p.label}: {_counts(p.retirements, 'servers')}" for p in periods if p.retirements]
    if retired:
        lines.append("Retire " + "; ".join(retired) + ".")
    rented = [f"{p.label}: {_counts(p.rentals, 'instances')}" for p in periods if p.rentals]
    if rented:
        lines.append("Rent " + "; ".join(rented) + ".")
    lines += [_limit_line(name, periods) for name in LIMIT_WORDS]
    lines.append(f"Discounted cost of the horizon: {plan.objective.value:,.0f} USD." if plan.objective.name == "min_tco"
                 else f"Objective: {plan.objective.value:,.4g} {plan.objective.unit}.")
    return lines


def _limit_line(name: str, periods: list[RoadmapPeriod]) -> str:
    """When a site limit first binds, or how close the horizon comes to it."""
    words = LIMIT_WORDS[name]
    first = next((p for p in periods if name in p.totals.binding), None)
    if first is not None:
        return f"The {words} limit first binds in {first.label} ({_headroom(first, name)})."
    if name == "site_power":
        fullest = max(periods, key=lambda p: p.totals.it_power_nameplate_w / (p.totals.power_cap_w or float("inf")))
        cap = fullest.totals.power_cap_w
        if cap is None:
            return "The site has no IT power cap."
        used_kw = fullest.totals.it_power_nameplate_w / W_PER_KW
        return (f"The {words} limit does not bind within the horizon: at most {used_kw:,.0f} of "
                f"{cap / W_PER_KW:,.0f} kW (nameplate), in {fullest.label}.")
    return f"The {words} limit does not bind within the horizon."


def what_ifs(plan: Plan) -> list[str]:
    """Each binding site limit relaxed one step from the period it first binds in, re-solved (in words)."""
    return [w.answer for w in plan.roadmap_what_if or []]


def build(plan: Plan) -> dict[str, Any] | None:
    periods = plan.periods
    if not periods:
        return None
    return {"headline": headline(plan, periods), "periods": periods_table(periods), "binds": binds_table(periods),
            "first_label": periods[0].label, "count": len(periods), "what_if": what_ifs(plan)}
