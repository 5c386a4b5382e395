"""Build the resolved problem once: scenario + override + catalogs + calibration -> Problem.

This is the last stage that reads a file (the calibration) or a raw scenario. Names go through
the catalog lookup (planner.scenario.names), defaults are applied, units converted once with the
factors of planner.units, and the input hashes taken from the bytes already read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from planner.calibration.coefficients import default_calibration_path, read_calibration_file
from planner.catalog.loader import Catalog
from planner.core.constants import server_overhead_w_per_gpu
from planner.errors import InputError
from planner.plan.hashing import input_hashes
from planner.problem.model import (
    Echo,
    GpuOption,
    Money,
    Problem,
    SiteLimits,
    Slo,
    TokenLengths,
    WorkloadDemand,
)
from planner.problem.sizing import with_sizing
from planner.scenario.load import LoadedScenario
from planner.scenario.names import ResolvedNames, check_names
from planner.schemas.calibration import Calibration
from planner.schemas.catalog import GpuSpec, Server
from planner.schemas.plan import InputHashes
from planner.schemas.scenario import Finance, Site, Workload
from planner.units import MONTHS_PER_YEAR, W_PER_KW, kw_to_w, ms_to_s


def _lengths(t: object) -> TokenLengths:
    return TokenLengths(mean=t.mean, p95=t.p95_or_mean)  # type: ignore[attr-defined]


def _slo(w: Workload) -> Slo:
    s = w.slo
    return Slo(ttft_p50_s=ms_to_s(s.ttft_p50_ms), ttft_p95_s=ms_to_s(s.ttft_p95_ms), ttft_p99_s=ms_to_s(s.ttft_p99_ms),
               itl_p50_s=ms_to_s(s.itl_p50_ms), itl_p95_s=ms_to_s(s.itl_p95_ms), itl_p99_s=ms_to_s(s.itl_p99_ms))


def workload_demand(w: Workload, model_id: str, draft_model_id: str | None = None) -> WorkloadDemand:
    t = w.traffic
    return WorkloadDemand(
        name=w.name, model_id=model_id, model_as_written=w.model, engine=w.engine,
        peak_requests_per_s=t.peak_requests_per_s, average_requests_per_s=t.average_or_default_requests_per_s,
        headroom=w.headroom, redundancy=w.redundancy, input_tokens=_lengths(t.input_tokens),
        output_tokens=_lengths(t.output_tokens), slo=_slo(w), precisions=tuple(w.precisions),
        max_tp=w.max_tp, max_pp=w.max_pp, prefix_cache_hit_rate=t.prefix_cache_hit_rate,
        speculative=None if w.speculative is None else w.speculative.resolved(draft_model_id),
        serving=tuple(w.serving))


def site_limits(site: Site) -> SiteLimits:
    return SiteLimits(
        power_cap_w=None if site.power_cap_kw is None else kw_to_w(site.power_cap_kw), racks=site.racks,
        rack_power_cap_w=kw_to_w(site.rack_power_cap_kw), breaker_derating=site.breaker_derating,
        rack_units=site.rack_units, cooling=site.cooling, air_cooling_limit_w=kw_to_w(site.air_cooling_limit_kw),
        pue=site.pue, electricity_usd_per_kwh=site.electricity_usd_per_kwh, carbon_g_per_kwh=site.carbon_g_per_kwh)


def money(fin: Finance) -> Money:
    colo = fin.colocation_usd_per_kw_month or 0.0
    return Money(amortization_years=fin.amortization_years,
                 colocation_usd_per_w_year=colo * MONTHS_PER_YEAR / W_PER_KW, budget_usd=fin.budget_usd,
                 rack_usd=fin.rack_usd)


def infrastructure(g: GpuSpec, fin: Finance) -> dict[str, float]:
    """The server's network and storage shares and its support share: the scenario's finance values,
    else the catalog's figures for the server model, else 0 (a user catalog without them)."""
    infra = _server(g).infrastructure
    figures = {"network_usd_per_server": fin.network_usd_per_server,
               "storage_usd_per_server": fin.storage_usd_per_server,
               "support_share_per_year": fin.support_share_per_year}
    return {key: float(value if value is not None else getattr(infra, key).value if infra is not None else 0.0)
            for key, value in figures.items()}


def infrastructure_notes(gpus: list[GpuOption], fin: Finance) -> list[str]:
    """GPUs whose server model has no infrastructure figures that the scenario does not replace."""
    given = None not in (fin.network_usd_per_server, fin.storage_usd_per_server, fin.support_share_per_year)
    return [] if given else [
        f"{g.id}: the catalog gives no network, storage or support figures for {g.server_model}; "
        "they count as 0 unless finance.network_usd_per_server, storage_usd_per_server and "
        "support_share_per_year set them" for g in gpus if g.server.infrastructure is None]


def _server(g: GpuSpec) -> Server:
    """``g``'s catalog server block: a solve's GPUs have one (allowed_gpus leaves the others out)."""
    assert g.server is not None, f"{g.id} has no catalog server block"
    return g.server


