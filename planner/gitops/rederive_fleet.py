"""Re-derive a plan's server groups, racks, totals, constraints and scenario records, and check the
problem's fleet limits (capacity with N+k spares, site power, inventory, budget) with recomputed
figures. The deployments are re-derived first (planner.gitops.rederive); see its module docstring.

Totals and constraints come from planner.plan.figures, the functions `planner solve` writes them
with, applied to the plan with its recomputed deployment figures and the catalog's servers and prices.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from planner.gitops.context import CLAIM_REL_TOL, Context, Findings, claim_line
from planner.gitops.diff import parallelism
from planner.gitops.limits import capacity_shortfall, site_limit_violations
from planner.gitops.rederive_analysis import analysis_claims
from planner.gitops.slo import close, within
from planner.optimize.plan_builder import workload_row
from planner.optimize.program import OBJECTIVE_EXPR
from planner.plan import figures
from planner.problem.limits import INVENTORY, limits_of
from planner.schemas.plan import Constraint, Deployment, Plan, Rack, ServerGroup
from planner.units import BTU_PER_HR_PER_W

COUNTED_ELSEWHERE = ("servers", "racks")
"""Totals that `check.violations` already sums from the plan's own parts (one finding, one line)."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return close(float(a), float(b), CLAIM_REL_TOL)
    return bool(a == b)


