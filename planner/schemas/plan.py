"""Plan file schema (``plan.json``): what `planner solve` decides and every figure reports show.

Versioned with semantic versioning: a minor bump only adds keys (a reader drops the keys a newer
minor version adds); another major version is refused, except 1.x, which planner.plan.migrate
brings to 2.0 on read. Every section is a strict model (unknown keys refused), units in the names.

2.0 (from 1.1): site, finance, objective, workloads, assumptions, what_if and objective_alternatives
are typed models (counts as integers); what_if entries add ``objective_delta`` and ``objective_unit``
beside the 1.x ``objective_delta_<unit>`` key; the new ``analysis`` section says whether what-if values
and objective alternatives were computed or skipped, and why. No 1.x key is renamed.
"""

from __future__ import annotations

import shlex
from collections.abc import ItemsView, KeysView, ValuesView
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler  # pydantic < 2.10 does not re-export it
from pydantic_core import PydanticCustomError

from planner.schemas.speculative import Speculative

PLAN_SCHEMA_VERSION = "2.2.0"  # 1.1: what_if, objective_alternatives; 2.0: typed sections, analysis;
# 2.1 (optional keys, so a 2.0 plan reads as it is): deployments launch, power_limit_w, role, speculative,
# ep, dp, sizing_margin and energy by phase and cause; periods and roadmap_what_if (roadmaps);
# 2.2: solver.node_limit (optional)

Status = Literal["optimal", "feasible", "infeasible"]


class PlanModel(BaseModel):
    # Unknown keys are refused (a reader of a newer minor version drops them first: plan.io); a plan
    # never holds NaN or infinity (dump_json refuses to write them), so a file that does was tampered with.
    # defer_build: built when first used, as StrictModel (planner/schemas/base.py) says why
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              defer_build=True)  # docstrings: schemas/docs.py


# -- value types ------------------------------------------------------------------------------------
# A number is a JSON number: text ("4"), a bool or a list where planner writes a number was printed by
# the report as the figure (fuzz finding F4), so those are refused, not coerced.

COUNT_TOLERANCE = 1e-6
"""How far from a whole number a count may be and still read as one (relative)."""


