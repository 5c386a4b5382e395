"""Limits as records: one definition per limit family.

Each family says, once: its name and the scenario key that sets it, its unit and label, how it
enters the integer program (a named program quantity bounded above or below), how its elastic slack
is scaled and worded when a scenario is infeasible, how a what-if relaxes it by one step, and which
plan figure `planner check` compares with it. The program builder (planner.optimize.program), the
infeasibility answer (planner.optimize.explain), the what-if analysis (planner.optimize.analysis),
the plan's constraints table and `planner check` all read these records; a new limit is one new
record plus its tests.

Structural limits that shape the program rather than cap one quantity (rack power, which sets how
many servers a rack holds, and the SLOs, which decide which configurations are candidates at all)
carry the same description fields; their program form lives with the candidates and the rack
packing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from planner.problem.model import Problem
from planner.units import MS_PER_S, W_PER_KW, s_to_ms

Sense = Literal["<=", ">="]
USD_PER_KUSD = 1e3
"""Budget slack is counted in thousands of dollars, so its penalty weighs like a kW of power."""


@dataclass(frozen=True)
class Limit:
    """One limit of one problem: a family applied to a quantity (per GPU type or per workload)."""

    name: str
    """Constraint name in the program and the plan (``site_power``, ``inventory_h100-sxm``)."""
    family: str
    subject: str | None
    """The GPU id or workload name it applies to (None: the whole fleet)."""
    quantity: str
    """The program quantity it bounds (planner.optimize.program.quantity)."""
    bound: float
    """The limit in the family's unit."""


@dataclass(frozen=True)
class LimitFamily:
    name: str
    key_path: str
    """Where the scenario sets it ({subject} stands for the GPU id or workload name)."""
    unit: str
    kind: str
    """The plan's Constraint.kind."""
    label: str
    """Words for reports: what the limit is."""
    sense: Sense
    """quantity <= bound (a cap) or quantity >= bound (a requirement)."""
    slack_unit: float
    """Elastic slack is measured in units of this many ``unit`` (kW for power, k$ for money)."""
    elastic_weight: float
    """Penalty multiplier of its slack: dropping demand costs more than relaxing any cap."""
    limits: Callable[[Problem], list[Limit]]
    """Its limits in a problem (none when the scenario does not set it)."""
    shortfall: Callable[[Limit, float], str]
    """Plain words for relaxing ``limit`` by an amount (in ``unit``): the infeasibility answer."""
    what_if: Callable[[Problem, Limit], tuple[str, Problem]] | None
    """One relaxation step: (what changes, the relaxed problem); None when a what-if does not apply."""
    scaled: Callable[[Problem, Limit, float], tuple[str, Problem]] | None = None
    """The limit relaxed by a factor (infeasibility answers for limits without an elastic slack)."""


def _fleet(name: str, quantity: str, bound: Callable[[Problem], float | None]) -> Callable[[Problem], list[Limit]]:
    def limits(p: Problem) -> list[Limit]:
        b = bound(p)
        return [] if b is None else [Limit(name, name, None, quantity, float(b))]
    return limits


def _inventory(p: Problem) -> list[Limit]:
    return [Limit(f"inventory_{g.id}", "inventory", g.id, f"gpus_bought:{g.id}", float(g.inventory_gpus))
            for g in p.gpus if g.inventory_gpus is not None]


DECODE_CAPACITY_PREFIX = "decode_capacity"
"""A workload that allows disaggregated serving has two capacity limits: ``capacity_{name}`` counts the
replicas that run its prompts (aggregated and prefill pools), ``decode_capacity_{name}`` those that decode
them (aggregated and decode pools); each must hold the required rate."""


def _capacity(p: Problem) -> list[Limit]:
    out = []
    for w in p.workloads:
        out.append(Limit(f"capacity_{w.name}", "capacity", w.name, f"capacity_after_spares:{w.name}",
                         w.required_requests_per_s))
        if w.disaggregated:
            out.append(Limit(f"{DECODE_CAPACITY_PREFIX}_{w.name}", "capacity", w.name,
                             f"{DECODE_CAPACITY_PREFIX}_after_spares:{w.name}", w.required_requests_per_s))
    return out


def serving_side(lim: Limit) -> str:
    """The role a capacity limit counts beside aggregated replicas: "prefill" or "decode"."""
    return "decode" if lim.quantity.startswith(DECODE_CAPACITY_PREFIX) else "prefill"


