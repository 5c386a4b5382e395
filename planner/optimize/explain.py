"""Why a scenario is infeasible, in the scenario's own terms, and what would make it feasible.

Each limit family is relaxed on its own (an elastic re-solve with a penalized slack on that family
only), so the answer lists independent alternatives: "needs +220 kW datacenter power, or +3
racks, or ITL SLO 20 -> 35 ms". SLO relaxations regenerate the workload's candidates at looser
SLOs. Only when no single relaxation suffices is the all-families elastic solve reported, as the
combination that would be needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from planner.candidates.generate import Candidates
from planner.catalog.loader import Catalog
from planner.errors import InfeasibleError
from planner.optimize.analysis import _replace_workload, candidate_options
from planner.optimize.model import ALL_FAMILIES, FleetModel, GpuType, build_model, value
from planner.schemas.catalog import GpuSpec
from planner.schemas.scenario import Scenario, Workload

LIMIT_FAMILIES = ("site_power", "racks", "inventory", "budget")
SLO_FACTORS = (1.25, 1.5, 2.0, 3.0, 5.0)
RACK_FACTORS = (1.25, 1.5, 2.0)
Runner = Callable[[FleetModel], str]  # solves a model, returns "optimal" | "feasible" | "infeasible"


def _slack_lines(m: FleetModel) -> list[str]:
    lines = []
    for name, (var, scale, _meaning) in sorted(m.slacks.items()):
        amount = value(var) * scale
        if amount <= 1e-6:
            continue
        if name.startswith("capacity_"):
            lines.append(f"serve {amount:.3g} requests/s less of workload {name[len('capacity_'):]}")
        elif name == "site_power":
            lines.append(f"+{amount / 1e3:.1f} kW datacenter IT power (site.power_cap_kw)")
        elif name == "racks":
            lines.append(f"+{math.ceil(amount - 1e-6)} racks (site.racks)")
        elif name.startswith("inventory_"):
            lines.append(f"+{math.ceil(amount - 1e-6)} {name[len('inventory_'):]} GPUs of inventory "
                         "(hardware.inventory)")
        elif name == "budget":
            lines.append(f"+${amount:,.0f} capex budget (finance.budget_usd)")
    return lines


def _relaxed(w: Workload, field: str, factor: float) -> Workload:
    old = getattr(w.slo, field)
    return w.model_copy(update={"slo": w.slo.model_copy(update={field: old * factor})})


def _slo_alternatives(scenario: Scenario, cand: Candidates, types: dict[str, GpuType], gpus: list[GpuSpec],
                      catalog: Catalog, calibration: str | None, run: Runner) -> list[str]:
    from planner.candidates.generate import workload_candidates

    out = []
    for i, w in enumerate(scenario.workloads):
        for field, label in (("itl_p95_ms", "ITL p95"), ("ttft_p95_ms", "TTFT p95")):
            if getattr(w.slo, field) is None:
                continue
            for factor in SLO_FACTORS:
                relaxed = _relaxed(w, field, factor)
                cols, _, _ = workload_candidates(relaxed, gpus, catalog, calibration, **candidate_options(types))
                if len(cols["workload"]) == 0:
                    continue
                workloads = list(scenario.workloads)
                workloads[i] = relaxed
                sc = scenario.model_copy(update={"workloads": workloads})
                if run(build_model(sc, _replace_workload(cand, w.name, cols), types)) != "infeasible":
                    old = getattr(w.slo, field)
                    out.append(f"{label} SLO of {w.name} {old:g} -> {old * factor:g} ms")
                    break
    return out


def _rack_alternatives(scenario: Scenario, cand: Candidates,
                       types_fn: Callable[[Scenario], dict[str, GpuType]], run: Runner) -> list[str]:
    """Bigger rack circuits (and air-cooling limit, when air cooled) fit more servers per rack."""
    site = scenario.site
    for factor in RACK_FACTORS:
        update = {"rack_power_cap_kw": site.rack_power_cap_kw * factor}
        if site.cooling == "air":
            update["air_cooling_limit_kw"] = site.air_cooling_limit_kw * factor
        sc = scenario.model_copy(update={"site": site.model_copy(update=update)})
        types = {g: t for g, t in types_fn(sc).items() if g in set(cand.columns["gpu"].tolist())}
        if types and run(build_model(sc, cand, types)) != "infeasible":
            air = (f" and air cooling {site.air_cooling_limit_kw:g} -> {site.air_cooling_limit_kw * factor:g} kW"
                   if site.cooling == "air" else "")
            return [f"rack circuits {site.rack_power_cap_kw:g} -> {site.rack_power_cap_kw * factor:g} kW per rack"
                    f"{air} (site.rack_power_cap_kw)"]
    return []


def explain_infeasible(scenario: Scenario, cand: Candidates, types: dict[str, GpuType], gpus: list[GpuSpec],
                       catalog: Catalog, calibration: str | None, run: Runner,
                       notes: list[str], types_fn: Callable[[Scenario], dict[str, GpuType]] | None = None
                       ) -> InfeasibleError:
    alternatives: list[str] = []
    for family in LIMIT_FAMILIES:
        m = build_model(scenario, cand, types, elastic=frozenset({family}))
        if not m.slacks:
            continue
        if run(m) != "infeasible":
            alternatives += _slack_lines(m)
    if types_fn is not None:
        alternatives += _rack_alternatives(scenario, cand, types_fn, run)
    alternatives += _slo_alternatives(scenario, cand, types, gpus, catalog, calibration, run)
    lines: list[str]
    if alternatives:
        lines = ["needs " + alternatives[0]] + [f"or {a}" for a in alternatives[1:]]
    else:
        m = build_model(scenario, cand, types, elastic=ALL_FAMILIES)
        combined = _slack_lines(m) if run(m) != "infeasible" else []
        lines = (["no single relaxation suffices; together it needs: " + "; ".join(combined)] if combined
                 else ["no relaxation of the limits or SLOs found a plan"])
    return InfeasibleError(f"scenario {scenario.name!r} is infeasible", explanation=lines + notes)

