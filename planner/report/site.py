"""The site and finance figures a report needs, read from the plan's ``site`` and ``finance`` maps.

Those maps are free-form in the plan schema; this module names the keys the report relies on and
reports every missing or mistyped one at once. Circuit keys the scenario schema does not have yet
(voltage, phases, power factor) fall back to defaults that the appendix prints as assumptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planner.errors import PlanFileError
from planner.report import constants
from planner.report.circuits import CircuitSpec
from planner.schemas.plan import Plan

REQUIRED_SITE_NUMBERS = ("pue", "electricity_usd_per_kwh", "carbon_g_per_kwh", "breaker_derating",
                         "air_cooling_limit_kw", "rack_power_cap_kw")
REQUIRED_SITE_TEXTS = ("carbon_source", "feeds", "cooling")
REQUIRED_FINANCE_NUMBERS = ("amortization_years",)

_FIX = "re-create the plan with `planner solve`, which writes the scenario's site and finance blocks"
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


def _number(mapping: Mapping[str, object], key: str) -> float:
    value = mapping[key]
    assert isinstance(value, int | float)
    return float(value)


def _optional_text(mapping: Mapping[str, object], key: str) -> str | None:
    value = mapping.get(key)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a year read back from JSON as 2022.0
    return None if value is None else str(value)


def _problems(mapping: Mapping[str, object], where: str, numbers: tuple[str, ...],
              texts: tuple[str, ...]) -> list[str]:
    problems = []
    for key in numbers:
        value = mapping.get(key)
        # present and a number; its range is the plan schema's (schemas.plan.NUMBER_RANGES), checked on load
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}.{key} must be a number, got {value!r}")
    for key in texts:
        if not isinstance(mapping.get(key), str):
            problems.append(f"{where}.{key} must be text, got {mapping.get(key)!r}")
    return problems


def check_plan_maps(plan: Plan) -> None:
    """Raise one PlanFileError listing every site/finance key the report needs but cannot use."""
    optional = tuple(key for key in ("circuit_voltage_v", "circuit_phases", "power_factor")
                     if isinstance(plan.site.get(key), int | float) and not isinstance(plan.site.get(key), bool))
    problems = _problems(plan.site, "site", REQUIRED_SITE_NUMBERS + optional, REQUIRED_SITE_TEXTS)
    problems += _problems(plan.finance, "finance", REQUIRED_FINANCE_NUMBERS, ())
    if problems:
        raise PlanFileError("cannot render a report: " + "; ".join(problems), fix=_FIX)


def _circuit(site: Mapping[str, object]) -> tuple[CircuitSpec, tuple[str, ...]]:
    defaults = {"circuit_voltage_v": constants.DEFAULT_CIRCUIT_VOLTAGE_V,
                "circuit_phases": float(constants.DEFAULT_CIRCUIT_PHASES),
                "power_factor": constants.DEFAULT_POWER_FACTOR}
    used = tuple(key for key in defaults if not isinstance(site.get(key), int | float))
    values = {key: (defaults[key] if key in used else _number(site, key)) for key in defaults}
    spec = CircuitSpec(rating_w=_number(site, "rack_power_cap_kw") * 1e3,
                       derating=_number(site, "breaker_derating"),
                       voltage_v=values["circuit_voltage_v"], phases=int(values["circuit_phases"]),
                       power_factor=values["power_factor"])
    return spec, used


def site_facts(plan: Plan) -> SiteFacts:
    check_plan_maps(plan)
    site = plan.site
    circuit, defaults_used = _circuit(site)
    return SiteFacts(
        pue=_number(site, "pue"),
        pue_category=_optional_text(site, "pue_category"),
        electricity_usd_per_kwh=_number(site, "electricity_usd_per_kwh"),
        carbon_g_per_kwh=_number(site, "carbon_g_per_kwh"),
        carbon_source=str(site["carbon_source"]),
        carbon_year=_optional_text(site, "carbon_year"),
        feeds=str(site["feeds"]),
        cooling=str(site["cooling"]),
        air_cooling_limit_w=_number(site, "air_cooling_limit_kw") * 1e3,
        circuit=circuit,
        circuit_defaults=defaults_used,
        amortization_years=_number(plan.finance, "amortization_years"),
    )
