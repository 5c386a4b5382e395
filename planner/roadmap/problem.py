"""The resolved roadmap: one frozen Problem per period, the owned fleet, the cloud offers.

Built once from a loaded scenario with ``horizon``: the scenario's own Problem (planner.problem.build)
is the first period's, and each period's Problem is derived from it with ``dataclasses.replace``
(traffic grown or given, site limits and prices of that period, SLO changes). Every check that
needs several keys or the catalog is made here, once, with the key path and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from planner.catalog.loader import Catalog
from planner.errors import InputError, UnknownNameError
from planner.problem.build import gpu_option, resolve_problem
from planner.problem.model import GpuOption, Problem, WorkloadDemand
from planner.scenario.load import LoadedScenario
from planner.scenario.names import ResolvedNames, check_names
from planner.schemas.roadmap import Horizon, PricePath, SiteChange, SloChange
from planner.schemas.scenario import Scenario
from planner.units import HOURS_PER_YEAR, MONTHS_PER_YEAR, kw_to_w, ms_to_s

MONTHS_PER_PERIOD = {"quarter": 3, "month": 1}
MAX_PEAK_REQUESTS_PER_S = 1e6
"""The largest peak a workload's traffic may reach (the bound of workloads[].traffic.peak_requests_per_s)."""
ENERGY_OBJECTIVES = frozenset({"min_tco", "min_energy", "min_carbon"})
"""Objectives that count energy: those horizon.scale_down_idle applies to (planner.roadmap.scaledown)."""
CLOUD_SUFFIX = ".cloud"
"""A rented GPU type is a GPU option of its own, ``<gpu id>.cloud``, so it gets its own candidates."""


@dataclass(frozen=True)
class Period:
    index: int
    """0 for the first period."""
    label: str
    problem: Problem
    """The period's Problem: its running workloads, site limits and prices; owned and cloud GPU options added."""
    discount: float
    """Discount factor of costs paid in this period (at its start)."""


@dataclass(frozen=True)
class OwnedGroup:
    gpu: str
    servers: int
    life_periods: int
    resale_usd_per_server: float


@dataclass(frozen=True)
class CloudOption:
    gpu: str
    """The catalog GPU id."""
    option: str
    """The GPU option id of the rented instances (``<gpu>.cloud``)."""
    gpus_per_instance: int
    usd_per_hour: float
    pricing: Literal["reserved", "on_demand"]
    source: str


@dataclass(frozen=True)
class Roadmap:
    base: Problem
    periods: tuple[Period, ...]
    owned: tuple[OwnedGroup, ...]
    buyable: tuple[str, ...]
    """GPU ids the scenario allows buying (the base Problem's GPUs)."""
    onsite: tuple[str, ...]
    """GPU ids installed on site: the buyable ones and the owned ones."""
    cloud: tuple[CloudOption, ...]
    lead_time_periods: int
    period_years: float
    period_kind: str
    discount_rate_per_year: float
    shaped: frozenset[str] = frozenset()
    """Workloads with a daily shape (horizon.traffic.<w>.daily_shape)."""
    scale_down_idle: bool = False
    """Idle replicas of the shaped workloads are suspended in quiet hours (planner.roadmap.scaledown)."""

    @property
    def end_discount(self) -> float:
        """Discount factor at the end of the horizon (where what is still installed is valued)."""
        return (1.0 + self.discount_rate_per_year) ** -(len(self.periods) * self.period_years)


def _error(file: str, key_path: str, message: str, fix: str) -> InputError:
    return InputError(message, file=file, key_path=key_path, fix=fix)


