"""Re-derive a plan's server groups, racks, totals, constraints and scenario records, and check the
scenario's fleet limits (capacity with N+k spares, site power, inventory, budget) with recomputed
figures. The deployments are re-derived first (planner.gitops.rederive); see its module docstring.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from planner.core.constants import BTU_PER_HR_PER_COOLING_TON, HOURS_PER_YEAR, W_TO_BTU_PER_HR
from planner.gitops.context import CLAIM_REL_TOL, Context, Findings, claim_line
from planner.gitops.limits import capacity_shortfall, rack_cap_w, site_limit_violations
from planner.gitops.rederive_analysis import analysis_claims
from planner.gitops.slo import close, within
from planner.optimize.model import OBJECTIVE_EXPR, usable_rack_w
from planner.optimize.plan_builder import _workload_row as workload_row  # the row solve writes
from planner.schemas.plan import Plan, ServerGroup


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return close(float(a), float(b), CLAIM_REL_TOL)
    return bool(a == b)


def _text(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _differences(have: dict[str, Any], want: dict[str, Any], source: str = "recomputed", *,
                 exact: bool = False) -> list[str]:
    """``key value (source: expected)`` per key of ``want`` whose value differs; with ``exact``, also
    every key only ``have`` holds."""
    wrong = [f"{k} {_text(have.get(k))} ({source}: {_text(v)})" for k, v in want.items() if not _same(have.get(k), v)]
    extra = sorted(have.keys() - want.keys()) if exact else []
    return wrong + [f"{k} {_text(have[k])} (no such key there)" for k in extra]


# -- server groups ---------------------------------------------------------------------------------

def _server_claims(plan: Plan, ctx: Context) -> list[str]:
    """Each server group's server, PSU and prices from the catalog and the scenario's overrides."""
    out = []
    for i, g in enumerate(plan.servers):
        t = ctx.types.get(g.gpu)
        if t is None:
            continue  # a problem (see _server_problems)
        psu = ctx.catalog.gpu(g.gpu).server.psu
        want: dict[str, Any] = {
            "gpus_per_server": t.gpus_per_server, "server_max_power_w": t.server_max_power_w,
            "rack_units": t.server_rack_units, "server_model": t.server_model, "gpu_price_usd": t.gpu_price_usd,
            "server_price_usd": t.server_price_usd,
            "psu_count": psu.count if psu else None, "psu_rating_w": psu.rating_w if psu else None,
            "psu_redundancy": psu.redundancy if psu else None,
            "psu_efficiency_tier": psu.efficiency_tier if psu else None}
        out += claim_line(f"servers[{i}] ({g.gpu})", _differences(g.model_dump(), want, "catalog/scenario"))
    return out


def _server_problems(plan: Plan, ctx: Context) -> list[str]:
    out = []
    for i, g in enumerate(plan.servers):
        if g.gpu in ctx.left_out:
            continue  # see _left_out_problems
        if g.gpu not in ctx.types:
            out.append(f"servers[{i}]: gpu {g.gpu!r} is not one the scenario allows "
                       f"(allowed: {', '.join(sorted(ctx.types)) or 'none'})")
        elif g.gpus != g.servers * g.gpus_per_server:
            out.append(f"servers[{i}] ({g.gpu}): gpus {g.gpus} is not servers {g.servers} x gpus_per_server "
                       f"{g.gpus_per_server}")
    return out


# -- racks ------------------------------------------------------------------------------------------

def _spare_w(plan: Plan, ctx: Context, gpu: str) -> float:
    t = ctx.types[gpu]
    bought = sum(g.servers * t.gpus_per_server for g in plan.servers if g.gpu == gpu)
    used = sum(d.gpus for d in plan.deployments if d.gpu == gpu)
    return (t.idle_w + t.overhead_w_per_gpu) * (bought - used)


def _power_w(plan: Plan, ctx: Context, found: Findings, gpu: str, figure: str) -> float:
    """IT power of one GPU type's servers: its deployments' (recomputed where possible) plus idle spares."""
    total = sum(found.recomputed[i].figures[figure] if i in found.recomputed else getattr(d, figure)
                for i, d in enumerate(plan.deployments) if d.gpu == gpu)
    return total + _spare_w(plan, ctx, gpu)


def _rack_problems(plan: Plan, ctx: Context) -> list[str]:
    out = []
    servers = {g.gpu: g.servers for g in plan.servers}
    for gpu in sorted({r.gpu for r in plan.racks} | set(servers)):
        in_racks = sum(r.servers for r in plan.racks if r.gpu == gpu)
        if in_racks != servers.get(gpu, 0):
            out.append(f"racks of {gpu}: they hold {in_racks} servers, but the plan buys {servers.get(gpu, 0)} "
                       f"(servers[].servers)")
    for r in plan.racks:
        t = ctx.types.get(r.gpu)
        if r.gpu not in servers:
            out.append(f"rack {r.id}: gpu {r.gpu!r} has no server group in the plan")
        elif t is None:
            continue  # a GPU the scenario leaves out: reported once, at its server group or as left out
        elif r.servers > t.servers_per_rack:
            out.append(f"rack {r.id}: {r.servers} servers, above the {t.servers_per_rack} a rack holds "
                       f"(the scenario's usable rack power and rack units)")
    return out


def _rack_claims(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    site, out = ctx.scenario.site, []
    servers = {g.gpu: g.servers for g in plan.servers}
    for r in plan.racks:
        t = ctx.types.get(r.gpu)
        if t is None or not servers.get(r.gpu):
            continue  # a problem (see _rack_problems)
        share = r.servers / servers[r.gpu]
        p_max = share * _power_w(plan, ctx, found, r.gpu, "power_max_w")
        want = {"power_nameplate_w": r.servers * t.server_max_power_w, "usable_cap_w": usable_rack_w(site),
                "power_max_w": p_max, "power_avg_w": share * _power_w(plan, ctx, found, r.gpu, "power_avg_w"),
                "heat_btu_per_hr": p_max * W_TO_BTU_PER_HR,
                "liquid_cooling_required": r.servers * t.server_max_power_w > site.air_cooling_limit_kw * 1e3}
        out += claim_line(f"rack {r.id}", _differences(r.model_dump(), want))
    return out


# -- totals, objective, constraints ---------------------------------------------------------------

def _facts(ctx: Context, g: ServerGroup) -> tuple[int, float, float]:
    """(GPUs per server, server max power W, USD per server with its GPUs) as solve builds them; the
    plan's own figures for a GPU the scenario leaves out because its server fits no rack (that is
    reported as such)."""
    t = ctx.types.get(g.gpu)
    if t is None:
        return g.gpus_per_server, g.server_max_power_w, g.gpus_per_server * g.gpu_price_usd + g.server_price_usd
    return t.gpus_per_server, t.server_max_power_w, t.gpus_per_server * t.gpu_price_usd + t.server_price_usd


def _bought(plan: Plan, ctx: Context, gpu: str) -> int:
    return sum(g.servers * _facts(ctx, g)[0] for g in plan.servers if g.gpu == gpu)


def recomputed_totals(plan: Plan, ctx: Context, found: Findings) -> dict[str, float]:
    """The totals `planner solve` derives from the deployments and servers (see optimize.model and
    optimize.plan_builder), from recomputed deployment figures and the catalog's servers and prices."""
    site, fin = ctx.scenario.site, ctx.scenario.finance
    groups = [g for g in plan.servers if g.gpu in ctx.types or g.gpu in ctx.left_out]
    powered = [g for g in groups if g.gpu in ctx.types]
    p_max = sum(_power_w(plan, ctx, found, g.gpu, "power_max_w") for g in powered)
    p_avg = sum(_power_w(plan, ctx, found, g.gpu, "power_avg_w") for g in powered)
    nameplate = sum(g.servers * _facts(ctx, g)[1] for g in groups)
    capex = sum(g.servers * _facts(ctx, g)[2] for g in groups)
    kwh = p_avg * HOURS_PER_YEAR / 1e3
    colo = nameplate * (fin.colocation_usd_per_kw_month or 0.0) * 12.0 / 1e3
    energy_usd = kwh * site.pue * site.electricity_usd_per_kwh
    tco_per_year = capex / fin.amortization_years + energy_usd + colo
    ratio = {w.name: w.traffic.average_to_peak for w in ctx.scenario.workloads}
    tokens = [(found.recomputed[i].figures["output_tokens_per_s"] if i in found.recomputed
               else d.output_tokens_per_s, ratio.get(d.workload, 0.0)) for i, d in enumerate(plan.deployments)]
    tokens_peak = sum(t for t, _ in tokens)
    tokens_year = sum(t * r for t, r in tokens) * HOURS_PER_YEAR * 3600
    return {"gpus": float(sum(_bought(plan, ctx, g.gpu) for g in groups)),
            "it_power_max_w": p_max, "it_power_avg_w": p_avg, "it_power_nameplate_w": nameplate,
            "facility_power_max_w": p_max * site.pue, "facility_power_avg_w": p_avg * site.pue,
            "heat_btu_per_hr": p_max * W_TO_BTU_PER_HR,
            "cooling_tons": p_max * W_TO_BTU_PER_HR / BTU_PER_HR_PER_COOLING_TON,
            "annual_energy_kwh": kwh, "annual_facility_energy_kwh": kwh * site.pue,
            "annual_energy_cost_usd": energy_usd, "annual_colocation_usd": colo,
            "capex_usd": capex, "tco_usd": capex + fin.amortization_years * (energy_usd + colo),
            "tco_per_year_usd": tco_per_year, "co2e_t_per_year": kwh * site.pue * site.carbon_g_per_kwh / 1e6,
            "output_tokens_per_year": tokens_year,
            "usd_per_million_tokens": tco_per_year / tokens_year * 1e6 if tokens_year else 0.0,
            "joules_per_output_token": p_max / tokens_peak if tokens_peak else 0.0,
            "joules_per_output_token_avg": kwh * 3.6e6 / tokens_year if tokens_year else 0.0,
            "output_tokens_per_s_per_kw": tokens_peak / (p_max / 1e3) if p_max else 0.0}