def _whole(value: Any) -> Any:
    """A count: an int, or a float within rounding of one (1.x plans wrote counts as 1.0; a solver's
    integer value can be 727.9999999)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("plan_count", "must be a whole number, got {got}", {"got": _shown(value)})
    if isinstance(value, float) and abs(value - round(value)) <= COUNT_TOLERANCE * max(1.0, abs(value)):
        return round(value)
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _between(low: float, high: float) -> AfterValidator:
    """Where a site or finance number can be: a solve never writes one outside, so a plan that holds
    one was edited (a zero derating would divide by zero when the report sizes circuits)."""
    def check(value: float | None) -> float | None:
        if value is not None and not low <= value <= high:
            raise PydanticCustomError("plan_range", "must be between {low} and {high}, got {got}",
                                      {"low": f"{low:g}", "high": f"{high:g}", "got": f"{value:g}"})
        return value
    return AfterValidator(check)


Number = Annotated[float, Field(strict=True)]
"""A JSON number (an int is accepted and read as a float)."""
Count = Annotated[int, BeforeValidator(_whole)]
"""A whole number (1.x plans wrote some counts as 2.0: read as 2)."""
Flag = Annotated[bool, Field(strict=True)]
"""true or false (not "yes", not 1)."""
Replicas = Annotated[Count, Field(ge=1, le=1_000_000)]
"""Replicas of a deployment: a deployment of 0 replicas is not a deployment; 1e6 is far beyond any fleet."""
DeploymentGpus = Annotated[Count, Field(ge=1, le=10_000_000)]
"""GPUs of a deployment (replicas x GPUs per replica); 1e7 is far beyond any fleet."""
Parallel = Annotated[Count, Field(ge=1, le=4096)]
"""tp, pp, ep or dp of a replica: no model has more attention heads or layers (planner.estimation bounds ep, dp)."""
Batch = Annotated[Count, Field(ge=1, le=100_000)]
"""Sequences in flight per replica (planner.estimation.MAX_BATCH)."""

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
    mip_gap: Number | None
    """Relative MIP gap at the end (None when the solver does not report it, e.g. CBC stopped early)."""
    time_s: Number
    """Written as 0 in plan.json so the same input gives the same bytes; `planner solve` prints it."""
    time_limit_s: Number | None = None
    node_limit: int | None = Field(None, ge=1)
    """The deterministic work limit of the solve (branch-and-bound nodes, one thread, fixed seed): a plan
    stopped by it is the same plan on every run; absent when the solve had none (roadmaps)."""

    @model_serializer(mode="wrap")
    def _omit_no_limit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k == "node_limit" and v is None)}


class ConfigFile(PlanModel):
    """A file an engine command reads (TensorRT-LLM's extra LLM API options), written beside it."""
    path: str
    """File name, relative to the engine's working directory."""
    content: str


class Launch(PlanModel):
    """How to start one replica of a deployment: the engine command with the plan's TP/PP, batch, token
    budget and precision as flags (planner.export.launch; flag names and sources in docs/export.md)."""
    # model_id is a plan key, not a pydantic method: pydantic < 2.10 warns on the model_ prefix
    model_config = ConfigDict(protected_namespaces=())
    engine: str
    """vllm, sglang or trt-llm (workloads[].engine)."""
    model_id: str
    """Hugging Face repo id the engine loads (from the model catalog's aliases)."""
    argv: list[str]
    """The command of one replica (of its leader when a replica spans servers), first word the program."""
    env: dict[str, str] = {}
    """Environment the command needs (beyond GPU visibility, which the launcher sets)."""
    leader_setup_argv: list[str] = []
    """Command the first server of a multi-server replica runs before ``argv`` (vLLM: the Ray head)."""
    worker_argv: list[str] = []
    """Command on each other server of a replica that spans servers; empty when a replica fits one server."""
    config_files: list[ConfigFile] = []
    gpus_per_replica: Count
    nodes_per_replica: Count = 1
    """Servers one replica spans (1 unless TP x PP exceeds a server's GPUs)."""
    gpu_resource: str
    """Kubernetes extended resource of the GPU: nvidia.com/gpu or amd.com/gpu."""
    visible_devices_env: str
    """Environment variable that selects a replica's GPUs on a server (CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES)."""
    power_limit_w: Number | None = None
    """GPU power limit the plan assumes, when below the GPU's TDP; null: run at TDP."""
    power_limit_argv: list[str] = []
    """Command (run as root on each server, before the engine) that sets power_limit_w on a replica's GPUs."""
    notes: list[str] = []
    """What the command cannot say by itself (a checkpoint to quantize first, ...)."""

    @property
    def command(self) -> str:
        """``argv`` (after ``env`` as assignments) as one shell line, every word quoted as the shell needs."""
        assignments = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        return " ".join([*assignments, *(shlex.quote(word) for word in self.argv)])


class SizingMargin(PlanModel):
    """How a deployment was sized at its workload's sizing_confidence (docs/confidence.md)."""
    confidence: Number
    """workloads[].sizing_confidence: the quantile of the held-out estimate error the SLOs must hold at."""
    ttft_factor: Number
    """TTFT estimates multiplied by this (1 + the TTFT error at the confidence) before the SLO test."""
    itl_factor: Number
    """ITL estimates multiplied by this before the SLO test."""
    throughput_factor: Number
    """Capacity divided by this (1 + the throughput error at the confidence)."""
    group: str
    """The expected-error groups the factors come from (planner/data/expected_error.yaml)."""


class SizingMarginTotals(PlanModel):
    """What sizing at a confidence adds to the fleet, measured by solving the scenario both ways."""
    gpus_at_point_estimate: Count
    """GPUs of the same scenario's plan sized at the point estimate (no sizing_confidence)."""
    gpus_added: int
    """This plan's GPUs minus gpus_at_point_estimate."""
    objective_at_point_estimate: Number
    """The objective's value of the point-estimate plan (same unit as the plan's objective)."""


class EnergyBreakdown(PlanModel):
    """GPU energy per output token by cause (J), the core's physical power terms (planner.core.model)."""
    static: Number
    """Idle power plus the base draw while kernels run."""
    memory: Number
    """DRAM traffic (weights and KV cache)."""
    compute: Number
    """Tensor math."""
    communication: Number
    """Tensor-parallel links."""


PHASE_ENERGY_KEYS = frozenset({"energy_breakdown_j_per_token", "kwh_per_million_output_tokens",
                               "output_tokens_per_s_per_w", "prefill_flops", "decode_flops_per_token",
                               "prefill_energy_j", "decode_energy_per_token_j"})
"""Per-phase and per-cause figures of a deployment (planner.plan.energy); absent from plans written before them."""
DEPLOYMENT_OPTIONAL_KEYS = frozenset({"launch", "power_limit_w", "speculative", "role", "sizing_margin",
                                      "ep", "dp", *PHASE_ENERGY_KEYS})
"""Deployment keys left out of plan.json when null (plans written before they existed read back byte for byte)."""


class Deployment(PlanModel):
    workload: str
    model: str
    gpu: str
    precision: str
    tp: Parallel
    pp: Parallel
    replicas: Replicas
    gpus: DeploymentGpus
    batch_size: Batch
    capacity_requests_per_s: Number
    """Requests/s the replicas serve at the planned utilization while meeting the SLOs."""
    demand_requests_per_s: Number
    """Peak demand routed to this deployment (headroom is capacity kept on top: see constraints)."""
    ttft_p95_s: Number
    """TTFT p95 at the routed peak, queueing included, with the workload's k spare replicas down."""
    itl_p95_s: Number
    """ITL p95 with every batch slot busy (load-independent upper bound)."""
    slo_ttft_p95_s: Number | None
    slo_itl_p95_s: Number | None
    output_tokens_per_s: Number
    """Output tokens/s of all replicas at peak demand."""
    utilization: Number
    """demand_requests_per_s / capacity_requests_per_s."""
    power_avg_w: Number
    """Expected average IT power (GPUs + server share) at the average traffic."""
    power_max_w: Number
    """Expected peak IT power at peak traffic."""
    power_nameplate_w: Number
    """Nameplate share: servers' max power prorated to this deployment's GPUs."""
    power_burst_w: Number = 0.0
    """Highest short-term draw: every replica in a prefill-heavy step at once (instantaneous)."""
    prefill_chunk_tokens: Count = 0
    """The engine's step token budget (max_num_batched_tokens) this configuration assumes."""
    engine: str = "vllm"
    """Serving engine the estimates assume (workloads[].engine)."""
    power_limit_w: Number | None = None
    """GPU power limit the deployment runs at (W; its TDP when not limited: hardware.power_limit_fractions);
    null in plans written before it existed (read as the GPU's TDP)."""
    role: Literal["aggregated", "prefill", "decode"] | None = None
    """Serving role (workloads[].serving): aggregated replicas, or the prefill or decode pool of disaggregated
    serving, each pool carrying the workload's whole demand; null (omitted) where the workload allows only
    aggregated serving, and in plans written before it existed (read as aggregated)."""
    power_per_gpu_avg_w: Number
    energy_per_output_token_j: Number
    """IT energy per output token at peak traffic (J)."""
    energy_breakdown_j_per_token: EnergyBreakdown | None = None
    """GPU energy per output token by cause, at the deployment's batch with every slot busy (the configuration's
    `planner estimate` point; GPUs only, no server share); sums to the GPU J/token of that point."""
    kwh_per_million_output_tokens: Number | None = None
    """GPU energy per million output tokens (kWh), same basis as energy_breakdown_j_per_token."""
    output_tokens_per_s_per_w: Number | None = None
    """Output tokens/s per W of GPU power of one replica, same basis as energy_breakdown_j_per_token."""
    prefill_flops: Number | None = None
    """FLOPs of one request's prefill on a replica (prompt tokens the prefix cache does not serve)."""
    decode_flops_per_token: Number | None = None
    """FLOPs of one decoded token on a replica, at the mean context."""
    prefill_energy_j: Number | None = None
    """GPU energy of one request's prefill on a replica (J), at the deployment's batch."""
    decode_energy_per_token_j: Number | None = None
    """GPU energy of one decoded token on a replica (J), in a decode-only step at the deployment's batch."""
    speculative: Speculative | None = None
    """Speculative decoding the deployment runs (workloads[].speculative, defaults filled, draft model as a
    catalog id); absent when off."""
    launch: Launch | None = None
    """How to start one replica (engine command and flags); null in plans written before it existed."""
    sizing_margin: SizingMargin | None = None
    """The factors its workload's sizing_confidence applied; absent when sized at the point estimate."""
    ep: Parallel | None = None
    """Expert parallelism of a MoE replica: GPUs the routed experts are spread over as whole experts, with an
    all-to-all per MoE layer (vLLM --enable-expert-parallel, SGLang --ep-size, TRT-LLM --ep_size); absent: 1."""
    dp: Parallel | None = None
    """Attention data parallelism: ranks of tp x pp GPUs, each with its own sequences and KV cache (vLLM
    --data-parallel-size); a replica is tp x pp x dp GPUs; absent: 1."""

    @model_serializer(mode="wrap")
    def _omit_null_optional(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in DEPLOYMENT_OPTIONAL_KEYS and v is None)}


