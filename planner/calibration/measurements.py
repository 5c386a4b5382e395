"""Measured serving points: the documented CSV format, its validation, and the mapping to configs.

Columns (one row per measured point; blank = not measured; any other column, or a column named twice,
is an error, so that a misspelled ``avg_power_watts`` is not silently read as "no power measured"):

| column | meaning |
| --- | --- |
| source_id | where the point comes from (free text; e.g. MLE3, TRTLLM_PERF, lab-2026-11) |
| model, gpu | names or aliases from the catalogs (Hugging Face repo ids work) |
| num_gpus, tp, pp | GPUs of the run and its tensor/pipeline parallelism (num_gpus > tp*pp: data parallel + experts) |
| precision | bf16, fp16, fp8, int8, int4, fp4 (mxfp4/nvfp4 accepted as fp4) |
| engine | vLLM, TRT-LLM, SGLang, ... (blank = vLLM) |
| batch_or_concurrency | sequences in flight (max_num_seqs or client concurrency); blank = engine's max |
| achieved_batch | optional: the measured average batch, preferred over batch_or_concurrency |
| input_tokens, output_tokens | mean lengths (blank input = 256, the chat default) |
| throughput_tok_s | output tokens/s of the whole run (all GPUs); may be blank on a row with ttft_ms (a TTFT run) |
| ttft_ms, itl_ms | measured TTFT and inter-token latency (median or mean as measured) |
| avg_power_w | average power over the measured window (W) |
| power_scope | summed (blank, "total", "GPU-only, summed over all GPUs"), per GPU, or wall (not scored) |
| energy_j_per_token | energy per output token (J); derived from power and throughput when blank |
| fit_weight | optional: weight of the row in `planner calibrate` (0 = score only; blank = 1, or 0 for MLE2) |
| notes | free text (an ``avg_batch=N`` in it is read as achieved_batch when that column is blank; ``ep=N`` and
  "attention DP" set the run's expert and attention data parallelism, parallel_layout) |
| scenario, total_params_b, active_params_b | descriptive, not read |

Required columns: model, gpu, num_gpus, tp, precision, output_tokens, throughput_tok_s. Every number
must lie in its column's plausible range (``PLAUSIBLE``: e.g. itl_ms 0.001 .. 1e6 ms); num_gpus, tp and
pp are whole numbers. Rows are numbered from 1 (the first data row) in every message. In power_scope,
case, hyphens, underscores, commas and extra spaces do not matter (``per-GPU`` = ``PER_GPU`` =
``per GPU``); other text is an error.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from planner.catalog.loader import Catalog
from planner.core.constants import fixed
from planner.errors import CalibrationError, PlannerError
from planner.schemas.catalog import PRECISIONS
from planner.units import MS_PER_S

REQUIRED = ("model", "gpu", "num_gpus", "tp", "precision", "output_tokens", "throughput_tok_s")
NUMERIC = ("num_gpus", "tp", "pp", "batch_or_concurrency", "achieved_batch", "input_tokens", "output_tokens",
           "throughput_tok_s", "ttft_ms", "itl_ms", "avg_power_w", "energy_j_per_token", "fit_weight")
COLUMNS = ("source_id", "model", "gpu", "num_gpus", "tp", "pp", "precision", "engine", "batch_or_concurrency",
           "achieved_batch", "input_tokens", "output_tokens", "throughput_tok_s", "ttft_ms", "itl_ms",
           "avg_power_w", "power_scope", "energy_j_per_token", "fit_weight", "notes")
"""Every column the format defines, in the order importers write them."""
INFO_COLUMNS = ("scenario", "total_params_b", "active_params_b")
"""Descriptive columns the shipped data carries; accepted and not read."""
KNOWN_COLUMNS = COLUMNS + INFO_COLUMNS
"""Every column a measurement file may have: anything else is reported as unknown."""
PowerScope = Literal["summed", "per_gpu", "wall"]
POWER_SCOPES: dict[str, PowerScope] = {
    "": "summed", "summed": "summed", "total": "summed", "gpu only summed over all gpus": "summed",
    "gpu only summed over all gpus in run": "summed",
    "per gpu": "per_gpu",
    "wall": "wall",
}
"""Accepted power_scope spellings, normalized by ``_scope_key``, and what each means."""
POWER_SCOPE_SPELLINGS = '"summed" (or blank, "total", "GPU-only, summed over all GPUs"), "per GPU", "wall"'
_PRECISION_ALIASES = {"mxfp4": "fp4", "nvfp4": "fp4", "float16": "fp16", "bfloat16": "bf16", "w4a16": "int4",
                      "awq": "int4", "gptq": "int4", "w8a8": "int8"}
# Highest plausible average power per GPU of any accelerator in the catalog era (GB300 ~1.4 kW).
MAX_POWER_PER_GPU_W = 2000.0
# An average over a benchmark window cannot sit far above the power limit (TDP by default) nor far
# below idle: beyond these factors the value is almost always a unit or scope mistake.
MAX_GPU_POWER_TDP_FACTOR = 1.5
MAX_WALL_POWER_TDP_FACTOR = 3.0  # wall power adds CPUs, fans and PSU losses to every GPU's share
MIN_POWER_IDLE_FACTOR = 0.5
MAX_PROBLEMS_PER_COLUMN = 3
MAX_FILE_BYTES = 64 * 2**20
PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "num_gpus": (1, 100_000, "GPUs"), "tp": (1, 4096, "GPUs"), "pp": (1, 4096, "stages"),
    "batch_or_concurrency": (1e-3, 1e7, "sequences"), "achieved_batch": (1e-3, 1e7, "sequences"),
    "input_tokens": (1e-3, 1e8, "tokens"), "output_tokens": (1e-3, 1e8, "tokens"),
    "throughput_tok_s": (1e-3, 1e9, "tokens/s"), "ttft_ms": (1e-3, 1e8, "ms"), "itl_ms": (1e-3, 1e6, "ms"),
    "avg_power_w": (1e-3, 1e9, "W"), "energy_j_per_token": (1e-6, 1e6, "J"), "fit_weight": (0, 1e6, ""),
}
"""Plausible range of each numeric column (a measured value outside it is a unit mistake or a typo)."""
MAX_ROWS = 100_000
MAX_HEADER_CHARS = 10_000  # the documented columns take ~300 characters


@dataclass(frozen=True)
class Measurements:
    """Validated measured points as columns, with their configuration resolved to catalog ids."""

    frame: Any  # pandas.DataFrame
    path: str
    sha256: str

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, mask: np.ndarray) -> Measurements:
        """The rows where ``mask`` is True (same file and hash: a view for cross-validation)."""
        return Measurements(frame=self.frame[np.asarray(mask, dtype=bool)].reset_index(drop=True),
                            path=self.path, sha256=self.sha256)


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str
    fix: str | None = None

    def render(self) -> str:
        where = f"row {self.row}" if self.row is not None else ""
        if self.column:
            where = f"{where}, column {self.column!r}" if where else f"column {self.column!r}"
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.fix})" if self.fix else text


class _Problems:
    """Collects every problem of a file so the user fixes them in one pass (at most a few per column)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Problem] = []
        self._per_column: dict[str | None, int] = {}
        self._cells: set[tuple[int | None, str | None]] = set()

    def add(self, row: int | None, column: str | None, message: str, fix: str | None = None) -> None:
        self._cells.add((row, column))
        count = self._per_column.get(column, 0)
        self._per_column[column] = count + 1
        if count < MAX_PROBLEMS_PER_COLUMN:
            self.items.append(Problem(row, column, message, fix))

    def full(self, column: str | None) -> bool:
        """Whether further problems of this column would only be counted, not shown."""
        return self._per_column.get(column, 0) >= MAX_PROBLEMS_PER_COLUMN

    def reported(self, row: int | None, column: str | None) -> bool:
        """Whether a problem of this cell was already added (reported or counted as hidden)."""
        return (row, column) in self._cells

    def raise_if_any(self) -> None:
        if not self.items:
            return
        hidden = sum(max(0, n - MAX_PROBLEMS_PER_COLUMN) for n in self._per_column.values())
        if len(self.items) == 1 and not hidden:
            p = self.items[0]
            raise CalibrationError(Problem(p.row, p.column, p.message).render(), file=self.path, fix=p.fix)
        lines = [f"  - {p.render()}" for p in self.items]
        if hidden:
            lines.append(f"  - ... and {hidden} more of the same kind")
        total = len(self.items) + hidden
        raise CalibrationError(f"{total} problems in the measurements:\n" + "\n".join(lines), file=self.path)


