"""The current scenario's limits against a plan's figures, one line per limit broken.

`planner check` runs these on the plan's written figures (planner.gitops.check) and on figures it
recomputed (planner.gitops.rederive_fleet): capacity with headroom and N+k spares, rack power and air
cooling, racks, site power, inventory and budget. Two figures that would print alike though they
differ are printed with more digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.gitops.fmt import quantity
from planner.gitops.slo import within
from planner.schemas.plan import Plan
from planner.schemas.scenario import Scenario, Workload

__all__ = ["capacity_shortfall", "pair", "precise_req", "rack_cap_w", "rack_limit_violations", "racks_count",
           "req", "site_limit_violations"]


def req(x: float) -> str:
    return quantity("_requests_per_s", x)


def pair(fmt: Callable[[float], str], precise: Callable[[float], str], a: float, b: float) -> tuple[str, str]:
    """``fmt(a), fmt(b)``, or ``precise`` of both when those would read the same though the
    figures differ (``8.0 kW`` above ``8.0 kW`` says nothing)."""
    ta, tb = fmt(a), fmt(b)
    return (ta, tb) if ta != tb or a == b else (precise(a), precise(b))


def usd(x: float) -> str:
    return quantity("_usd", x)


def precise_req(x: float) -> str:
    return f"{x:.6g} req/s"


def precise_kw(w: float) -> str:
    return f"{w / 1000:.6g} kW"


def precise_usd(x: float) -> str:
    return f"${x:,.2f}"


def kw(w: float) -> str:
    return quantity("_w", w)


def capacity_shortfall(plan: Plan, w: Workload, capacities: Sequence[float]) -> list[str]:
    """Workload ``w``'s capacity with its N+k spares down against peak x (1 + headroom), from
    ``capacities`` (requests/s of each of plan.deployments: written or recomputed)."""
    peak = w.traffic.peak_requests_per_s
    need = peak * (1.0 + w.headroom)
    have = sum(cap * (1.0 - w.redundancy / d.replicas)
               for d, cap in zip(plan.deployments, capacities, strict=True) if d.workload == w.name and d.replicas > 0)
    if within(need, have):
        return []
    k = w.redundancy
    spare = f" with {k} replica{'s' if k > 1 else ''} spare (N+{k})" if k else ""
    have_text, need_text = pair(req, precise_req, have, need)
    return [f"capacity {w.name}: the plan serves {have_text}{spare}, below the scenario's "
            f"peak x (1 + headroom) = {peak:g} x {1.0 + w.headroom:g} = {need_text}"]


def rack_cap_w(scenario: Scenario) -> float:
    """A rack's usable power: the breaker rating x its derating."""
    return scenario.site.rack_power_cap_kw * 1000.0 * scenario.site.breaker_derating


def rack_limit_violations(plan: Plan, scenario: Scenario) -> list[str]:
    site = scenario.site
    cap_w = rack_cap_w(scenario)
    out = []
    for r in plan.racks:
        if not within(r.power_nameplate_w, cap_w):
            draw, cap = pair(kw, precise_kw, r.power_nameplate_w, cap_w)
            out.append(f"rack power: rack {r.id} draws {draw} at nameplate, above the scenario's usable {cap} "
                       f"(site.rack_power_cap_kw {site.rack_power_cap_kw:g} x breaker_derating "
                       f"{site.breaker_derating:g})")
    air_w = site.air_cooling_limit_kw * 1000.0
    for r in plan.racks if site.cooling == "air" else []:
        if not within(r.power_nameplate_w, air_w):
            draw, cap = pair(kw, precise_kw, r.power_nameplate_w, air_w)
            out.append(f"air cooling: rack {r.id} draws {draw} at nameplate, above the scenario's "
                       f"site.air_cooling_limit_kw {cap}")
    return out


def racks_count(plan: Plan, scenario: Scenario) -> list[str]:
    limit = scenario.site.racks
    if limit is not None and len(plan.racks) > limit:
        return [f"racks: the plan uses {len(plan.racks)} racks, above the scenario's site.racks {limit}"]
    return []


def site_limit_violations(scenario: Scenario, nameplate_w: float, capex_usd: float,
                          inventory: Sequence[tuple[str, int, int]]) -> list[str]:
    """Site power at nameplate, inventory ((name, GPUs bought, limit) per GPU) and budget against
    the scenario's limits."""
    site, out = scenario.site, []
    if site.power_cap_kw is not None and not within(nameplate_w, site.power_cap_kw * 1000.0):
        draw, cap = pair(kw, precise_kw, nameplate_w, site.power_cap_kw * 1000.0)
        out.append(f"site power: IT power at nameplate {draw} is above the scenario's site.power_cap_kw {cap}")
    out += [f"inventory {name}: the plan buys {n} GPUs, above the scenario's hardware.inventory {limit}"
            for name, n, limit in inventory if n > limit]
    budget = scenario.finance.budget_usd
    if budget is not None and not within(capex_usd, budget):
        capex, limit_text = pair(usd, precise_usd, capex_usd, budget)
        out.append(f"budget: capex {capex} is above the scenario's finance.budget_usd {limit_text}")
    return out
