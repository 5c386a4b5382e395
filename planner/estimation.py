"""Public estimation API: ``estimate`` for one configuration, ``estimate_table`` for many.

(Not ``planner/estimate.py``: a submodule of that name would replace the function ``planner.estimate``
on the package as soon as anything imported it.)

The boundary where names, paths and the shipped files are resolved: the catalog (loaded once per
process when none is given) and the calibration (a Calibration object, a file path, or None for the
shipped file). The arithmetic is the pure core's (planner.core.inputs), which takes values only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import Catalog, load_catalog
from planner.core.constants import DEFAULT_ENGINE, server_overhead_w_per_gpu
from planner.core.features import precision_path, tp_splits_heads
from planner.core.inputs import (
    CONFIG_COLUMNS,
    InputTables,
    build_inputs,
    canonical_engine,
    estimate_arrays,
    estimate_tables,
    input_tables,
)
from planner.core.speculative import estimate_speculative
from planner.errors import DoesNotFitError, InputError, ParameterError, UnsupportedPrecisionError, shown
from planner.schemas.calibration import Calibration
from planner.schemas.catalog import PRECISIONS
from planner.schemas.speculative import Speculative, speculative_problems
from planner.units import BTU_PER_HR_PER_W, S_PER_HOUR, kwh_per_million_tokens

__all__ = ["MAX_BATCH", "MAX_POWER_LIMIT_W", "MAX_TOKENS", "Estimate", "estimate", "estimate_table",
           "smallest_fitting_tp"]

CalibrationArg = Calibration | str | Path | None
"""A Calibration object, the path of a calibration file, or None for the shipped file."""

_catalog_cache: dict[tuple[str, ...], Catalog] = {}


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    key: tuple[str, ...] = ()
    if key not in _catalog_cache:
        _catalog_cache[key] = load_catalog()
    return _catalog_cache[key]


def _calibration(calibration: CalibrationArg) -> Calibration:
    """The Calibration object of a public call: as given, read from its file, or the shipped one."""
    return calibration if isinstance(calibration, Calibration) else load_calibration(calibration)[0]


@dataclass(frozen=True)
class Estimate:
    """One configuration's estimate. SI units; ``*_s`` seconds, ``*_w`` watts, ``*_j`` joules."""

    model: str
    gpu: str
    precision: str
    tp: int
    pp: int
    num_gpus: int
    input_tokens: float
    output_tokens: float
    fits_memory: bool
    memory_per_gpu_bytes: float
    weights_per_gpu_bytes: float
    max_batch_size: int
    batch_size: float
    """Sequences in flight: the batch asked for (or the offline batch), a whole number; with an arrival
    rate, the achieved mean."""
    batch_fits_memory: bool
    ttft_s: float
    itl_s: float
    itl_p95_s: float
    output_tokens_per_s: float
    requests_per_s: float
    power_per_gpu_w: float
    power_total_w: float
    peak_power_total_w: float
    energy_per_output_token_j: float
    heat_btu_per_hr: float
    weight_only: bool
    tdp_w: float
    warnings: tuple[str, ...] = field(default=())
    prefix_cache_hit_rate: float = 0.0
    """Share of prompt tokens served from the prefix cache (no prefill compute)."""
    arrival_requests_per_s: float | None = None
    """Poisson arrival rate the latencies under load are for (None: no arrival rate; the fields below
    are None). With one, ``batch_size`` is the achieved mean number of sequences in flight,
    ``output_tokens_per_s`` the served rate x output tokens, ``itl_s``/``itl_p95_s`` at that batch, the
    power, heat and energy fields at that load (busy 1 - exp(-batch_size) of the time, idle otherwise;
    ``peak_power_total_w`` stays the concurrency cap's), ``ttft_s`` still a request's TTFT at the
    concurrency cap without queueing (the ``ttft_*`` fields below are under load) and
    ``requests_per_s`` still the saturated rate."""
    concurrency_cap: int | None = None
    """The engine's concurrency cap under load (the batch_size asked for, or the memory limit)."""
    saturated: bool | None = None
    """The arrival rate is at or above what the replica serves: TTFTs under load are infinite (ITL is
    the full batch's)."""
    ttft_mean_s: float | None = None
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    ttft_p99_s: float | None = None
    itl_mean_s: float | None = None
    prefill_flops: float = 0.0
    """FLOPs of one request's prefill on the whole replica (prompt tokens not served by the prefix cache)."""
    decode_flops_per_token: float = 0.0
    """FLOPs of one decoded token on the whole replica, at the mean context."""
    prefill_energy_j: float = 0.0
    """GPU energy of one request's prefill (replica), at the evaluated point: what a step carrying the
    prompt costs beyond a decode-only step."""
    decode_energy_per_token_j: float = 0.0
    """GPU energy of one decoded token (replica) in a decode-only step at the evaluated batch."""
    energy_breakdown_j_per_token: Mapping[str, float] = field(default_factory=dict)
    """``energy_per_output_token_j`` by cause: ``static`` (idle plus the base draw while kernels run),
    ``memory`` (DRAM traffic), ``compute`` (tensor math), ``communication`` (tensor-parallel links); the
    parts sum to the total. GPU basis."""
    kwh_per_million_output_tokens: float = 0.0
    """GPU energy, same basis as ``energy_per_output_token_j``."""
    output_tokens_per_s_per_w: float = 0.0
    """Output tokens per second per watt of GPU power (replica). The energy figures are for the evaluated
    batch; with an arrival rate, at that load (as ``power_per_gpu_w``; at the concurrency cap when saturated).
    ``prefill_energy_j`` and ``decode_energy_per_token_j`` stay the concurrency cap's."""
    node_power_w: float = 0.0
    """Node level: one server whose GPUs all run this configuration, GPU power plus the server's
    non-GPU share per GPU (CPUs, NICs, fans; planner.core.constants.server_overhead_w_per_gpu)."""
    speculative: Mapping[str, Any] | None = None
    """Speculative decoding settings estimated (method, draft_model, tokens, acceptance_rate; defaults
    filled), or None. With them, ITL is the time per output token and the memory includes the drafter."""
    expected_tokens_per_step: float = 1.0
    """Tokens a sequence advances per step: (1 - a^(k+1)) / (1 - a) with speculative decoding, else 1."""
    ep: int = 1
    """Expert parallelism: GPUs the routed experts are spread over as whole experts (1: every expert
    sliced by tensor parallelism), with an all-to-all dispatch and combine per MoE layer."""
    dp: int = 1
    """Attention data parallelism: ranks of tp x pp GPUs, each with its own sequences and KV cache (the
    replica has tp x pp x dp GPUs; batch_size is the replica's)."""
    expected_error: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per metric (throughput, ttft, itl, power, energy_per_token): the median (``p50_pct``) and 90th-percentile
    (``p90_pct``) absolute relative error of held-out estimates like this one, their number ``n`` and the
    ``group`` (GPU architecture / model class / size band) they come from (planner/data/expected_error.yaml;
    docs/confidence.md). Empty when the table is absent."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        d["energy_breakdown_j_per_token"] = dict(self.energy_breakdown_j_per_token)
        return d