def _gpu_price(names: ResolvedNames, g: GpuSpec) -> float | None:
    override = names.gpu_prices_usd.get(g.id)
    if override is not None:
        return override
    return g.price.usd if g.price else None


def allowed_gpus(names: ResolvedNames, catalog: Catalog, file: str) -> tuple[list[GpuSpec], list[str]]:
    """GPUs the scenario allows, and notes on those left out: without ``hardware.gpus`` every priced
    datacenter GPU of the catalog (workstation and consumer cards only when listed)."""
    explicit = names.gpu_ids is not None
    ids = names.gpu_ids if names.gpu_ids is not None else tuple(catalog.gpus)
    notes: list[str] = []
    out = []
    for g in sorted((catalog.gpus[i] for i in set(ids)), key=lambda g: g.id):
        if not explicit and g.segment != "datacenter":
            notes.append(f"{g.id} left out: a {g.segment} GPU (list it in hardware.gpus to consider it)")
            continue
        if g.server is None:
            notes.append(no_server(g, explicit, file))
            continue
        if _gpu_price(names, g) is None:
            if explicit:
                raise InputError(f"{g.id} has no catalog price", file=file, key_path="finance.gpu_prices_usd",
                                 fix=f"add `{g.id}: <USD per GPU>`")
            notes.append(f"{g.id} left out: no price in the catalog (set finance.gpu_prices_usd to include it)")
            continue
        out.append(g)
    return out, notes


def no_server(g: GpuSpec, explicit: bool, file: str) -> str:
    """A GPU whose catalog entry has no ``server:`` block (enough for estimates and compare): listed in
    hardware.gpus it is an error saying which keys to add; otherwise the note on leaving it out."""
    keys = "model, gpus_per_server, max_power_w, rack_units, source"
    if explicit:
        raise InputError(f"{g.id} has no `server:` block in its catalog entry; a solve counts its servers, racks "
                         "and their power", file=file, key_path="hardware.gpus",
                         fix=f"add `server: {{{keys}}}` to {g.id}'s entry in your catalog (`planner catalog show "
                             f"h100-sxm` shows one), or remove {g.id} from hardware.gpus")
    return f"{g.id} left out: its catalog entry has no `server:` block ({keys}) to count servers and racks"


def gpu_option(g: GpuSpec, names: ResolvedNames, fin: Finance | None = None) -> GpuOption:
    """``g`` in its server (the catalog's, then ``hardware.servers``), at its prices and inventory."""
    srv, o = _server(g), names.servers.get(g.id)
    max_w = o.max_power_w if o and o.max_power_w else srv.max_power_w
    per_server = o.gpus_per_server if o and o.gpus_per_server else srv.gpus_per_server
    server_price = names.server_prices_usd.get(g.id)
    if server_price is None:
        server_price = o.price_usd if o and o.price_usd is not None else (srv.price_usd or 0.0)
    infra = infrastructure(g, fin or Finance())
    return GpuOption(id=g.id, spec=g, gpus_per_server=per_server, server_model=o.model if o and o.model else srv.model,
                     server_max_power_w=max_w, server_rack_units=o.rack_units if o and o.rack_units else srv.rack_units,
                     gpu_price_usd=float(_gpu_price(names, g) or 0.0), server_price_usd=float(server_price),
                     inventory_gpus=names.inventory_gpus.get(g.id),
                     overhead_w_per_gpu=server_overhead_w_per_gpu(max_w, per_server, g.tdp_w),
                     price_from_scenario=g.id in names.gpu_prices_usd,
                     network_usd_per_server=infra["network_usd_per_server"],
                     storage_usd_per_server=infra["storage_usd_per_server"],
                     support_share_per_year=infra["support_share_per_year"])


def power_limits(g: GpuSpec, fractions: Sequence[float]) -> tuple[tuple[float, ...], list[str]]:
    """The power limits (W, whole watts, highest first) ``hardware.power_limit_fractions`` offers for
    ``g``, and a note per fraction it does not: below the GPU's minimum, or the minimum is unknown."""
    if all(f >= 1.0 for f in fractions):
        return (g.tdp_w,), []
    low = g.power_limit_min_w
    if low is None:
        return (g.tdp_w,) if 1.0 in fractions else (), [
            f"{g.id}: runs at its full TDP ({g.tdp_w:g} W) only: the catalog gives no minimum power limit "
            "(power_limit_min_w), so hardware.power_limit_fractions below 1 are not offered for it"]
    offered, notes = [], []
    for f in fractions:
        limit_w = float(round(f * g.tdp_w))
        if limit_w < low.value:
            notes.append(f"{g.id}: power limit {f:g} x TDP = {limit_w:g} W is not offered: below the GPU's "
                         f"minimum {low.value:g} W ({low.source})")
        else:
            offered.append(limit_w)
    return tuple(sorted(set(offered), reverse=True)), notes


