"""``planner.compare``: models x GPUs x precisions in one table, from one vectorized estimate.

(Not ``planner/compare.py``: a submodule of that name would replace the function ``planner.compare``
on the package as soon as anything imported it, as ``planner.estimation`` explains for estimate.)

Every row is one replica (``tp`` GPUs) of a model on a GPU at a precision, at the batch asked for
(``None``: the offline point, the largest batch that fits memory) or under Poisson arrivals. The
figures come from ``planner.estimation.estimate_table`` in one call for the whole grid (two more for
the smallest TP that fits and for latency under load); a row whose batch does not fit memory, or
that cannot run at all (an unsupported precision), says so and carries no performance figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from planner.core.inputs import canonical_engine
from planner.schemas.base import StrictModel
from planner.schemas.catalog import Precision
from planner.schemas.scenario import Site
from planner.units import BTU_PER_HR_PER_W, HOURS_PER_YEAR, W_PER_KW, kwh_per_million_tokens

__all__ = ["COLUMNS", "DEFAULT_ELECTRICITY_USD_PER_KWH", "DEFAULT_PUE", "CompareSpec", "annual_energy", "compare",
           "default_electricity_usd_per_kwh",
           "idle_energy_kwh", "load_compare_file"]

TP_LADDER = (1, 2, 4, 8, 16, 32, 64)
"""Tensor-parallel sizes tried for ``smallest_tp_that_fits`` (engines split heads in powers of two)."""
DEFAULT_PUE = float(Site.model_fields["pue"].default)
"""Facility power / IT power when none is given: the scenario schema's ``site.pue`` default."""
DEFAULT_ELECTRICITY_USD_PER_KWH = float(Site.model_fields["electricity_usd_per_kwh"].default)
"""The one default electricity price: the scenario schema's ``site.electricity_usd_per_kwh`` default
(``planner estimate``, ``planner compare`` and a scenario without the key all use it)."""

PERFORMANCE = ("ttft_s", "itl_s", "itl_p95_s", "output_tokens_per_s", "requests_per_s", "power_per_gpu_w",
               "power_total_w", "node_power_w", "energy_per_output_token_j", "kwh_per_million_output_tokens",
               "output_tokens_per_s_per_w", "energy_static_j_per_token", "energy_memory_j_per_token",
               "energy_compute_j_per_token", "energy_communication_j_per_token", "prefill_flops",
               "decode_flops_per_token", "prefill_energy_j", "decode_energy_per_token_j", "annual_energy_facility_kwh",
               "annual_energy_cost_usd",
               "ttft_p50_s", "ttft_p95_s", "ttft_p99_s")
"""Columns a row that does not fit (or cannot run) leaves empty."""
COLUMNS = ("model", "gpu", "precision", "tp", "batch_size", "fits_memory", "max_batch_size",
           "smallest_tp_that_fits", *PERFORMANCE, "saturated", "warnings")
"""The table's columns, in order; units in the names as in ``planner estimate --format json``."""
HIGHER_IS_BETTER = frozenset({"output_tokens_per_s", "output_tokens_per_s_per_w", "requests_per_s",
                              "max_batch_size"})
"""Columns ranked from the highest down; every other column ranks from the lowest up."""


def default_electricity_usd_per_kwh() -> float:
    """``DEFAULT_ELECTRICITY_USD_PER_KWH`` (a function for callers that import lazily)."""
    return DEFAULT_ELECTRICITY_USD_PER_KWH


def idle_energy_kwh(idle_total_w: float, duty_cycle: float) -> float:
    """IT energy of the hours outside the duty cycle, spent at idle draw (kWh per year)."""
    return idle_total_w * (1.0 - duty_cycle) * HOURS_PER_YEAR / W_PER_KW


