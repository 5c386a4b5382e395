"""A plan's fleet figures from its deployments and servers, written once.

`planner solve` (planner.optimize.plan_builder) writes these figures and `planner check`
(planner.gitops) recomputes them with the same functions, so the two cannot drift: totals (power,
heat, energy, money, carbon, tokens), the quantity each limit record bounds, and the constraints
table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from planner.problem import economics
from planner.problem.limits import (
    CAPS,
    DECODE_CAPACITY_PREFIX,
    FAMILIES,
    RACK_POWER,
    LimitFamily,
    is_binding,
    limits_of,
)
from planner.problem.model import GpuOption, Problem, WorkloadDemand
from planner.schemas.catalog import SourcedFigure
from planner.schemas.plan import Constraint, Deployment, Rack, ServerGroup, Totals
from planner.schemas.scenario import DEFAULT_RACK_USD, DEFAULT_RACK_USD_RANGE, DEFAULT_RACK_USD_SOURCE
from planner.units import BTU_PER_HR_PER_COOLING_TON, BTU_PER_HR_PER_W, W_PER_KW


def deployment_figures(w: WorkloadDemand, gpu: GpuOption, point: Mapping[str, float], replicas: int,
                       routed_rps: float, ttft_p95_s: float) -> dict[str, float]:
    """A deployment's written figures from its candidate's columns (``point``: capacity_rps, num_gpus,
    power_base_w, power_slope_w_per_rps, peak_power_w, itl_p95_s, output_tokens_per_request and
    power_limit_w: the nameplate share is at that GPU power limit, absent: at TDP), its
    replicas and the peak traffic routed to it; ``ttft_p95_s`` at that load comes from the queueing
    model (planner.candidates.queueing.ttft_from_candidates). The plan builder writes these and
    `planner check` recomputes them with this same function."""
    n = replicas
    gpus = n * int(point["num_gpus"])
    cap = n * point["capacity_rps"]
    p_max = n * point["power_base_w"] + point["power_slope_w_per_rps"] * routed_rps
    p_avg = n * point["power_base_w"] + point["power_slope_w_per_rps"] * routed_rps * w.average_to_peak
    tokens = routed_rps * point["output_tokens_per_request"]
    return {"capacity_requests_per_s": cap, "ttft_p95_s": ttft_p95_s, "itl_p95_s": point["itl_p95_s"],
            "output_tokens_per_s": tokens, "utilization": routed_rps / cap if cap else 0.0,
            "power_avg_w": p_avg, "power_max_w": p_max, "power_burst_w": n * point["peak_power_w"],
            "power_nameplate_w": gpus / gpu.gpus_per_server * gpu.server_max_power_at_w(point.get("power_limit_w")),
            "power_per_gpu_avg_w": p_avg / gpus if gpus else math.nan,
            "energy_per_output_token_j": p_max / tokens if tokens else 0.0}


def pool_of(p: Problem, d: Deployment) -> str:
    """The server pool (planner.problem.model.ServerPool.key) a deployment's GPUs sit in: its GPU type at
    its power limit (a plan without one: at TDP); the GPU id for a GPU the problem does not allow."""
    g = p.gpus_by_id.get(d.gpu)
    return d.gpu if g is None else g.pool_key(d.power_limit_w)


def spare_power_w(deployments: Iterable[Deployment], servers: Iterable[ServerGroup],
                  spare_gpu_w: Mapping[str, float]) -> float:
    """Draw of bought GPUs that serve nothing (idle plus their share of the server)."""
    installed: dict[str, int] = {}
    for s in servers:  # a GPU type's pools at several power limits are one count of installed GPUs
        installed[s.gpu] = installed.get(s.gpu, 0) + s.gpus
    return idle_gpus_power_w(deployments, installed, spare_gpu_w)


def idle_gpus_power_w(deployments: Iterable[Deployment], installed_gpus: Mapping[str, int],
                      spare_gpu_w: Mapping[str, float]) -> float:
    """Draw of the installed GPUs (GPU id -> count) that no deployment uses, at each type's spare draw."""
    used: dict[str, int] = {}
    for d in deployments:
        used[d.gpu] = used.get(d.gpu, 0) + d.gpus
    return sum(spare_gpu_w.get(g, 0.0) * (n - used.get(g, 0)) for g, n in installed_gpus.items())


