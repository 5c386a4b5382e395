"""The resolved problem: what every stage after the scenario reads, and nothing else.

Built once by planner.problem.build from a scenario (with its override), the catalogs and the
calibration: every name resolved to a catalog id, every default applied, every figure in SI units
(W, s, USD, requests/s) converted once, every input file hashed. Frozen: a what-if or an
infeasibility answer derives a relaxed copy with ``dataclasses.replace``; no stage after this one
reads a file or the raw scenario.

The rules that more than one stage needs (demand with headroom, N+k spare capacity, usable rack
power, servers per rack) are written here once, as properties and methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.schemas.calibration import Calibration
    from planner.schemas.catalog import GpuSpec, Psu, Server
    from planner.schemas.plan import InputHashes
    from planner.schemas.speculative import Speculative


@dataclass(frozen=True)
class TokenLengths:
    mean: float
    p95: float
    """The scenario's p95, or the mean when it gives none."""


@dataclass(frozen=True)
class MarginFactors:
    """How sizing at a confidence treats one GPU's estimates (docs/confidence.md): latencies x (1 + e),
    throughput / (1 + e), e the metric's expected error at the confidence."""

    ttft: float
    itl: float
    throughput: float
    group: str
    """The expected-error groups the factors come from (planner/data/expected_error.yaml)."""


@dataclass(frozen=True)
class SizingMargin:
    """A workload sized so its SLOs hold when the estimates err at the ``confidence`` quantile."""

    confidence: float
    by_gpu: tuple[tuple[str, MarginFactors], ...]
    """(GPU id, its factors), one per catalog GPU."""

    def factors(self, gpu_id: str) -> MarginFactors:
        return dict(self.by_gpu)[gpu_id]


@dataclass(frozen=True)
class Slo:
    """Latency promises in seconds (None: no promise)."""

    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    ttft_p99_s: float | None = None
    itl_p50_s: float | None = None
    itl_p95_s: float | None = None
    itl_p99_s: float | None = None

    def ttft_by_quantile(self) -> tuple[tuple[float, float | None], ...]:
        return (0.5, self.ttft_p50_s), (0.95, self.ttft_p95_s), (0.99, self.ttft_p99_s)


@dataclass(frozen=True)
class WorkloadDemand:
    """One enabled workload: traffic, promises and the choices it allows."""

    name: str
    model_id: str
    """Catalog id of the model."""
    model_as_written: str
    """The model name as the scenario writes it (echoed in the plan's workload rows)."""
    engine: str
    peak_requests_per_s: float
    average_requests_per_s: float
    headroom: float
    redundancy: int
    """k of N+k: spare replicas beyond what the required capacity needs."""
    input_tokens: TokenLengths
    output_tokens: TokenLengths
    slo: Slo
    precisions: tuple[str, ...]
    max_tp: int | None
    max_pp: int | None
    prefix_cache_hit_rate: float = 0.0
    """Share of prompt tokens a prefix cache serves (no prefill compute; still in KV memory)."""
    speculative: Speculative | None = None
    """Speculative decoding, defaults filled and the draft model a catalog id (None: off)."""
    serving: tuple[str, ...] = ("aggregated",)
    """Serving modes the optimizer may choose (workloads[].serving): aggregated, disaggregated."""
    sizing: SizingMargin | None = None
    """workloads[].sizing_confidence resolved per GPU (None: size at the point estimate)."""

    @property
    def aggregated(self) -> bool:
        """Aggregated replicas (prefill and decode on the same GPUs) may serve it."""
        return "aggregated" in self.serving

    @property
    def disaggregated(self) -> bool:
        """A prefill pool and a decode pool may serve it (planner.core.disaggregated)."""
        return "disaggregated" in self.serving

    @property
    def required_requests_per_s(self) -> float:
        """Capacity the fleet must hold for this workload: peak x (1 + headroom)."""
        return self.peak_requests_per_s * (1.0 + self.headroom)

    @property
    def average_to_peak(self) -> float:
        return self.average_requests_per_s / self.peak_requests_per_s

    @property
    def longest_tokens(self) -> float:
        """The p95 prompt plus p95 output: the sequence that must fit KV memory and the context."""
        return self.input_tokens.p95 + self.output_tokens.p95

    def spare_requests_per_s(self, per_replica_requests_per_s: Any) -> Any:
        """Capacity held back by the k spare replicas of a pool (works on floats and on linear
        expressions): a pool of n replicas serves (n - k) x its per-replica capacity."""
        return per_replica_requests_per_s * self.redundancy

    def capacity_after_spares(self, per_replica_requests_per_s: float, replicas: int) -> float:
        return per_replica_requests_per_s * replicas - self.spare_requests_per_s(per_replica_requests_per_s)

    def spare_replicas(self, pool_used: Any) -> Any:
        """The k spare replicas a pool keeps running when it is used (``pool_used`` 0 or 1: a float or
        a binary variable, so it works in linear expressions)."""
        return self.redundancy * pool_used

    @property
    def min_replicas(self) -> int:
        """A pool keeps k spares, so it needs at least k + 1 replicas."""
        return self.redundancy + 1

    def serving_replicas(self, replicas: int) -> int:
        """Replicas left serving with the k spares down (the design point of latency), at least one."""
        return max(replicas - self.redundancy, 1)

    def replicas_bound(self, per_replica_requests_per_s: float) -> int:
        """The most replicas of one configuration an optimal plan can use: enough for the required
        capacity alone, plus the k spares, plus one."""
        return math.ceil(self.required_requests_per_s / per_replica_requests_per_s) + self.min_replicas