def _catalog_gpu(catalog: Catalog, name: str, file: str, key_path: str) -> str:
    """The catalog id of an owned or rented GPU; it must have a server block (servers, racks and power count)."""
    try:
        g = catalog.gpu(name)
    except UnknownNameError as exc:
        raise _error(file, key_path, f"GPU {name!r} is not in the catalog",
                     exc.fix or "see `planner catalog gpus`") from None
    if g.server is None:
        keys = "model, gpus_per_server, max_power_w, rack_units, source"
        raise _error(file, key_path, f"{g.id} has no `server:` block in its catalog entry; a roadmap counts its "
                     "servers, racks and their power", f"add `server: {{{keys}}}` to {g.id}'s entry in your catalog")
    return g.id


def labels(h: Horizon) -> tuple[str, ...]:
    """One label per period: ``horizon.labels``, else counted on from ``horizon.start``, else P1, P2, ..."""
    if h.labels is not None:
        return tuple(h.labels)
    m = re.fullmatch(r"(\d{4})-Q([1-4])", h.start or "") if h.period == "quarter" else \
        re.fullmatch(r"(\d{4})-(\d{2})", h.start or "")
    if m is None:
        return tuple(f"{h.start}+{t}" if h.start and t else (h.start or f"P{t + 1}") for t in range(h.count))
    year, first, per_year = int(m.group(1)), int(m.group(2)) - 1, 4 if h.period == "quarter" else 12
    out = []
    for t in range(h.count):
        y, k = divmod(first + t, per_year)
        out.append(f"{year + y}-Q{k + 1}" if h.period == "quarter" else f"{year + y}-{k + 1:02d}")
    return tuple(out)


def check_horizon(sc: Scenario, file: str, lead_time: int) -> None:
    """Periods in order, lists of the horizon's length, known workloads, a lead time within the horizon."""
    h = sc.horizon
    assert h is not None
    n = h.count
    if h.labels is not None and (len(h.labels) != n or len(set(h.labels)) != n):
        raise _error(file, "horizon.labels", f"{len(h.labels)} labels for {n} periods, or a repeated label",
                     f"give {n} distinct labels, one per period, or leave labels out")
    horizon_changes: tuple[tuple[str, Sequence[SiteChange | SloChange]], ...] = (("site", h.site), ("slo", h.slo))
    for key, changes in horizon_changes:
        for i, ch in enumerate(changes):
            if ch.from_period > n:
                raise _error(file, f"horizon.{key}[{i}].from_period", f"period {ch.from_period} is beyond the "
                             f"horizon of {n} periods", f"use a period from 1 to {n}")
            if key == "site" and i and ch.from_period <= changes[i - 1].from_period:
                raise _error(file, f"horizon.site[{i}].from_period", f"periods out of order: {ch.from_period} "
                             f"after {changes[i - 1].from_period}", "list the site changes in period order, "
                             "each from a later period")
            if key == "slo" and i and ch.from_period < changes[i - 1].from_period:
                raise _error(file, f"horizon.slo[{i}].from_period", f"periods out of order: {ch.from_period} "
                             f"after {changes[i - 1].from_period}", "list the SLO changes in period order")
    names = {w.name for w in sc.workloads if w.enabled}
    for i, ch in enumerate(h.slo):
        if ch.workload not in names:
            raise _error(file, f"horizon.slo[{i}].workload", f"no enabled workload named {ch.workload!r}",
                         f"use one of {', '.join(sorted(names))}")
    if lead_time >= n:
        raise _error(file, "hardware.lead_time_periods", f"a lead time of {lead_time} periods is not shorter "
                     f"than the horizon of {n} periods: nothing ordered could serve",
                     f"use at most {n - 1}, or lengthen horizon.count")


def _price_path(path: PricePath | None, base: float, n: int, file: str, key: str) -> list[float]:
    if path is None:
        return [base] * n
    if path.usd is not None:
        if len(path.usd) != n:
            raise _error(file, f"{key}.usd", f"{len(path.usd)} prices for {n} periods", f"give {n} prices")
        return [float(v) for v in path.usd]
    return [base * (1.0 + path.change_per_period) ** t for t in range(n)]


