"""Scenario keys of a capacity roadmap: ``horizon``, ``hardware.owned``, ``hardware.cloud``.

A scenario with ``horizon`` is planned over several periods in one integer program
(planner.roadmap); without it the scenario is one period and solves exactly as before. These
models check types and ranges; the checks that need the catalog or several keys at once (an owned
GPU the catalog lacks, a lead time longer than the horizon, periods out of order, a growth rate
whose compounded traffic overflows) are made once in planner.roadmap.problem, with the key path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.base import StrictModel

MAX_PERIODS = 120
"""Ten years of months: far beyond a useful roadmap, small enough to keep the program small."""
MAX_GROWTH_PER_PERIOD = 100.0
"""+10,000 % a period; whether the compounded traffic stays finite is checked against the horizon."""
MAX_USD = 1e9
MAX_USD_PER_HOUR = 1e4


class TrafficPath(StrictModel):
    """One workload's traffic over the horizon: the workload's ``traffic`` in its first period,
    then grown by ``growth_per_period`` each period, or explicit peaks per period."""

    growth_per_period: float = Field(0.0, ge=-0.99, le=MAX_GROWTH_PER_PERIOD)
    """Share by which peak and average traffic grow each period, compounded (0.12: +12 % a period)."""
    peak_requests_per_s: list[float] | None = None
    """Explicit peak per period (one value per period; 0: the workload does not run that period). The
    average keeps the ratio to the peak of the workload's ``traffic``."""
    start_period: int = Field(1, ge=1, le=MAX_PERIODS)
    """First period the workload runs (1: from the start); a launch later in the horizon."""
    stop_period: int | None = Field(None, ge=1, le=MAX_PERIODS)
    """Last period the workload runs (None: to the end of the horizon)."""
    daily_shape: list[float] | None = None
    """24 hourly factors, each the hour's traffic as a share of the peak (the busiest hour is 1). The
    day's mean factor then sets the average traffic (energy, cost, carbon) in every period, instead
    of the ratio of the workload's ``traffic.average_requests_per_s`` to its peak."""


class PricePath(StrictModel):
    """A price over the horizon: a change per period (compounded from the catalog's or the
    scenario's price), or explicit prices per period."""

    change_per_period: float = Field(0.0, ge=-0.9, le=10.0)
    """Share by which the price changes each period (-0.05: 5 % cheaper every period)."""
    usd: list[float] | None = None
    """Explicit price per period (USD; one value per period)."""


class SiteChange(StrictModel):
    """Site limits that change from one period on (a hall that comes online, a new power contract)."""

    from_period: int = Field(ge=1, le=MAX_PERIODS)
    power_cap_kw: float | None = Field(None, gt=0, le=1e7)
    """Datacenter IT power from this period on (kW)."""
    racks: int | None = Field(None, ge=1, le=1_000_000)
    """Racks available from this period on."""
    electricity_usd_per_kwh: float | None = Field(None, ge=0, le=5)
    """Electricity price from this period on."""


class SloChange(StrictModel):
    """A workload's latency promise that changes from one period on."""

    from_period: int = Field(ge=1, le=MAX_PERIODS)
    workload: str
    ttft_p95_ms: float | None = Field(None, gt=0, le=1e8)
    itl_p95_ms: float | None = Field(None, gt=0, le=1e8)


class Horizon(StrictModel):
    """The periods a roadmap plans (``planner solve`` then plans each period and what to buy when)."""

    period: Literal["quarter", "month"] = "quarter"
    count: int = Field(ge=1, le=MAX_PERIODS)
    """Number of periods."""
    start: str | None = None
    """Name of the first period, for labels (e.g. 2027-Q1); default: P1, P2, ..."""
    labels: list[str] | None = None
    """One label per period (default: from ``start``, or P1, P2, ...)."""
    traffic: dict[str, TrafficPath] = {}
    """Per workload name; a workload not listed keeps its ``traffic`` in every period."""
    gpu_prices: dict[str, PricePath] = {}
    """Per GPU type: its price per GPU over the horizon (default: constant)."""
    server_prices: dict[str, PricePath] = {}
    """Per GPU type: its server price (without GPUs) over the horizon (default: constant)."""
    site: list[SiteChange] = []
    """Site limits that change, in period order."""
    slo: list[SloChange] = []
    """SLO changes, in period order."""
    scale_down_idle: bool = False
    """Suspend the replicas a workload's hourly traffic does not need (its N+k spares stay up), in
    every workload with a ``traffic.<w>.daily_shape``: lowers average power, energy, cost and carbon."""


class OwnedServers(StrictModel):
    """Servers already installed and paid for: no purchase capex; their power, racks and running
    costs count while they are kept, and retiring them is a decision (it brings the resale value)."""

    gpu: str
    """GPU id or alias from the catalog."""
    servers: int | None = Field(None, ge=1, le=1_000_000)
    gpus: int | None = Field(None, ge=1, le=10_000_000)
    """GPUs instead of servers (a whole number of servers)."""
    remaining_life_periods: int = Field(ge=1, le=MAX_PERIODS)
    """Periods the servers may still run (they are retired after that)."""
    resale_usd_per_server: float = Field(0.0, ge=0, le=MAX_USD)
    """What one server fetches when it is retired, or is worth at the end of the horizon (book or
    resale value; 0: none)."""

    @model_validator(mode="after")
    def _one_count(self) -> OwnedServers:
        if (self.servers is None) == (self.gpus is None):
            raise ValueError("give either servers or gpus (one of them)")
        return self


class CloudOffer(StrictModel):
    """Rented instances of one GPU type, an alternative to buying in any period."""

    gpu: str
    """GPU id or alias from the catalog."""
    gpus_per_instance: int = Field(8, ge=1, le=72)
    on_demand_usd_per_hour: float = Field(gt=0, le=MAX_USD_PER_HOUR)
    """Price of one instance per hour, on demand."""
    reserved_usd_per_hour: float | None = Field(None, gt=0, le=MAX_USD_PER_HOUR)
    """Price of one instance per hour when reserved for a whole period (default: on demand)."""
    source: str = Field(min_length=1)
    """Where the prices come from (provider price page and date)."""