BREAKDOWN = ("static", "memory", "compute", "communication")
"""Keys of ``energy_breakdown_j_per_token``; the core's columns are ``energy_<key>_j_per_token``."""


def energy_figures(r: Mapping[str, Any]) -> dict[str, Any]:
    """The per-phase and per-cause energy figures of one estimated configuration (a row of the core's
    output), as the Estimate fields of the same names."""
    e = float(r["energy_per_output_token_j"])
    return {"prefill_flops": float(r["prefill_flops"]), "decode_flops_per_token": float(r["decode_flops_per_token"]),
            "prefill_energy_j": float(r["prefill_energy_j"]),
            "decode_energy_per_token_j": float(r["decode_energy_per_token_j"]),
            "energy_breakdown_j_per_token": {k: float(r[f"energy_{k}_j_per_token"]) for k in BREAKDOWN},
            "kwh_per_million_output_tokens": kwh_per_million_tokens(e),
            "output_tokens_per_s_per_w": float(r["output_tokens_per_s"]) / float(r["power_total_w"])}


def node_power_w(power_per_gpu_w: Any, gpu: Any) -> Any:
    """Power of one server whose GPUs all draw ``power_per_gpu_w``: GPUs plus the non-GPU share (NaN for a
    GPU whose catalog entry has no server)."""
    if getattr(gpu, "server", None) is None:
        return power_per_gpu_w * math.nan
    per_server = gpu.server.gpus_per_server
    overhead = server_overhead_w_per_gpu(gpu.server.max_power_w, per_server, gpu.tdp_w)
    return (power_per_gpu_w + overhead) * per_server


_DEFAULTS: dict[str, Any] = {"precision": "bf16", "tp": 1, "pp": 1, "batch_size": np.nan, "engine": DEFAULT_ENGINE,
                             "prefill_chunk_tokens": np.nan}


def _columns(configs: Any) -> dict[str, np.ndarray]:
    """Accept a pandas DataFrame, a mapping of columns, or an iterable of row mappings."""
    if hasattr(configs, "to_dict") and hasattr(configs, "columns"):
        cols = {c: configs[c].to_numpy() for c in configs.columns}
    elif isinstance(configs, Mapping):
        cols = {k: np.asarray(v) for k, v in configs.items()}
    else:
        rows = list(configs)
        present = [k for k in CONFIG_COLUMNS if any(k in r for r in rows)]
        cols = {k: np.asarray([r.get(k, _DEFAULTS.get(k)) for r in rows]) for k in present}
    missing = [k for k in ("model", "gpu", "input_tokens", "output_tokens") if k not in cols]
    if missing:
        raise InputError(f"configuration table lacks column(s) {', '.join(missing)}")
    n = len(cols["model"])
    for k, v in _DEFAULTS.items():
        if k not in cols:
            cols[k] = np.full(n, v, dtype=object if isinstance(v, str) else float)
    return cols


SpeculativeArg = Speculative | Mapping[str, Any] | None
"""Speculative decoding settings: a Speculative, a mapping of its keys ({"method": "eagle", ...}), or None."""


def resolve_speculative(spec: SpeculativeArg, cat: Catalog, model_id: str,
                        pp: int = 1) -> tuple[Speculative | None, Any]:
    """``spec`` checked against the model (and its draft), defaults filled, the draft model as its
    catalog id; and the draft's catalog spec. InputError naming the key and the fix when impossible."""
    if spec is None:
        return None, None
    if not isinstance(spec, Speculative):
        from pydantic import ValidationError

        try:
            spec = Speculative.model_validate(dict(spec))
        except ValidationError as exc:
            invalid = "; ".join(f"speculative.{'.'.join(str(p) for p in e['loc']) or 'method'}: {e['msg']}"
                                for e in exc.errors())
            raise InputError(invalid) from None
    draft = cat.model(spec.draft_model) if spec.draft_model else None
    problems = speculative_problems(spec, cat.model(model_id), draft)
    if pp > 1:
        problems.append("speculative decoding does not run with pipeline parallelism (vLLM); use pp 1")
    if problems:
        raise InputError("speculative: " + "; ".join(problems))
    return spec.resolved(draft.id if draft is not None else None), draft


