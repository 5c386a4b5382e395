"""Scenario schema: traffic, SLOs, hardware choices, site limits, finance, objective.

These key names are the public contract of ``scenarios/*.yaml``; ``planner schema scenario``
prints the JSON Schema generated from these models (field docstrings become descriptions).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from planner.schemas.base import StrictModel
from planner.schemas.catalog import Precision
from planner.schemas.roadmap import CloudOffer, Horizon, OwnedServers
from planner.schemas.speculative import Speculative

Objective = Literal["min_tco", "min_power", "min_energy", "min_gpus", "min_carbon"]
OBJECTIVES: tuple[str, ...] = ("min_tco", "min_power", "min_energy", "min_gpus", "min_carbon")
AVERAGE_TO_PEAK_DEFAULT = 0.5  # traffic.average_requests_per_s when omitted: half the peak
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
"""Scenario, override and workload names: they become folder and file names (plans/NAME-OVERRIDE/),
so no '/', no leading '.', nothing a shell or a file system reads specially."""
NAME_MAX_CHARS = 100
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS)]
# Upper bounds far above any real site, so that every figure the solver multiplies stays a finite
# float of sane size (1e308 passed `gt=0` and then broke the integer program or the totals).
MAX_LATENCY_MS = 1e8  # about a day
MAX_PRICE_USD = 1e9
MAX_GPUS = 10_000_000
MAX_POWER_KW = 1e7  # 10 GW
MIN_REQUESTS_PER_S = 1e-6  # one request in 11.6 days; less rounds to zero inside the solver
PriceUsd = Annotated[float, Field(ge=0, le=MAX_PRICE_USD)]


class TokenLength(StrictModel):
    mean: float = Field(ge=1, le=2_000_000)
    """Mean tokens per request."""
    p95: float | None = Field(None, ge=1, le=2_000_000)
    """95th percentile tokens per request (sizes KV memory and TTFT tails); default: the mean."""

    @model_validator(mode="after")
    def _p95_ge_mean(self) -> TokenLength:
        if self.p95 is not None and self.p95 < self.mean:
            raise ValueError(f"p95 ({self.p95}) must be >= mean ({self.mean})")
        return self

    @property
    def p95_or_mean(self) -> float:
        return self.p95 if self.p95 is not None else self.mean


def _as_length(v: object) -> object:
    return {"mean": v} if isinstance(v, int | float) and not isinstance(v, bool) else v


class Traffic(StrictModel):
    peak_requests_per_s: float = Field(ge=MIN_REQUESTS_PER_S, le=1e6)
    """Peak arrival rate the fleet must serve (requests per second)."""
    average_requests_per_s: float | None = Field(None, ge=MIN_REQUESTS_PER_S, le=1e6)
    """Average arrival rate over the year (sizes energy, cost and carbon). Default: half the peak."""
    input_tokens: TokenLength
    """Prompt length: a number (mean) or {mean, p95}."""
    output_tokens: TokenLength
    """Generated length: a number (mean) or {mean, p95}."""
    prefix_cache_hit_rate: float = Field(0.0, ge=0.0, lt=1.0)
    """Share of prompt tokens served from the engine's prefix cache (shared system prompts, multi-turn
    history): they take KV memory but no prefill compute. 0 (default): no prompt is cached."""

    _in = field_validator("input_tokens", mode="before")(_as_length)
    _out = field_validator("output_tokens", mode="before")(_as_length)

    @property
    def average_or_default_requests_per_s(self) -> float:
        """The average arrival rate, or half the peak when the scenario does not give one."""
        return self.average_requests_per_s if self.average_requests_per_s is not None \
            else AVERAGE_TO_PEAK_DEFAULT * self.peak_requests_per_s

    @property
    def average_to_peak(self) -> float:
        return self.average_or_default_requests_per_s / self.peak_requests_per_s

    @model_validator(mode="after")
    def _avg_le_peak(self) -> Traffic:
        if self.average_requests_per_s is not None and self.average_requests_per_s > self.peak_requests_per_s:
            raise ValueError("average_requests_per_s must not exceed peak_requests_per_s")
        return self


class Slo(StrictModel):
    """Latency promises. Omit TTFT for offline jobs; at least one of ITL/TTFT or neither (throughput only)."""

    ttft_p95_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)
    """Time to first token, 95th percentile, including queueing (ms)."""
    itl_p95_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)
    """Inter-token latency, 95th percentile (ms)."""
    ttft_p50_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)
    ttft_p99_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)
    itl_p50_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)
    itl_p99_ms: float | None = Field(None, gt=0, le=MAX_LATENCY_MS)


class Workload(StrictModel):
    name: Name
    enabled: bool = True
    """False leaves the workload out of the plan (an override can switch a model off)."""
    model: str
    """Model id or alias from the catalog (e.g. llama-3.1-70b, meta-llama/Llama-3.1-70B-Instruct)."""
    traffic: Traffic
    slo: Slo = Slo()
    precisions: list[Precision] = ["bf16", "fp8"]
    """Precisions the team accepts for this model; each GPU uses those it can run."""
    redundancy: int = Field(0, ge=0, le=100)
    """N+k: extra replicas beyond what peak demand needs (k). A workload with k > 0 runs one
    homogeneous pool (one configuration), so that losing any k replicas still leaves enough
    capacity; workloads with k = 0 may mix configurations and GPU types."""
    headroom: float = Field(0.0, ge=0, le=10)
    """Growth headroom: capacity >= peak x (1 + headroom)."""
    engine: Literal["vllm", "sglang", "trt-llm"] = "vllm"
    """Serving engine the estimates are calibrated for (per-engine coefficients where measured)."""
    max_tp: int | None = Field(None, ge=1, le=72)
    max_pp: int | None = Field(None, ge=1, le=16)
    speculative: Speculative | None = None
    """Speculative decoding: {method: draft | eagle | mtp, draft_model (draft only), tokens, acceptance_rate}.
    Off when absent. Acceptance defaults per method from published figures (docs/speculative.md)."""
    sizing_confidence: float | None = Field(None, ge=0.5, le=0.95)
    """Size capacity so the SLOs hold when the estimates err at this quantile of their held-out error (0.9: the
    90th percentile; docs/confidence.md): latencies inflated and throughput deflated per GPU before the SLO test
    and the capacity. None: size at the point estimate."""
    serving: list[Literal["aggregated", "disaggregated"]] = ["aggregated"]
    """Serving modes the optimizer may choose: aggregated (prefill and decode on the same replicas) and
    disaggregated (a prefill pool and a decode pool, the KV cache sent between them: docs/disaggregated.md)."""

    @field_validator("serving")
    @classmethod
    def _serving_modes(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one serving mode (aggregated, disaggregated)")
        return sorted(set(v), key=v.index)

    @model_validator(mode="after")
    def _disaggregated_without_speculation(self) -> Workload:
        if "disaggregated" in self.serving and self.speculative is not None:
            raise ValueError("serving: disaggregated with speculative decoding is not modeled (the decode pool's "
                             "estimate has no speculation); remove `disaggregated` from serving or `speculative`")
        return self

    @field_validator("precisions")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("list at least one precision")
        return sorted(set(v), key=v.index)


class ServerOverride(StrictModel):
    model: str | None = None
    gpus_per_server: int | None = Field(None, ge=1, le=72)
    max_power_w: float | None = Field(None, gt=0, le=1e6)
    rack_units: int | None = Field(None, ge=1, le=48)
    price_usd: float | None = Field(None, ge=0, le=MAX_PRICE_USD)


class Hardware(StrictModel):
    gpus: list[str] | None = None
    """Candidate GPU ids or aliases; default: every GPU in the catalog."""
    inventory: dict[str, Annotated[int, Field(le=MAX_GPUS)]] = {}
    """Maximum number of GPUs available per GPU type (GPUs, not servers)."""
    servers: dict[str, ServerOverride] = {}
    """Per GPU type, a server model that replaces the catalog's reference server."""
    power_limit_fractions: list[float] = [1.0]
    """GPU power limits the plan may set, as fractions of each GPU's TDP (e.g. [1.0, 0.85, 0.7]); each
    deployment runs at one of them (`nvidia-smi -pl`), a hard cap that also lowers its servers'
    nameplate power. A limit below a GPU's catalog minimum (power_limit_min_w) is not offered for it.
    Default [1.0]: full TDP only."""

    @field_validator("power_limit_fractions")
    @classmethod
    def _fractions_of_tdp(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("list at least one fraction of TDP (fix: [1.0] runs every GPU at its full TDP)")
        bad = [f for f in v if not 0.0 < f <= 1.0]
        if bad:
            raise ValueError(f"each fraction must be in (0, 1] of the GPU's TDP, got {bad[0]:g} "
                             "(fix: write 0.7 for a limit at 70 % of TDP)")
        return sorted(set(v), reverse=True)

    owned: list[OwnedServers] = []
    """Servers already installed (a roadmap, with ``horizon``): no purchase capex, retirement a decision."""
    lead_time_periods: int = Field(0, ge=0, le=120)
    """Periods between ordering servers and their serving (a roadmap, with ``horizon``)."""
    cloud: list[CloudOffer] = []
    """Rentable cloud instances per GPU type (a roadmap, with ``horizon``)."""

    @field_validator("inventory")
    @classmethod
    def _nonneg(cls, v: dict[str, int]) -> dict[str, int]:
        for k, n in v.items():
            if n < 0:
                raise ValueError(f"inventory of {k} must be >= 0, got {n}")
        return v


class Site(StrictModel):
    power_cap_kw: float | None = Field(None, gt=0, le=MAX_POWER_KW)
    """Datacenter IT power available to this fleet (kW, nameplate basis, after derating)."""
    racks: int | None = Field(None, ge=1, le=1_000_000)
    """Number of racks available."""
    rack_power_cap_kw: float = Field(40.0, gt=0, le=1000)
    """Breaker rating of one rack's circuit (kW); usable = cap x breaker_derating."""
    breaker_derating: float = Field(0.8, gt=0, le=1)
    """Continuous-load rule: plan at most this share of the breaker (NEC 210.19/210.20: 80 %)."""
    rack_units: int = Field(42, ge=1, le=60)
    """Usable rack units per rack."""
    cooling: Literal["air", "liquid"] = "air"
    air_cooling_limit_kw: float = Field(40.0, gt=0, le=1000)
    """Highest rack load air cooling can remove (kW); with cooling: air it caps every rack."""
    pue: float = Field(1.3, ge=1.0, le=3.0)
    """Power usage effectiveness: annual facility energy / IT energy."""
    electricity_usd_per_kwh: float = Field(0.10, ge=0, le=5)
    carbon_g_per_kwh: float = Field(390.0, ge=0, le=2000)
    """Location-based grid emission factor (gCO2e/kWh)."""
    carbon_source: str = "US average, EPA eGRID2022 (about 390 g/kWh); replace with your grid's factor"
    carbon_year: int | None = Field(None, ge=1990, le=2100)
    """Year the emission factor describes (GHG Protocol: always print factor, year and source)."""
    feeds: Literal["N", "2N"] = "2N"
    """Power feeds per rack: 2N means each of the A/B feeds carries the full load."""


DEFAULT_RACK_USD = 8000.0
"""finance.rack_usd when the scenario gives none."""
DEFAULT_RACK_USD_RANGE = (4000.0, 15000.0)
DEFAULT_RACK_USD_SOURCE = (
    "ESTIMATE: a 42-48U enclosure (1,500-3,000 USD list, e.g. APC NetShelter SX) with two metered or "
    "switched 3-phase rack PDUs (1,500-4,000 USD each, vendor list prices 2024-2026) and installation; "
    "a liquid-cooled rack (rear-door heat exchanger or CDU) costs several times more: set finance.rack_usd")


class Finance(StrictModel):
    gpu_prices_usd: dict[str, PriceUsd] = {}
    """Per-GPU price overrides (USD per GPU); default: the catalog's price."""
    server_prices_usd: dict[str, PriceUsd] = {}
    """Per-server price (without GPUs) overrides, keyed by GPU type."""
    amortization_years: float = Field(4.0, ge=0.1, le=15)
    colocation_usd_per_kw_month: float | None = Field(None, ge=0, le=1e5)
    """Colocation charge per kW of contracted (nameplate) IT capacity per month."""
    budget_usd: float | None = Field(None, gt=0, le=1e15)
    """Capex budget: everything the plan's capex_usd counts (GPUs, servers, their network and storage
    shares, racks and PDUs). Support is a yearly running cost, not capex: it is not in the budget."""
    network_usd_per_server: float | None = Field(None, ge=0, le=1e7)
    """Each server's share of the network outside it (switch ports, optics, cables), USD, for every
    GPU type; default: the catalog's figure for the server model (its `infrastructure:`)."""
    storage_usd_per_server: float | None = Field(None, ge=0, le=1e7)
    """Each server's share of shared storage, USD, for every GPU type; default: the catalog's figure."""
    rack_usd: float = Field(DEFAULT_RACK_USD, ge=0, le=1e7)
    """One rack with its PDUs, USD. Default 8,000: an ESTIMATE (plausible 4,000-15,000) for a 42-48U
    enclosure with two metered or switched 3-phase rack PDUs and installation (DEFAULT_RACK_USD_SOURCE);
    a liquid-cooled rack (rear-door heat exchanger or CDU) costs several times more: set it here."""
    support_share_per_year: float | None = Field(None, ge=0, le=1)
    """Hardware support per year as a share of the hardware capex (GPUs, servers, network, storage);
    default: the catalog's figure for the server model."""
    discount_rate_per_year: float | None = Field(None, ge=0, le=1)
    """Discount rate of a roadmap's costs (with ``horizon``; 0.08: 8 % a year); default 0."""


class Scenario(StrictModel):
    name: Name
    description: str = ""
    workloads: list[Workload] = Field(min_length=1)
    hardware: Hardware = Hardware()
    site: Site = Site()
    finance: Finance = Finance()
    objective: Objective = "min_tco"
    calibration: str | None = None
    """Path (relative to the scenario file) of a calibration YAML from `planner calibrate`."""
    overrides: dict[Name, dict] = {}  # type: ignore[type-arg]
    """Named patches merged into this document with `--override NAME` (workloads matched by name)."""
    horizon: Horizon | None = None
    """Periods to plan (a capacity roadmap, planner.roadmap); none: one period, as always."""

    @model_validator(mode="after")
    def _unique_workloads(self) -> Scenario:
        names = [w.name for w in self.workloads]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"workload names must be unique, repeated: {', '.join(dup)}")
        return self