def _more_inventory(p: Problem, lim: Limit) -> tuple[str, Problem]:
    g = p.gpu(str(lim.subject))
    return (f"+1 {g.id} server of inventory",
            p.with_gpu(g.id, inventory_gpus=int(lim.bound) + g.gpus_per_server))


SITE_POWER = LimitFamily(
    name="site_power", key_path="site.power_cap_kw", unit="W", kind="power",
    label="datacenter IT power (servers at nameplate)", sense="<=", slack_unit=W_PER_KW, elastic_weight=1.0,
    limits=_fleet("site_power", "it_power_nameplate_w", lambda p: p.site.power_cap_w),
    shortfall=lambda lim, amount: f"+{amount / W_PER_KW:.1f} kW datacenter IT power (site.power_cap_kw)",
    what_if=lambda p, lim: ("+10 % datacenter IT power", p.with_site(power_cap_w=lim.bound * 1.1)))

RACKS = LimitFamily(
    name="racks", key_path="site.racks", unit="racks", kind="racks", label="racks available",
    sense="<=", slack_unit=1.0, elastic_weight=1.0,
    limits=_fleet("racks_total", "racks", lambda p: p.site.racks),
    shortfall=lambda lim, amount: f"+{math.ceil(amount - 1e-6)} racks (site.racks)",
    what_if=lambda p, lim: ("+1 rack", p.with_site(racks=int(lim.bound) + 1)))

INVENTORY = LimitFamily(
    name="inventory", key_path="hardware.inventory.{subject}", unit="GPUs", kind="inventory",
    label="GPUs available", sense="<=", slack_unit=1.0, elastic_weight=1.0, limits=_inventory,
    shortfall=lambda lim, amount: (f"+{math.ceil(amount - 1e-6)} {lim.subject} GPUs of inventory "
                                   "(hardware.inventory)"),
    what_if=_more_inventory)

BUDGET = LimitFamily(
    name="budget", key_path="finance.budget_usd", unit="USD", kind="budget", label="capex budget",
    sense="<=", slack_unit=USD_PER_KUSD, elastic_weight=1.0,
    limits=_fleet("budget", "capex_usd", lambda p: p.money.budget_usd),
    shortfall=lambda lim, amount: f"+${amount:,.0f} capex budget (finance.budget_usd)",
    what_if=lambda p, lim: ("+10 % capex budget", p.with_money(budget_usd=lim.bound * 1.1)))

CAPACITY = LimitFamily(
    name="capacity", key_path="workloads[{subject}].traffic.peak_requests_per_s", unit="requests/s",
    kind="demand", label="capacity after N+k spares >= peak x (1 + headroom)", sense=">=", slack_unit=1.0,
    elastic_weight=100.0, limits=_capacity,
    shortfall=lambda lim, amount: f"serve {amount:.3g} requests/s less of workload {lim.subject}",
    what_if=None)

CAPS: tuple[LimitFamily, ...] = (SITE_POWER, RACKS, INVENTORY, BUDGET)
"""Families that cap one program quantity; each is relaxed on its own when a scenario is infeasible."""
FAMILIES: tuple[LimitFamily, ...] = (CAPACITY, *CAPS)
"""Families written into the program by planner.optimize.program.add_limit."""


def is_binding(family: LimitFamily, value: float, bound: float) -> bool:
    """A limit binds when the plan is within 2 % of it."""
    return value <= bound * 1.02 if family.sense == ">=" else value >= 0.98 * bound


def limits_of(p: Problem, families: tuple[LimitFamily, ...] = FAMILIES) -> list[tuple[LimitFamily, Limit]]:
    """Every limit the problem sets, family by family, in a fixed order."""
    return [(f, lim) for f in families for lim in f.limits(p)]


# -- structural limits: enforced by rack packing and by candidate generation ------------------------

def _rack_step(p: Problem, lim: Limit) -> tuple[str, Problem]:
    """+10 kW on whichever limit binds a rack: the air-cooling limit when it is below the derated breaker."""
    site = p.site
    if site.air_limit_binds:
        return "+10 kW air-cooling limit per rack", p.with_site(
            air_cooling_limit_w=site.air_cooling_limit_w + 10 * W_PER_KW)
    return "+10 kW usable per rack breaker", p.with_site(
        rack_power_cap_w=site.rack_power_cap_w + site.breaker_for_usable_w(10 * W_PER_KW))