def _objective_claims(plan: Plan, ctx: Context) -> list[str]:
    name = plan.objective.get("name")
    if name != ctx.scenario.objective:
        return [f"objective: name {name!r} is not the scenario's objective {ctx.scenario.objective!r}"]
    return []


def _objective_problems(plan: Plan) -> list[str]:
    """The objective's value is the total it names (the plan's own figures agree)."""
    key = OBJECTIVE_EXPR.get(str(plan.objective.get("name")))
    value = plan.objective.get("value")
    if key is None or not isinstance(value, int | float):
        return [f"objective: {plan.objective} names no objective of planner ({', '.join(OBJECTIVE_EXPR)})"]
    total = float(getattr(plan.totals, key))
    return [] if close(float(value), total) else [f"objective: value {value:.6g} is not totals.{key} {total:.6g}"]


def _expected_constraints(plan: Plan, ctx: Context, found: Findings, totals: dict[str, float]
                          ) -> dict[str, tuple[str, float, float, str]]:
    """name -> (kind, limit, value, unit), as optimize.plan_builder writes them."""
    out: dict[str, tuple[str, float, float, str]] = {}
    site, fin = ctx.scenario.site, ctx.scenario.finance
    for w in ctx.scenario.workloads:
        have = sum(_capacity(found, i, d) * (1 - w.redundancy / d.replicas)
                   for i, d in enumerate(plan.deployments) if d.workload == w.name and d.replicas > 0)
        out[f"capacity_{w.name}"] = ("demand", w.traffic.peak_requests_per_s * (1 + w.headroom), have, "requests/s")
    if site.racks is not None:
        out["racks_total"] = ("racks", float(site.racks), float(len(plan.racks)), "racks")
    if site.power_cap_kw is not None:
        out["site_power"] = ("power", site.power_cap_kw * 1e3, totals["it_power_nameplate_w"], "W")
    for g, t in sorted(ctx.types.items()):
        if t.inventory_gpus is not None:
            out[f"inventory_{g}"] = ("inventory", float(t.inventory_gpus), float(_bought(plan, ctx, g)), "GPUs")
    if fin.budget_usd is not None:
        out["budget"] = ("budget", fin.budget_usd, totals["capex_usd"], "USD")
    for r in plan.racks:
        rack_type = ctx.types.get(r.gpu)
        if rack_type is not None:
            out[f"rack_power_{r.id}"] = ("rack_power", usable_rack_w(site), r.servers * rack_type.server_max_power_w,
                                         "W")
    return out


