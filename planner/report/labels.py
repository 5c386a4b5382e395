"""Readable labels for plan keys shown as table headers or row names (units stay in the cells)."""

from __future__ import annotations

from planner.report.format import SUFFIX_UNITS

KEY_LABELS: dict[str, str] = {
    # alternative objectives and what-if
    "objective": "Objective",
    "status": "Status",
    "tco_per_year_usd": "TCO per year",
    "capex_usd": "Capex",
    "it_power_max_w": "IT power, expected peak",
    "it_power_nameplate_w": "IT power, nameplate max",
    "it_power_avg_w": "IT power, expected average",
    "co2e_t_per_year": "Carbon, location-based",
    "gpus": "GPUs",
    "objective_delta_usd_per_year": "Objective change per year",
    "objective_delta_w": "Objective change (expected peak IT power)",
    "objective_delta_kwh_per_year": "Objective change per year",
    "objective_delta_gpus": "Objective change (GPUs)",
    "objective_delta_t_co2e_per_year": "Objective change per year",
    # site and finance
    "pue": "PUE",
    "pue_category": "PUE category",
    "rack_power_cap_kw": "Rack circuit breaker rating",
    "breaker_derating": "Breaker derating (continuous-load rule)",
    "air_cooling_limit_kw": "Air-cooling limit per rack",
    "power_cap_kw": "Site IT power cap",
    "racks": "Racks available",
    "rack_units": "Rack units per rack",
    "electricity_usd_per_kwh": "Electricity price",
    "carbon_g_per_kwh": "Grid emission factor (location-based)",
    "carbon_source": "Emission factor source",
    "carbon_year": "Emission factor year",
    "feeds": "Feeds per rack",
    "circuit_voltage_v": "Circuit voltage",
    "circuit_phases": "Circuit phases",
    "power_factor": "Power factor",
    "amortization_years": "Amortization horizon",
    "colocation_usd_per_kw_month": "Colocation price",
    "budget_usd": "Capex budget",
    "network_usd_per_server": "Network share per server (n/a: the catalog's, per server model)",
    "storage_usd_per_server": "Storage share per server (n/a: the catalog's, per server model)",
    "rack_usd": "Rack with its PDUs",
    "support_share_per_year": "Support per year, share of hardware (n/a: the catalog's, per server model)",
    "network_capex_usd": "Network capex",
    "storage_capex_usd": "Storage capex",
    "rack_capex_usd": "Racks and PDUs capex",
    "annual_support_usd": "Hardware support per year",
    # workload inputs
    "peak_requests_per_s": "Peak traffic",
    "average_requests_per_s": "Average traffic",
    "input_tokens_mean": "Input tokens per request (mean)",
    "output_tokens_mean": "Output tokens per request (mean)",
    "ttft_p95_ms": "TTFT p95 SLO",
    "itl_p95_ms": "ITL p95 SLO",
    "headroom": "Growth headroom (share of peak)",
    "redundancy": "Extra replicas (N+k)",
}


def label(key: str) -> str:
    """``KEY_LABELS[key]``, else the key without its unit suffix, underscores as spaces, capitalized."""
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    for suffix, _unit in SUFFIX_UNITS:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    words = key.replace("_", " ")
    return words[:1].upper() + words[1:]