def peaks(sc: Scenario, w: WorkloadDemand, file: str) -> list[float]:
    """The workload's peak per period (0: it does not run); a compounded growth that overflows is refused."""
    h = sc.horizon
    assert h is not None
    path = h.traffic.get(w.name)
    key = f"horizon.traffic.{w.name}"
    if path is None:
        return [w.peak_requests_per_s] * h.count
    if path.peak_requests_per_s is not None:
        if len(path.peak_requests_per_s) != h.count:
            raise _error(file, f"{key}.peak_requests_per_s", f"{len(path.peak_requests_per_s)} values for "
                         f"{h.count} periods", f"give {h.count} values (0 where the workload does not run)")
        bad = [v for v in path.peak_requests_per_s if not 0 <= v <= MAX_PEAK_REQUESTS_PER_S]
        if bad:
            raise _error(file, f"{key}.peak_requests_per_s", f"peak {bad[0]:g} requests/s is out of range",
                         f"use 0 to {MAX_PEAK_REQUESTS_PER_S:g}")
        return [float(v) for v in path.peak_requests_per_s]
    stop = path.stop_period if path.stop_period is not None else h.count
    if path.start_period > h.count or stop < path.start_period:
        raise _error(file, f"{key}.start_period", f"periods out of order: runs from {path.start_period} to {stop} "
                     f"in a horizon of {h.count}", "start within the horizon, and stop no earlier than the start")
    out = []
    for t in range(1, h.count + 1):
        runs = path.start_period <= t <= stop
        peak = w.peak_requests_per_s * (1.0 + path.growth_per_period) ** (t - path.start_period) if runs else 0.0
        if peak > MAX_PEAK_REQUESTS_PER_S:
            raise _error(file, f"{key}.growth_per_period", f"a growth of {path.growth_per_period:g} per period "
                         f"compounds to {peak:.3g} requests/s by period {t}, above {MAX_PEAK_REQUESTS_PER_S:g}",
                         f"lower the growth, or give explicit values in {key}.peak_requests_per_s")
        out.append(peak)
    return out


def _owned(sc: Scenario, catalog: Catalog, names: ResolvedNames, file: str) -> tuple[list[OwnedGroup], dict]:
    groups, options = [], {}
    for i, o in enumerate(sc.hardware.owned):
        gid = _catalog_gpu(catalog, o.gpu, file, f"hardware.owned[{i}].gpu")
        option = gpu_option(catalog.gpus[gid], names, sc.finance)
        servers = o.servers
        if servers is None:
            gpus = int(o.gpus or 0)
            if gpus % option.gpus_per_server:
                raise _error(file, f"hardware.owned[{i}].gpus", f"{gpus} GPUs are not whole {option.server_model} "
                             f"servers of {option.gpus_per_server} GPUs", "give a multiple, or servers instead")
            servers = gpus // option.gpus_per_server
        groups.append(OwnedGroup(gid, servers, o.remaining_life_periods, o.resale_usd_per_server))
        options[gid] = option
    return groups, options


def _cloud(sc: Scenario, catalog: Catalog, names: ResolvedNames, file: str) -> tuple[list[CloudOption], list]:
    offers, options, seen = [], [], set()
    for i, c in enumerate(sc.hardware.cloud):
        gid = _catalog_gpu(catalog, c.gpu, file, f"hardware.cloud[{i}].gpu")
        if gid in seen:
            raise _error(file, f"hardware.cloud[{i}].gpu", f"a second offer for {gid}", "keep one offer per GPU type")
        seen.add(gid)
        base = gpu_option(catalog.gpus[gid], names, sc.finance)
        option = replace(base, id=gid + CLOUD_SUFFIX, gpus_per_server=c.gpus_per_instance, gpu_price_usd=0.0,
                         server_price_usd=0.0, inventory_gpus=None, network_usd_per_server=0.0,
                         storage_usd_per_server=0.0, support_share_per_year=0.0)
        reserved = c.reserved_usd_per_hour is not None
        usd_per_hour = c.on_demand_usd_per_hour if c.reserved_usd_per_hour is None else c.reserved_usd_per_hour
        offers.append(CloudOption(gid, option.id, c.gpus_per_instance, float(usd_per_hour),
                                  "reserved" if reserved else "on_demand", c.source))
        options.append(option)
    return offers, options