def _fatal(path: str, message: str, fix: str | None = None) -> CalibrationError:
    return CalibrationError(message, file=path, fix=fix)


def _achieved_batch(notes: str) -> float:
    m = re.search(r"avg_batch=([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)", notes or "")
    return float(m.group(1)) if m else np.nan


def read_bounded(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a user's file, at most ``max_bytes`` (planner.io.files.read_bounded); a missing or
    unreadable file, a folder, a device or pipe, or an oversized file is one CalibrationError naming it."""
    from planner.io.files import read_bounded as read_file_bounded

    p = Path(path)
    try:
        return read_file_bounded(p, max_bytes, CalibrationError)
    except FileNotFoundError:
        raise _fatal(str(p), f"{what} not found", "check the path") from None
    except IsADirectoryError:
        raise _fatal(str(p), f"is a directory, expected a {what}", "pass the file, not its folder") from None
    except OSError as exc:
        raise _fatal(str(p), f"cannot read the {what} ({exc.strerror or exc.__class__.__name__})",
                     "check the path and its permissions") from None


def _read_table(p: Path, raw: bytes, problems: _Problems) -> Any:
    """The file's cells as text, with only its documented columns; header problems go to ``problems``
    (raised at once when a required column is missing, since every row would then be wrong)."""
    import io

    import pandas as pd

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fatal(str(p), f"is not UTF-8 text (byte {exc.start + 1})", "save the file as UTF-8 CSV") from None
    if not text.strip():
        raise _fatal(str(p), "the file is empty", "write a header line naming the columns, then one row per point")
    header = _raw_header(p, text)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise _fatal(str(p), f"not a readable CSV ({exc.__class__.__name__}: {_first_line(exc)})",
                     "check the quoting and the number of fields per line") from None
    if len(df) > MAX_ROWS:
        raise _fatal(str(p), f"{len(df)} rows: more than the {MAX_ROWS} a calibration reads",
                     "keep a representative sample of the measured points")
    # pandas renames a repeated `model` to `model.1`: check the names as written
    df.columns = header if len(header) == len(df.columns) else [str(c).strip() for c in df.columns]
    df = _check_header(df, problems)
    if df.empty:
        raise _fatal(str(p), "no data rows", "add one row per measured point")
    return df


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else "no detail"


def _raw_header(p: Path, text: str) -> list[str]:
    """The header names as written (pandas de-duplicates them, which would hide a repeated column)."""
    line = text.split("\n", 1)[0]
    if len(line) > MAX_HEADER_CHARS:
        raise _fatal(str(p), f"the header line is {len(line)} characters long, more than {MAX_HEADER_CHARS}",
                     "the first line must name the columns, see `planner calibrate --help`")
    try:
        return [name.strip() for name in next(csv.reader(io.StringIO(text), skipinitialspace=True), [])]
    except csv.Error as exc:
        raise _fatal(str(p), f"the header line is not readable CSV ({exc})",
                     "the first line must name the columns, see `planner calibrate --help`") from None


def _check_header(df: Any, problems: _Problems) -> Any:
    """Missing, unknown (with a close match), repeated and unnamed columns, all reported.

    Returns the documented columns, each once (the first of a repeated one); unnamed columns without
    any value (a trailing comma on every line) are dropped silently.
    """
    fix_format = "see `planner calibrate --help` for the format"
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        problems.add(None, None, f"missing column(s): {', '.join(missing)}", fix_format)
    counts = Counter(df.columns)
    seen: set[str] = set()
    keep = []
    for position, name in enumerate(df.columns):
        if not name:
            if df.iloc[:, position].str.strip().ne("").any():
                problems.add(None, None, f"column {position + 1} has no name in the header line",
                             "name it after one of the documented columns, or delete the column")
            continue
        if name in seen:
            continue
        seen.add(name)
        if name not in KNOWN_COLUMNS:
            close = difflib.get_close_matches(name, KNOWN_COLUMNS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.add(None, name, "unknown column",
                         f"{hint}rename it to a documented column, or delete it; {fix_format}")
            continue
        if counts[name] > 1:
            problems.add(None, name, f"appears {counts[name]} times in the header line",
                         "keep one column of that name")
        keep.append(position)
    if missing:
        problems.raise_if_any()
    return df.iloc[:, keep]


def _column(df: Any, name: str, default: str = "") -> Any:
    import pandas as pd

    if name in df.columns:
        return df[name].astype(str).str.strip()
    return pd.Series([default] * len(df), index=df.index)


def load_measurements(path: str | Path, catalog: Catalog) -> Measurements:
    """Read and validate a measurement CSV.

    Every problem names its row (1 = first data row) and column; all problems of the file are
    reported together in one CalibrationError.
    """
    return parse_measurements(read_bounded(path, "measurement CSV", MAX_FILE_BYTES), str(path), catalog)


def parse_measurements(raw: bytes, path: str, catalog: Catalog) -> Measurements:
    """Validate the bytes of a measurement CSV; ``path`` names it in messages and in the result."""
    import pandas as pd

    p = Path(path)
    problems = _Problems(str(p))
    df = _read_table(p, raw, problems)
    out = pd.DataFrame(index=df.index)
    for col in NUMERIC:
        vals = _column(df, col)
        parsed = pd.to_numeric(vals.where(vals != "", None), errors="coerce")
        bad = vals.ne("") & (parsed.isna() | ~np.isfinite(parsed.astype(float)))
        for i in np.flatnonzero(bad.to_numpy()):
            problems.add(int(i) + 1, col, f"{_cut(vals.iloc[i])!r} is not a number",
                         "write a plain number in the column's unit, without a unit suffix")
        out[col] = parsed.where(~bad).astype(float)
    out["achieved_batch"] = out["achieved_batch"].fillna(_column(df, "notes").map(_achieved_batch))
    out["ep_noted"] = _column(df, "notes").map(_expert_parallel).astype(float)
    out["attention_dp"] = _column(df, "notes").map(_attention_dp).astype(bool)
    out["source_id"] = _column(df, "source_id", "user").replace("", "user")
    out["power_scope"] = _power_scopes(_column(df, "power_scope"), problems)
    out["pp"] = out["pp"].fillna(1.0)
    out["input_tokens"] = out["input_tokens"].fillna(fixed("default_input_tokens"))
    _resolve_names(df, out, catalog, problems)
    _check_values(out, catalog, problems)
    problems.raise_if_any()
    out["parallel_capable"] = [_parallel_capable(catalog.model(str(name))) for name in out["model"]]
    return Measurements(frame=out.reset_index(drop=True), path=str(p), sha256=hashlib.sha256(raw).hexdigest())


def _scope_key(text: str) -> str:
    """Case, hyphens, underscores, commas and runs of spaces do not matter: ``Per_GPU`` = ``per gpu``."""
    return " ".join(re.sub(r"[-_,]", " ", text.lower()).split())


def _power_scopes(raw: Any, problems: _Problems) -> list[PowerScope]:
    """Each row's power scope as one of PowerScope (unknown spellings reported, read as summed)."""
    scopes: list[PowerScope] = []
    for i, text in enumerate(raw):
        scope = POWER_SCOPES.get(_scope_key(text))
        if scope is None:
            problems.add(i + 1, "power_scope", f"unknown power scope {_cut(text)!r}", f"use {POWER_SCOPE_SPELLINGS}")
        scopes.append(scope or "summed")
    return scopes


def _resolve_names(df: Any, out: Any, catalog: Catalog, problems: _Problems) -> None:
    """Catalog ids for model and GPU, canonical engine and precision names (problems collected)."""
    from planner.core.inputs import canonical_engine

    resolvers = {"model": _NameResolver("model", lambda n: catalog.model(n).id, catalog.has_model, problems),
                 "gpu": _NameResolver("gpu", lambda n: catalog.gpu(n).id, catalog.has_gpu, problems),
                 "engine": _NameResolver("engine", lambda n: canonical_engine(n or None), None, problems)}
    for column, resolve in resolvers.items():
        out[column] = [resolve(i + 1, name) for i, name in enumerate(_column(df, column))]
    precisions: list[str] = []
    for i, prec in enumerate(_column(df, "precision")):
        key = _PRECISION_ALIASES.get(prec.lower(), prec.lower())
        if key not in PRECISIONS:
            problems.add(i + 1, "precision", f"unknown precision {_cut(prec)!r}",
                         f"use one of {', '.join(PRECISIONS)}")
        precisions.append(key)
    out["precision"] = precisions


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class _NameResolver:
    """Resolves a column's names once per distinct name; once the column's problems are past what the
    message shows, unknown names are counted without the costly "did you mean" search (a file of
    100,000 distinct unknown names must still answer in seconds)."""

    def __init__(self, column: str, lookup: Any, known: Any, problems: _Problems) -> None:
        self.column, self.lookup, self.known, self.problems = column, lookup, known, problems
        self.cache: dict[str, tuple[str, str, str | None]] = {}  # name -> (id, problem, fix)

    def __call__(self, row: int, name: str) -> str:
        if name not in self.cache:
            if self.known is not None and self.problems.full(self.column) and not self.known(name):
                self.cache[name] = ("", f"unknown {self.column} {_cut(name)!r}", None)
            else:
                try:
                    self.cache[name] = (self.lookup(name), "", None)
                except PlannerError as exc:
                    self.cache[name] = ("", exc.message, exc.fix)
        ident, problem, fix = self.cache[name]
        if problem:
            self.problems.add(row, self.column, problem, fix)
        return ident




def _check_values(out: Any, catalog: Catalog, problems: _Problems) -> None:
    positive = ("num_gpus", "tp", "pp", "output_tokens", "throughput_tok_s", "input_tokens")
    ttft_run = out["ttft_ms"].notna().to_numpy()
    for col in positive:
        for i in np.flatnonzero(~(out[col] > 0).to_numpy()):
            if problems.reported(int(i) + 1, col):
                continue  # not a number: already reported
            if col == "throughput_tok_s" and np.isnan(out[col].iloc[i]) and ttft_run[i]:
                continue  # a TTFT run (e.g. batch 1, one output token) has no throughput to report
            value = out[col].iloc[i]
            got = "blank" if np.isnan(value) else f"{value:g}"
            blank_ok = " (blank only on a row that measures ttft_ms)" if col == "throughput_tok_s" else ""
            problems.add(int(i) + 1, col, f"must be > 0, got {got}",
                         f"fill in the measured value, or remove the row{blank_ok}")
    for col in ("ttft_ms", "itl_ms", "avg_power_w", "energy_j_per_token", "batch_or_concurrency",
                "achieved_batch"):
        bad = out[col].notna() & ~(out[col] > 0)
        for i in np.flatnonzero(bad.to_numpy()):
            problems.add(int(i) + 1, col, f"must be > 0 when given, got {out[col].iloc[i]:g}",
                         "leave the cell blank when not measured")
    bad = out["fit_weight"].notna() & ~(out["fit_weight"] >= 0)
    for i in np.flatnonzero(bad.to_numpy()):
        problems.add(int(i) + 1, "fit_weight", f"must be >= 0, got {out['fit_weight'].iloc[i]:g}",
                     "0 scores the row without fitting it; blank = 1")
    _check_ranges(out, problems)
    short = out["num_gpus"] < out["tp"] * out["pp"]
    for i in np.flatnonzero(short.to_numpy()):
        problems.add(int(i) + 1, "num_gpus", f"{out['num_gpus'].iloc[i]:g} GPUs cannot run "
                     f"tp={out['tp'].iloc[i]:g} x pp={out['pp'].iloc[i]:g}", "num_gpus must be >= tp x pp")
    _check_power(out, catalog, problems)


def _check_ranges(out: Any, problems: _Problems) -> None:
    """Given values inside the column's plausible range (a value past it is a unit mistake or a typo, and
    would push the fit into overflow); GPU counts and parallelism whole."""
    for col, (low, high, unit) in PLAUSIBLE.items():
        values = out[col]
        for i in np.flatnonzero((values.notna() & ~values.between(low, high)).to_numpy()):
            if not problems.reported(int(i) + 1, col):
                problems.add(int(i) + 1, col, f"{values.iloc[i]:g} is outside the plausible range "
                             f"{low:g} .. {high:g} {unit}", "check the unit and the number's exponent")
    for col in ("num_gpus", "tp", "pp"):
        values = out[col]
        for i in np.flatnonzero((values.notna() & (values != values.round())).to_numpy()):
            if not problems.reported(int(i) + 1, col):
                problems.add(int(i) + 1, col, f"must be a whole number, got {values.iloc[i]:g}",
                             "count GPUs and parallel ranks in whole numbers")


def _check_power(out: Any, catalog: Catalog, problems: _Problems) -> None:
    """Average power per GPU must lie between half the GPU's idle power and a multiple of its TDP."""
    scope = out["power_scope"].to_numpy(dtype=str)
    power = out["avg_power_w"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        per_gpu = np.where(scope == "per_gpu", power, power / out["num_gpus"].to_numpy(dtype=float))
    wall = scope == "wall"
    gpus = out["gpu"].to_numpy(dtype=str)
    for i in np.flatnonzero(np.isfinite(per_gpu) & (gpus != "")):  # unknown GPUs are already reported
        spec = catalog.gpu(str(gpus[i]))
        factor = MAX_WALL_POWER_TDP_FACTOR if wall[i] else MAX_GPU_POWER_TDP_FACTOR
        high = min(factor * spec.tdp_w, MAX_POWER_PER_GPU_W * (2.0 if wall[i] else 1.0))
        low = MIN_POWER_IDLE_FACTOR * spec.idle_w
        kind = "wall power" if wall[i] else "GPU power"
        if per_gpu[i] > high:
            problems.add(int(i) + 1, "avg_power_w",
                         f"{power[i]:g} W is {per_gpu[i]:.0f} W per GPU, above any plausible {kind} of a "
                         f"{spec.id} (TDP {spec.tdp_w:.0f} W, limit {high:.0f} W)",
                         "check the unit (W, not mW) and power_scope (summed over all GPUs, or per GPU)")
        elif per_gpu[i] < low:
            problems.add(int(i) + 1, "avg_power_w",
                         f"{power[i]:g} W is {per_gpu[i]:.1f} W per GPU, below half the idle power of a "
                         f"{spec.id} ({spec.idle_w:.0f} W)", "check the unit (W, not kW) and power_scope")


def _parallel_capable(model: Any) -> bool:
    """The model can run expert or attention data parallelism (MoE, or MLA attention)."""
    return model.moe is not None or model.attention.kind == "mla"


def _expert_parallel(notes: str) -> float:
    """``ep=N`` in a row's notes (the run's expert parallelism), else NaN."""
    m = re.search(r"(?<![A-Za-z_])ep=([0-9]+)", notes or "")
    return float(m.group(1)) if m else np.nan


def _attention_dp(notes: str) -> bool:
    """The notes say the run used attention data parallelism (TRT-LLM enable_attention_dp)."""
    return "attention dp" in (notes or "").lower()


def parallel_layout(m: Measurements) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, dp, ep) of each measured run, as the engines lay them out:

    * num_gpus > tp x pp (vLLM ``--data-parallel-size N --enable-expert-parallel``): the other GPUs are
      attention data-parallel ranks, dp = num_gpus / (tp x pp), and the experts are spread over all the
      GPUs (ep = num_gpus, or the notes' ``ep=N``);
    * notes saying "attention DP" (TRT-LLM ``enable_attention_dp`` with ``--ep``): tp is the MoE group,
      attention runs one rank per GPU: tp 1, dp = num_gpus / pp, ep = num_gpus (or ``ep=N``);
    * otherwise tp x pp, ep 1, dp 1 (experts sliced by tensor parallelism); a dense model on more GPUs
      than tp x pp keeps the older reading, tensor parallelism over all of them.
    """
    f = m.frame
    gpus, tp, pp = (f[k].to_numpy(dtype=float) for k in ("num_gpus", "tp", "pp"))
    ep_note = f["ep_noted"].to_numpy(dtype=float) if "ep_noted" in f else np.full(len(f), np.nan)
    noted_dp = f["attention_dp"].to_numpy(dtype=bool) if "attention_dp" in f else np.zeros(len(f), dtype=bool)
    capable = (f["parallel_capable"].to_numpy(dtype=bool) if "parallel_capable" in f
               else np.ones(len(f), dtype=bool))
    att_dp = noted_dp & (gpus == tp * pp) & (tp > 1) & capable
    extra = (gpus > tp * pp) & capable
    tp_out = np.where(att_dp, 1.0, np.where((gpus > tp * pp) & ~capable, gpus / pp, tp))
    dp = np.where(extra, gpus / (tp * pp), np.where(att_dp, gpus / pp, 1.0))
    ep = np.where(extra | att_dp, np.where(np.isnan(ep_note), gpus, ep_note), 1.0)
    return tp_out, dp, ep


STATIC_BATCHING_SOURCES = ("TRTLLM_V09",)
"""Sources measured with static batching: TensorRT-LLM v0.9 "Peak Throughput" (gptSessionBenchmark, B
identical sequences prefilled together, then decoded; ../shared/data/README.md)."""


def to_configs(m: Measurements) -> dict[str, np.ndarray]:
    """Configuration columns for the estimation core: one replica of the measured run, with its expert
    and attention data parallelism (parallel_layout)."""
    f = m.frame
    tp, dp, ep = parallel_layout(m)
    batch = f["achieved_batch"].fillna(f["batch_or_concurrency"]).to_numpy(dtype=float)
    return {
        "model": f["model"].to_numpy(dtype=str), "gpu": f["gpu"].to_numpy(dtype=str),
        "precision": f["precision"].to_numpy(dtype=str), "tp": tp.astype(float),
        "pp": f["pp"].to_numpy(dtype=float), "ep": ep, "dp": dp, "batch_size": batch,
        "input_tokens": f["input_tokens"].to_numpy(dtype=float),
        "output_tokens": f["output_tokens"].to_numpy(dtype=float),
        "engine": f["engine"].to_numpy(dtype=str),
        "static_batching": f["source_id"].isin(STATIC_BATCHING_SOURCES).to_numpy(dtype=float),
    }


def wall_power(m: Measurements) -> np.ndarray:
    """True where the row's power (and so its energy) was measured at the wall, not on the GPUs."""
    return (m.frame["power_scope"] == "wall").to_numpy(dtype=bool)


def measured_targets(m: Measurements) -> dict[str, np.ndarray]:
    """Measured metrics in the core's units: tokens/s, seconds, watts summed over the run's GPUs, J."""
    f = m.frame
    power = f["avg_power_w"].to_numpy(dtype=float)
    power = np.where(f["power_scope"] == "per_gpu", power * f["num_gpus"], power)
    thr = f["throughput_tok_s"].to_numpy(dtype=float)
    energy = f["energy_j_per_token"].to_numpy(dtype=float)
    energy = np.where(np.isnan(energy), power / thr, energy)
    return {"output_tokens_per_s": thr, "itl_s": f["itl_ms"].to_numpy(dtype=float) / MS_PER_S,
            "ttft_s": f["ttft_ms"].to_numpy(dtype=float) / MS_PER_S, "power_total_w": power,
            "energy_per_output_token_j": energy}