class ServerGroup(PlanModel):
    gpu: str
    server_model: str
    servers: Count
    gpus: Count
    gpus_per_server: Count
    server_max_power_w: Number
    rack_units: Count
    psu_count: Count | None
    psu_rating_w: Number | None
    psu_redundancy: str | None
    psu_efficiency_tier: str | None
    gpu_price_usd: Number
    server_price_usd: Number
    server_overhead_w_per_gpu: Number | None = None
    """Average non-GPU power of the server per GPU (CPUs, memory, NICs, fans, PSU loss), included in
    the deployments' powers; left out of plans that do not record it (see the "<gpu> server" assumption row)."""
    power_limit_w: Number | None = None
    """GPU power limit every GPU of these servers runs at, when below TDP (server_max_power_w is then the
    server's maximum at that limit); left out when the servers run at TDP."""

    @model_serializer(mode="wrap")
    def _omit_unrecorded(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items()
                if not (k in ("server_overhead_w_per_gpu", "power_limit_w") and v is None)}


class Rack(PlanModel):
    id: str
    gpu: str
    servers: Count
    power_nameplate_w: Number
    power_max_w: Number
    power_avg_w: Number
    usable_cap_w: Number
    """Rack breaker rating x derating (and the air-cooling limit when air cooled)."""
    heat_btu_per_hr: Number
    liquid_cooling_required: Flag
    power_limit_w: Number | None = None
    """GPU power limit of the rack's servers, when below TDP; left out when they run at TDP."""

    @model_serializer(mode="wrap")
    def _omit_unlimited(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k == "power_limit_w" and v is None)}


