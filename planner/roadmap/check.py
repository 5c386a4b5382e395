"""`planner check` of a roadmap plan (one with ``periods``) against the scenario as it is now.

Like the single-period check (planner.gitops.check), with the same verdicts and exit codes:
- stale: the plan's input hashes differ from the ones recomputed now (planner.gitops.check.stale_reasons);
- violated: the plan's own numbers do not add up (the first period's sections with
  planner.gitops.check.violations, every period's deployments, fleet and costs), or they break the
  roadmap as it resolves now (planner.roadmap.problem): per period, the traffic each running
  workload routes and its capacity with headroom and N+k spares, each deployment re-derived by
  planner.gitops.rederive (configuration, capacity, latencies, power; rented ones on the catalog GPU
  with the instance's GPU count, as their candidates were generated), the GPUs in use against the
  servers installed and the instances rented, totals.gpus_rented from the rentals and the cloud offers,
  totals.it_power_max_w and it_power_avg_w from the on-site deployments and idle GPUs, the fleet balance
  (owned servers kept, retired within their life, purchases of buyable GPUs delivered after the lead
  time), site power at nameplate and racks against that period's limits, capex, rentals and resale at
  that period's prices, and hardware.inventory and finance.budget_usd over the horizon
  (planner.roadmap.program.HORIZON_FAMILIES).
  A stale plan's written figures are not compared with recomputed ones (they answer the old inputs);
  its configuration and the limits are checked all the same.
Not re-derived: each period's running costs (energy, colocation, support) and the objective.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from planner.catalog.loader import Catalog
from planner.errors import InputError
from planner.gitops.check import CheckReport, deployment_count_violations, stale_reasons, violations
from planner.gitops.context import CLAIM_REL_TOL, Context, Findings
from planner.gitops.limits import capacity_shortfall, kw, routed, usd
from planner.gitops.rederive import deployment_findings, non_finite
from planner.gitops.slo import close, slo_checks, within
from planner.plan.figures import idle_gpus_power_w
from planner.problem.build import input_hashes_of
from planner.problem.limits import INVENTORY, limits_of
from planner.problem.model import Problem
from planner.roadmap.candidates import _cloud_gpu
from planner.roadmap.problem import CloudOption, Period, Roadmap, resolve_roadmap
from planner.roadmap.program import HORIZON_FAMILIES, initial_racks, racks_standing_just_in_time
from planner.scenario.load import LoadedScenario
from planner.schemas.plan import Deployment, Plan, RoadmapPeriod, ServerGroup
from planner.units import HOURS_PER_YEAR

__all__ = ["check_roadmap", "kind_mismatch", "own_violations", "roadmap_violations"]

Lines = list[str]


def kind_mismatch(plan: Plan, loaded: LoadedScenario, plan_path: str) -> None:
    """A roadmap plan is checked against a roadmap scenario, a single-period plan against a single-period one."""
    has_horizon, has_periods = loaded.is_roadmap, bool(plan.periods)
    if has_horizon == has_periods:
        return
    if has_periods:
        raise InputError(f"the plan is a roadmap of {len(plan.periods or [])} periods, but the scenario has no "
                         "horizon", file=str(loaded.path), key_path="horizon",
                         fix=f"check {plan_path} against the roadmap scenario it was solved from, or re-solve")
    raise InputError("the scenario is a roadmap (it has horizon), but the plan has no periods", file=plan_path,
                     key_path="periods", fix="check a plan solved from this scenario (`planner solve`), or re-solve")


# -- the plan's own numbers ------------------------------------------------------------------------

def _is_rented(gpu: str, p: RoadmapPeriod) -> bool:
    return gpu not in p.installed and gpu in p.rentals


def _deployment_lines(label: str, p: RoadmapPeriod) -> Lines:
    out = [f"{label}: {line}" for line in deployment_count_violations(p.deployments)]
    return out + [f"{label}: {c.miss()}" for c in slo_checks(_holding(p.deployments)) if not c.met]


def _holding(ds: list[Deployment]) -> Plan:
    """A plan holding only ``ds``, for slo_checks (which reads nothing else): a roadmap period is no Plan, and
    _deployment_lines is given none (a whole plan has many required fields a period does not have)."""
    return Plan.model_construct(deployments=ds)  # type: ignore[call-arg]  # a partial view, never validated or written


def _period_sums(label: str, p: RoadmapPeriod) -> Lines:
    t = p.totals
    out = []
    if t.servers != sum(p.installed.values()):
        out.append(f"{label}: totals.servers {t.servers}, but installed adds up to {sum(p.installed.values())}")
    cost = t.capex_usd + t.running_usd + t.rental_usd - t.resale_usd
    if not close(t.cost_usd, cost, CLAIM_REL_TOL):
        out.append(f"{label}: totals.cost_usd {t.cost_usd:.6g} is not capex + running + rental - resale "
                   f"= {cost:.6g}")
    negative = [(f"{name}[{k}]", n) for name in ("installed", "purchases", "retirements", "rentals")
                for k, n in getattr(p, name).items()]
    out += [f"{label}: negative count: {where} = {n}" for where, n in negative if n < 0]
    return out


def own_violations(plan: Plan) -> Lines:
    """Every way the roadmap's own numbers break its constraints or do not add up (empty when none)."""
    periods = plan.periods or []
    if not periods:
        return ["the plan has an empty periods list"]
    first = periods[0]
    onsite = [d for d in plan.deployments if not _is_rented(d.gpu, first)]
    out = violations(plan.model_copy(update={"deployments": onsite}))  # the first period's sections
    if [d.model_dump() for d in plan.deployments] != [d.model_dump() for d in first.deployments]:
        out.append(f"deployments: the plan's first-period deployments differ from periods[0] ({first.label})")
    for p in periods:
        out += _deployment_lines(p.label, p) + _period_sums(p.label, p)
    return out