def estimate_table(configs: Any, *, catalog: Catalog | None = None,
                   calibration: CalibrationArg = None, speculative: SpeculativeArg = None) -> Any:
    """Estimate many configurations at once; returns a pandas DataFrame (input columns + estimates).

    Rows that cannot be evaluated (unsupported precision, impossible values) have ``problem`` set
    and NaN estimates; rows whose model does not fit have ``fits_memory`` False. An optional
    ``prefix_cache_hit_rate`` column removes that share of prompt tokens from prefill (latency under
    load is ``estimate(..., arrival_requests_per_s=...)``'s). ``speculative`` applies one speculative
    decoding setting to every row (all rows of one model; see ``estimate``).
    """
    import pandas as pd

    cols = _columns(configs)
    cat = _catalog(catalog)
    tables = input_tables(cols, cat, _calibration(calibration), engines=cat.engines or None)
    x = tables.rows  # the per-row inputs; the model, GPU and coefficient features are gathered block by block
    hit = np.zeros(len(cols["model"]))
    bad_hit = None
    if "prefix_cache_hit_rate" in cols:  # prompt share served from the prefix cache (no prefill compute)
        hit = np.asarray(cols["prefix_cache_hit_rate"], dtype=float)
        bad_hit = ~((hit >= 0.0) & (hit < 1.0))
        x["cached_prompt_share"] = np.where(bad_hit, 0.0, hit)
    spec, draft = None, None
    if speculative is not None:
        models = {cat.model(m).id for m in np.unique(np.asarray(cols["model"]).astype(str))}
        if len(models) != 1:
            raise InputError("speculative applies to one model; the table has " + ", ".join(sorted(models)),
                             fix="estimate each model's rows in its own call")
        spec, draft = resolve_speculative(speculative, cat, models.pop(), int(np.max(x["pp"])))
    if spec is not None and ("ep" in x or "dp" in x) and bool(np.any((x.get("ep", 1.0) > 1) | (x.get("dp", 1.0) > 1))):
        raise InputError("speculative decoding is not modelled with expert or attention data parallelism",
                         fix="estimate it with ep 1 and dp 1")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # without speculative decoding the default estimator, which reads lean block inputs (planner.core.inputs)
        out, problem = (estimate_tables(tables) if spec is None
                        else estimate_tables(tables, lambda xb: estimate_speculative(xb, spec, draft)))
    if bad_hit is not None:
        problem = np.where(bad_hit & (problem == ""), "prefix_cache_hit_rate must be at least 0 and below 1", problem)
    frame = pd.DataFrame({k: cols[k] for k in CONFIG_COLUMNS if k in cols})
    for k in ("ep", "dp"):  # the parallelism columns (1 where the table had none)
        frame[k] = np.asarray(x[k]) if k in x else np.ones(len(frame))
    bad = problem != ""
    for k, v in out.items():
        arr = np.asarray(v, dtype=float) if v.dtype != bool else v
        if arr.dtype == bool:
            frame[k] = arr & ~bad
        else:
            frame[k] = np.where(bad, np.nan, arr)
    frame["heat_btu_per_hr"] = frame["power_total_w"] * BTU_PER_HR_PER_W
    frame["kwh_per_million_output_tokens"] = kwh_per_million_tokens(frame["energy_per_output_token_j"])
    frame["output_tokens_per_s_per_w"] = frame["output_tokens_per_s"] / frame["power_total_w"]
    frame["node_power_w"] = node_power_column(frame, cat, tables)
    frame["prefix_cache_hit_rate"] = hit
    if "expected_tokens_per_step" not in frame:  # as Estimate: 1 token per step without speculative decoding
        frame["expected_tokens_per_step"] = np.where(problem != "", np.nan, 1.0)
    frame["problem"] = problem
    _expected_error_columns(frame, cat, tables)
    return frame


def expected_error_of(gpu: Any, model: Any) -> dict[str, dict[str, Any]]:
    """The expected error of an estimate of ``model`` on ``gpu`` (catalog specs), per metric
    (planner.calibration.expected_error); empty when the shipped table is absent."""
    from planner.calibration.expected_error import load_expected_error, lookup
    from planner.errors import CalibrationError

    try:
        table = load_expected_error()
    except CalibrationError:
        return {}
    return {k: e.to_dict() for k, e in lookup(table, gpu.architecture, model).items()}


def engine_data_warning(engine: str, cal: Calibration) -> str | None:
    """What an estimate for ``engine`` rests on when the calibration has no measurement of it: the engine and
    the figures that are stand-ins (None when the calibration covers the engine). The engine's defaults and
    their sources are in catalogs/engines.yaml (planner.catalog.engines)."""
    from planner.calibration.fit import ENGINE_COEFFICIENTS
    from planner.catalog.engines import engine_profile

    name = engine_profile(engine).name
    if not cal.coefficients:
        return (f"engine {name}: no calibration (literature priors): every coefficient, its per-step and "
                f"per-sequence overheads included, is a prior (catalogs/engines.yaml gives the sources)")
    main = next((e for e, v in sorted(cal.per_engine.items()) if not v), DEFAULT_ENGINE)
    if engine == main or engine in cal.per_engine:
        return None
    return (f"engine {name} has no calibration data: its {', '.join(ENGINE_COEFFICIENTS)} are priors for it "
            f"(the {engine_profile(main).name} fit's values; catalogs/engines.yaml gives its defaults and sources)")