def _without_unset(model: BaseModel, data: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """``data`` without those of ``keys`` the model was not given: a plan read from a file written
    before those keys existed is written back byte for byte."""
    return {k: v for k, v in data.items() if k not in keys or k in model.model_fields_set}


CAPEX_LINE_TOTALS = frozenset({"network_capex_usd", "storage_capex_usd", "rack_capex_usd", "annual_support_usd"})
CAPEX_LINE_FINANCE = frozenset({"network_usd_per_server", "storage_usd_per_server", "rack_usd",
                                "support_share_per_year"})
ROADMAP_FINANCE_KEYS = frozenset({"discount_rate_per_year"})
"""Finance keys of a roadmap, left out when null (single-period plans keep their bytes)."""


class Totals(PlanModel):
    gpus: Count
    servers: Count
    racks: Count
    it_power_avg_w: Number
    it_power_max_w: Number
    it_power_nameplate_w: Number
    facility_power_avg_w: Number
    facility_power_max_w: Number
    heat_btu_per_hr: Number
    """At the expected peak IT power (all electrical input becomes heat)."""
    cooling_tons: Number
    annual_energy_kwh: Number
    """IT energy per year at the average traffic."""
    annual_facility_energy_kwh: Number
    annual_energy_cost_usd: Number
    annual_colocation_usd: Number
    capex_usd: Number
    """GPUs, servers, the servers' network and storage shares, racks and PDUs (the budget bounds this)."""
    tco_usd: Number
    """Capex + energy (+ colocation) + support over the amortization horizon."""
    tco_per_year_usd: Number
    co2e_t_per_year: Number
    output_tokens_per_year: Number
    usd_per_million_tokens: Number
    joules_per_output_token: Number
    """IT energy per output token at peak traffic (J); see joules_per_output_token_avg for the year."""
    joules_per_output_token_avg: Number = 0.0
    """Annual IT energy over annual output tokens (J): includes the idle share at average load."""
    output_tokens_per_s_per_kw: Number
    network_capex_usd: Number = 0.0
    """Capex share: the servers' network outside them (switch ports, optics, cables); 0 in plans
    written before the line existed (their capex_usd is GPUs and servers)."""
    storage_capex_usd: Number = 0.0
    """Capex share: the servers' shares of shared storage."""
    rack_capex_usd: Number = 0.0
    """Capex share: racks with their PDUs."""
    annual_support_usd: Number = 0.0
    """Hardware support per year (a share of the GPUs, servers, network and storage capex)."""
    sizing_margin: SizingMarginTotals | None = None
    """GPUs a workload's sizing_confidence adds versus sizing at the point estimate; absent without one."""

    @model_serializer(mode="wrap")
    def _capex_lines_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = _without_unset(self, handler(self), CAPEX_LINE_TOTALS)
        return {k: v for k, v in data.items() if not (k == "sizing_margin" and v is None)}


class Constraint(PlanModel):
    name: str
    kind: str
    limit: Number
    value: Number
    unit: str
    binding: Flag
    slack: Number


class Alternative(PlanModel):
    workload: str
    gpu: str
    precision: str
    tp: Count
    pp: Count
    batch_size: Count
    replicas_needed: Count
    objective_delta: Number
    """How much worse the objective would be serving this workload this way alone."""
    reason: str
    ep: Count | None = None
    """Expert parallelism of a MoE runner-up (absent: 1, left out of plan.json)."""
    dp: Count | None = None
    """Attention data-parallel ranks of a MoE runner-up (absent: 1, left out of plan.json)."""

    @model_serializer(mode="wrap")
    def _omit_plain_layout(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in ("ep", "dp") and v is None)}


NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "breaker_derating": (0.01, 1.0), "rack_power_cap_kw": (0.001, 1e6), "air_cooling_limit_kw": (0.001, 1e6),
    "pue": (1.0, 10.0), "amortization_years": (0.01, 100.0), "circuit_voltage_v": (1.0, 1e5),
    "circuit_phases": (1.0, 3.0), "power_factor": (0.01, 1.0), "carbon_year": (1900, 2200)}
"""Where a site or finance number of a plan can be (the fields below enforce these)."""


def _ranged(key: str) -> AfterValidator:
    return _between(*NUMBER_RANGES[key])


class MappingView:
    """Read-only dict-style access (``row.get("name")``, ``site["pue"]``, ``dict(site.items())``), as the
    1.x plan's free-form maps were read. Prefer attributes in new code; this keeps 1.x callers working."""

    def _as_dict(self) -> dict[str, Any]:
        return self.model_dump()  # type: ignore[attr-defined,no-any-return]

    def get(self, key: str, default: Any = None) -> Any:
        return self._as_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._as_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._as_dict()

    def keys(self) -> KeysView[str]:
        return self._as_dict().keys()

    def items(self) -> ItemsView[str, Any]:
        return self._as_dict().items()

    def values(self) -> ValuesView[Any]:
        return self._as_dict().values()


# -- site, finance, objective, workloads -------------------------------------------------------------

REPORT_ONLY_SITE_KEYS = ("pue_category", "circuit_voltage_v", "circuit_phases", "power_factor")
"""Site facts `planner solve` does not write (the scenario has no such keys yet); a plan written by
hand may state them for the report's circuit sizing. Left out of plan.json when not stated."""


class PlanSite(MappingView, PlanModel):
    """The scenario's ``site`` block as solved (same keys, units in the names)."""
    power_cap_kw: Number | None = None
    """Datacenter IT power available to this fleet (kW); null: no cap."""
    racks: Count | None = None
    """Racks available; null: no limit."""
    rack_power_cap_kw: Annotated[Number, _ranged("rack_power_cap_kw")]
    """Breaker rating of one rack's circuit (kW); usable = cap x breaker_derating."""
    breaker_derating: Annotated[Number, _ranged("breaker_derating")]
    rack_units: Count
    cooling: Literal["air", "liquid"]
    air_cooling_limit_kw: Annotated[Number, _ranged("air_cooling_limit_kw")]
    pue: Annotated[Number, _ranged("pue")]
    electricity_usd_per_kwh: Number
    carbon_g_per_kwh: Number
    carbon_source: str
    carbon_year: Annotated[Count | None, _ranged("carbon_year")] = None
    feeds: Literal["N", "2N"]
    pue_category: str | None = None
    """Green Grid measurement category (PUE0-3), when a hand-written plan states it (report only)."""
    circuit_voltage_v: Annotated[Number | None, _ranged("circuit_voltage_v")] = None
    """Line-to-line rack circuit voltage (report only; default in planner.report.constants)."""
    circuit_phases: Annotated[Count | None, _ranged("circuit_phases")] = None
    power_factor: Annotated[Number | None, _ranged("power_factor")] = None

    @model_serializer(mode="wrap")
    def _omit_unstated(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in REPORT_ONLY_SITE_KEYS and v is None)}