# -- against the roadmap as it resolves now ---------------------------------------------------------

def _context(problem: Problem, loaded: LoadedScenario) -> Context:
    return Context(problem=problem, workload_index={w.name: i for i, w in enumerate(loaded.scenario.workloads)},
                   inventory_keys={}, gpus_listed=True)


def _server_views(ds: list[Deployment]) -> list[ServerGroup]:
    """One server group per (GPU, power limit) the deployments run on: the re-derivation needs the
    deployments' servers to exist and reads only their gpu and power_limit_w; the roadmap checks
    their counts itself (_gpu_lines), so the rest is left at zero."""
    keys = sorted({(d.gpu, d.power_limit_w or 0.0) for d in ds})
    return [_server_view(g, w or None) for g, w in keys]


def _server_view(gpu: str, power_limit_w: float | None) -> ServerGroup:
    return ServerGroup(gpu=gpu, power_limit_w=power_limit_w, server_model="", servers=0, gpus=0, gpus_per_server=0,
                       server_max_power_w=0.0, rack_units=0, psu_count=None, psu_rating_w=None, psu_redundancy=None,
                       psu_efficiency_tier=None, gpu_price_usd=0.0, server_price_usd=0.0)


def _rederive(plan: Plan, ds: list[Deployment], ctx: Context, rename: Callable[[str], str]) -> Findings:
    view = plan.model_copy(update={"deployments": ds, "servers": _server_views(ds)})
    found = deployment_findings(view, ctx)
    return Findings([rename(x) for x in found.problems], [rename(x) for x in found.claims], found.recomputed)


def _period_deployments(plan: Plan, r: Roadmap, period: Period, p: RoadmapPeriod, loaded: LoadedScenario,
                        stale: bool) -> tuple[Lines, list[float]]:
    """Each deployment of the period re-derived (on site, then per rented offer); the capacities
    recomputed (the written one where a deployment could not be re-derived)."""
    label, problem = period.label, period.problem
    caps = [d.capacity_requests_per_s for d in p.deployments]
    out: Lines = []
    onsite = replace(problem, gpus=tuple(g for g in problem.gpus if g.id in r.onsite))
    groups: list[tuple[list[int], Problem, Callable[[str], str], Callable[[Deployment], Deployment]]] = [
        ([i for i, d in enumerate(p.deployments) if d.gpu in r.onsite or not _offer(r, d.gpu)], onsite,
         lambda x: f"{label}: {x}", lambda d: d)]
    for offer in r.cloud:
        idx = [i for i, d in enumerate(p.deployments) if d.gpu == offer.option]
        groups.append((idx, replace(problem, gpus=(_cloud_gpu(problem, offer),)), _renamer(label, offer),
                       _relabeler(offer)))
    for idx, prob, rename, relabel in groups:
        if not idx:
            continue
        found = _rederive(plan, [relabel(p.deployments[i]) for i in idx], _context(prob, loaded), rename)
        out += found.problems + ([] if stale else found.claims)
        for j, rec in found.recomputed.items():
            caps[idx[j]] = rec.capacity_requests_per_s
    return out, caps