def _expected_error_columns(frame: Any, cat: Catalog, tables: InputTables) -> None:
    """``expected_error_<metric>_p50_pct`` / ``_p90_pct`` / ``_group`` per row (one lookup per model and GPU,
    spread over the rows by their input_tables combination)."""
    from planner.schemas.expected_error import ERROR_METRICS

    by_pair: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    found: list[dict[str, dict[str, Any]]] = []
    for gid, mid in zip(tables.combination_names["gpu"], tables.combination_names["model"], strict=True):
        if (gid, mid) not in by_pair:
            try:
                by_pair[gid, mid] = expected_error_of(cat.gpu(gid), cat.model(mid))
            except InputError:  # an unknown GPU or model is already a row problem
                by_pair[gid, mid] = {}
        found.append(by_pair[gid, mid])
    for k in ERROR_METRICS:
        for part, blank in (("p50_pct", np.nan), ("p90_pct", np.nan), ("group", "")):
            kind = object if part == "group" else float
            values = np.array([f.get(k, {}).get(part, blank) for f in found], dtype=kind)
            frame[f"expected_error_{k}_{part}"] = values[tables.codes] if len(found) else values[:0]


def node_power_column(frame: Any, cat: Catalog, tables: InputTables | None = None) -> np.ndarray:
    """node_power_w per row (one lookup per distinct GPU); NaN where the row was not evaluated. ``tables``
    (the frame's input_tables): the rows' GPUs are read from their combinations instead of compared by name."""
    power = frame["power_per_gpu_w"].to_numpy(dtype=float)
    out = np.full(len(power), np.nan)
    if tables is None:
        names, of_row = np.unique(frame["gpu"].astype(str).to_numpy(), return_inverse=True)
    else:  # the rows' GPUs from their combinations: no string comparison per row
        names, of_combination = np.unique(tables.combination_names["gpu"], return_inverse=True)
        of_row = of_combination.reshape(-1)[tables.codes]
    for i, gid in enumerate(names):
        sel = of_row.reshape(-1) == i
        try:
            g = cat.gpu(gid)
        except InputError:  # an unknown GPU is already a row problem
            continue
        out[sel] = node_power_w(power[sel], g)
    return out


MAX_TOKENS = 10_000_000
"""Tokens of one request: beyond the longest context any model offers (10M)."""
MAX_BATCH = 100_000
"""Sequences in flight on one replica: far beyond any engine's max_num_seqs."""
MAX_POWER_LIMIT_W = 10_000.0
"""A GPU power limit above this is a typo (the largest accelerator TDPs are about 1.4 kW)."""


MIN_ARRIVAL_REQUESTS_PER_S = 1e-6
"""Smallest positive Poisson arrival rate estimated: one request in 11.6 days. Below it the idle energy is
spread over so few tokens that energy per token is meaningless (1e-12: 1e11 kWh per million tokens) and
then overflows (1e-308: infinity). 0 stays allowed."""


def check_arrival_rate(rate: float, name: str = "arrival_requests_per_s") -> None:
    """0 or a rate from MIN_ARRIVAL_REQUESTS_PER_S to 1e6 requests/s per replica."""
    _check_scalar(name, rate, minimum=0.0, maximum=1e6)
    if 0.0 < rate < MIN_ARRIVAL_REQUESTS_PER_S:
        days = 1.0 / MIN_ARRIVAL_REQUESTS_PER_S / S_PER_HOUR / 24.0
        raise ParameterError(name, f"{rate:g} is below {MIN_ARRIVAL_REQUESTS_PER_S:g} requests/s (one request in "
                             f"{days:.1f} days), the smallest rate planner estimates",
                             fix=f"give a rate of at least {MIN_ARRIVAL_REQUESTS_PER_S:g}, or 0")


def _check_scalar(name: str, value: float, *, minimum: float, maximum: float = math.inf, whole: bool = False) -> None:
    kind = "a whole number" if whole else "a number"
    upper = f" and <= {maximum:,g}" if math.isfinite(maximum) else ""
    if isinstance(value, int) and abs(value) > 2**53:  # math.isfinite / float() of a 400-digit int overflow
        raise ParameterError(name, f"must be {kind} >= {minimum:g}{upper}, got a {len(str(abs(value)))}-digit number")
    if (value is None or not math.isfinite(value) or not minimum <= value <= maximum
            or (whole and value != int(value))):
        value_shown = repr(value) if len(repr(value)) <= 40 else f"{value:.3g}"
        raise ParameterError(name, f"must be {kind} >= {minimum:g}{upper}, got {value_shown}")