class PlanFinance(MappingView, PlanModel):
    """The scenario's ``finance`` block as solved, without the per-GPU price maps (see assumptions)."""
    amortization_years: Annotated[Number, _ranged("amortization_years")]
    colocation_usd_per_kw_month: Number | None = None
    budget_usd: Number | None = None
    """Capex budget (what totals.capex_usd counts); null: none."""
    network_usd_per_server: Number | None = None
    """The scenario's network share per server; null: the catalog's figure per server model."""
    storage_usd_per_server: Number | None = None
    """The scenario's storage share per server; null: the catalog's figure per server model."""
    rack_usd: Number | None = None
    """One rack with its PDUs; null in plans written before racks were priced."""
    support_share_per_year: Number | None = None
    """The scenario's support share per year; null: the catalog's figure per server model."""
    discount_rate_per_year: Number | None = None
    """A roadmap's discount rate per year (planner.roadmap); left out of plan.json when null."""

    @model_serializer(mode="wrap")
    def _capex_lines_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = _without_unset(self, handler(self), CAPEX_LINE_FINANCE)
        return {k: v for k, v in data.items() if not (k in ROADMAP_FINANCE_KEYS and v is None)}


class Objective(MappingView, PlanModel):
    """What the plan minimizes and its value."""
    name: str
    """min_tco, min_power, min_energy, min_gpus or min_carbon."""
    value: Number
    """In ``unit``: min_tco's is the TCO over the amortization horizon."""
    unit: str
    """USD, W, kWh/year, GPUs or tCO2e/year."""


class WorkloadRow(MappingView, PlanModel):
    """One workload of the scenario as solved (traffic, token lengths, SLOs), units in the names."""
    name: str
    model: str
    peak_requests_per_s: Number
    average_requests_per_s: Number
    """The scenario's average, or half the peak when it gives none."""
    input_tokens_mean: Number
    input_tokens_p95: Number
    """The scenario's p95, or the mean when it gives none."""
    output_tokens_mean: Number
    output_tokens_p95: Number
    ttft_p95_ms: Number | None = None
    """TTFT p95 SLO (ms); null: none."""
    itl_p95_ms: Number | None = None
    """ITL p95 SLO (ms); null: none."""
    redundancy: Count
    """Spare replicas kept (N+k)."""
    headroom: Number
    precisions: str
    """The precisions allowed, comma-separated ("bf16,fp8")."""


class Assumption(MappingView, PlanModel):
    """A constant, calibrated coefficient, catalog figure or solver note the plan rests on."""
    name: str
    value: str
    """As text: a figure (``"0.9"``) or a description."""
    unit: str
    source: str
    range: str
    """Plausible range ``"low-high"`` of a constant, or empty."""


# -- analysis: what-if values and objective alternatives -------------------------------------------

ObjectiveDeltaUnit = Literal["usd_per_year", "w", "kwh_per_year", "gpus", "t_co2e_per_year"]
OBJECTIVE_DELTA_UNITS: dict[str, ObjectiveDeltaUnit] = {
    "min_tco": "usd_per_year", "min_power": "w", "min_energy": "kwh_per_year", "min_gpus": "gpus",
    "min_carbon": "t_co2e_per_year"}
"""Unit of a what-if objective change per objective (per year: min_tco's TCO is spread over the horizon)."""
DELTA_KEY_PREFIX = "objective_delta_"