@dataclass(frozen=True)
class GpuOption:
    """A GPU type the scenario allows, as bought: in its server, at its price, within its inventory."""

    id: str
    spec: GpuSpec
    gpus_per_server: int
    server_model: str
    server_max_power_w: float
    server_rack_units: int
    gpu_price_usd: float
    server_price_usd: float
    inventory_gpus: int | None
    overhead_w_per_gpu: float
    """Average non-GPU server power per GPU (planner.core.constants.server_overhead_w_per_gpu)."""
    price_from_scenario: bool = False
    """The GPU price is the scenario's (finance.gpu_prices_usd), not the catalog's."""
    network_usd_per_server: float = 0.0
    """The server's share of the network outside it (switch ports, optics, cables)."""
    storage_usd_per_server: float = 0.0
    """The server's share of shared storage."""
    support_share_per_year: float = 0.0
    """Hardware support per year as a share of the server's hardware capex (server_hardware_usd)."""
    power_limits_w: tuple[float, ...] = ()
    """GPU power limits the scenario offers for this GPU (hardware.power_limit_fractions x TDP, those the
    GPU accepts), highest first; empty: its TDP only."""

    @property
    def idle_w(self) -> float:
        return self.spec.idle_w

    @property
    def server(self) -> Server:
        """The catalog's server block: a GpuOption is built only for a GPU that has one
        (planner.problem.build.allowed_gpus leaves the others out with a note)."""
        srv = self.spec.server
        assert srv is not None, f"{self.id}: a GpuOption for a GPU without a catalog server block"
        return srv

    @property
    def psu(self) -> Psu | None:
        return self.server.psu

    @property
    def server_capex_usd(self) -> float:
        """One server with its GPUs."""
        return self.gpus_per_server * self.gpu_price_usd + self.server_price_usd

    @property
    def server_hardware_usd(self) -> float:
        """One server as bought with what it brings: its GPUs, the server, its network and storage shares."""
        return self.server_capex_usd + self.network_usd_per_server + self.storage_usd_per_server

    @property
    def support_usd_per_server_year(self) -> float:
        return self.support_share_per_year * self.server_hardware_usd

    @property
    def spare_gpu_w(self) -> float:
        """Draw of a bought GPU that serves nothing: idle plus its share of the server."""
        return self.idle_w + self.overhead_w_per_gpu

    @property
    def tdp_w(self) -> float:
        return self.spec.tdp_w

    @property
    def limits_w(self) -> tuple[float | None, ...]:
        """The GPU power limits offered for this GPU, highest first (None: its TDP, the only one by default)."""
        return self.power_limits_w or (None,)

    @property
    def offered_limits_w(self) -> tuple[float, ...]:
        """The GPU power limits offered, in W (the TDP for None), highest first."""
        return tuple(self.spec.tdp_w if w is None else w for w in self.limits_w)

    def server_max_power_at_w(self, power_limit_w: float | None = None) -> float:
        """Nameplate power of one server whose GPUs run at ``power_limit_w`` (None: at TDP). A GPU power
        limit is a hard cap, so the server's maximum falls by what its GPUs can no longer draw; the
        rest of the server is unchanged."""
        if power_limit_w is None:
            return self.server_max_power_w
        return self.server_max_power_w - self.gpus_per_server * max(self.spec.tdp_w - power_limit_w, 0.0)

    def is_limited(self, power_limit_w: float | None) -> bool:
        """A limit below the GPU's TDP (None and TDP itself are not limits)."""
        return power_limit_w is not None and power_limit_w < self.spec.tdp_w

    def pool_key(self, power_limit_w: float | None = None) -> str:
        """Name of this GPU's server pool at a power limit: the GPU id at TDP (a server runs one limit,
        so servers at different limits are different pools: ``h100-sxm-pl490w``)."""
        return f"{self.id}-pl{power_limit_w:.0f}w" if self.is_limited(power_limit_w) else self.id


