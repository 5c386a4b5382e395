"""Plan file schema (``plan.json``): what `planner solve` decides and every figure reports show.

Versioned with semantic versioning: a minor bump only adds keys (readers ignore unknown keys of a
newer minor version); a newer major version is refused. Units are in the key names.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

PLAN_SCHEMA_VERSION = "1.1.0"  # 1.1: what_if, objective_alternatives

Status = Literal["optimal", "feasible", "infeasible"]


class PlanModel(BaseModel):
    # Readers accept unknown keys so that a plan of a newer *minor* version still loads; a plan never
    # holds NaN or infinity (dump_json refuses to write them), so a file that does was tampered with.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class ScenarioRef(PlanModel):
    name: str
    description: str = ""
    file: str = ""
    override: str | None = None
    objective: str


class InputHashes(PlanModel):
    scenario: str
    catalog: str
    calibration: str
    combined: str


class Solver(PlanModel):
    name: str
    version: str
    status: str
    """Solver's own words: optimal, time_limit, ..."""
    mip_gap: float | None
    """Relative MIP gap at the end (None when the solver does not report it, e.g. CBC stopped early)."""
    time_s: float
    """Written as 0 in plan.json so the same input gives the same bytes; `planner solve` prints it."""
    time_limit_s: float | None = None


class Deployment(PlanModel):
    workload: str
    model: str
    gpu: str
    precision: str
    tp: int
    pp: int
    replicas: int
    gpus: int
    batch_size: int
    capacity_requests_per_s: float
    """Requests/s the replicas serve at the planned utilization while meeting the SLOs."""
    demand_requests_per_s: float
    """Peak demand routed to this deployment (headroom is capacity kept on top: see constraints)."""
    ttft_p95_s: float
    """TTFT p95 at the routed peak, queueing included, with the workload's k spare replicas down."""
    itl_p95_s: float
    """ITL p95 with every batch slot busy (load-independent upper bound)."""
    slo_ttft_p95_s: float | None
    slo_itl_p95_s: float | None
    output_tokens_per_s: float
    """Output tokens/s of all replicas at peak demand."""
    utilization: float
    """demand_requests_per_s / capacity_requests_per_s."""
    power_avg_w: float
    """Expected average IT power (GPUs + server share) at the average traffic."""
    power_max_w: float
    """Expected peak IT power at peak traffic."""
    power_nameplate_w: float
    """Nameplate share: servers' max power prorated to this deployment's GPUs."""
    power_burst_w: float = 0.0
    """Highest short-term draw: every replica in a prefill-heavy step at once (instantaneous)."""
    prefill_chunk_tokens: int = 0
    """The engine's step token budget (max_num_batched_tokens) this configuration assumes."""
    engine: str = "vllm"
    """Serving engine the estimates assume (workloads[].engine)."""
    power_per_gpu_avg_w: float
    energy_per_output_token_j: float
    """IT energy per output token at peak traffic (J)."""


class ServerGroup(PlanModel):
    gpu: str
    server_model: str
    servers: int
    gpus: int
    gpus_per_server: int
    server_max_power_w: float
    rack_units: int
    psu_count: int | None
    psu_rating_w: float | None
    psu_redundancy: str | None
    psu_efficiency_tier: str | None
    gpu_price_usd: float
    server_price_usd: float


class Rack(PlanModel):
    id: str
    gpu: str
    servers: int
    power_nameplate_w: float
    power_max_w: float
    power_avg_w: float
    usable_cap_w: float
    """Rack breaker rating x derating (and the air-cooling limit when air cooled)."""
    heat_btu_per_hr: float
    liquid_cooling_required: bool


class Totals(PlanModel):
    gpus: int
    servers: int
    racks: int
    it_power_avg_w: float
    it_power_max_w: float
    it_power_nameplate_w: float
    facility_power_avg_w: float
    facility_power_max_w: float
    heat_btu_per_hr: float
    """At the expected peak IT power (all electrical input becomes heat)."""
    cooling_tons: float
    annual_energy_kwh: float
    """IT energy per year at the average traffic."""
    annual_facility_energy_kwh: float
    annual_energy_cost_usd: float
    annual_colocation_usd: float
    capex_usd: float
    tco_usd: float
    """Capex + energy (+ colocation) over the amortization horizon."""
    tco_per_year_usd: float
    co2e_t_per_year: float
    output_tokens_per_year: float
    usd_per_million_tokens: float
    joules_per_output_token: float
    """IT energy per output token at peak traffic (J); see joules_per_output_token_avg for the year."""
    joules_per_output_token_avg: float = 0.0
    """Annual IT energy over annual output tokens (J): includes the idle share at average load."""
    output_tokens_per_s_per_kw: float


class Constraint(PlanModel):
    name: str
    kind: str
    limit: float
    value: float
    unit: str
    binding: bool
    slack: float


