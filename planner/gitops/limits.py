"""The current scenario's limits against a plan's figures, one line per limit broken.

The limits are the resolved problem's (planner.problem: SI units, converted once), their key paths
the limit records' (planner.problem.limits). `planner check` runs these on the plan's written
figures (planner.gitops.check) and on figures it recomputed (planner.gitops.rederive_fleet): the
workloads deployed and their traffic routed, capacity with headroom and N+k spares, rack power and
air cooling, racks, site power, inventory and budget. Two figures that would print alike though
they differ are printed with more digits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from planner.gitops.fmt import quantity
from planner.gitops.slo import close, within
from planner.plan.figures import on_side
from planner.problem.limits import BUDGET, RACK_POWER, RACKS, SITE_POWER
from planner.problem.model import Money, SiteLimits, WorkloadDemand
from planner.schemas.plan import Plan
from planner.units import W_PER_KW

__all__ = ["capacity_shortfall", "rack_limit_violations", "racks_count", "routed",
           "site_limit_violations", "workload_presence"]


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
    return f"{w / W_PER_KW:.6g} kW"


def precise_usd(x: float) -> str:
    return f"${x:,.2f}"


def kw(w: float) -> str:
    return quantity("_w", w)


def workload_presence(plan: Plan, enabled: Iterable[str], present: Iterable[str]) -> list[str]:
    """Each deployed workload is one the scenario has (``present``) and enables (``enabled``)."""
    written = set(present)
    return [f"workload {name}: the plan deploys it, but the scenario "
            f"{'disables it (enabled: false)' if name in written else 'has no such workload'}"
            for name in sorted({d.workload for d in plan.deployments} - set(enabled))]


def _sides(plan: Plan, w: WorkloadDemand) -> tuple[tuple[str, str], ...]:
    """(side, words) of the workload: one side, or the prompt and decode sides when the plan or the
    scenario serves it disaggregated (a request runs on an aggregated deployment, or on a prefill and
    a decode pool: figures.on_side)."""
    split = w.disaggregated or any(d.role in ("prefill", "decode") for d in plan.deployments if d.workload == w.name)
    return (("prefill", " (aggregated and prefill pools)"), ("decode", " (aggregated and decode pools)")) if split \
        else (("prefill", ""),)


def routed(plan: Plan, w: WorkloadDemand) -> list[str]:
    """The workload's peak is routed to its deployments in full (with disaggregated serving, on each side)."""
    out = []
    for side, words in _sides(plan, w):
        total = sum(d.demand_requests_per_s for d in plan.deployments if d.workload == w.name and on_side(d, side))
        if close(total, w.peak_requests_per_s):
            continue
        routed_text, peak_text = pair(req, precise_req, total, w.peak_requests_per_s)
        out.append(f"traffic {w.name}: the plan routes {routed_text}{words}, but the scenario's "
                   f"traffic.peak_requests_per_s is {peak_text}")
    return out


def capacity_shortfall(plan: Plan, w: WorkloadDemand, capacities: Sequence[float]) -> list[str]:
    """Workload ``w``'s capacity with its N+k spares down against peak x (1 + headroom), from
    ``capacities`` (requests/s of each of plan.deployments: written or recomputed)."""
    need = w.required_requests_per_s
    out = []
    for side, words in _sides(plan, w):
        have = sum(w.capacity_after_spares(cap / d.replicas, d.replicas)
                   for d, cap in zip(plan.deployments, capacities, strict=True)
                   if d.workload == w.name and d.replicas > 0 and on_side(d, side))
        if within(need, have):
            continue
        k = w.redundancy
        spare = f" with {k} replica{'s' if k > 1 else ''} spare (N+{k})" if k else ""
        have_text, need_text = pair(req, precise_req, have, need)
        out.append(f"capacity {w.name}: the plan serves {have_text}{words}{spare}, below the scenario's "
                   f"peak x (1 + headroom) = {w.peak_requests_per_s:g} x {1.0 + w.headroom:g} = {need_text}")
    return out


def rack_limit_violations(plan: Plan, site: SiteLimits) -> list[str]:
    """Each rack's nameplate power against the derated breaker and, with air cooling, the air limit."""
    cap_w = site.derated_breaker_w
    out = []
    for r in plan.racks:
        if not within(r.power_nameplate_w, cap_w):
            draw, cap = pair(kw, precise_kw, r.power_nameplate_w, cap_w)
            out.append(f"rack power: rack {r.id} draws {draw} at nameplate, above the scenario's usable {cap} "
                       f"({RACK_POWER.key_path} {site.rack_power_cap_w / W_PER_KW:g} x breaker_derating "
                       f"{site.breaker_derating:g})")
    for r in plan.racks if site.cooling == "air" else []:
        if not within(r.power_nameplate_w, site.air_cooling_limit_w):
            draw, cap = pair(kw, precise_kw, r.power_nameplate_w, site.air_cooling_limit_w)
            out.append(f"air cooling: rack {r.id} draws {draw} at nameplate, above the scenario's "
                       f"site.air_cooling_limit_kw {cap}")
    return out


def racks_count(plan: Plan, site: SiteLimits) -> list[str]:
    if site.racks is not None and len(plan.racks) > site.racks:
        return [f"racks: the plan uses {len(plan.racks)} racks, above the scenario's {RACKS.key_path} {site.racks}"]
    return []


def site_limit_violations(site: SiteLimits, money: Money, nameplate_w: float, capex_usd: float,
                          inventory: Sequence[tuple[str, int, int]]) -> list[str]:
    """Site power at nameplate, inventory ((name, GPUs bought, limit) per GPU) and budget against
    the problem's limits."""
    out = []
    if site.power_cap_w is not None and not within(nameplate_w, site.power_cap_w):
        draw, cap = pair(kw, precise_kw, nameplate_w, site.power_cap_w)
        out.append(f"site power: IT power at nameplate {draw} is above the scenario's {SITE_POWER.key_path} {cap}")
    out += [f"inventory {name}: the plan buys {n} GPUs, above the scenario's hardware.inventory {limit}"
            for name, n, limit in inventory if n > limit]
    if money.budget_usd is not None and not within(capex_usd, money.budget_usd):
        capex, limit_text = pair(usd, precise_usd, capex_usd, money.budget_usd)
        out.append(f"budget: capex {capex} is above the scenario's {BUDGET.key_path} {limit_text}")
    return out