def estimate(model: str, gpu: str, *, precision: str = "bf16", tp: int = 1, pp: int = 1,
             batch_size: int | None = None, input_tokens: float, output_tokens: float,
             engine: str = DEFAULT_ENGINE, catalog: Catalog | None = None,
             calibration: CalibrationArg = None, power_limit_w: float | None = None,
             prefill_chunk_tokens: int | None = None, arrival_requests_per_s: float | None = None,
             prefix_cache_hit_rate: float = 0.0, output_tokens_p95: float | None = None,
             speculative: SpeculativeArg = None, ep: int = 1, dp: int = 1) -> Estimate:
    """Estimate one deployment (one replica of ``tp x pp x dp`` GPUs) serving ``batch_size`` sequences.

    ``dp`` > 1 runs attention data parallel (MoE or MLA models): ``dp`` ranks of ``tp x pp`` GPUs, each
    with its own share of the batch and its own KV cache, attention weights replicated per rank. ``ep``
    > 1 spreads the routed experts over ``ep`` GPUs as whole experts (it divides tp x pp x dp), with an
    all-to-all dispatch and combine per MoE layer over the link; ``ep=1, dp=1`` is a plain replica.

    ``batch_size=None`` is the offline, maximum-throughput operating point: the largest batch that
    fits memory (capped at the engine's maximum). With ``arrival_requests_per_s`` the replica serves
    Poisson arrivals with continuous batching (planner.candidates.queueing, the model candidate
    generation sizes capacity with): ``batch_size`` is then the concurrency cap (None: the memory
    limit) and the estimate adds TTFT mean/p50/p95/p99 and ITL mean/p95 under that load, the mean
    batch and the served tokens/s; at or above saturation it says ``saturated`` with infinite
    latencies. ``output_tokens_p95`` (default: the mean, fixed lengths) sets the output-length spread
    the slot wait depends on. ``prefix_cache_hit_rate`` removes that share of prompt tokens from
    prefill. ``speculative`` ({"method": "draft"|"eagle"|"mtp", "draft_model", "tokens",
    "acceptance_rate"}, planner.schemas.speculative) estimates speculative decoding: ITL per output
    token, the drafter's weights and KV cache in memory (unvalidated; docs/speculative.md). Raises
    InputError subclasses for bad input, UnsupportedPrecisionError for a 16-bit
    format the GPU lacks, DoesNotFitError when the model does not fit even one sequence.
    """
    cat = _catalog(catalog)
    m, g = cat.model(model), cat.gpu(gpu)
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {shown(precision)}", fix=f"use one of {', '.join(PRECISIONS)}")
    _check_scalar("input_tokens", input_tokens, minimum=1, maximum=MAX_TOKENS)
    _check_scalar("output_tokens", output_tokens, minimum=1, maximum=MAX_TOKENS)
    _check_scalar("tp", tp, minimum=1, whole=True)
    _check_scalar("pp", pp, minimum=1, maximum=m.layers, whole=True)  # at most one stage per layer
    kv = 0 if m.attention.kind == "mla" else m.kv_heads
    if not tp_splits_heads(np.array([float(tp)]), np.array([float(m.attention_heads)]), np.array([float(kv)]))[0]:
        valid = [t for t in (1, 2, 4, 8, 16, 32, 64) if tp_splits_heads(
            np.array([float(t)]), np.array([float(m.attention_heads)]), np.array([float(kv)]))[0]]
        raise InputError(f"tp {tp} does not split {m.id}'s {m.attention_heads} attention heads / {m.kv_heads} KV heads "
                         "evenly, which serving engines require", fix=f"use --tp in {valid}")
    _check_parallel(m, int(tp), int(pp), ep, dp)
    if batch_size is not None:
        _check_scalar("batch_size", batch_size, minimum=1, maximum=MAX_BATCH, whole=True)
    if prefill_chunk_tokens is not None:
        _check_scalar("prefill_chunk_tokens", prefill_chunk_tokens, minimum=(batch_size or 0) + 1, whole=True)
    engine = canonical_engine(engine)
    _, _, weight_only, problem = precision_path(g, precision)
    if problem:
        raise UnsupportedPrecisionError(problem)
    if power_limit_w is not None:
        _check_scalar("power_limit_w", power_limit_w, minimum=0, maximum=MAX_POWER_LIMIT_W)
    if power_limit_w is not None and not (power_limit_w > g.idle_w):
        raise InputError(f"power_limit_w {power_limit_w:g} W is not above {g.id}'s idle power ({g.idle_w:g} W)",
                         fix=f"use a limit between {g.idle_w:g} and {g.tdp_w:g} W")
    cols = {"model": np.array([m.id]), "gpu": np.array([g.id]), "precision": np.array([precision]),
            "tp": np.array([float(tp)]), "pp": np.array([float(pp)]),
            "batch_size": np.array([np.nan if batch_size is None else float(batch_size)]),
            "input_tokens": np.array([float(input_tokens)]), "output_tokens": np.array([float(output_tokens)]),
            "engine": np.array([engine]),
            "prefill_chunk_tokens": np.array([np.nan if prefill_chunk_tokens is None else float(prefill_chunk_tokens)])}
    if ep != 1 or dp != 1:
        cols.update(ep=np.array([float(ep)]), dp=np.array([float(dp)]))
        if speculative is not None:
            raise InputError("speculative decoding is not modelled with expert or attention data parallelism",
                             fix="use ep 1 and dp 1, or no speculative decoding")
    _check_scalar("prefix_cache_hit_rate", prefix_cache_hit_rate, minimum=0.0, maximum=0.999)
    if arrival_requests_per_s is not None:
        check_arrival_rate(arrival_requests_per_s)
    if output_tokens_p95 is not None:
        _check_scalar("output_tokens_p95", output_tokens_p95, minimum=output_tokens, maximum=MAX_TOKENS)
    cal = _calibration(calibration)
    spec, draft = resolve_speculative(speculative, cat, m.id, int(pp))
    x, _ = build_inputs(cols, cat, cal, power_limit_w, engines=cat.engines or None)
    if prefix_cache_hit_rate:
        x["cached_prompt_share"] = np.array([float(prefix_cache_hit_rate)])
    at_c = estimate_speculative(x, spec, draft)
    r = {k: v[0] for k, v in at_c.items()}
    if not r["fits_memory"] and (ep != 1 or dp != 1):
        raise DoesNotFitError(
            f"{m.id} at {precision} does not fit {tp * pp * dp} x {g.id} (tp={tp}, pp={pp}, dp={dp}, ep={ep}) with "
            f"one {int(input_tokens + output_tokens)}-token sequence per rank: each GPU holds the attention and "
            f"dense weights / (tp x pp) and the routed experts / max(ep, tp x pp)",
            fix="spread the experts over more GPUs (--ep up to tp x pp x dp), raise --tp, or use a lower precision")
    if not r["fits_memory"]:
        raise DoesNotFitError(_does_not_fit_message(m.id, g.id, precision, tp, pp, input_tokens,
                                                     output_tokens, cat, cal))
    warnings = _warnings(r, g.tdp_w, power_limit_w, batch_size, weight_only, precision,
                         at_cap=arrival_requests_per_s is not None)
    engine_warning = engine_data_warning(engine, cal)
    if engine_warning:
        warnings.append(engine_warning)
    if g.server is not None and max(ep, tp) > g.server.gpus_per_server:
        warnings.append(f"ep {ep} spans more than one {g.server.model} ({g.server.gpus_per_server} GPUs): the "
                        f"all-to-all is modelled at the in-server {g.interconnect.kind} speed, so it is optimistic")
    if g.server is not None and tp > g.server.gpus_per_server:
        warnings.append(f"tp {tp} spans more than one {g.server.model} ({g.server.gpus_per_server} GPUs): the "
                        f"all-reduce is modelled at the in-server {g.interconnect.kind} speed, so cross-server "
                        "TP is optimistic; prefer pp across servers")
    load = {} if arrival_requests_per_s is None else _under_load(
        cols, x, at_c, cat, cal, power_limit_w, float(arrival_requests_per_s), float(prefix_cache_hit_rate),
        output_tokens_p95, (spec, draft))
    if load.get("saturated"):
        warnings.append(f"{arrival_requests_per_s:g} requests/s is at or above what this replica serves "
                        f"({load['saturated_rps']:.3g} requests/s under Poisson arrivals): the queue grows "
                        "without bound")
    est = Estimate(
        model=m.id, gpu=g.id, precision=precision, tp=int(tp), pp=int(pp), num_gpus=int(tp * pp * dp),
        input_tokens=float(input_tokens), output_tokens=float(output_tokens),
        fits_memory=bool(r["fits_memory"]), memory_per_gpu_bytes=float(r["memory_per_gpu_bytes"]),
        weights_per_gpu_bytes=float(r["weights_per_gpu_bytes"]), max_batch_size=int(r["max_batch_size"]),
        batch_size=int(r["batch_size"]), batch_fits_memory=bool(r["batch_fits_memory"]),
        ttft_s=float(r["ttft_s"]), itl_s=float(r["itl_s"]), itl_p95_s=float(r["itl_p95_s"]),
        output_tokens_per_s=float(r["output_tokens_per_s"]), requests_per_s=float(r["requests_per_s"]),
        power_per_gpu_w=float(r["power_per_gpu_w"]), power_total_w=float(r["power_total_w"]),
        peak_power_total_w=float(r["peak_power_total_w"]),
        energy_per_output_token_j=float(r["energy_per_output_token_j"]),
        heat_btu_per_hr=float(r["power_total_w"]) * BTU_PER_HR_PER_W, weight_only=weight_only,
        tdp_w=g.tdp_w, warnings=tuple(warnings), prefix_cache_hit_rate=float(prefix_cache_hit_rate),
        **energy_figures(r), node_power_w=float(node_power_w(float(r["power_per_gpu_w"]), g)),
        speculative=spec.model_dump() if spec is not None else None,
        expected_tokens_per_step=float(r.get("expected_tokens_per_step", 1.0)), ep=int(ep), dp=int(dp),
        expected_error=expected_error_of(g, m))
    if not load:
        return est
    return replace(est, arrival_requests_per_s=float(arrival_requests_per_s or 0.0),
                   concurrency_cap=int(r["batch_size"]), saturated=bool(load["saturated"]),
                   batch_size=float(load["batch_size"]), output_tokens_per_s=float(load["output_tokens_per_s"]),
                   itl_s=float(load["itl_mean_s"]), itl_p95_s=float(load["itl_p95_s"]),
                   ttft_mean_s=float(load["ttft_mean_s"]), ttft_p50_s=float(load["ttft_p50_s"]),
                   ttft_p95_s=float(load["ttft_p95_s"]), ttft_p99_s=float(load["ttft_p99_s"]),
                   itl_mean_s=float(load["itl_mean_s"]), **_load_power_fields(load, g))