def _offer(r: Roadmap, option: str) -> CloudOption | None:
    return next((c for c in r.cloud if c.option == option), None)


def _renamer(label: str, offer: CloudOption) -> Callable[[str], str]:
    return lambda x: f"{label} (rented {offer.option}): {x}"


def _relabeler(offer: CloudOption) -> Callable[[Deployment], Deployment]:
    """A rented deployment on the catalog GPU, as the offer's candidates were generated."""
    return lambda d: d.model_copy(update={"gpu": offer.gpu})


def _workload_lines(plan: Plan, period: Period, p: RoadmapPeriod, caps: list[float]) -> Lines:
    running = {w.name for w in period.problem.workloads}
    view = plan.model_copy(update={"deployments": p.deployments})
    out = [f"{period.label}: workload {name}: the plan deploys it, but it does not run in this period "
           "(horizon.traffic)" for name in sorted({d.workload for d in p.deployments} - running)]
    for w in period.problem.workloads:
        out += [f"{period.label}: {x}" for x in routed(view, w) + capacity_shortfall(view, w, caps)]
    return out


def _gpu_lines(r: Roadmap, period: Period, p: RoadmapPeriod) -> Lines:
    """GPUs in use against the servers installed (on site) and the instances rented."""
    used = Counter[str]()
    for d in p.deployments:
        used[d.gpu] += d.gpus
    out = []
    for gpu, n in sorted(used.items()):
        offer = _offer(r, gpu)
        if offer is not None:
            have, what = p.rentals.get(gpu, 0) * offer.gpus_per_instance, "rents"
        elif gpu in r.onsite:
            have, what = p.installed.get(gpu, 0) * period.problem.gpu(gpu).gpus_per_server, "installs"
        else:
            out.append(f"{period.label}: gpu {gpu!r} is neither owned, bought nor rented in the scenario "
                       f"(hardware.owned, hardware.gpus, hardware.cloud)")
            continue
        if n > have:
            out.append(f"{period.label}: GPUs of {gpu}: deployments use {n}, but the plan {what} {have}")
    gpus = sum(n * period.problem.gpu(g).gpus_per_server for g, n in p.installed.items() if g in r.onsite)
    if gpus != p.totals.gpus:
        out.append(f"{period.label}: totals.gpus {p.totals.gpus}, but the servers installed hold {gpus} GPUs")
    return out


def _rented_lines(t: int, r: Roadmap, p: RoadmapPeriod) -> Lines:
    """totals.gpus_rented against the period's rentals x the offers' GPUs per instance; a rental of an
    option the scenario does not offer (hardware.cloud) is named."""
    where = f"{p.label}: periods[{t}]"
    out = [f"{where}.rentals[{k}]: {k!r} is not a cloud offer of the scenario (hardware.cloud)"
           for k in sorted(p.rentals) if _offer(r, k) is None]
    rented = sum(n * c.gpus_per_instance for c in r.cloud for k, n in p.rentals.items() if k == c.option)
    if p.totals.gpus_rented != rented:
        out.append(f"{where}.totals.gpus_rented {p.totals.gpus_rented}, but the rentals hold {rented} GPUs "
                   "(instances x hardware.cloud[].gpus_per_instance)")
    return out


def _power_lines(t: int, r: Roadmap, period: Period, p: RoadmapPeriod) -> Lines:
    """totals.it_power_max_w (and it_power_avg_w, unless idle replicas are suspended) recomputed as the plan
    builder does (planner.plan.figures.totals): the on-site deployments' power plus the idle draw of the
    installed GPUs that serve nothing."""
    local = [d for d in p.deployments if d.gpu in r.onsite]
    prob = period.problem
    installed = {g: n * prob.gpu(g).gpus_per_server for g, n in p.installed.items() if g in prob.gpus_by_id}
    spare = idle_gpus_power_w(local, installed, {g: prob.gpu(g).spare_gpu_w for g in installed})
    want = {"it_power_max_w": sum(d.power_max_w for d in local) + spare}
    if not r.scale_down_idle:
        want["it_power_avg_w"] = sum(d.power_avg_w for d in local) + spare
    return [f"{p.label}: periods[{t}].totals.{k} {getattr(p.totals, k):.6g} (recomputed from the on-site "
            f"deployments and the idle GPUs installed: {v:.6g})"
            for k, v in want.items() if not close(getattr(p.totals, k), v, CLAIM_REL_TOL)]