def annual_energy(power_total_w: float, *, duty_cycle: float, pue: float, electricity_usd_per_kwh: float,
                  idle_total_w: float = 0.0) -> dict[str, float]:
    """Energy over a year: the operating point for ``duty_cycle`` of the hours, idle the rest.

    IT energy = (power x duty + idle x (1 - duty)) x 8760 h, with ``idle_total_w`` the idle draw of
    all the replica's GPUs; facility energy = IT x PUE; the cost is the facility's.
    """
    it_kwh = power_total_w * duty_cycle * HOURS_PER_YEAR / W_PER_KW + idle_energy_kwh(idle_total_w, duty_cycle)
    facility_kwh = it_kwh * pue
    return {"annual_energy_it_kwh": it_kwh, "annual_energy_facility_kwh": facility_kwh,
            "annual_electricity_cost_usd": facility_kwh * electricity_usd_per_kwh}


# ---- the grid, from arguments or a file ---------------------------------------------------------

class CompareSpec(StrictModel):
    """A ``planner compare`` file: the grid and the operating point (flags given beside it win)."""

    models: list[str] = Field(min_length=1, max_length=100)
    """Model ids or aliases (`planner catalog models`)."""
    gpus: list[str] = Field(min_length=1, max_length=100)
    """GPU ids or aliases (`planner catalog gpus`)."""
    precisions: list[Precision] = Field(["bf16"], min_length=1, max_length=6)
    tp: int | None = Field(None, ge=1, le=64)
    """Tensor-parallel GPUs of every row (None: per row, the smallest that fits)."""
    batch_size: int | Literal["max"] | None = None
    """Sequences in flight, or ``max`` for the largest batch that fits memory (required unless
    ``arrival_requests_per_s`` is given)."""
    arrival_requests_per_s: float | None = Field(None, ge=0, le=1e6)
    """Poisson arrival rate per replica: latency under load, the batch is the concurrency cap."""
    input_tokens: float = Field(ge=1, le=10_000_000)
    output_tokens: float = Field(ge=1, le=10_000_000)
    duty_cycle: float = Field(1.0, gt=0, le=1)
    """Share of the year at this operating point; the GPUs idle the rest."""
    electricity_usd_per_kwh: float | None = Field(None, ge=0, le=5)
    """USD per kWh of facility energy (None: the scenario default, site.electricity_usd_per_kwh)."""
    pue: float = Field(DEFAULT_PUE, ge=1, le=3)
    engine: str = "vllm"
    sort_by: str | None = None
    """A column to rank by (see COLUMNS)."""

    @field_validator("batch_size")
    @classmethod
    def _a_batch(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and not 1 <= v <= 100_000:
            raise ValueError("a batch is from 1 to 100,000 sequences, or `max`")
        return v

    @field_validator("arrival_requests_per_s")
    @classmethod
    def _a_rate(cls, v: float | None) -> float | None:
        from planner.errors import InputError
        from planner.estimation import check_arrival_rate

        try:
            if v is not None:
                check_arrival_rate(v, "the rate")
        except InputError as exc:  # checked here so the message names the file and the key
            raise ValueError(f"{exc.message} ({exc.fix})") from None
        return v

    @field_validator("engine")
    @classmethod
    def _an_engine(cls, v: str) -> str:
        from planner.core.constants import ENGINES
        from planner.errors import InputError

        try:
            if not v.strip():
                raise InputError("empty")
            canonical_engine(v)
        except InputError:  # checked here so the message names the file and the key
            raise ValueError(f"not a serving engine (use one of {', '.join(ENGINES)})") from None
        return v

    @field_validator("sort_by")
    @classmethod
    def _a_column(cls, v: str | None) -> str | None:
        if v is not None and v not in COLUMNS:
            import difflib

            close = difflib.get_close_matches(v, COLUMNS, n=1)
            raise ValueError("not a column of the table ("
                             + (f"did you mean {close[0]}?" if close else f"use one of {', '.join(COLUMNS)}") + ")")
        return v


def load_compare_file(path: str | Path) -> Any:
    """A compare file read with safe_load and validated strictly (errors name file, key path and fix)."""
    from planner.io.files import load_yaml_as

    return load_yaml_as(CompareSpec, path)


# ---- the table ----------------------------------------------------------------------------------

def compare(models: Sequence[str] | str, gpus: Sequence[str] | str, precisions: Sequence[str] | str = ("bf16",), *,
            input_tokens: float, output_tokens: float, tp: int | None = None, batch_size: int | None = None,
            arrival_requests_per_s: float | None = None, duty_cycle: float = 1.0,
            electricity_usd_per_kwh: float | None = None, pue: float = DEFAULT_PUE, engine: str = "vllm",
            sort_by: str | None = None, catalog: Any = None, calibration: Any = None) -> Any:
    """Compare every model x GPU x precision; returns a pandas DataFrame with ``COLUMNS``.

    ``tp=None`` takes, per row, the smallest tensor parallelism at which the batch fits memory;
    ``batch_size=None`` is the offline point (the largest batch that fits memory), or with
    ``arrival_requests_per_s`` the concurrency cap at the memory limit. A row that does not fit (or
    cannot run) has ``fits_memory`` False (None when it cannot run), empty performance columns and
    a warning saying why. ``sort_by`` ranks rows by a column (highest first for throughput columns,
    lowest first otherwise; empty values last); ties keep the models x GPUs x precisions order.
    """
    from planner.catalog.loader import load_catalog

    cat = catalog if catalog is not None else load_catalog()
    grid = _grid(_listed(models), _listed(gpus), _listed(precisions), cat)
    price = default_electricity_usd_per_kwh() if electricity_usd_per_kwh is None else float(electricity_usd_per_kwh)
    _check_operating(duty_cycle, pue, price, sort_by)
    _check_point(input_tokens, output_tokens, tp, batch_size, arrival_requests_per_s)
    base = {"input_tokens": float(input_tokens), "output_tokens": float(output_tokens),
            "engine": canonical_engine(str(engine))}
    smallest = _smallest_tp(grid, base, batch_size, cat, calibration)
    tps = np.array([tp if tp is not None else (s or 1) for s in smallest], dtype=float)
    frame = _estimate(grid, tps, base, batch_size, cat, calibration)
    if arrival_requests_per_s is not None:
        _under_load(frame, float(arrival_requests_per_s), cat, calibration)
    table = _table(frame, grid, smallest, batch_size, cat, duty_cycle=duty_cycle, pue=pue, price=price)
    return sort_table(table, sort_by)


def _listed(names: Sequence[str] | str) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _grid(models: list[str], gpus: list[str], precisions: list[str], cat: Any) -> list[tuple[str, str, str]]:
    """(model id, GPU id, precision) of every combination, names resolved (did you mean on a typo)."""
    from planner.errors import InputError, shown
    from planner.schemas.catalog import PRECISIONS

    for name, given in (("model", models), ("GPU", gpus), ("precision", precisions)):
        if not given:
            raise InputError(f"no {name} to compare", fix=f"name at least one {name}")
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise InputError(f"unknown precision {shown(bad[0])}", fix=f"use one of {', '.join(PRECISIONS)}")
    model_ids = list(dict.fromkeys(cat.model(m).id for m in models))
    gpu_ids = list(dict.fromkeys(cat.gpu(g).id for g in gpus))
    return [(m, g, p) for m in model_ids for g in gpu_ids for p in dict.fromkeys(precisions)]


def _check_operating(duty_cycle: float, pue: float, price: float, sort_by: str | None) -> None:
    from planner.errors import InputError, ParameterError

    if not 0.0 < duty_cycle <= 1.0:
        raise ParameterError("duty_cycle", f"must be in (0, 1], got {duty_cycle:g}", fix="e.g. 0.5 for half the year")
    if not 1.0 <= pue <= 5.0:
        raise ParameterError("pue", f"must be between 1 and 5, got {pue:g}", fix="typical data centres: 1.1-1.6")
    if not 0.0 <= price <= 100.0:
        raise ParameterError("electricity_usd_per_kwh", f"must be from 0 to 100, got {price:g}", fix="e.g. 0.10")
    if sort_by is not None and sort_by not in COLUMNS:
        import difflib

        close = difflib.get_close_matches(sort_by, COLUMNS, n=1)
        raise InputError(f"cannot sort by {sort_by!r}: not a column",
                         fix=f"did you mean {close[0]}?" if close else f"use one of {', '.join(COLUMNS)}")


def _check_point(input_tokens: float, output_tokens: float, tp: int | None, batch_size: int | None,
                 arrival_requests_per_s: float | None) -> None:
    """The settings every row shares: one error for a bad one, not a table of rows that each say it."""
    from planner.estimation import MAX_BATCH, MAX_TOKENS, _check_scalar, check_arrival_rate

    _check_scalar("input_tokens", input_tokens, minimum=1, maximum=MAX_TOKENS)
    _check_scalar("output_tokens", output_tokens, minimum=1, maximum=MAX_TOKENS)
    if tp is not None:
        _check_scalar("tp", tp, minimum=1, maximum=TP_LADDER[-1], whole=True)
    if batch_size is not None:
        _check_scalar("batch_size", batch_size, minimum=1, maximum=MAX_BATCH, whole=True)
    if arrival_requests_per_s is not None:
        check_arrival_rate(arrival_requests_per_s)


def _rows(grid: list[tuple[str, str, str]], tps: np.ndarray, base: dict[str, Any],
          batch: float | np.ndarray) -> dict[str, np.ndarray]:
    n = len(grid)
    return {"model": np.array([m for m, _, _ in grid], dtype=object),
            "gpu": np.array([g for _, g, _ in grid], dtype=object),
            "precision": np.array([p for _, _, p in grid], dtype=object), "tp": tps,
            "batch_size": np.broadcast_to(np.asarray(batch, dtype=float), (n,)).copy(),
            "input_tokens": np.full(n, base["input_tokens"]), "output_tokens": np.full(n, base["output_tokens"]),
            "engine": np.full(n, base["engine"], dtype=object)}


def _batch(batch_size: int | None) -> float:
    return math.nan if batch_size is None else float(batch_size)


def _smallest_tp(grid: list[tuple[str, str, str]], base: dict[str, Any], batch_size: int | None,
                 cat: Any, calibration: Any) -> list[int | None]:
    """Per row, the smallest TP of ``TP_LADDER`` at which the batch (offline: one sequence) fits."""
    from planner.estimation import estimate_table

    k = len(TP_LADDER)
    wide = [row for row in grid for _ in TP_LADDER]
    tps = np.tile(np.array(TP_LADDER, dtype=float), len(grid))
    frame = estimate_table(_rows(wide, tps, base, _batch(batch_size)), catalog=cat, calibration=calibration)
    fits = (frame["fits_memory"] & frame["batch_fits_memory"]).to_numpy().reshape(len(grid), k)
    return [next((TP_LADDER[j] for j in range(k) if row[j]), None) for row in fits]


def _estimate(grid: list[tuple[str, str, str]], tps: np.ndarray, base: dict[str, Any], batch_size: int | None,
              cat: Any, calibration: Any) -> Any:
    from planner.estimation import estimate_table

    return estimate_table(_rows(grid, tps, base, _batch(batch_size)), catalog=cat, calibration=calibration)


def _under_load(frame: Any, rate: float, cat: Any, calibration: Any) -> None:
    """Latency under Poisson arrivals at ``rate`` (planner.candidates.queueing, as planner.estimate
    does), from the table at the concurrency cap and at one sequence in flight: columns replaced in place."""
    from planner.candidates.queueing import latency_at_load, replica_load
    from planner.estimation import estimate_table

    one = {c: frame[c].to_numpy() for c in ("model", "gpu", "precision", "tp", "input_tokens", "output_tokens",
                                            "engine", "prefill_chunk_tokens")}
    one["batch_size"] = np.ones(len(frame))
    at_1 = estimate_table(one, catalog=cat, calibration=calibration)
    n_in, n_out = frame["input_tokens"].to_numpy(float), frame["output_tokens"].to_numpy(float)
    with np.errstate(all="ignore"):
        load = replica_load({c: at_1[c].to_numpy(float) for c in at_1.columns if at_1[c].dtype.kind in "fib"},
                            {c: frame[c].to_numpy(float) for c in frame.columns if frame[c].dtype.kind in "fib"},
                            n_in, n_out, 0.0)
        out = latency_at_load(load, np.full(len(frame), rate))
    frame["itl_s"], frame["itl_p95_s"] = out["itl_mean_s"], out["itl_p95_s"]
    frame["output_tokens_per_s"], frame["batch_in_flight"] = out["output_tokens_per_s"], out["batch_size"]
    for k in ("ttft_p50_s", "ttft_p95_s", "ttft_p99_s"):
        frame[k] = np.where(out["saturated"], np.nan, out[k])
    frame["ttft_s"] = np.where(out["saturated"], np.nan, out["ttft_mean_s"])
    frame["saturated"] = out["saturated"]
    _power_under_load(frame, one, out, cat, calibration)


def _power_under_load(frame: Any, one: dict[str, Any], out: Mapping[str, Any], cat: Any, calibration: Any) -> None:
    """Power, heat and energy columns at the served load, as planner.estimate gives them (busy_batch,
    power_at_load); saturated rows keep the concurrency cap's."""
    from planner.estimation import BREAKDOWN, busy_batch, estimate_table, node_power_column, power_at_load

    busy, batch = busy_batch(out["batch_size"], frame["batch_size"].to_numpy(float))
    at_busy = estimate_table({**one, "batch_size": batch}, catalog=cat, calibration=calibration)
    cols = {c: at_busy[c].to_numpy(float) for c in ("power_total_w", "power_per_gpu_w", "energy_per_output_token_j",
                                                    *(f"energy_{k}_j_per_token" for k in BREAKDOWN))}
    idle_w = np.array([cat.gpu(str(g)).idle_w for g in frame["gpu"]]) * cols["power_total_w"] / cols["power_per_gpu_w"]
    tokens = np.asarray(out["output_tokens_per_s"], dtype=float)
    with np.errstate(all="ignore"):
        load = power_at_load(busy, cols, idle_w, tokens)
    keep = np.asarray(out["saturated"], dtype=bool) | ~(tokens > 0)
    for name, values in (("power_total_w", load["power_total_w"]), ("power_per_gpu_w", load["power_per_gpu_w"]),
                         ("energy_per_output_token_j", load["energy_per_output_token_j"]),
                         ("output_tokens_per_s_per_w", load["output_tokens_per_s_per_w"]),
                         *((f"energy_{k}_j_per_token", v) for k, v in load["causes"].items())):
        frame[name] = np.where(keep, frame[name].to_numpy(float), values)
    frame["heat_btu_per_hr"] = frame["power_total_w"] * BTU_PER_HR_PER_W
    frame["kwh_per_million_output_tokens"] = kwh_per_million_tokens(frame["energy_per_output_token_j"])
    frame["node_power_w"] = node_power_column(frame, cat)


def _table(frame: Any, grid: list[tuple[str, str, str]], smallest: list[int | None], batch_size: int | None,
           cat: Any, *, duty_cycle: float, pue: float, price: float) -> Any:
    """The estimate columns under their compare names, with annual energy, warnings, and empty
    performance figures where a row does not fit or cannot run."""
    import pandas as pd

    runs = (frame["problem"] == "").to_numpy()
    fits = runs & (frame["fits_memory"] & frame["batch_fits_memory"]).to_numpy()
    idle_w = np.array([cat.gpu(g).idle_w for _, g, _ in grid]) * frame["tp"].to_numpy(float)
    annual = annual_energy(frame["power_total_w"].to_numpy(float), duty_cycle=duty_cycle, pue=pue,
                           electricity_usd_per_kwh=price, idle_total_w=idle_w)  # type: ignore[arg-type]
    out = pd.DataFrame({"model": frame["model"], "gpu": frame["gpu"], "precision": frame["precision"],
                        "tp": frame["tp"].astype(int), "batch_size": frame.get("batch_in_flight", frame["batch_size"])})
    out["fits_memory"] = pd.array([bool(f) if r else None for f, r in zip(fits, runs, strict=True)], dtype=object)
    out["max_batch_size"] = [int(b) if r and math.isfinite(b) else None
                             for b, r in zip(frame["max_batch_size"], runs, strict=True)]
    out["smallest_tp_that_fits"] = smallest
    for c in PERFORMANCE:
        out[c] = _column(frame, c, annual)
    out["saturated"] = frame.get("saturated", None)
    out["warnings"] = [_row_warnings(frame, i, fits[i], batch_size, smallest[i], cat) for i in range(len(frame))]
    for c in (*PERFORMANCE, "batch_size", "saturated"):
        out[c] = pd.array([v if ok and not _missing(v) else None for v, ok in zip(out[c], fits, strict=True)],
                          dtype=object)
    return out[list(COLUMNS)]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _column(frame: Any, name: str, annual: dict[str, Any]) -> Any:
    if name == "annual_energy_facility_kwh":
        return annual["annual_energy_facility_kwh"]
    if name == "annual_energy_cost_usd":
        return annual["annual_electricity_cost_usd"]
    if name in frame:
        return frame[name].to_numpy()
    return np.full(len(frame), np.nan)


def _row_warnings(frame: Any, i: int, fits: bool, batch_size: int | None, smallest: int | None, cat: Any) -> str:
    """Why a row has no figures, or what to watch in one that has: a short sentence each, '; '-joined."""
    r = frame.iloc[i]
    if r["problem"]:
        return str(r["problem"])
    tp = int(r["tp"])
    if not fits:
        if not r["fits_memory"]:
            where = f"the smallest TP that fits is {smallest}" if smallest else "no TP up to 64 fits"
            return f"does not fit memory at tp {tp} ({where})"
        fix = f"; tp {smallest} fits it" if smallest and smallest > tp else ""
        return f"batch {batch_size} does not fit memory: at most {int(r['max_batch_size'])} sequence(s){fix}"
    out = []
    g = cat.gpu(str(r["gpu"]))
    if r["power_per_gpu_w"] > 0.9 * g.tdp_w:
        out.append(f"power per GPU over 90 % of TDP ({g.tdp_w:.0f} W): expect throttling; a smaller batch, lower "
                   "precision or a power limit lowers it")
    if g.server is None:
        out.append(f"no node power: {g.id}'s catalog entry has no `server:` block")
    if batch_size is None and "saturated" not in frame:
        out.append(f"batch {int(r['batch_size'])} is the largest that fits memory (offline point)")
    context = r["input_tokens"] + r["output_tokens"]
    if context > cat.model(str(r["model"])).max_context_tokens:
        out.append(f"{context:.0f} tokens per sequence exceed the model's context")
    if "saturated" in frame and r["saturated"]:
        out.append("saturated: the arrival rate is at or above what the replica serves")
    return "; ".join(out)


def sort_table(table: Any, sort_by: str | None) -> Any:
    """Rows ranked by ``sort_by`` (see ``compare``), empty values last, ties in grid order."""
    if sort_by is None:
        return table.reset_index(drop=True)
    values = list(table[sort_by])
    if any(isinstance(v, str) for v in values):  # a text column: alphabetical
        keys: list[tuple[Any, ...]] = [(str(v), i) for i, v in enumerate(values)]
    else:
        sign = -1.0 if sort_by in HIGHER_IS_BETTER else 1.0
        keys = [(True, 0.0, i) if _missing(v) else (False, sign * float(v), i) for i, v in enumerate(values)]
    return table.iloc[[k[-1] for k in sorted(keys)]].reset_index(drop=True)