def _site_at(sc: Scenario, base: Problem, t: int) -> Problem:
    site = base.site
    h = sc.horizon
    assert h is not None
    for ch in h.site:
        if ch.from_period <= t + 1:
            site = replace(site, power_cap_w=site.power_cap_w if ch.power_cap_kw is None else kw_to_w(ch.power_cap_kw),
                           racks=site.racks if ch.racks is None else ch.racks,
                           electricity_usd_per_kwh=site.electricity_usd_per_kwh if ch.electricity_usd_per_kwh
                           is None else ch.electricity_usd_per_kwh)
    return replace(base, site=site)


HOURS_PER_DAY = int(HOURS_PER_YEAR) // 365  # a daily shape has one factor per hour (8760 h / 365 days, planner.units)
SHAPE_PEAK_TOL = 1e-6
"""How far the busiest hour of a daily shape may be from 1 (the peak) and still count as the peak."""


def average_share(sc: Scenario, w: WorkloadDemand, file: str) -> float:
    """The workload's average traffic as a share of its peak: its daily shape's mean factor when it has
    one (checked: 24 factors from 0 to 1, the busiest 1), else the ratio its ``traffic`` states."""
    h = sc.horizon
    path = h.traffic.get(w.name) if h is not None else None
    shape = path.daily_shape if path is not None else None
    if shape is None:
        return w.average_to_peak
    key = f"horizon.traffic.{w.name}.daily_shape"
    if len(shape) != HOURS_PER_DAY:
        raise _error(file, key, f"{len(shape)} factors, not one per hour", f"give {HOURS_PER_DAY} factors")
    if any(not 0.0 <= f <= 1.0 for f in shape) or abs(max(shape) - 1.0) > SHAPE_PEAK_TOL:
        raise _error(file, key, f"factors from {min(shape):g} to {max(shape):g}: each hour is a share of the peak, "
                     "so they lie between 0 and 1 and the busiest hour is 1", "divide every factor by the largest")
    return sum(shape) / HOURS_PER_DAY


def _workloads_at(sc: Scenario, base: Problem, t: int, peak: dict[str, list[float]],
                  share: dict[str, float]) -> tuple[WorkloadDemand, ...]:
    h = sc.horizon
    assert h is not None
    out = []
    for w in base.workloads:
        p = peak[w.name][t]
        if p <= 0:
            continue
        slo = w.slo
        for ch in h.slo:
            if ch.workload == w.name and ch.from_period <= t + 1:
                slo = replace(slo, ttft_p95_s=slo.ttft_p95_s if ch.ttft_p95_ms is None else ms_to_s(ch.ttft_p95_ms),
                              itl_p95_s=slo.itl_p95_s if ch.itl_p95_ms is None else ms_to_s(ch.itl_p95_ms))
        out.append(replace(w, peak_requests_per_s=p, average_requests_per_s=share[w.name] * p, slo=slo))
    return tuple(out)


def _gpus_at(sc: Scenario, base: Problem, extra: list[GpuOption], t: int, file: str) -> tuple[GpuOption, ...]:
    h = sc.horizon
    assert h is not None
    out = []
    for g in base.gpus:
        gpu = _price_path(h.gpu_prices.get(g.id), g.gpu_price_usd, h.count, file, f"horizon.gpu_prices.{g.id}")[t]
        srv = _price_path(h.server_prices.get(g.id), g.server_price_usd, h.count, file,
                          f"horizon.server_prices.{g.id}")[t]
        out.append(replace(g, gpu_price_usd=gpu, server_price_usd=srv))
    return tuple(sorted(out + extra, key=lambda g: g.id))