def _option(p: Problem, gpu: str) -> GpuOption | None:
    return next((g for g in p.gpus if g.id == gpu), None)


def capex_lines(p: Problem, servers: Sequence[ServerGroup], racks: int) -> dict[str, float]:
    """Capex by line: GPUs and servers at the plan's prices, each server's network and storage shares
    (the problem's figures for its model: 0 for a GPU type the problem no longer allows), racks with
    their PDUs. The integer program's capex (planner.optimize.program) is the same sum."""
    options = {s.gpu: _option(p, s.gpu) for s in servers}
    return {
        "gpus": sum(s.gpus * s.gpu_price_usd for s in servers),
        "servers": sum(s.servers * s.server_price_usd for s in servers),
        "network": sum(s.servers * o.network_usd_per_server for s in servers if (o := options[s.gpu])),
        "storage": sum(s.servers * o.storage_usd_per_server for s in servers if (o := options[s.gpu])),
        "racks": racks * p.money.rack_usd}


def annual_support_usd(p: Problem, servers: Sequence[ServerGroup]) -> float:
    """Hardware support per year: each server model's share of its servers' hardware capex (GPUs,
    server, network, storage; racks and PDUs carry none)."""
    total = 0.0
    for s in servers:
        o = _option(p, s.gpu)
        if o is not None:
            hardware = s.gpus * s.gpu_price_usd + s.servers * (s.server_price_usd + o.network_usd_per_server
                                                               + o.storage_usd_per_server)
            total += o.support_share_per_year * hardware
    return total


INFRASTRUCTURE_ROWS = (("network_usd_per_server", "network", "USD per server"),
                       ("storage_usd_per_server", "storage", "USD per server"),
                       ("support_share_per_year", "support", "share of hardware per year"))
"""GpuOption field, the assumption row's name after the GPU id, its unit."""


def _figure_row(name: str, value: float, unit: str, figure: SourcedFigure | None, key: str) -> dict[str, str]:
    """An assumption row: the catalog's source and range when the value is the catalog's figure."""
    if figure is not None and figure.value == value:
        source = figure.source
        spread = f"{figure.low:g}-{figure.high:g}" if figure.low is not None and figure.high is not None else ""
    else:
        source = f"scenario finance.{key}" if figure is not None or value else "not in the catalog: counted as 0"
        spread = ""
    return {"name": name, "value": f"{value:g}", "unit": unit, "source": source, "range": spread}


def infrastructure_assumptions(p: Problem) -> list[dict[str, str]]:
    """The plan's assumption rows for the capex lines: each GPU type's network, storage and support
    figures, and the rack with its PDUs, with their sources and plausible ranges."""
    out = []
    for g in p.gpus:
        infra = getattr(g.spec.server, "infrastructure", None)
        out += [_figure_row(f"{g.id} {name}", getattr(g, key), unit, getattr(infra, key) if infra else None, key)
                for key, name, unit in INFRASTRUCTURE_ROWS]
    low, high = DEFAULT_RACK_USD_RANGE
    default = p.money.rack_usd == DEFAULT_RACK_USD
    out.append({"name": "rack with PDUs", "value": f"{p.money.rack_usd:g}", "unit": "USD per rack",
                "source": DEFAULT_RACK_USD_SOURCE if default else "scenario finance.rack_usd",
                "range": f"{low:g}-{high:g}" if default else ""})
    return out