def _load_power_fields(load: Mapping[str, Any], g: Any) -> dict[str, Any]:
    """The Estimate's power, heat and energy fields at the served load (none when saturated: the
    replica then runs at its concurrency cap, the fields as estimated there)."""
    if "power_total_w" not in load:
        return {}
    total = float(load["power_total_w"])
    out = {k: load[k] for k in ("energy_per_output_token_j", "energy_breakdown_j_per_token",
                                "kwh_per_million_output_tokens", "output_tokens_per_s_per_w") if k in load}
    return {**out, "power_total_w": total, "power_per_gpu_w": float(load["power_per_gpu_w"]),
            "heat_btu_per_hr": total * BTU_PER_HR_PER_W,
            "node_power_w": float(node_power_w(load["power_per_gpu_w"], g))}




def _check_parallel(m: Any, tp: int, pp: int, ep: int, dp: int) -> None:
    """ep and dp against the model and the replica (InputError naming the fix)."""
    _check_scalar("dp", dp, minimum=1, maximum=4096, whole=True)
    _check_scalar("ep", ep, minimum=1, maximum=4096, whole=True)
    experts = m.moe.experts_total if m.moe is not None else 0
    if ep > 1 and m.moe is None:
        raise InputError(f"ep {ep}: {m.id} has no routed experts; expert parallelism needs a mixture-of-experts "
                         "model", fix="use --ep 1")
    if dp > 1 and m.moe is None and m.attention.kind != "mla":
        raise InputError(f"dp {dp}: attention data parallelism is only meaningful for MoE or MLA models, and "
                         f"{m.id} is neither", fix="use --dp 1 and more replicas (or more tp) instead")
    if ep > 1 and ep > experts:
        raise InputError(f"ep {ep} exceeds {m.id}'s {experts} routed experts", fix=f"use --ep {experts} or less")
    gpus = tp * pp * dp
    if gpus % ep:
        valid = [e for e in range(1, min(gpus, experts or 1) + 1) if gpus % e == 0]
        raise InputError(f"ep {ep} does not divide the replica's {gpus} GPUs (tp {tp} x pp {pp} x dp {dp})",
                         fix=f"use --ep in {valid}")