def gpu_options(gpus: list[GpuSpec], names: ResolvedNames, site: SiteLimits, fin: Finance | None = None,
                fractions: Sequence[float] = (1.0,)) -> tuple[list[GpuOption], list[tuple[str, str]], list[str]]:
    """The allowed GPUs as bought, each with the power limits offered for it at which one of its servers
    fits a rack; (GPU id, why) of those whose server fits no rack; notes on limits not offered."""
    out, left_out, notes = [], [], []
    for g in gpus:
        offered, why = power_limits(g, fractions)
        notes += why
        if not offered:
            notes.append(f"{g.id} left out: it accepts none of hardware.power_limit_fractions")
            continue
        option = gpu_option(g, names, fin)
        option = replace(option, power_limits_w=tuple(w for w in offered if site.servers_per_rack(option, w) >= 1))
        if not option.power_limits_w:
            lowest = option.server_max_power_at_w(offered[-1])
            left_out.append((g.id, f"one {option.server_model} draws up to "
                                   f"{lowest / W_PER_KW:.1f} kW, above a rack's usable "
                                   f"{site.usable_rack_w / W_PER_KW:.1f} kW (or needs more than {site.rack_units} U)"))
            continue
        out.append(option)
    return out, left_out, notes


def calibration_file(loaded: LoadedScenario, explicit: str | Path | None) -> Path | None:
    """The calibration a solve uses: ``--calibration``, else the scenario's (or its override's)
    ``calibration:`` key relative to the scenario file, else the shipped default when it exists."""
    if explicit:
        return Path(explicit)
    if loaded.calibration_path is not None:
        return loaded.calibration_path
    default = default_calibration_path()
    return default if default.is_file() else None


def read_calibration(path: Path | None) -> tuple[Calibration, bytes | None]:
    """The calibration and the bytes it was parsed from (None: the priors), read once."""
    if path is None:
        return Calibration(), None
    return read_calibration_file(path, missing_fix="fix the scenario's `calibration:` path, or run `planner calibrate`")


def _calibration_and_hashes(loaded: LoadedScenario, catalog: Catalog, explicit: str | Path | None
                            ) -> tuple[Calibration, Path | None, InputHashes]:
    """The calibration a solve of ``loaded`` uses, its file, and the input hashes, from one read."""
    path = calibration_file(loaded, explicit)
    cal, raw = read_calibration(path)
    return cal, path, input_hashes(loaded.raw_bytes, catalog, raw, loaded.override)


def input_hashes_of(loaded: LoadedScenario, catalog: Catalog, *, calibration: str | Path | None = None
                    ) -> InputHashes:
    """The input hashes a solve of ``loaded`` records: what `planner check` compares with a plan's."""
    return _calibration_and_hashes(loaded, catalog, calibration)[2]


def _origin(cal: Calibration) -> str:
    if not cal.coefficients:
        return "literature prior (no calibration file)"
    return f"fitted by planner calibrate on {cal.provenance.get('data_file', 'measurements')}"


def resolve_problem(loaded: LoadedScenario, catalog: Catalog, *, calibration: str | Path | None = None,
                    candidate_pruning: Literal["heuristic", "exact"] = "heuristic") -> Problem:
    """The one resolved problem of a loaded scenario (raises InputError naming file and key path)."""
    sc = loaded.scenario
    file = str(loaded.path)
    active = [w for w in sc.workloads if w.enabled]
    if not active:
        raise InputError("every workload is disabled", file=file, key_path="workloads",
                         fix="enable at least one workload (enabled: true)")
    names = check_names(loaded, catalog)
    cal, cal_path, hashes = _calibration_and_hashes(loaded, catalog, calibration)
    site = site_limits(sc.site)
    specs, notes = allowed_gpus(names, catalog, file)
    gpus, left_out, limit_notes = gpu_options(specs, names, site, sc.finance, sc.hardware.power_limit_fractions)
    more = [f"{gpu} left out: {why}" for gpu, why in left_out] + infrastructure_notes(gpus, sc.finance) + limit_notes
    return Problem(
        name=sc.name, description=sc.description, objective=sc.objective, file_name=loaded.path.name,
        override=loaded.override,
        workloads=tuple(with_sizing(workload_demand(w, names.models[w.name], names.draft_models.get(w.name)),
                                    w.sizing_confidence, catalog.model(names.models[w.name]), catalog.gpus.values())
                        for w in active),
        gpus=tuple(gpus), site=site, money=money(sc.finance), calibration=cal,
        calibration_file=cal_path.name if cal_path else None, calibration_origin=_origin(cal),
        hashes=hashes, catalog=catalog,
        echo=Echo(site=sc.site.model_dump(), finance={k: v for k, v in sc.finance.model_dump().items()
                                                      if not isinstance(v, dict)}),
        notes=tuple(notes + more), left_out=tuple(left_out), candidate_pruning=candidate_pruning)
