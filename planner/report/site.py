"""The site and finance figures a report needs, read from the plan's typed ``site`` and ``finance``.

The plan schema guarantees every number is a number within its range (schemas.plan.PlanSite); this
module only converts units and fills the circuit facts `planner solve` does not write (voltage,
phases, power factor) with defaults that the appendix prints as assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.report import constants
from planner.report.circuits import CircuitSpec
from planner.schemas.plan import Plan, PlanSite
from planner.units import kw_to_w


@dataclass(frozen=True)
class SiteFacts:
    pue: float
    pue_category: str | None
    """Green Grid measurement category (PUE0-3 / where IT energy is metered), when stated."""
    electricity_usd_per_kwh: float
    carbon_g_per_kwh: float
    carbon_source: str
    carbon_year: str | None
    feeds: str
    cooling: str
    air_cooling_limit_w: float
    circuit: CircuitSpec
    circuit_defaults: tuple[str, ...]
    """Circuit keys the plan did not state, so their defaults were used."""
    amortization_years: float


CIRCUIT_DEFAULTS: dict[str, float] = {
    "circuit_voltage_v": constants.DEFAULT_CIRCUIT_VOLTAGE_V,
    "circuit_phases": constants.DEFAULT_CIRCUIT_PHASES,
    "power_factor": constants.DEFAULT_POWER_FACTOR}


def _circuit(site: PlanSite) -> tuple[CircuitSpec, tuple[str, ...]]:
    stated: dict[str, float | None] = {"circuit_voltage_v": site.circuit_voltage_v,
                                       "circuit_phases": site.circuit_phases, "power_factor": site.power_factor}
    used = tuple(key for key, value in stated.items() if value is None)
    values = {key: CIRCUIT_DEFAULTS[key] if value is None else value for key, value in stated.items()}
    spec = CircuitSpec(rating_w=kw_to_w(site.rack_power_cap_kw), derating=site.breaker_derating,
                       voltage_v=values["circuit_voltage_v"], phases=int(values["circuit_phases"]),
                       power_factor=values["power_factor"])
    return spec, used


def site_facts(plan: Plan) -> SiteFacts:
    site = plan.site
    circuit, defaults_used = _circuit(site)
    return SiteFacts(
        pue=site.pue,
        pue_category=site.pue_category,
        electricity_usd_per_kwh=site.electricity_usd_per_kwh,
        carbon_g_per_kwh=site.carbon_g_per_kwh,
        carbon_source=site.carbon_source,
        carbon_year=None if site.carbon_year is None else str(site.carbon_year),
        feeds=site.feeds,
        cooling=site.cooling,
        air_cooling_limit_w=kw_to_w(site.air_cooling_limit_kw),
        circuit=circuit,
        circuit_defaults=defaults_used,
        amortization_years=plan.finance.amortization_years,
    )