def _under_load(cols: dict[str, np.ndarray], x: dict[str, Any], at_c: dict[str, np.ndarray], cat: Catalog,
                cal: Calibration, power_limit_w: float | None, rate: float, hit_rate: float,
                output_tokens_p95: float | None, speculative: tuple[Any, Any] = (None, None)) -> dict[str, Any]:
    """Latency under Poisson arrivals at ``rate``: the queueing model candidate generation uses
    (planner.candidates.queueing), from the core at the concurrency cap and at one sequence in flight
    with the cap's step budget."""
    from planner.candidates.queueing import latency_at_load, output_cv2, replica_load

    one = {**cols, "batch_size": np.array([1.0]), "prefill_chunk_tokens": np.asarray(at_c["prefill_chunk_tokens"])}
    x1, _ = build_inputs(one, cat, cal, power_limit_w, engines=cat.engines or None)
    if "cached_prompt_share" in x:
        x1["cached_prompt_share"] = x["cached_prompt_share"]
    with np.errstate(all="ignore"):
        at_1 = estimate_speculative(x1, *speculative)
    n_in, n_out = float(cols["input_tokens"][0]), float(cols["output_tokens"][0])
    load = replica_load(at_1, at_c, np.array([max(n_in * (1.0 - hit_rate), 1.0)]), np.array([n_out]),
                        output_cv2(n_out, output_tokens_p95 if output_tokens_p95 is not None else n_out))
    with np.errstate(all="ignore"):
        out = {k: v[0] for k, v in latency_at_load(load, np.array([rate])).items()}
    out = {**out, "saturated_rps": float(load.saturated_rps[0])}
    if out["saturated"]:
        return out
    return {**out, **_power_at_load(cols, x1, at_c, float(out["batch_size"]), rate * n_out, cat, speculative)}