def fleet_balance(r: Roadmap, periods: list[RoadmapPeriod]) -> Lines:
    """Installed = owned kept + purchases delivered after the lead time; owned servers retired within
    their life; purchases only of buyable GPUs, in periods whose orders arrive within the horizon."""
    out: Lines = []
    last = len(r.periods) - r.lead_time_periods
    for t, p in enumerate(periods):
        bad = sorted(set(p.purchases) - set(r.buyable))
        out += [f"{p.label}: purchases of {g}, which the scenario does not allow buying (hardware.gpus)" for g in bad]
        if p.purchases and t >= last:
            out.append(f"{p.label}: purchases ordered here would arrive after the horizon "
                       f"(hardware.lead_time_periods {r.lead_time_periods})")
        out += [f"{p.label}: retirements of {g}, which the scenario does not own (hardware.owned)"
                for g in sorted(set(p.retirements) - {o.gpu for o in r.owned})]
    for g in sorted({*r.onsite}):
        owned = [o for o in r.owned if o.gpu == g]
        kept = sum(o.servers for o in owned)
        for t, p in enumerate(periods):
            kept -= p.retirements.get(g, 0)
            alive = sum(o.servers for o in owned if o.life_periods > t)
            if kept < 0 or kept > alive:
                out.append(f"{p.label}: {kept} owned {g} servers kept, but the scenario owns {alive} still within "
                           f"their life (hardware.owned[].servers, remaining_life_periods)")
            delivered = sum(q.purchases.get(g, 0) for q in periods[:max(t - r.lead_time_periods + 1, 0)])
            if p.installed.get(g, 0) != max(kept, 0) + delivered:
                out.append(f"{p.label}: {p.installed.get(g, 0)} {g} servers installed, but {max(kept, 0)} owned "
                           f"kept + {delivered} delivered purchases = {max(kept, 0) + delivered}")
    return out


def _site_lines(period: Period, p: RoadmapPeriod, stale: bool) -> Lines:
    """Site power at nameplate and racks against the period's limits as the scenario states them now."""
    site, t, label = period.problem.site, p.totals, period.label
    out = []
    limited = {d.gpu for d in p.deployments if d.power_limit_w is not None}
    if not limited & set(p.installed) and not stale:
        nameplate = sum(n * period.problem.gpu(g).server_max_power_w for g, n in p.installed.items()
                        if g in period.problem.gpus_by_id)
        if not close(t.it_power_nameplate_w, nameplate, CLAIM_REL_TOL):
            out.append(f"{label}: totals.it_power_nameplate_w {t.it_power_nameplate_w:.6g} (recomputed from the "
                       f"servers installed: {nameplate:.6g})")
    if site.power_cap_w is not None and not within(t.it_power_nameplate_w, site.power_cap_w):
        out.append(f"{label}: site power: IT power at nameplate {kw(t.it_power_nameplate_w)} is above the "
                   f"period's power cap {kw(site.power_cap_w)} (site.power_cap_kw / horizon.site)")
    if site.racks is not None and t.racks > site.racks:
        out.append(f"{label}: racks: the plan uses {t.racks} racks, above the period's {site.racks} "
                   f"(site.racks / horizon.site)")
    if not stale and (t.power_cap_w != site.power_cap_w or t.racks_available != site.racks):
        out.append(f"{label}: the plan records a power cap of {t.power_cap_w} W and {t.racks_available} racks, "
                   f"the scenario's are {site.power_cap_w} W and {site.racks}")
    return out


def cost_lines(r: Roadmap, periods: list[RoadmapPeriod]) -> Lines:
    """Capex (servers at the period's prices, racks built), rentals and resale recomputed per period."""
    out: Lines = []
    before = initial_racks(r)
    standing = racks_standing_just_in_time(before, [p.totals.racks for p in periods])
    for period, p, now in zip(r.periods, periods, standing, strict=True):
        prob, t = period.problem, p.totals
        built, before = now - before, now
        want = {
            "capex_usd": sum(n * prob.gpu(g).server_hardware_usd for g, n in p.purchases.items()
                             if g in prob.gpus_by_id) + prob.money.rack_usd * built,
            "rental_usd": sum(c.usd_per_hour * HOURS_PER_YEAR * r.period_years * p.rentals.get(c.option, 0)
                              for c in r.cloud),
            "discounted_cost_usd": t.cost_usd * period.discount}
        resale = _resale(r, p)
        if resale is not None:
            want["resale_usd"] = resale
        wrong = [f"{k} {getattr(t, k):.6g} (recomputed {v:.6g})" for k, v in want.items()
                 if not close(getattr(t, k), v, CLAIM_REL_TOL)]
        if wrong:
            out.append(f"{p.label}: figures that do not follow from the scenario and the catalog: {'; '.join(wrong)}")
    return out