def _constraint_claims(plan: Plan, ctx: Context, found: Findings, totals: dict[str, float]) -> list[str]:
    want = _expected_constraints(plan, ctx, found, totals)
    have = {c.name: c for c in plan.constraints}
    wrong = [f"{name} missing" for name in sorted(want.keys() - have.keys())]
    wrong += [f"{name} listed {n} times" for name, n in sorted(Counter(c.name for c in plan.constraints).items())
              if n > 1]
    wrong += [f"{name} is none of the scenario's" for name in sorted(have.keys() - want.keys())]
    for name in sorted(want.keys() & have.keys()):
        kind, limit, value, unit = want[name]
        c = have[name]
        slack = value - limit if kind == "demand" else limit - value
        # binding as optimize.plan_builder marks it: within 2 % of the limit
        binding = value <= limit * 1.02 if kind == "demand" else value >= 0.98 * limit
        wrong += [f"{name}.{k} {_text(a)} (recomputed {_text(b)})" for k, a, b in
                  (("kind", c.kind, kind), ("limit", c.limit, limit), ("value", c.value, value),
                   ("unit", c.unit, unit), ("slack", c.slack, slack)) if not _same(a, b)]
        if c.binding != binding and not close(value, limit * (1.02 if kind == "demand" else 0.98), CLAIM_REL_TOL):
            wrong.append(f"{name}.binding {c.binding} (recomputed {binding})")
    return claim_line("constraints", wrong)


