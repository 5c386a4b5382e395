"""Plan file schema (``plan.json``): what `planner solve` decides and every figure reports show.

Versioned with semantic versioning: a minor bump only adds keys (readers ignore unknown keys of a
newer minor version); a newer major version is refused. Units are in the key names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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


class Plan(PlanModel):
    schema_version: str
    tool_version: str
    scenario: ScenarioRef
    input_sha256: InputHashes
    status: Status
    objective: dict[str, float | str]
    solver: Solver
    deployments: list[Deployment]
    servers: list[ServerGroup]
    racks: list[Rack]
    totals: Totals
    constraints: list[Constraint]
    alternatives: list[Alternative] = []
    site: dict[str, float | str | None]
    finance: dict[str, float | str | None]
    workloads: list[dict[str, float | str | None]]
    assumptions: list[dict[str, str]]
    """Every constant used, with its value, unit and source."""
    what_if: list[dict[str, float | str | None]] = []
    """Marginal value of relaxing each binding limit one step, from re-solves."""
    objective_alternatives: list[dict[str, float | str]] = []
    """The plan re-solved under each objective (for the cost-versus-power Pareto view)."""