def horizon_limit_lines(r: Roadmap, periods: list[RoadmapPeriod]) -> Lines:
    """hardware.inventory (GPUs of a type bought over the horizon) and finance.budget_usd (capex of the
    horizon, undiscounted) against the plan's purchases and capex."""
    out = []
    for family, lim in limits_of(r.base, HORIZON_FAMILIES):
        if family.name == INVENTORY.name:
            gpu = str(lim.subject)
            used = float(sum(p.purchases.get(gpu, 0) for p in periods) * r.base.gpu(gpu).gpus_per_server)
            what = f"buys {used:,.0f} {gpu} GPUs"
        else:
            used = sum(p.totals.capex_usd for p in periods)
            what = f"spends {usd(used)} capex"
        if not within(used, lim.bound):
            out.append(f"{family.name}: the roadmap {what} over the horizon, above the scenario's "
                       f"{family.key_path.format(subject=lim.subject)} {lim.bound:,.0f}")
    return out


def _resale(r: Roadmap, p: RoadmapPeriod) -> float | None:
    """Resale of the period's retirements (None when a GPU has owned groups of different resale values)."""
    total = 0.0
    for g, n in p.retirements.items():
        values = {o.resale_usd_per_server for o in r.owned if o.gpu == g}
        if len(values) != 1:
            return None
        total += n * values.pop()
    return total


def roadmap_violations(plan: Plan, r: Roadmap, loaded: LoadedScenario, *, stale: bool) -> Lines:
    """The plan's periods against the roadmap resolved now (see the module docstring)."""
    periods = plan.periods or []
    labels = [p.label for p in r.periods]
    if [p.label for p in periods] != labels:
        return [f"periods: the plan has {len(periods)} periods ({', '.join(p.label for p in periods)}), the "
                f"scenario's horizon {len(labels)} ({', '.join(labels)})"]
    out = fleet_balance(r, periods) + horizon_limit_lines(r, periods)
    for t, (period, p) in enumerate(zip(r.periods, periods, strict=True)):
        lines, caps = _period_deployments(plan, r, period, p, loaded, stale)
        out += (lines + _workload_lines(plan, period, p, caps) + _gpu_lines(r, period, p)
                + _site_lines(period, p, stale) + _rented_lines(t, r, p))
        out += [] if stale else _power_lines(t, r, period, p)
    return out + ([] if stale else cost_lines(r, periods))


def verified_lines(plan: Plan) -> Lines:
    n = len(plan.periods or [])
    deployments = sum(len(p.deployments) for p in plan.periods or [])
    return [f"the first period's {len(plan.constraints)} constraints, racks and totals hold",
            f"{n} periods, {deployments} deployments re-derived from the scenario, the catalog and the estimation "
            f"core (configuration, capacity, TTFT and ITL, power; within {CLAIM_REL_TOL * 100:g} %)",
            "per period: traffic routed, capacity with headroom and N+k spares, GPUs in use against servers "
            "installed and instances rented, site power and racks, capex, rentals and resale",
            "the fleet balance: owned servers kept within their life, purchases delivered after the lead time; "
            "inventory and budget over the horizon"]


NOT_REDERIVED = "not re-derived: each period's running costs (energy, colocation, support) and the objective"


def check_roadmap(plan: Plan, loaded: LoadedScenario, catalog: Catalog, *, scenario_file: str,
                  override: str | None, calibration: str | Path | None = None) -> CheckReport:
    """The check report of a roadmap plan (policy rules are added by the caller)."""
    bad = non_finite(plan)
    current = input_hashes_of(loaded, catalog, calibration=calibration)
    stale = stale_reasons(plan, current, override=override, scenario_file=scenario_file)
    if bad:
        return CheckReport(stale=stale, violated=bad)
    r = resolve_roadmap(loaded, catalog, calibration=calibration)
    violated = own_violations(plan) + roadmap_violations(plan, r, loaded, stale=bool(stale))
    return CheckReport(stale=stale, violated=violated, verified=verified_lines(plan), notes=[NOT_REDERIVED])