def _every_gpu_note(gpu_types: int, periods: int) -> str:
    """Why a roadmap without hardware.gpus solves slowly (fuzz N5: the example without it stopped at the
    60 s time limit, 0.35 % from proven, 221 MB; with hardware.gpus [b200] 3.3 s; measured 2026-11-28)."""
    return (f"hardware.gpus not given: each of the catalog's {gpu_types} priced datacenter GPU types may be bought "
            f"in each of {periods} periods ({gpu_types * periods} purchase decisions); the program grows with both, "
            "so list the GPUs you would buy to solve faster")


def resolve_roadmap(loaded: LoadedScenario, catalog: Catalog, *, calibration: str | Path | None = None,
                    candidate_pruning: Literal["heuristic", "exact"] = "heuristic") -> Roadmap:
    """The roadmap of a scenario with ``horizon`` (raises InputError naming the key path)."""
    sc, file = loaded.scenario, str(loaded.path)
    h = sc.horizon
    if h is None:
        raise _error(file, "horizon", "the scenario has no horizon", "add `horizon:` with `count:` periods")
    check_horizon(sc, file, sc.hardware.lead_time_periods)
    for name in h.traffic:
        if name not in {w.name for w in sc.workloads if w.enabled}:
            raise _error(file, f"horizon.traffic.{name}", f"no enabled workload named {name!r}",
                         "use the name of a workload under workloads")
    base = resolve_problem(loaded, catalog, calibration=calibration, candidate_pruning=candidate_pruning)
    names = check_names(loaded, catalog)
    if names.gpu_ids is None:
        base = replace(base, notes=(*base.notes, _every_gpu_note(len(base.gpu_ids), h.count)))
    owned, owned_options = _owned(sc, catalog, names, file)
    cloud, cloud_options = _cloud(sc, catalog, names, file)
    extra = [o for gid, o in sorted(owned_options.items()) if gid not in base.gpus_by_id] + cloud_options
    peak = {w.name: peaks(sc, w, file) for w in base.workloads}
    share = {w.name: average_share(sc, w, file) for w in base.workloads}
    years = MONTHS_PER_PERIOD[h.period] / MONTHS_PER_YEAR
    rate = sc.finance.discount_rate_per_year or 0.0
    periods = []
    for t, label in enumerate(labels(h)):
        workloads = _workloads_at(sc, base, t, peak, share)
        if not workloads:
            raise _error(file, "horizon.traffic", f"no workload runs in period {t + 1} ({label})",
                         "start a workload earlier or shorten the horizon")
        p = replace(_site_at(sc, base, t), workloads=workloads, gpus=_gpus_at(sc, base, extra, t, file))
        periods.append(Period(t, label, p, (1.0 + rate) ** -(t * years)))
    onsite = tuple(sorted(set(base.gpu_ids) | set(owned_options)))
    shaped = frozenset(name for name, path in h.traffic.items() if path.daily_shape is not None)
    if h.scale_down_idle and not shaped:
        raise _error(file, "horizon.scale_down_idle", "no workload has a daily shape, so no hour is quieter than "
                     "the average", "give horizon.traffic.<workload>.daily_shape, or drop scale_down_idle")
    if h.scale_down_idle and sc.objective not in ENERGY_OBJECTIVES:
        raise _error(file, "horizon.scale_down_idle", f"objective {sc.objective} does not count energy, so "
                     "suspending idle replicas changes nothing it weighs", f"use one of "
                     f"{', '.join(sorted(ENERGY_OBJECTIVES))}, or drop scale_down_idle")
    return Roadmap(base=base, periods=tuple(periods), owned=tuple(owned), buyable=base.gpu_ids, onsite=onsite,
                   cloud=tuple(cloud), lead_time_periods=sc.hardware.lead_time_periods, period_years=years,
                   period_kind=h.period, discount_rate_per_year=rate, shaped=shaped,
                   scale_down_idle=h.scale_down_idle)