class WhatIf(MappingView, PlanModel):
    """The objective's change when one binding limit is relaxed one step (from a re-solve).

    1.x wrote the change under a key named for its unit (``objective_delta_usd_per_year``); 2.0 keeps
    that key and adds ``objective_delta`` and ``objective_unit``. Either form validates: the one given
    fills the other."""
    limit: str
    constraint: str
    """The constraint (plan ``constraints[].name``) relaxed."""
    change: str
    """What was relaxed, in words (``+10 % datacenter IT power``)."""
    method: str
    """How the value was found (``re-solve``)."""
    objective_delta: Number | None
    """Objective change of the relaxed re-solve (negative: better); null when it gave no proven optimum."""
    objective_unit: ObjectiveDeltaUnit
    objective_delta_usd_per_year: Number | None = None
    objective_delta_w: Number | None = None
    objective_delta_kwh_per_year: Number | None = None
    objective_delta_gpus: Number | None = None
    objective_delta_t_co2e_per_year: Number | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_both_forms(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        named = [k for k in data if isinstance(k, str) and k.startswith(DELTA_KEY_PREFIX)]
        if "objective_unit" not in data and len(named) == 1:  # a 1.x entry
            one_x_unit = named[0].removeprefix(DELTA_KEY_PREFIX)
            return {**data, "objective_unit": one_x_unit, "objective_delta": data[named[0]]}
        unit = data.get("objective_unit")
        if isinstance(unit, str) and f"{DELTA_KEY_PREFIX}{unit}" not in data and "objective_delta" in data:
            return {**data, f"{DELTA_KEY_PREFIX}{unit}": data["objective_delta"]}
        return data

    @model_validator(mode="after")
    def _forms_agree(self) -> WhatIf:
        for unit in OBJECTIVE_DELTA_UNITS.values():
            named = getattr(self, f"{DELTA_KEY_PREFIX}{unit}")
            if unit != self.objective_unit and named is not None:
                raise ValueError(f"{DELTA_KEY_PREFIX}{unit} is given, but objective_unit is {self.objective_unit!r}")
            if unit == self.objective_unit and named != self.objective_delta:
                raise ValueError(f"{DELTA_KEY_PREFIX}{unit} ({named}) differs from objective_delta "
                                 f"({self.objective_delta})")
        return self

    @model_serializer(mode="wrap")
    def _one_unit_key(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not isinstance(self, WhatIf):  # a plain dict put in place by model_copy: as it is
            return data
        keep = f"{DELTA_KEY_PREFIX}{self.objective_unit}"
        return {k: v for k, v in data.items() if not k.startswith(DELTA_KEY_PREFIX) or k == keep}


class ObjectiveAlternative(MappingView, PlanModel):
    """The plan re-solved under another objective (same candidates and limits)."""
    objective: str
    status: str
    """optimal or feasible (the solver's answer for that objective)."""
    tco_per_year_usd: Number
    it_power_max_w: Number
    it_power_nameplate_w: Number
    co2e_t_per_year: Number
    gpus: Count


AnalysisState = Literal["done", "skipped"]


class Analysis(PlanModel):
    """Whether the what-if re-solves and the objective alternatives were computed, and if not, why.

    An empty ``what_if`` list means "no binding limit to relax" when ``what_if`` is ``done``."""
    what_if: AnalysisState
    objective_alternatives: AnalysisState
    skipped_reason: str | None = None
    """Why the analysis was skipped (``--no-analysis was given``, ...); null when nothing was skipped."""

    @property
    def skipped(self) -> bool:
        return self.what_if == "skipped" or self.objective_alternatives == "skipped"


def _derived_analysis(data: dict[str, Any]) -> dict[str, Any]:
    """``analysis`` of a plan built without one: done when it lists results (what-if values and objective
    alternatives are computed together; what_if alone may be empty when no limit binds), no reason known."""
    state = "done" if data.get("what_if") or data.get("objective_alternatives") else "skipped"
    return {"what_if": state, "objective_alternatives": state, "skipped_reason": None}


class RoadmapTotals(PlanModel):
    """One period of a roadmap: its fleet, power and cost (USD of that period, undiscounted unless named)."""
    servers: Count
    """Servers installed on site."""
    gpus: Count
    """GPUs installed on site."""
    gpus_rented: Count
    racks: Count
    """Racks the period's fleet packs into."""
    it_power_nameplate_w: Number
    it_power_max_w: Number
    it_power_avg_w: Number
    power_cap_w: Number | None = None
    """The site's IT power in this period (null: no cap)."""
    racks_available: Count | None = None
    capex_usd: Number
    """Servers ordered in this period (with their network and storage shares) and racks built."""
    running_usd: Number
    """Energy, colocation and support of the installed fleet over the period."""
    rental_usd: Number
    resale_usd: Number
    """Resale value of the owned servers retired in this period."""
    cost_usd: Number
    """capex + running + rental - resale."""
    discounted_cost_usd: Number
    binding: list[str] = []
    """Limits the period's plan is within 2 % of (site_power, racks_total)."""


class RoadmapPeriod(PlanModel):
    """One period of a roadmap (planner.roadmap): what runs, what is installed, ordered, retired, rented."""
    label: str
    deployments: list[Deployment]
    """Every deployment of the period, rented ones on GPU ``<gpu>.cloud``."""
    installed: dict[str, Count]
    """GPU id -> servers installed on site."""
    purchases: dict[str, Count]
    """GPU id -> servers ordered in this period (they serve after the lead time)."""
    retirements: dict[str, Count]
    """GPU id -> owned servers retired in this period."""
    rentals: dict[str, Count]
    """Rented GPU option -> instances rented for the period."""
    totals: RoadmapTotals


class RoadmapWhatIf(PlanModel):
    """A site limit that binds in a roadmap, made one step larger from the period it first binds in, and
    the roadmap solved again (planner.roadmap.whatif)."""
    limit: str
    """The constraint relaxed (``site_power``, ``racks_total``)."""
    from_period: str
    """Label of the period the limit first binds in, from which it is relaxed."""
    change: str
    """The step in words (``+2 racks from 2027-Q2 (from 12 to 14)``)."""
    first_binds: str | None = None
    """Label of the period the relaxed limit first binds in (null: it no longer binds, or no answer)."""
    objective_delta: Number | None = None
    """Change of the roadmap's objective (negative: better); null when the re-solve proved no optimum."""
    objective_unit: str
    answer: str
    """The whole answer in words, as the report shows it."""


def serving_columns(deployments: list[Deployment]) -> dict[str, list[Any]]:
    """A deployment's serving decisions as flat columns of ``Plan.frames()["deployments"]``: role (aggregated
    where the plan records none), speculative_method and speculative_tokens (None when off), launch_command
    (Launch.command; None in plans written before deployments carried a launch spec), ep and dp (1 where the
    plan records none: a plain replica)."""
    return {"role": [getattr(d, "role", None) or "aggregated" for d in deployments],
            "speculative_method": [d.speculative.method if d.speculative else None for d in deployments],
            "speculative_tokens": [d.speculative.tokens_or_default if d.speculative else None for d in deployments],
            "launch_command": [d.launch.command if d.launch else None for d in deployments],
            "ep": [d.ep or 1 for d in deployments], "dp": [d.dp or 1 for d in deployments]}


class Plan(PlanModel):
    schema_version: str
    tool_version: str
    scenario: ScenarioRef
    input_sha256: InputHashes
    status: Status
    objective: Objective
    solver: Solver
    deployments: list[Deployment]
    servers: list[ServerGroup]
    racks: list[Rack]
    totals: Totals
    constraints: list[Constraint]
    alternatives: list[Alternative] = []
    site: PlanSite
    finance: PlanFinance
    workloads: list[WorkloadRow]
    assumptions: list[Assumption]
    """Every constant used, with its value, unit and source."""
    what_if: list[WhatIf] = []
    """Marginal value of relaxing each binding limit one step, from re-solves."""
    objective_alternatives: list[ObjectiveAlternative] = []
    """The plan re-solved under each objective (for the cost-versus-power Pareto view)."""
    analysis: Analysis
    """Whether what_if and objective_alternatives were computed or skipped (and why)."""
    periods: list[RoadmapPeriod] | None = None
    """A roadmap's periods (a scenario with ``horizon``); the sections above then describe the first
    period. Left out of plan.json for a single-period plan."""
    roadmap_what_if: list[RoadmapWhatIf] | None = None
    """A roadmap's what-if per period (``what_if`` above is single-period); left out of plan.json when null."""

    @model_serializer(mode="wrap")
    def _periods_when_a_roadmap(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in ("periods", "roadmap_what_if") and v is None)}

    @model_validator(mode="wrap")
    @classmethod
    def _analysis_when_not_given(cls, data: Any, handler: ModelWrapValidatorHandler[Plan]) -> Plan:
        # A plan constructed without ``analysis`` (by a plan builder that does not record one yet) gets
        # the state its lists show, and keeps ``analysis`` out of its set fields: plan.io re-derives it
        # when writing, after the what-if lists were added with model_copy.
        missing = isinstance(data, dict) and "analysis" not in data
        plan = handler({**data, "analysis": _derived_analysis(data)} if missing else data)
        if missing:
            plan.model_fields_set.discard("analysis")
        return plan

    def frames(self) -> dict[str, Any]:
        """The plan as pandas DataFrames: ``deployments`` (one row per deployment, every Deployment field:
        workload, model, gpu, precision, tp, replicas, gpus, ...), ``servers``, ``racks``, ``totals`` (one
        row) and ``constraints``; columns are the plan.json keys, so units are in the names. ``deployments`` also
        has the serving decisions flat (serving_columns): role, speculative_method, speculative_tokens and
        launch_command (one shell line)."""
        import pandas as pd  # only a caller who asks for frames pays for pandas

        tables: dict[str, tuple[type[PlanModel], list[PlanModel]]] = {
            "deployments": (Deployment, list(self.deployments)), "servers": (ServerGroup, list(self.servers)),
            "racks": (Rack, list(self.racks)), "totals": (Totals, [self.totals]),
            "constraints": (Constraint, list(self.constraints))}
        out = {name: pd.DataFrame([row.model_dump() for row in rows], columns=list(model.model_fields))
               for name, (model, rows) in tables.items()}
        out["deployments"] = out["deployments"].assign(**serving_columns(self.deployments))
        return out
