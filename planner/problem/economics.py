"""Energy, money and carbon of a fleet, written once.

Each function is linear in its fleet arguments, so the same code gives a float for a plan (the plan
builder, `planner check`) and a linear expression for the integer program (planner.optimize.program).
"""

from __future__ import annotations

from typing import Any

from planner.problem.model import Problem
from planner.units import G_PER_TONNE, HOURS_PER_YEAR, J_PER_KWH, S_PER_HOUR, W_PER_KW


def annual_energy_kwh(it_power_avg_w: Any) -> Any:
    """IT energy over a year at the average draw."""
    return it_power_avg_w * (HOURS_PER_YEAR / W_PER_KW)


def annual_energy_cost_usd(p: Problem, energy_kwh: Any) -> Any:
    """Facility energy (IT x PUE) at the site's electricity price."""
    return energy_kwh * p.site.pue * p.site.electricity_usd_per_kwh


def annual_colocation_usd(p: Problem, it_power_nameplate_w: Any) -> Any:
    """Colocation charged on the contracted (nameplate) IT capacity."""
    return it_power_nameplate_w * p.money.colocation_usd_per_w_year


def tco_usd(p: Problem, capex_usd: Any, annual_energy_cost: Any, annual_colocation: Any) -> Any:
    """Capex plus the running costs over the amortization horizon."""
    return capex_usd + p.money.amortization_years * (annual_energy_cost + annual_colocation)


def tco_per_year_usd(p: Problem, capex_usd: float, annual_energy_cost: float, annual_colocation: float) -> float:
    return capex_usd / p.money.amortization_years + (annual_energy_cost + annual_colocation)


def co2e_t_per_year(p: Problem, energy_kwh: Any) -> Any:
    """Location-based emissions of the facility energy."""
    return energy_kwh * p.site.pue * p.site.carbon_g_per_kwh / G_PER_TONNE


def joules_per_token_avg(energy_kwh: float, tokens_per_year: float) -> float:
    return energy_kwh * J_PER_KWH / tokens_per_year if tokens_per_year else 0.0


def tokens_per_year(tokens_per_s_avg: float) -> float:
    return tokens_per_s_avg * HOURS_PER_YEAR * S_PER_HOUR