@dataclass(frozen=True)
class ServerPool:
    """The servers of one GPU type running at one power limit (the unit servers and racks are bought in)."""

    gpu: GpuOption
    power_limit_w: float | None
    """None: at the GPU's TDP."""

    @property
    def key(self) -> str:
        return self.gpu.pool_key(self.power_limit_w)

    @property
    def limited(self) -> bool:
        return self.gpu.is_limited(self.power_limit_w)

    @property
    def server_max_power_w(self) -> float:
        return self.gpu.server_max_power_at_w(self.power_limit_w)


@dataclass(frozen=True)
class SiteLimits:
    """The site in SI units."""

    power_cap_w: float | None
    racks: int | None
    rack_power_cap_w: float
    breaker_derating: float
    rack_units: int
    cooling: Literal["air", "liquid"]
    air_cooling_limit_w: float
    pue: float
    electricity_usd_per_kwh: float
    carbon_g_per_kwh: float

    @property
    def derated_breaker_w(self) -> float:
        """The share of a rack's breaker planned for continuous load (NEC 210.19/210.20: 80 %)."""
        return self.rack_power_cap_w * self.breaker_derating

    @property
    def usable_rack_w(self) -> float:
        """Power one rack may carry: the derated breaker, and with air cooling at most what air removes."""
        usable = self.derated_breaker_w
        return min(usable, self.air_cooling_limit_w) if self.cooling == "air" else usable

    def breaker_for_usable_w(self, usable_w: float) -> float:
        """The breaker rating whose derated share is ``usable_w``."""
        return usable_w / self.breaker_derating

    @property
    def air_limit_binds(self) -> bool:
        """Air cooling, not the breaker, caps a rack."""
        return self.cooling == "air" and self.air_cooling_limit_w < self.derated_breaker_w

    def servers_per_rack(self, gpu: GpuOption, power_limit_w: float | None = None) -> int:
        """Servers of ``gpu`` one rack holds: by power at the servers' nameplate (at the GPUs' power
        limit; None: at TDP), and by rack units."""
        return min(math.floor(self.usable_rack_w / gpu.server_max_power_at_w(power_limit_w)),
                   self.rack_units // gpu.server_rack_units)

    def needs_liquid(self, nameplate_w: float) -> bool:
        return nameplate_w > self.air_cooling_limit_w


@dataclass(frozen=True)
class Money:
    amortization_years: float
    colocation_usd_per_w_year: float
    """Colocation charge per W of nameplate IT capacity per year (0 without one)."""
    budget_usd: float | None
    """Bounds the capex: GPUs, servers, network, storage, racks and PDUs (support is a running cost)."""
    rack_usd: float = 0.0
    """One rack with its PDUs."""


@dataclass(frozen=True)
class Echo:
    """The scenario's own site and finance values, as written (validated, defaults applied), for the
    plan's input sections; no stage computes with these."""

    site: dict[str, Any]
    finance: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    name: str
    description: str
    objective: str
    file_name: str
    """The scenario file's base name (the plan records no directory)."""
    override: str | None
    workloads: tuple[WorkloadDemand, ...]
    gpus: tuple[GpuOption, ...]
    """Allowed GPU types, sorted by id."""
    site: SiteLimits
    money: Money
    calibration: Calibration
    calibration_file: str | None
    """Base name of the calibration file (None: the priors)."""
    calibration_origin: str
    """Where the coefficients come from, for the plan's assumptions."""
    hashes: InputHashes
    catalog: Catalog
    echo: Echo
    notes: tuple[str, ...] = ()
    """GPUs left out and why, and other facts the plan should state."""
    left_out: tuple[tuple[str, str], ...] = ()
    """(GPU id, why) of the allowed GPUs left out because one of their servers fits no rack."""
    candidate_pruning: Literal["heuristic", "exact"] = "heuristic"
    """How dominated operating points are dropped before the solve (planner.candidates.prune)."""

    @cached_property
    def workloads_by_name(self) -> dict[str, WorkloadDemand]:
        return {w.name: w for w in self.workloads}

    @cached_property
    def gpus_by_id(self) -> dict[str, GpuOption]:
        return {g.id: g for g in self.gpus}

    def workload(self, name: str) -> WorkloadDemand:
        return self.workloads_by_name[name]

    def gpu(self, gpu_id: str) -> GpuOption:
        return self.gpus_by_id[gpu_id]

    @property
    def gpu_ids(self) -> tuple[str, ...]:
        return tuple(g.id for g in self.gpus)

    @cached_property
    def pools(self) -> tuple[ServerPool, ...]:
        """Every server pool the program may buy: each GPU at each power limit offered (GPU order, then
        the highest limit first); one pool per GPU, keyed by its id, when no limit is offered."""
        return tuple(ServerPool(g, limit) for g in self.gpus for limit in g.limits_w)

    @cached_property
    def pools_by_key(self) -> dict[str, ServerPool]:
        return {s.key: s for s in self.pools}

    @property
    def power_limited(self) -> bool:
        """Some GPU may run below its TDP (hardware.power_limit_fractions offers a lower limit)."""
        return any(s.limited for s in self.pools)

    def pool(self, gpu_id: str, power_limit_w: float | None = None) -> ServerPool:
        """The pool of ``gpu_id`` at a power limit (None: at TDP)."""
        return ServerPool(self.gpu(gpu_id), None if power_limit_w is None else float(power_limit_w))

    def with_site(self, **changes: Any) -> Problem:
        return replace(self, site=replace(self.site, **changes))

    def with_money(self, **changes: Any) -> Problem:
        return replace(self, money=replace(self.money, **changes))

    def with_gpu(self, gpu_id: str, **changes: Any) -> Problem:
        return replace(self, gpus=tuple(replace(g, **changes) if g.id == gpu_id else g for g in self.gpus))

    def with_workload(self, name: str, **changes: Any) -> Problem:
        return replace(self, workloads=tuple(replace(w, **changes) if w.name == name else w
                                             for w in self.workloads))

    def with_objective(self, objective: str) -> Problem:
        return replace(self, objective=objective)