def totals(p: Problem, deployments: Sequence[Deployment], servers: Sequence[ServerGroup], racks: int,
           spare_gpu_w: Mapping[str, float]) -> Totals:
    """Fleet totals of a plan: peak and average IT power include the spare GPUs of bought servers."""
    spare = spare_power_w(deployments, servers, spare_gpu_w)
    p_max = sum(d.power_max_w for d in deployments) + spare
    p_avg = sum(d.power_avg_w for d in deployments) + spare
    nameplate = sum(s.servers * s.server_max_power_w for s in servers)
    lines = capex_lines(p, servers, racks)
    capex = sum(lines.values())
    support = annual_support_usd(p, servers)
    kwh = economics.annual_energy_kwh(p_avg)
    energy_usd = economics.annual_energy_cost_usd(p, kwh)
    colo = economics.annual_colocation_usd(p, nameplate)
    per_year = economics.tco_per_year_usd(p, capex, energy_usd, colo + support)
    ratio = {w.name: w.average_to_peak for w in p.workloads}
    tokens_peak = sum(d.output_tokens_per_s for d in deployments)
    tokens_year = economics.tokens_per_year(sum(d.output_tokens_per_s * ratio.get(d.workload, 0.0)
                                                for d in deployments))
    heat = p_max * BTU_PER_HR_PER_W
    return Totals(
        gpus=sum(s.gpus for s in servers), servers=sum(s.servers for s in servers), racks=racks,
        it_power_avg_w=p_avg, it_power_max_w=p_max, it_power_nameplate_w=nameplate,
        facility_power_avg_w=p_avg * p.site.pue, facility_power_max_w=p_max * p.site.pue,
        heat_btu_per_hr=heat, cooling_tons=heat / BTU_PER_HR_PER_COOLING_TON,
        annual_energy_kwh=kwh, annual_facility_energy_kwh=kwh * p.site.pue,
        annual_energy_cost_usd=energy_usd, annual_colocation_usd=colo, capex_usd=capex,
        network_capex_usd=lines["network"], storage_capex_usd=lines["storage"], rack_capex_usd=lines["racks"],
        annual_support_usd=support,
        tco_usd=economics.tco_usd(p, capex, energy_usd, colo + support), tco_per_year_usd=per_year,
        co2e_t_per_year=economics.co2e_t_per_year(p, kwh), output_tokens_per_year=tokens_year,
        usd_per_million_tokens=per_year / tokens_year * 1e6 if tokens_year else 0.0,
        joules_per_output_token=p_max / tokens_peak if tokens_peak else 0.0,
        joules_per_output_token_avg=economics.joules_per_token_avg(kwh, tokens_year),
        output_tokens_per_s_per_kw=tokens_peak / (p_max / W_PER_KW) if p_max else 0.0)


ROLE_ORDER = {None: 0, "aggregated": 0, "prefill": 1, "decode": 2}
"""Order of a workload's deployments by serving role (None: a plan without roles, aggregated)."""


def on_side(d: Deployment, side: str) -> bool:
    """The deployment serves ``side`` ("prefill": a request's prompt, "decode": its output) of its workload:
    aggregated deployments serve both, a prefill or decode pool its own."""
    return (d.role or "aggregated") in ("aggregated", side)


def workload_capacity(p: Problem, workload: str, deployments: Iterable[Deployment], side: str = "prefill") -> float:
    """The workload's capacity with each pool's k spare replicas down; with disaggregated serving, of its
    aggregated deployments and its ``side`` pools (prefill or decode)."""
    w = p.workload(workload)
    return sum(w.capacity_after_spares(d.capacity_requests_per_s / d.replicas, d.replicas)
               for d in deployments if d.workload == workload and d.replicas > 0 and on_side(d, side))


def quantity(p: Problem, name: str, deployments: Sequence[Deployment], servers: Sequence[ServerGroup],
             fleet: Totals) -> float:
    """The plan's value of the quantity a limit record bounds (see planner.optimize.program.quantity)."""
    kind, _, subject = name.partition(":")
    if kind == "gpus_bought":
        return float(sum(s.gpus for s in servers if s.gpu == subject))
    if kind == "capacity_after_spares":
        return workload_capacity(p, subject, deployments)
    if kind == f"{DECODE_CAPACITY_PREFIX}_after_spares":
        return workload_capacity(p, subject, deployments, "decode")
    return float(getattr(fleet, kind))


def constraint(family: LimitFamily, name: str, bound: float, value: float) -> Constraint:
    return Constraint(name=name, kind=family.kind, limit=bound, value=value, unit=family.unit,
                      binding=is_binding(family, value, bound),
                      slack=value - bound if family.sense == ">=" else bound - value)


def constraints(p: Problem, deployments: Sequence[Deployment], servers: Sequence[ServerGroup],
                racks: Sequence[Rack], fleet: Totals) -> list[Constraint]:
    """The plan's constraints table: capacity per workload, then the caps by name, then each rack."""
    rows = [(f, lim) for f, lim in limits_of(p, FAMILIES) if f not in CAPS]
    rows += sorted(limits_of(p, CAPS), key=lambda fl: fl[1].name)
    out = [constraint(f, lim.name, lim.bound, quantity(p, lim.quantity, deployments, servers, fleet))
           for f, lim in rows]
    out += [constraint(RACK_POWER, f"rack_power_{r.id}", r.usable_cap_w, r.power_nameplate_w) for r in racks]
    return out
