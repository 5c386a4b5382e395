"""Turn a solved fleet model into a Plan, re-verifying every constraint on the integer values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner import __version__
from planner.candidates.queueing import ttft_quantile
from planner.catalog.loader import Catalog
from planner.core.constants import (
    BTU_PER_HR_PER_COOLING_TON,
    COEFFICIENTS,
    FIXED,
    HOURS_PER_YEAR,
    W_TO_BTU_PER_HR,
)
from planner.optimize.model import OBJECTIVE_EXPR, int_value, usable_rack_w, value
from planner.optimize.solve import SolveResult
from planner.optimize.ties import TIE_RULE
from planner.plan.hashing import scenario_input_hashes
from planner.scenario.load import LoadedScenario
from planner.scenario.names import resolve_names
from planner.schemas.plan import (
    PLAN_SCHEMA_VERSION,
    Constraint,
    Deployment,
    Plan,
    Rack,
    ScenarioRef,
    ServerGroup,
    Solver,
    Totals,
)

TOLERANCE = 1e-6
OBJECTIVE_UNITS = {"min_tco": "USD", "min_power": "W", "min_energy": "kWh/year", "min_gpus": "GPUs",
                   "min_carbon": "tCO2e/year"}


class PlanVerificationError(AssertionError):
    """The solver returned values that break a constraint: a bug, never an expected outcome."""


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1e3


def _deployments(r: SolveResult) -> list[Deployment]:
    m = r.model
    c = m.cand.columns
    sc = m.scenario
    slo = {w.name: w.slo for w in sc.workloads}
    avg_ratio = {w.name: w.traffic.average_to_peak for w in sc.workloads}
    out = []
    for i in range(len(m.cand)):
        n = int_value(m.replicas[i])
        if n <= 0:
            continue
        w = str(c["workload"][i])
        routed = max(value(m.routed[i]), 0.0)
        base, slope = float(c["power_base_w"][i]), float(c["power_slope_w_per_rps"][i])
        g = m.gpu_types[str(c["gpu"][i])]
        gpus = n * int(c["num_gpus"][i])
        cap = n * float(c["capacity_rps"][i])
        p_max = n * base + slope * routed
        p_avg = n * base + slope * routed * avg_ratio[w]
        tokens = routed * float(c["output_tokens_per_request"][i])
        # TTFT p95 at the routed peak with the workload's k spare replicas down (its design point)
        k = next(wl.redundancy for wl in sc.workloads if wl.name == w)
        per_replica = routed / max(n - k, 1)
        ttft_peak = float(ttft_quantile(np.array([per_replica]), q=0.95,
                                        ttft_solo_s=np.array([float(c["ttft_solo_p95_s"][i])]),
                                        slots=np.array([float(c["batch_size"][i])]),
                                        hold_s=np.array([float(c["hold_s"][i])]),
                                        prefill_service_s=np.array([float(c["prefill_service_s"][i])]))[0])
        out.append(Deployment(
            workload=w, model=str(c["model"][i]), gpu=g.id, precision=str(c["precision"][i]),
            tp=int(c["tp"][i]), pp=int(c["pp"][i]), replicas=n, gpus=gpus, batch_size=int(c["batch_size"][i]),
            capacity_requests_per_s=cap, demand_requests_per_s=routed,
            ttft_p95_s=ttft_peak, itl_p95_s=float(c["itl_p95_s"][i]),
            slo_ttft_p95_s=_seconds(slo[w].ttft_p95_ms), slo_itl_p95_s=_seconds(slo[w].itl_p95_ms),
            output_tokens_per_s=tokens, utilization=routed / cap if cap else 0.0,
            power_avg_w=p_avg, power_max_w=p_max, power_burst_w=n * float(c["peak_power_w"][i]),
            prefill_chunk_tokens=int(c["prefill_chunk_tokens"][i]),
            engine=next(wl.engine for wl in sc.workloads if wl.name == w),
            power_nameplate_w=gpus / g.gpus_per_server * g.server_max_power_w,
            power_per_gpu_avg_w=p_avg / gpus, energy_per_output_token_j=p_max / tokens if tokens else 0.0))
    return sorted(out, key=lambda d: (d.workload, d.gpu, d.precision, d.tp, d.pp, d.batch_size))


def _servers(r: SolveResult, catalog: Catalog) -> list[ServerGroup]:
    out = []
    for g, t in sorted(r.model.gpu_types.items()):
        s = int_value(r.model.servers[g])
        if s <= 0:
            continue
        psu = catalog.gpu(g).server.psu
        out.append(ServerGroup(gpu=g, server_model=t.server_model, servers=s, gpus=s * t.gpus_per_server,
                               gpus_per_server=t.gpus_per_server, server_max_power_w=t.server_max_power_w,
                               rack_units=t.server_rack_units, psu_count=psu.count if psu else None,
                               psu_rating_w=psu.rating_w if psu else None,
                               psu_redundancy=psu.redundancy if psu else None,
                               psu_efficiency_tier=psu.efficiency_tier if psu else None,
                               gpu_price_usd=t.gpu_price_usd, server_price_usd=t.server_price_usd))
    return out


def _racks(r: SolveResult, servers: list[ServerGroup], deployments: list[Deployment],
           idle_by_gpu: dict[str, float]) -> list[Rack]:
    site = r.model.scenario.site
    cap_w = usable_rack_w(site)
    out = []
    for sg in servers:
        t = r.model.gpu_types[sg.gpu]
        n_racks = max(int_value(r.model.racks[sg.gpu]), 1)
        # spread servers evenly over the type's racks (a balanced layout; fewer hot racks)
        base, extra = divmod(sg.servers, n_racks)
        ds = [d for d in deployments if d.gpu == sg.gpu]
        spare_w = idle_by_gpu[sg.gpu] * (sg.gpus - sum(d.gpus for d in ds))
        per_server_max = (sum(d.power_max_w for d in ds) + spare_w) / sg.servers
        per_server_avg = (sum(d.power_avg_w for d in ds) + spare_w) / sg.servers
        for k in range(n_racks):
            s = base + (1 if k < extra else 0)
            if s == 0:
                continue
            p_max = s * per_server_max
            out.append(Rack(id=f"{sg.gpu}-r{k + 1:02d}", gpu=sg.gpu, servers=s,
                            power_nameplate_w=s * t.server_max_power_w, power_max_w=p_max,
                            power_avg_w=s * per_server_avg, usable_cap_w=cap_w,
                            heat_btu_per_hr=p_max * W_TO_BTU_PER_HR,
                            liquid_cooling_required=s * t.server_max_power_w > site.air_cooling_limit_kw * 1e3))
    return out


def _constraints(r: SolveResult, deployments: list[Deployment], racks: list[Rack]) -> list[Constraint]:
    m = r.model
    out = []
    for w in m.scenario.workloads:
        need = w.traffic.peak_requests_per_s * (1 + w.headroom)
        have = sum(d.capacity_requests_per_s - w.redundancy * d.capacity_requests_per_s / d.replicas
                   for d in deployments if d.workload == w.name)
        out.append(Constraint(name=f"capacity_{w.name}", kind="demand", limit=need, value=have,
                              unit="requests/s", binding=have <= need * 1.02, slack=have - need))
    for name, (expr, limit, unit, kind) in sorted(m.limits.items()):
        v = value(expr)
        out.append(Constraint(name=name, kind=kind, limit=limit, value=v, unit=unit,
                              binding=v >= 0.98 * limit, slack=limit - v))
    for rk in racks:
        out.append(Constraint(name=f"rack_power_{rk.id}", kind="rack_power", limit=rk.usable_cap_w,
                              value=rk.power_nameplate_w, unit="W",
                              binding=rk.power_nameplate_w >= 0.98 * rk.usable_cap_w,
                              slack=rk.usable_cap_w - rk.power_nameplate_w))
    return out


def verify(constraints: list[Constraint], deployments: list[Deployment], servers: list[ServerGroup],
           r: SolveResult) -> None:
    """Every constraint must hold on the returned integer values; otherwise it is a bug."""
    for sg in servers:
        used = sum(d.gpus for d in deployments if d.gpu == sg.gpu)
        if used > sg.servers * sg.gpus_per_server:
            raise PlanVerificationError(f"{sg.gpu}: {used} GPUs in use but only {sg.servers} servers bought")
    for w in r.model.scenario.workloads:
        ds = [d for d in deployments if d.workload == w.name]
        routed = sum(d.demand_requests_per_s for d in ds)
        if abs(routed - w.traffic.peak_requests_per_s) > 1e-6 * w.traffic.peak_requests_per_s + 1e-9:
            raise PlanVerificationError(f"{w.name}: {routed} requests/s routed, the peak is "
                                        f"{w.traffic.peak_requests_per_s}")
        if w.redundancy > 0 and len(ds) > 1:
            raise PlanVerificationError(f"{w.name}: an N+k workload must run one pool, got {len(ds)}")
        for d in ds:
            if w.redundancy > 0 and d.replicas < w.redundancy + 1:
                raise PlanVerificationError(f"{w.name}: {d.replicas} replicas cannot keep {w.redundancy} spares")
    for c in constraints:
        ok = c.value >= c.limit * (1 - TOLERANCE) if c.kind == "demand" else c.value <= c.limit * (1 + TOLERANCE) + 1e-6
        if not ok:
            raise PlanVerificationError(f"solver returned a plan violating {c.name}: {c.value} vs {c.limit}")
    for d in deployments:
        if d.slo_itl_p95_s is not None and d.itl_p95_s > d.slo_itl_p95_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload} misses its ITL SLO")
        if d.slo_ttft_p95_s is not None and d.ttft_p95_s > d.slo_ttft_p95_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload} misses its TTFT SLO")
        if d.demand_requests_per_s > d.capacity_requests_per_s * (1 + TOLERANCE):
            raise PlanVerificationError(f"{d.workload}/{d.gpu}: routed beyond capacity")


def build_plan(ls: LoadedScenario, r: SolveResult, catalog: Catalog, notes: list[str],
               calibration_path: Path | None) -> Plan:
    m = r.model
    sc = m.scenario
    site, fin = sc.site, sc.finance
    deployments = _deployments(r)
    servers = _servers(r, catalog)
    idle_by_gpu = {g: t.idle_w + t.overhead_w_per_gpu for g, t in m.gpu_types.items()}
    racks = _racks(r, servers, deployments, idle_by_gpu)
    constraints = _constraints(r, deployments, racks)
    verify(constraints, deployments, servers, r)
    e = {k: value(v) for k, v in m.expr.items()}
    ratio = {w.name: w.traffic.average_to_peak for w in sc.workloads}
    tokens_per_s_avg = sum(d.output_tokens_per_s * ratio[d.workload] for d in deployments)
    tokens_per_year = tokens_per_s_avg * HOURS_PER_YEAR * 3600
    annual_cost = e["annual_energy_cost_usd"] + e["annual_colocation_usd"]
    tco_per_year = e["capex_usd"] / fin.amortization_years + annual_cost
    tokens_per_s_peak = sum(d.output_tokens_per_s for d in deployments)
    totals = Totals(
        gpus=sum(s.gpus for s in servers), servers=sum(s.servers for s in servers), racks=len(racks),
        it_power_avg_w=e["it_power_avg_w"], it_power_max_w=e["it_power_max_w"],
        it_power_nameplate_w=e["it_power_nameplate_w"],
        facility_power_avg_w=e["it_power_avg_w"] * site.pue, facility_power_max_w=e["it_power_max_w"] * site.pue,
        heat_btu_per_hr=e["it_power_max_w"] * W_TO_BTU_PER_HR,
        cooling_tons=e["it_power_max_w"] * W_TO_BTU_PER_HR / BTU_PER_HR_PER_COOLING_TON,
        annual_energy_kwh=e["annual_energy_kwh"], annual_facility_energy_kwh=e["annual_energy_kwh"] * site.pue,
        annual_energy_cost_usd=e["annual_energy_cost_usd"], annual_colocation_usd=e["annual_colocation_usd"],
        capex_usd=e["capex_usd"], tco_usd=e["tco_usd"], tco_per_year_usd=tco_per_year,
        co2e_t_per_year=e["co2e_t_per_year"], output_tokens_per_year=tokens_per_year,
        usd_per_million_tokens=tco_per_year / tokens_per_year * 1e6 if tokens_per_year else 0.0,
        joules_per_output_token=e["it_power_max_w"] / tokens_per_s_peak if tokens_per_s_peak else 0.0,
        joules_per_output_token_avg=(e["annual_energy_kwh"] * 3.6e6 / tokens_per_year) if tokens_per_year else 0.0,
        output_tokens_per_s_per_kw=tokens_per_s_peak / (e["it_power_max_w"] / 1e3) if e["it_power_max_w"] else 0.0)
    hashes = scenario_input_hashes(ls.path, catalog, override=ls.override, calibration_path=calibration_path)
    objective_key = OBJECTIVE_EXPR[sc.objective]
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION, tool_version=__version__,
        scenario=ScenarioRef(name=sc.name, description=sc.description, file=ls.path.name,
                             override=ls.override, objective=sc.objective),
        input_sha256=hashes, status=r.status,  # type: ignore[arg-type]
        objective={"name": sc.objective, "value": e[objective_key], "unit": OBJECTIVE_UNITS[sc.objective]},
        solver=Solver(name=r.solver_name, version=r.solver_version, status=r.solver_status, mip_gap=r.mip_gap,
                      time_s=r.time_s, time_limit_s=r.time_limit_s),
        deployments=deployments, servers=servers, racks=racks, totals=totals, constraints=constraints,
        site={k: v for k, v in site.model_dump().items()},
        finance={k: v for k, v in fin.model_dump().items() if not isinstance(v, dict)},
        workloads=[_workload_row(w) for w in sc.workloads],
        assumptions=_assumptions(calibration_path, notes, catalog, r))


def _workload_row(w) -> dict[str, float | str | None]:  # type: ignore[no-untyped-def]
    t, s = w.traffic, w.slo
    return {"name": w.name, "model": w.model, "peak_requests_per_s": t.peak_requests_per_s,
            "average_requests_per_s": t.average_or_default_requests_per_s,
            "input_tokens_mean": t.input_tokens.mean, "input_tokens_p95": t.input_tokens.p95_or_mean,
            "output_tokens_mean": t.output_tokens.mean, "output_tokens_p95": t.output_tokens.p95_or_mean,
            "ttft_p95_ms": s.ttft_p95_ms, "itl_p95_ms": s.itl_p95_ms, "redundancy": float(w.redundancy),
            "headroom": w.headroom, "precisions": ",".join(w.precisions)}


def _assumptions(calibration_path: Path | None, notes: list[str], catalog: Catalog,
                 r: SolveResult) -> list[dict[str, str]]:
    """Every constant, calibrated coefficient and catalog figure the plan rests on, with its source."""
    from planner.calibration.coefficients import load_calibration

    out = [{"name": c.name, "value": f"{c.value:g}", "unit": c.unit, "source": c.source,
            "range": f"{c.low:g}-{c.high:g}"} for c in FIXED.values()]
    cal, _ = load_calibration(calibration_path)
    fitted = cal.for_config("", "vllm")
    where = (f"fitted by planner calibrate on {cal.provenance.get('data_file', 'measurements')}"
             if cal.coefficients else "literature prior (no calibration file)")
    out += [{"name": f"coefficient {c.name}", "value": f"{fitted[c.name]:g}", "unit": c.unit,
             "source": f"{where}; prior {c.value:g}: {c.source}", "range": f"{c.low:g}-{c.high:g}"}
            for c in COEFFICIENTS.values()]
    out.append({"name": "calibration file", "value": calibration_path.name if calibration_path else "priors",
                "unit": "", "source": "planner calibrate on the project's measurements", "range": ""})
    scenario_prices = resolve_names(r.model.scenario, catalog).gpu_prices_usd
    for g in sorted(r.model.gpu_types):
        spec = catalog.gpu(g)
        t = r.model.gpu_types[g]
        price_source = ("scenario finance.gpu_prices_usd" if g in scenario_prices or not spec.price
                        else f"{spec.price.source} ({spec.price.date})")
        out += [
            {"name": f"{g} price", "value": f"{t.gpu_price_usd:g}", "unit": "USD per GPU",
             "source": price_source, "range": ""},
            {"name": f"{g} datasheet", "value": f"{spec.memory_gib:g} GiB, {spec.memory_bandwidth_tb_per_s:g} TB/s, "
             f"TDP {spec.tdp_w:g} W, idle {spec.idle_w:g} W", "unit": "", "source": spec.source, "range": ""},
            {"name": f"{g} server", "value": f"{t.server_model}: {t.gpus_per_server} GPUs, {t.server_max_power_w:g} W "
             f"max, {t.server_price_usd:g} USD without GPUs, {t.overhead_w_per_gpu:.0f} W non-GPU per GPU",
             "unit": "", "source": spec.server.source + (f"; price: {spec.server.price_source}"
                                                          if spec.server.price_source else ""), "range": ""},
        ]
    out.append({"name": "tie-break rule", "value": f"ties {r.ties}", "unit": "", "source": TIE_RULE, "range": ""})
    out.append({"name": "W to BTU/hr", "value": f"{W_TO_BTU_PER_HR}", "unit": "BTU/hr per W",
                "source": "NIST SP 811 App. B", "range": ""})
    out.append({"name": "hours per year", "value": f"{HOURS_PER_YEAR:g}", "unit": "h", "source": "8760 h", "range": ""})
    out += [{"name": "note", "value": n, "unit": "", "source": "planner", "range": ""} for n in notes]
    return out