class Alternative(PlanModel):
    workload: str
    gpu: str
    precision: str
    tp: int
    pp: int
    batch_size: int
    replicas_needed: int
    objective_delta: float
    """How much worse the objective would be serving this workload this way alone."""
    reason: str


# The free-form maps' keys that planner writes as numbers: a string there ("abc") was printed by
# the report as the figure. Keys a newer minor version adds are not checked (they are ignored).
NUMBER_KEYS: dict[str, frozenset[str]] = {
    "site": frozenset({"air_cooling_limit_kw", "breaker_derating", "carbon_g_per_kwh", "circuit_phases",
                       "circuit_voltage_v", "electricity_usd_per_kwh", "power_cap_kw", "power_factor", "pue",
                       "rack_power_cap_kw", "rack_units", "racks"}),
    "finance": frozenset({"amortization_years", "budget_usd", "colocation_usd_per_kw_month"}),
    "objective": frozenset({"value", "value_usd"}),
    "workloads": frozenset({"average_requests_per_s", "headroom", "input_tokens_mean", "input_tokens_p95",
                            "itl_p95_ms", "output_tokens_mean", "output_tokens_p95", "peak_requests_per_s",
                            "redundancy", "slo_itl_p95_ms", "slo_ttft_p95_ms", "ttft_p95_ms"}),
    "what_if": frozenset({"co2e_t_per_year", "gpus", "it_power_max_w", "objective_delta_usd_per_year",
                          "tco_per_year_usd"}),
    "objective_alternatives": frozenset({"co2e_t_per_year", "gpus", "it_power_max_w", "it_power_nameplate_w",
                                         "tco_per_year_usd"}),
}


NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "breaker_derating": (0.01, 1.0), "rack_power_cap_kw": (0.001, 1e6), "air_cooling_limit_kw": (0.001, 1e6),
    "pue": (1.0, 10.0), "amortization_years": (0.01, 100.0), "circuit_voltage_v": (1.0, 1e5),
    "circuit_phases": (1.0, 3.0), "power_factor": (0.01, 1.0)}
"""Where a site or finance number of a plan can be (a solve never writes one outside: a plan that
holds one was edited, and e.g. a zero derating would divide by zero when the report sizes circuits)."""


def _numbers_at(section: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A validator: every key of NUMBER_KEYS[section] present in the map holds a number (or null),
    within NUMBER_RANGES where one is given."""
    def check(mapping: dict[str, Any]) -> dict[str, Any]:
        for key in sorted(NUMBER_KEYS[section] & mapping.keys()):
            value = mapping[key]
            if value is not None and not isinstance(value, int | float):
                got = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
                raise PydanticCustomError("plan_number", "{key} must be a number, got {got}", {"key": key, "got": got})
            low, high = NUMBER_RANGES.get(key, (-math.inf, math.inf))
            if value is not None and not low <= value <= high:
                raise PydanticCustomError("plan_number", "{key} must be between {low} and {high}, got {got}",
                                          {"key": key, "low": f"{low:g}", "high": f"{high:g}", "got": f"{value:g}"})
        return mapping
    return check


def _year(mapping: dict[str, Any]) -> dict[str, Any]:
    year = mapping.get("carbon_year")
    if isinstance(year, str) and not year.isdigit():
        raise PydanticCustomError("plan_number", "carbon_year must be a year, got {got}", {"got": repr(year[:40])})
    return mapping


SiteMap = Annotated[dict[str, float | str | None], AfterValidator(_numbers_at("site")), AfterValidator(_year)]
FinanceMap = Annotated[dict[str, float | str | None], AfterValidator(_numbers_at("finance"))]
ObjectiveMap = Annotated[dict[str, float | str], AfterValidator(_numbers_at("objective"))]
WorkloadRecord = Annotated[dict[str, float | str | None], AfterValidator(_numbers_at("workloads"))]
WhatIfRecord = Annotated[dict[str, float | str | None], AfterValidator(_numbers_at("what_if"))]
AlternativeRecord = Annotated[dict[str, float | str], AfterValidator(_numbers_at("objective_alternatives"))]


class Plan(PlanModel):
    schema_version: str
    tool_version: str
    scenario: ScenarioRef
    input_sha256: InputHashes
    status: Status
    objective: ObjectiveMap
    solver: Solver
    deployments: list[Deployment]
    servers: list[ServerGroup]
    racks: list[Rack]
    totals: Totals
    constraints: list[Constraint]
    alternatives: list[Alternative] = []
    site: SiteMap
    finance: FinanceMap
    workloads: list[WorkloadRecord]
    assumptions: list[dict[str, str]]
    """Every constant used, with its value, unit and source."""
    what_if: list[WhatIfRecord] = []
    """Marginal value of relaxing each binding limit one step, from re-solves."""
    objective_alternatives: list[AlternativeRecord] = []
    """The plan re-solved under each objective (for the cost-versus-power Pareto view)."""