def _rack_scaled(p: Problem, lim: Limit, factor: float) -> tuple[str, Problem]:
    site = p.site
    changes = {"rack_power_cap_w": site.rack_power_cap_w * factor}
    air = ""
    if site.cooling == "air":
        changes["air_cooling_limit_w"] = site.air_cooling_limit_w * factor
        air = (f" and air cooling {site.air_cooling_limit_w / W_PER_KW:g} -> "
               f"{site.air_cooling_limit_w * factor / W_PER_KW:g} kW")
    return (f"rack circuits {site.rack_power_cap_w / W_PER_KW:g} -> {site.rack_power_cap_w * factor / W_PER_KW:g} kW "
            f"per rack{air} (site.rack_power_cap_kw)", p.with_site(**changes))


RACK_POWER = LimitFamily(
    name="rack_power", key_path="site.rack_power_cap_kw", unit="W", kind="rack_power",
    label="rack power: servers at nameplate within the derated breaker (and the air-cooling limit)",
    sense="<=", slack_unit=W_PER_KW, elastic_weight=1.0,
    limits=lambda p: [Limit("rack_power", "rack_power", None, "servers_per_rack", p.site.usable_rack_w)],
    shortfall=lambda lim, amount: f"+{amount / W_PER_KW:.1f} kW per rack (site.rack_power_cap_kw)",
    what_if=_rack_step, scaled=_rack_scaled)


def _slo_family(name: str, field: str, label: str, step_s: float | None) -> LimitFamily:
    """An SLO: configurations that miss it are never candidates; relaxing it regenerates candidates."""
    def limits(p: Problem) -> list[Limit]:
        return [Limit(f"{name}_{w.name}", name, w.name, field, getattr(w.slo, field))
                for w in p.workloads if getattr(w.slo, field) is not None]

    def scaled(p: Problem, lim: Limit, factor: float) -> tuple[str, Problem]:
        w = p.workload(str(lim.subject))
        old = getattr(w.slo, field)
        new = s_to_ms(old) * factor / MS_PER_S
        return (f"{label} SLO of {w.name} {s_to_ms(old):g} -> {s_to_ms(old) * factor:g} ms",
                p.with_workload(w.name, slo=replace(w.slo, **{field: new})))

    def step(p: Problem, lim: Limit) -> tuple[str, Problem]:
        w = p.workload(str(lim.subject))
        old_ms = s_to_ms(getattr(w.slo, field))
        new_ms = old_ms + s_to_ms(step_s or 0.0)
        return (f"{label} SLO {old_ms:g} -> {new_ms:g} ms",
                p.with_workload(w.name, slo=replace(w.slo, **{field: new_ms / MS_PER_S})))

    return LimitFamily(
        name=name, key_path=f"workloads[{{subject}}].slo.{field[:-2]}_ms", unit="s", kind="slo", label=label,
        sense="<=", slack_unit=1.0 / MS_PER_S, elastic_weight=1.0, limits=limits,
        shortfall=lambda lim, amount: f"{label} SLO of {lim.subject} +{s_to_ms(amount):g} ms",
        what_if=step if step_s is not None else None, scaled=scaled)


ITL_SLO = _slo_family("itl_slo", "itl_p95_s", "ITL p95", step_s=0.010)
TTFT_SLO = _slo_family("ttft_slo", "ttft_p95_s", "TTFT p95", step_s=None)
SLOS: tuple[LimitFamily, ...] = (ITL_SLO, TTFT_SLO)
ALL: tuple[LimitFamily, ...] = (*FAMILIES, RACK_POWER, *SLOS)
BY_NAME: dict[str, LimitFamily] = {f.name: f for f in ALL}


def scenario_key(constraint_name: str) -> str | None:
    """The scenario key that sets a constraint's limit (``inventory_h100-sxm`` ->
    ``hardware.inventory.h100-sxm``), None for a constraint no record describes."""
    family = family_of(constraint_name)
    if family is None:
        return None
    prefix = "racks_total" if family is RACKS else family.name
    if constraint_name.startswith(DECODE_CAPACITY_PREFIX + "_"):
        prefix = DECODE_CAPACITY_PREFIX
    subject = constraint_name[len(prefix) + 1:] if "{subject}" in family.key_path else ""
    return family.key_path.replace("{subject}", subject)


def family_of(constraint_name: str) -> LimitFamily | None:
    """The family of a constraint name (``inventory_h100-sxm`` -> INVENTORY, ``racks_total`` -> RACKS)."""
    if constraint_name == "racks_total":
        return RACKS
    if constraint_name.startswith(DECODE_CAPACITY_PREFIX + "_"):
        return CAPACITY
    for f in ALL:
        if constraint_name == f.name or constraint_name.startswith(f.name + "_"):
            return f
    return None