def busy_batch(in_flight: Any, cap: Any) -> tuple[np.ndarray, np.ndarray]:
    """Share of time a replica with ``in_flight`` sequences on average (Poisson arrivals, below its
    concurrency ``cap``) has at least one in flight, 1 - exp(-in_flight) (the M/G/infinity
    probability), and its mean batch while busy (at least 1, at most the cap)."""
    b = np.asarray(in_flight, dtype=float)
    busy = -np.expm1(-np.maximum(b, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        batch = np.where(busy > 0, b / busy, 1.0)
    return busy, np.clip(batch, 1.0, np.asarray(cap, dtype=float))


def power_at_load(busy: Any, at_busy: Mapping[str, Any], idle_total_w: Any, tokens_per_s: Any) -> dict[str, Any]:
    """Power and energy per output token of a replica busy a share ``busy`` of the time at the core's
    figures ``at_busy`` (power_total_w, power_per_gpu_w, energy_per_output_token_j and its causes
    energy_<cause>_j_per_token) and idle otherwise, serving ``tokens_per_s``: the idle periods add to
    the ``static`` cause, so the causes still sum to the total. Vectorized."""
    busy = np.asarray(busy, dtype=float)
    busy_w = np.asarray(at_busy["power_total_w"], dtype=float)
    gpus = busy_w / np.asarray(at_busy["power_per_gpu_w"], dtype=float)
    total = busy * busy_w + (1.0 - busy) * np.asarray(idle_total_w, dtype=float)
    tokens = np.asarray(tokens_per_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = np.where(tokens > 0, total / tokens, np.inf)
        share = busy * busy_w / tokens / np.asarray(at_busy["energy_per_output_token_j"], dtype=float)
        causes = {k: np.asarray(at_busy[f"energy_{k}_j_per_token"], dtype=float) * share for k in BREAKDOWN}
        causes["static"] = causes["static"] + (1.0 - busy) * np.asarray(idle_total_w, dtype=float) / tokens
        return {"power_total_w": total, "power_per_gpu_w": total / gpus, "energy_per_output_token_j": energy,
                "causes": causes, "output_tokens_per_s_per_w": tokens / total}


def _power_at_load(cols: dict[str, np.ndarray], x1: dict[str, Any], at_c: dict[str, np.ndarray], in_flight: float,
                   tokens_per_s: float, cat: Catalog, speculative: tuple[Any, Any]) -> dict[str, Any]:
    """Power and energy per token of one replica serving Poisson arrivals with ``in_flight`` sequences
    on average (busy_batch, power_at_load), as Estimate fields."""
    busy, batch = busy_batch(np.array([in_flight]), at_c["batch_size"])
    with np.errstate(all="ignore"):
        rb = estimate_speculative({**x1, "batch_size": batch}, *speculative)
    gpus = float(rb["power_total_w"][0] / rb["power_per_gpu_w"][0])
    idle_w = cat.gpu(str(cols["gpu"][0])).idle_w * gpus
    out = power_at_load(busy, rb, np.array([idle_w]), np.array([tokens_per_s]))
    if tokens_per_s <= 0:
        return {k: float(out[k][0]) for k in ("power_total_w", "power_per_gpu_w")}
    energy = float(out["energy_per_output_token_j"][0])
    return {**{k: float(out[k][0]) for k in ("power_total_w", "power_per_gpu_w", "output_tokens_per_s_per_w")},
            "energy_per_output_token_j": energy, "kwh_per_million_output_tokens": kwh_per_million_tokens(energy),
            "energy_breakdown_j_per_token": {k: float(v[0]) for k, v in out["causes"].items()}}


def _warnings(r: Mapping[str, Any], tdp_w: float, limit_w: float | None, batch_size: int | None,
              weight_only: bool, precision: str, at_cap: bool = False) -> list[str]:
    out = []
    if r["power_per_gpu_w"] > 0.9 * tdp_w:
        what = "peak power per GPU (at the concurrency cap)" if at_cap else "power per GPU"
        out.append(f"{what} {r['power_per_gpu_w']:.0f} W is over 90 % of TDP ({tdp_w:.0f} W): "
                   "expect clock throttling; provision for TDP. " + _power_options(r, tdp_w, limit_w, precision))
    if batch_size is not None and not r["batch_fits_memory"]:
        out.append(f"batch {batch_size} exceeds the memory limit of {int(r['max_batch_size'])} sequences: "
                   "the engine would queue or preempt; latency and throughput assume it fits")
    elif r["batch_size"] >= r["max_batch_size"]:
        out.append(f"batch {int(r['batch_size'])} is at the KV-cache memory limit")
    if weight_only:
        out.append(f"{precision} runs weight-only on this GPU (dequantized to 16-bit for the math)")
    return out


def _power_options(r: Mapping[str, Any], tdp_w: float, limit_w: float | None, precision: str) -> str:
    """What lowers the draw of a GPU near its TDP, with the figure to try where there is one."""
    batch = int(r["batch_size"])
    options = [f"a smaller batch (--batch-size {max(batch // 2, 1)})" if batch > 1 else None,
               "a lower precision (fp8 or int4 weights)" if precision in ("bf16", "fp16") else None,
               f"a power limit (--power-limit-w {0.8 * (limit_w or tdp_w):.0f}: slower, but the cap is hard)",
               "a GPU with more memory bandwidth per watt"]
    return "Options: " + "; ".join(o for o in options if o) + "."


def smallest_fitting_tp(model: str, gpu: str, precision: str, input_tokens: float, output_tokens: float,
                        catalog: Catalog | None = None, calibration: CalibrationArg = None,
                        pp: int = 1) -> int | None:
    cat = _catalog(catalog)
    tps = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    n = len(tps)
    cols = {"model": np.full(n, cat.model(model).id), "gpu": np.full(n, cat.gpu(gpu).id),
            "precision": np.full(n, precision), "tp": tps, "pp": np.full(n, float(pp)),
            "batch_size": np.full(n, np.nan), "input_tokens": np.full(n, float(input_tokens)),
            "output_tokens": np.full(n, float(output_tokens)), "engine": np.full(n, DEFAULT_ENGINE)}
    x, _ = build_inputs(cols, cat, _calibration(calibration), engines=cat.engines or None)
    fits = estimate_arrays(x)["fits_memory"]
    server = cat.gpu(gpu).server
    per_server = server.gpus_per_server if server is not None else 8  # no server block: up to 8-way TP
    ok = [int(t) for t, f in zip(tps, fits, strict=True) if f and t <= max(per_server, 8)]
    return ok[0] if ok else None


def _does_not_fit_message(model: str, gpu: str, precision: str, tp: int, pp: int, n_in: float,
                          n_out: float, cat: Catalog, calibration: Calibration) -> str:
    best = smallest_fitting_tp(model, gpu, precision, n_in, n_out, cat, calibration, pp)
    base = (f"{model} at {precision} does not fit {tp * pp} x {gpu} (tp={tp}, pp={pp}) with one "
            f"{int(n_in + n_out)}-token sequence")
    if best is not None and best > tp:
        return f"{base}; the smallest tensor parallelism that fits is --tp {best}"
    return f"{base}; use more GPUs (--tp/--pp), a lower precision, or a larger GPU"