def _text(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _differences(have: Any, want: dict[str, Any], source: str = "recomputed", *,
                 exact: bool = False) -> list[str]:
    """``key value (source: expected)`` per key of ``want`` whose value differs; with ``exact``, also
    every key only ``have`` (a mapping) holds."""
    wrong = [f"{k} {_text(have.get(k))} ({source}: {_text(v)})" for k, v in want.items() if not _same(have.get(k), v)]
    extra = sorted(have.keys() - want.keys()) if exact else []
    return wrong + [f"{k} {_text(have[k])} (no such key there)" for k in extra]


# -- server groups ---------------------------------------------------------------------------------

def _server_claims(plan: Plan, ctx: Context) -> list[str]:
    """Each server group's server, PSU and prices from the catalog and the scenario's overrides."""
    out = []
    for i, g in enumerate(plan.servers):
        t = ctx.gpus.get(g.gpu)
        if t is None:
            continue  # a problem (see _server_problems)
        psu = t.psu
        want: dict[str, Any] = {
            "gpus_per_server": t.gpus_per_server, "server_max_power_w": t.server_max_power_at_w(g.power_limit_w),
            "rack_units": t.server_rack_units, "server_model": t.server_model, "gpu_price_usd": t.gpu_price_usd,
            "server_price_usd": t.server_price_usd,
            "psu_count": psu.count if psu else None, "psu_rating_w": psu.rating_w if psu else None,
            "psu_redundancy": psu.redundancy if psu else None,
            "psu_efficiency_tier": psu.efficiency_tier if psu else None}
        if g.server_overhead_w_per_gpu is not None:  # recorded only by some plans
            want["server_overhead_w_per_gpu"] = t.overhead_w_per_gpu
        out += claim_line(f"servers[{i}] ({g.gpu})", _differences(g.model_dump(), want, "catalog/scenario"))
    return out


def _server_problems(plan: Plan, ctx: Context) -> list[str]:
    out = []
    for i, g in enumerate(plan.servers):
        if g.gpu in ctx.left_out:
            continue  # see _left_out_problems
        if g.gpu not in ctx.gpus:
            out.append(f"servers[{i}]: gpu {g.gpu!r} is not one the scenario allows "
                       f"(allowed: {', '.join(sorted(ctx.gpus)) or 'none'})")
        elif g.gpus != g.servers * g.gpus_per_server:
            out.append(f"servers[{i}] ({g.gpu}): gpus {g.gpus} is not servers {g.servers} x gpus_per_server "
                       f"{g.gpus_per_server}")
        elif g.power_limit_w is not None and not any(close(g.power_limit_w, w)
                                                     for w in ctx.gpus[g.gpu].offered_limits_w):
            out.append(f"servers[{i}] ({g.gpu}): power_limit_w {g.power_limit_w:g} is not a limit the scenario "
                       f"offers (hardware.power_limit_fractions: "
                       f"{', '.join(f'{w:g}' for w in ctx.gpus[g.gpu].offered_limits_w)} W)")
    return out


# -- the plan as solve would write it -----------------------------------------------------------------

def _deployments(plan: Plan, ctx: Context, found: Findings) -> list[Deployment]:
    """The deployments on GPUs the scenario allows, with their recomputed figures where there are some."""
    return [d.model_copy(update=found.recomputed[i].figures) if i in found.recomputed else d
            for i, d in enumerate(plan.deployments) if d.gpu in ctx.gpus]


def _servers(plan: Plan, ctx: Context) -> list[ServerGroup]:
    """The server groups of GPUs the scenario allows, with the catalog's servers and prices (a GPU it
    leaves out because its server fits no rack keeps the plan's own figures: that is reported as such)."""
    out = []
    for g in plan.servers:
        t = ctx.gpus.get(g.gpu)
        if t is not None:
            out.append(g.model_copy(update={
                "gpus": g.servers * t.gpus_per_server, "gpus_per_server": t.gpus_per_server,
                "server_max_power_w": t.server_max_power_at_w(g.power_limit_w), "gpu_price_usd": t.gpu_price_usd,
                "server_price_usd": t.server_price_usd}))
        elif g.gpu in ctx.left_out:
            out.append(g.model_copy(update={"gpus": g.servers * g.gpus_per_server}))
    return out


def _racks(plan: Plan, ctx: Context) -> list[Rack]:
    """The racks of GPUs the scenario allows, at the catalog's server power and the site's usable cap."""
    return [r.model_copy(update={
        "power_nameplate_w": r.servers * ctx.gpus[r.gpu].server_max_power_at_w(r.power_limit_w),
        "usable_cap_w": ctx.problem.site.usable_rack_w})
            for r in plan.racks if r.gpu in ctx.gpus]


def _spare_gpu_w(ctx: Context) -> dict[str, float]:
    return {g.id: g.spare_gpu_w for g in ctx.problem.gpus}


def _bought(plan: Plan, ctx: Context, gpu: str) -> int:
    return sum(g.gpus for g in _servers(plan, ctx) if g.gpu == gpu)


# -- racks ------------------------------------------------------------------------------------------

def _pool(ctx: Context, gpu: str, power_limit_w: float | None) -> str:
    """The server pool (ServerPool.key) of a GPU type at a power limit (None: at TDP)."""
    return ctx.problem.pool(gpu, power_limit_w).key if gpu in ctx.gpus else gpu


def _power_w(plan: Plan, ctx: Context, found: Findings, pool: str, figure: str) -> float:
    """IT power of one server pool: its deployments' (recomputed where possible) plus idle spares."""
    ds = [d for d in _deployments(plan, ctx, found) if figures.pool_of(ctx.problem, d) == pool]
    servers = [g for g in _servers(plan, ctx) if _pool(ctx, g.gpu, g.power_limit_w) == pool]
    return sum(getattr(d, figure) for d in ds) + figures.spare_power_w(ds, servers, _spare_gpu_w(ctx))


def _servers_by_pool(plan: Plan, ctx: Context) -> dict[str, int]:
    """Servers the plan buys per server pool (a GPU type at one power limit)."""
    out: dict[str, int] = {}
    for g in plan.servers:
        pool = _pool(ctx, g.gpu, g.power_limit_w)
        out[pool] = out.get(pool, 0) + g.servers
    return out


def _rack_problems(plan: Plan, ctx: Context) -> list[str]:
    out = []
    servers = _servers_by_pool(plan, ctx)
    for pool in sorted({_pool(ctx, r.gpu, r.power_limit_w) for r in plan.racks} | set(servers)):
        in_racks = sum(r.servers for r in plan.racks if _pool(ctx, r.gpu, r.power_limit_w) == pool)
        if in_racks != servers.get(pool, 0):
            out.append(f"racks of {pool}: they hold {in_racks} servers, but the plan buys {servers.get(pool, 0)} "
                       f"(servers[].servers)")
    for r in plan.racks:
        t = ctx.gpus.get(r.gpu)
        if _pool(ctx, r.gpu, r.power_limit_w) not in servers:
            out.append(f"rack {r.id}: gpu {r.gpu!r} has no server group in the plan")
        elif t is None:
            continue  # a GPU the scenario leaves out: reported once, at its server group or as left out
        elif r.servers > (per_rack := ctx.problem.site.servers_per_rack(t, r.power_limit_w)):
            out.append(f"rack {r.id}: {r.servers} servers, above the {per_rack} a rack holds "
                       f"(the scenario's usable rack power and rack units)")
    return out


def _rack_claims(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    site, out = ctx.problem.site, []
    servers = _servers_by_pool(plan, ctx)
    for r in plan.racks:
        t, pool = ctx.gpus.get(r.gpu), _pool(ctx, r.gpu, r.power_limit_w)
        if t is None or not servers.get(pool):
            continue  # a problem (see _rack_problems)
        share = r.servers / servers[pool]
        p_max = share * _power_w(plan, ctx, found, pool, "power_max_w")
        nameplate = r.servers * t.server_max_power_at_w(r.power_limit_w)
        want = {"power_nameplate_w": nameplate, "usable_cap_w": site.usable_rack_w,
                "power_max_w": p_max, "power_avg_w": share * _power_w(plan, ctx, found, pool, "power_avg_w"),
                "heat_btu_per_hr": p_max * BTU_PER_HR_PER_W, "liquid_cooling_required": site.needs_liquid(nameplate)}
        out += claim_line(f"rack {r.id}", _differences(r.model_dump(), want))
    return out


# -- totals, objective, constraints ---------------------------------------------------------------

def recomputed_totals(plan: Plan, ctx: Context, found: Findings) -> dict[str, float]:
    """The totals `planner solve` writes (planner.plan.figures.totals), from recomputed deployment
    figures and the catalog's servers and prices."""
    fleet = figures.totals(ctx.problem, _deployments(plan, ctx, found), _servers(plan, ctx), len(plan.racks),
                           _spare_gpu_w(ctx))
    return {k: v for k, v in fleet.model_dump().items() if k not in COUNTED_ELSEWHERE}


def _sizing_totals_claims(plan: Plan, ctx: Context) -> list[str]:
    """totals.sizing_margin is there when a workload is sized at a confidence, and its GPUs add up; the
    point-estimate plan it measures against needs a re-solve and is not re-derived."""
    m, sized = plan.totals.sizing_margin, any(w.sizing is not None for w in ctx.problem.workloads)
    if m is None:
        return []  # a solve writes none when the point-estimate re-solve fails; the deployments' margins say it
    if not sized:
        return ["totals: sizing_margin is written, but no workload of the scenario has sizing_confidence"]
    if m.gpus_added != plan.totals.gpus - m.gpus_at_point_estimate:
        return [f"totals: sizing_margin.gpus_added {m.gpus_added} is not totals.gpus {plan.totals.gpus} minus "
                f"sizing_margin.gpus_at_point_estimate {m.gpus_at_point_estimate}"]
    return []


def _objective_claims(plan: Plan, ctx: Context) -> list[str]:
    name = plan.objective.get("name")
    if name != ctx.problem.objective:
        return [f"objective: name {name!r} is not the scenario's objective {ctx.problem.objective!r}"]
    return []


def _objective_problems(plan: Plan) -> list[str]:
    """The objective's value is the total it names (the plan's own figures agree)."""
    key = OBJECTIVE_EXPR.get(str(plan.objective.get("name")))
    value = plan.objective.get("value")
    if key is None or not isinstance(value, int | float):
        return [f"objective: {dict(plan.objective.items())} names no objective of planner "
                f"({', '.join(OBJECTIVE_EXPR)})"]
    total = float(getattr(plan.totals, key))
    return [] if close(float(value), total) else [f"objective: value {value:.6g} is not totals.{key} {total:.6g}"]


def _expected_constraints(plan: Plan, ctx: Context, found: Findings) -> dict[str, Constraint]:
    """name -> the constraint as `planner solve` writes it (planner.plan.figures.constraints)."""
    p, ds, servers = ctx.problem, _deployments(plan, ctx, found), _servers(plan, ctx)
    fleet = figures.totals(p, ds, servers, len(plan.racks), _spare_gpu_w(ctx))
    return {c.name: c for c in figures.constraints(p, ds, servers, _racks(plan, ctx), fleet)}


def _binding_differs(have: Constraint, want: Constraint) -> bool:
    """Binding is within 2 % of the limit: a value on that edge may round either way."""
    edge = want.limit * (1.02 if want.kind == "demand" else 0.98)
    return have.binding != want.binding and not close(want.value, edge, CLAIM_REL_TOL)


def _constraint_claims(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    want = _expected_constraints(plan, ctx, found)
    have = {c.name: c for c in plan.constraints}
    wrong = [f"{name} missing" for name in sorted(want.keys() - have.keys())]
    wrong += [f"{name} listed {n} times" for name, n in sorted(Counter(c.name for c in plan.constraints).items())
              if n > 1]
    wrong += [f"{name} is none of the scenario's" for name in sorted(have.keys() - want.keys())]
    for name in sorted(want.keys() & have.keys()):
        c, w = have[name], want[name]
        wrong += [f"{name}.{k} {_text(getattr(c, k))} (recomputed {_text(getattr(w, k))})"
                  for k in ("kind", "limit", "value", "unit", "slack") if not _same(getattr(c, k), getattr(w, k))]
        if _binding_differs(c, w):
            wrong.append(f"{name}.binding {c.binding} (recomputed {w.binding})")
    return claim_line("constraints", wrong)


def _capacity(found: Findings, i: int, d: Any) -> float:
    return found.recomputed[i].capacity_requests_per_s if i in found.recomputed else float(d.capacity_requests_per_s)


# -- the scenario's records in the plan ------------------------------------------------------------

def _record_claims(plan: Plan, ctx: Context) -> list[str]:
    """The plan's copies of the scenario's site, finance and workloads (reports print them)."""
    p = ctx.problem
    ref = {"name": p.name, "description": p.description, "objective": p.objective}
    wrong = [f"scenario.{d}" for d in _differences(plan.scenario.model_dump(), ref, "the scenario's")]
    wrong += [f"site.{d}" for d in _differences(plan.site, dict(p.echo.site), "the scenario's", exact=True)]
    wrong += [f"finance.{d}" for d in _differences(plan.finance, dict(p.echo.finance), "the scenario's", exact=True)]
    rows = {str(row.get("name")): row for row in plan.workloads}
    if sorted(rows) != sorted(w.name for w in p.workloads):
        wrong.append(f"workloads: {', '.join(sorted(rows))} (the scenario's: "
                     f"{', '.join(sorted(w.name for w in p.workloads))})")
    for w in p.workloads:
        if w.name in rows:
            wrong += [f"workloads[{w.name}].{d}" for d in _differences(rows[w.name], workload_row(w), "the scenario's")]
    return claim_line("the plan's record of the scenario", wrong)


# -- entry points -------------------------------------------------------------------------------------

def _pool_gpus(plan: Plan, ctx: Context) -> tuple[dict[str, int], dict[str, int]]:
    """GPUs bought and GPUs the deployments use, per server pool (a GPU type at one power limit)."""
    bought: dict[str, int] = {}
    for g in plan.servers:
        key = _pool(ctx, g.gpu, g.power_limit_w)
        bought[key] = bought.get(key, 0) + g.servers * g.gpus_per_server
    used: dict[str, int] = {}
    for d in plan.deployments:
        key = figures.pool_of(ctx.problem, d)
        used[key] = used.get(key, 0) + d.gpus
    return bought, used


def _pool_problems(plan: Plan, ctx: Context) -> list[str]:
    """A server runs one power limit: the GPUs deployed at a limit fit the servers bought at it (a GPU
    type's total is checked by check.violations, so only a split that hides a shortfall is reported)."""
    bought, used = _pool_gpus(plan, ctx)
    per_gpu = {d.gpu: 0 for d in plan.deployments}
    for d in plan.deployments:
        per_gpu[d.gpu] += d.gpus
    total = {g: sum(s.gpus for s in plan.servers if s.gpu == g) for g in per_gpu}
    return [f"server pool {pool}: deployments use {n} GPUs at its power limit, but the plan buys "
            f"{bought.get(pool, 0)} there (servers[] with that power_limit_w)"
            for pool, n in sorted(used.items()) if n > bought.get(pool, 0)
            and all(per_gpu[g] <= total[g] for g in per_gpu)]


def _deployments_clean(plan: Plan, ctx: Context, found: Findings) -> bool:
    """Every deployment re-derived without a finding and its GPUs add up (otherwise rack and total power
    would only repeat what is reported at the deployment)."""
    bought, used = _pool_gpus(plan, ctx)
    return (not found.problems and not found.claims and len(found.recomputed) == len(plan.deployments)
            and all(d.gpus == d.replicas * d.tp * d.pp * parallelism(d)[1] for d in plan.deployments)
            and all(n <= bought.get(g, 0) for g, n in used.items()))


def fleet_claims(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    """Written figures of server groups, racks, totals, constraints and records that do not follow."""
    out = _server_claims(plan, ctx) + _objective_claims(plan, ctx) + _record_claims(plan, ctx)
    clean = _deployments_clean(plan, ctx, found)
    if clean:
        out += _rack_claims(plan, ctx, found)
        out += claim_line("totals", _differences(plan.totals.model_dump(), recomputed_totals(plan, ctx, found)))
        out += _sizing_totals_claims(plan, ctx)
        out += _constraint_claims(plan, ctx, found)
    return out + analysis_claims(plan, ctx, deployments_clean=clean)


def fleet_problems(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    """The plan's fleet against the problem's limits, with recomputed figures."""
    p = ctx.problem
    totals = recomputed_totals(plan, ctx, found)
    caps = [_capacity(found, i, d) for i, d in enumerate(plan.deployments)]
    inventory = [(ctx.inventory_keys.get(str(lim.subject), str(lim.subject)), _bought(plan, ctx, str(lim.subject)),
                  int(lim.bound)) for _, lim in limits_of(p, (INVENTORY,))]
    return (_left_out_problems(plan, ctx) + _server_problems(plan, ctx) + _pool_problems(plan, ctx)
            + _rack_problems(plan, ctx)
            + _objective_problems(plan)
            + [line for w in p.workloads for line in capacity_shortfall(plan, w, caps)]
            + site_limit_violations(p.site, p.money, totals["it_power_nameplate_w"], totals["capex_usd"], inventory))


def _left_out_problems(plan: Plan, ctx: Context) -> list[str]:
    """A GPU the plan uses whose server fits no rack of the scenario, unless a rack's power already
    says so (check's rack power lines, from the racks' nameplate)."""
    cap_w = ctx.problem.site.derated_breaker_w
    used = {d.gpu for d in plan.deployments} | {g.gpu for g in plan.servers}
    return [f"gpu {gpu}: {ctx.left_out[gpu]}" for gpu in sorted(used & ctx.left_out.keys())
            if not any(r.gpu == gpu and not within(r.power_nameplate_w, cap_w) for r in plan.racks)]