def _capacity(found: Findings, i: int, d: Any) -> float:
    return found.recomputed[i].capacity_requests_per_s if i in found.recomputed else float(d.capacity_requests_per_s)


# -- the scenario's records in the plan ------------------------------------------------------------

def _record_claims(plan: Plan, ctx: Context) -> list[str]:
    """The plan's copies of the scenario's site, finance and workloads (reports print them)."""
    sc = ctx.scenario
    finance = {k: v for k, v in sc.finance.model_dump().items() if not isinstance(v, dict)}
    ref = {"name": sc.name, "description": sc.description, "objective": sc.objective}
    wrong = [f"scenario.{d}" for d in _differences(plan.scenario.model_dump(), ref, "the scenario's")]
    wrong += [f"site.{d}" for d in _differences(plan.site, sc.site.model_dump(), "the scenario's", exact=True)]
    wrong += [f"finance.{d}" for d in _differences(plan.finance, finance, "the scenario's", exact=True)]
    rows = {str(row.get("name")): row for row in plan.workloads}
    if sorted(rows) != sorted(w.name for w in sc.workloads):
        wrong.append(f"workloads: {', '.join(sorted(rows))} (the scenario's: "
                     f"{', '.join(sorted(w.name for w in sc.workloads))})")
    for w in sc.workloads:
        if w.name in rows:
            wrong += [f"workloads[{w.name}].{d}" for d in _differences(rows[w.name], workload_row(w), "the scenario's")]
    return claim_line("the plan's record of the scenario", wrong)


# -- entry points -------------------------------------------------------------------------------------

def _deployments_clean(plan: Plan, found: Findings) -> bool:
    """Every deployment re-derived without a finding and its GPUs add up (otherwise rack and total power
    would only repeat what is reported at the deployment)."""
    bought = {g.gpu: g.servers * g.gpus_per_server for g in plan.servers}
    used: dict[str, int] = {}
    for d in plan.deployments:
        used[d.gpu] = used.get(d.gpu, 0) + d.gpus
    return (not found.problems and not found.claims and len(found.recomputed) == len(plan.deployments)
            and all(d.gpus == d.replicas * d.tp * d.pp for d in plan.deployments)
            and all(n <= bought.get(g, 0) for g, n in used.items()))


def fleet_claims(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    """Written figures of server groups, racks, totals, constraints and records that do not follow."""
    out = _server_claims(plan, ctx) + _objective_claims(plan, ctx) + _record_claims(plan, ctx)
    clean = _deployments_clean(plan, found)
    if clean:
        totals = recomputed_totals(plan, ctx, found)
        out += _rack_claims(plan, ctx, found)
        out += claim_line("totals", _differences(plan.totals.model_dump(), totals))
        out += _constraint_claims(plan, ctx, found, totals)
    return out + analysis_claims(plan, ctx, deployments_clean=clean)


def fleet_problems(plan: Plan, ctx: Context, found: Findings) -> list[str]:
    """The plan's fleet against the scenario's limits, with recomputed figures."""
    totals = recomputed_totals(plan, ctx, found)
    caps = [_capacity(found, i, d) for i, d in enumerate(plan.deployments)]
    inventory = [(_inventory_key(ctx, g), _bought(plan, ctx, g), limit)
                 for g, limit in ctx.names.inventory_gpus.items()]
    return (_left_out_problems(plan, ctx) + _server_problems(plan, ctx) + _rack_problems(plan, ctx)
            + _objective_problems(plan)
            + [line for w in ctx.scenario.workloads for line in capacity_shortfall(plan, w, caps)]
            + site_limit_violations(ctx.scenario, totals["it_power_nameplate_w"], totals["capex_usd"], inventory))


def _left_out_problems(plan: Plan, ctx: Context) -> list[str]:
    """A GPU the plan uses whose server fits no rack of the scenario, unless a rack's power already
    says so (check's rack power lines, from the racks' nameplate)."""
    cap_w = rack_cap_w(ctx.scenario)
    used = {d.gpu for d in plan.deployments} | {g.gpu for g in plan.servers}
    return [f"gpu {gpu}: {ctx.left_out[gpu]}" for gpu in sorted(used & ctx.left_out.keys())
            if not any(r.gpu == gpu and not within(r.power_nameplate_w, cap_w) for r in plan.racks)]


def _inventory_key(ctx: Context, gpu: str) -> str:
    """The ``hardware.inventory`` key the user wrote for ``gpu`` (for the message)."""
    return next((k for k in ctx.scenario.hardware.inventory
                 if ctx.catalog.has_gpu(k) and ctx.catalog.gpu(k).id == gpu), gpu)
