"""Configuration columns -> the feature arrays of the pure core (one gather per column, no
per-configuration loop), and the vectorized estimate on them.

Pure: every input is an argument (the catalog's specs, a Calibration object); nothing here reads a
file or keeps state between calls. The public, file-reading entry points are in planner.estimation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.core.chunks import CHUNK_ROWS, evaluate_blocks, evaluate_chunked
from planner.core.constants import COEFFICIENTS, DEFAULT_ENGINE, ENGINE_ALIASES, ENGINES, fixed
from planner.core.features import (
    GPU_FEATURES,
    MODEL_FEATURES,
    gpu_features,
    model_features,
    precision_path,
    tp_splits_heads,
)
from planner.core.model import ROW_COEFFICIENTS, ROW_FEATURES, evaluate
from planner.core.runs import ROW_INPUTS, ROW_RUNS, RowRuns, find_runs, per_run
from planner.errors import InputError, shown
from planner.schemas.calibration import Calibration
from planner.schemas.engine import EngineProfile, tier_value

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

CONFIG_COLUMNS = ("model", "gpu", "precision", "tp", "pp", "batch_size", "input_tokens", "output_tokens",
                  "engine", "prefill_chunk_tokens", "ep", "dp")


def canonical_engine(name: str | None) -> str:
    key = (name or DEFAULT_ENGINE).strip().lower()
    if key not in ENGINE_ALIASES:  # "TensorRT-LLM (PyTorch backend)", "vLLM 0.11" -> first word
        key = key.replace("(", " ").split()[0] if key.split() else key
    if key not in ENGINE_ALIASES:
        raise InputError(f"unknown engine {shown(str(name))}", fix=f"use one of {', '.join(ENGINES)}")
    return ENGINE_ALIASES[key]


def _factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(unique values, integer code per row). pandas.factorize (hash-based, O(n)) for long columns:
    already loaded for estimate_table, imported for very long tables where the sort np.unique does
    on strings costs more than the import; np.unique otherwise (keeps `planner estimate` light)."""
    arr = np.asarray(values)
    pd: Any = sys.modules.get("pandas")
    if pd is None and arr.size > 200_000:
        import importlib

        pd = importlib.import_module("pandas")
    if pd is not None and arr.size > 10_000:
        codes, uniques = pd.factorize(arr)
        return np.asarray(uniques).astype(str), np.asarray(codes)
    uniques, codes = np.unique(arr.astype(str), return_inverse=True)
    return uniques, codes.reshape(-1)


def _require_calibration(calibration: Any) -> Calibration:
    if not isinstance(calibration, Calibration):
        raise TypeError(f"build_inputs takes a Calibration object, got {type(calibration).__name__} "
                        f"{calibration!r}: the core reads no file; load one with "
                        "planner.calibration.coefficients.load_calibration(path)[0]")
    return calibration


def scheduler_row(profile: EngineProfile, memory_gib: float, architecture: str) -> dict[str, float]:
    """The core's scheduler inputs of one engine on one GPU (its profile's defaults for that GPU tier):
    sequence cap (NaN: sized from memory), default step token budget, chunked prefill (1 or 0)."""
    s = profile.scheduler
    cap = tier_value(s.max_sequences, memory_gib, architecture)
    tokens = tier_value(s.max_batched_tokens, memory_gib, architecture)
    return {"engine_max_sequences": np.nan if cap is None else float(cap),
            "engine_step_tokens": float(tokens) if tokens is not None else float("nan"),
            "chunked_prefill": 1.0 if s.chunked_prefill else 0.0}


SCHEDULER_KEYS = ("engine_max_sequences", "engine_step_tokens", "chunked_prefill")
_ALL = slice(None)
_STACKED_ROWS = 1024
"""From this many rows on, inputs() gathers every key with one indexing of the stacked tables."""


@dataclass
class InputTables:
    """build_inputs' result before it is spread over the rows: the features of each distinct combination of
    model, GPU, precision and engine present (``features``: x's model, GPU and precision keys in x's order;
    ``coefficients``), each row's combination (``codes``) and the per-row columns. ``inputs(rows)`` gathers
    the core's inputs of any block of rows (of many rows: with one indexing of ``stack``), so a long table is
    estimated block by block without ever holding a full-length model, GPU or coefficient feature."""

    n: int
    codes: np.ndarray
    features: dict[str, np.ndarray]
    coefficients: dict[str, np.ndarray]
    rows: dict[str, Any]
    """Per-row columns (tp, pp, tokens, batch, ...; a caller may add one, e.g. ``cached_prompt_share``)."""
    problem_index: np.ndarray
    """Per combination: 0, or 1 + the index of its problem in ``combination_problems``."""
    combination_problems: tuple[str, ...]
    """Why a combination cannot be evaluated (e.g. a 16-bit format the GPU lacks)."""
    combination_names: dict[str, np.ndarray]
    """Per combination, its ``model`` and ``gpu`` names as the table spells them."""
    @cached_property
    def stack(self) -> np.ndarray | None:
        """``features`` then ``coefficients`` as one (keys x combinations) array; None unless all are float64."""
        tables = [*self.features.values(), *self.coefficients.values()]
        return np.stack(tables) if all(t.dtype == np.float64 for t in tables) else None

    def inputs(self, rows: slice = _ALL, lean: bool = False) -> dict[str, Any]:
        """The core's inputs (build_inputs' ``x``) of ``rows``. A block of rows carries its runs of rows sharing
        a configuration (planner.core.runs) with their values; ``lean`` (inputs for planner.core.model.evaluate
        alone): where it has runs, only the features and coefficients evaluate reads row by row
        (ROW_FEATURES, ROW_COEFFICIENTS) are spread over the rows, the runs hold the others."""
        whole = rows == _ALL
        codes = self.codes[rows]
        per_row = {k: v if whole or np.ndim(v) == 0 else v[rows] for k, v in self.rows.items()}
        runs, stack = None, self.stack
        if not whole and len(codes) >= _STACKED_ROWS and stack is not None:  # a block: its runs
            runs = find_runs([codes, *(v for k, v in per_row.items() if k not in ROW_INPUTS and np.ndim(v) == 1)])
        if runs is None or stack is None:
            return self._per_row_inputs(codes, per_row)
        on_heads = stack[:, codes[runs[0]]]  # the runs' values; each key a contiguous row
        keys, picked = self._keys(lean)
        spread_rows = iter(np.repeat(on_heads if picked is None else on_heads[picked], runs[1], axis=1))
        x = {k: next(spread_rows) for k in keys[0]}
        x["coefficients"] = {k: next(spread_rows) for k in keys[1]}
        x.update(per_row)
        heads = iter(on_heads)
        at_heads = {"x": {k: next(heads) for k in self.features}, "c": {k: next(heads) for k in self.coefficients}}
        at_heads["x"].update((k, v[runs[0]] if np.ndim(v) == 1 else v) for k, v in per_row.items()
                             if k not in ROW_INPUTS)
        held = {k: v for k, v in x.items() if k not in ROW_INPUTS}
        x[ROW_RUNS] = RowRuns(*runs, held, dict(x["coefficients"]), at_heads, lean=picked is not None)
        return x

    def _per_row_inputs(self, codes: np.ndarray, per_row: dict[str, Any]) -> dict[str, Any]:
        if len(codes) < _STACKED_ROWS or self.stack is None:  # a few rows: one indexing per key costs less
            x = {k: v[codes] for k, v in self.features.items()}
            x["coefficients"] = {k: v[codes] for k, v in self.coefficients.items()}
        else:
            gathered = iter(self.stack[:, codes])  # one indexing for every key; each key a contiguous row
            x = {k: next(gathered) for k in self.features}
            x["coefficients"] = {k: next(gathered) for k in self.coefficients}
        x.update(per_row)
        return x

    def _keys(self, lean: bool) -> tuple[tuple[list[str], list[str]], list[int] | None]:
        """(feature keys, coefficient keys) of a block's inputs, and their rows in ``stack`` (None: all)."""
        if not lean:
            return (list(self.features), list(self.coefficients)), None
        features = [k for k in self.features if k in ROW_FEATURES]
        coefficients = [k for k in self.coefficients if k in ROW_COEFFICIENTS]
        order = {k: i for i, k in enumerate(self.features)}
        order.update((k, len(self.features) + i) for i, k in enumerate(self.coefficients))
        return (features, coefficients), [order[k] for k in features] + [order[k] for k in coefficients]

    def problem_codes(self, x: Mapping[str, Any], rows: slice = _ALL) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per row of ``x`` (``inputs(rows)``), an index into the messages returned with it (0: '', valid):
        the combination's problem where it has one, else the first value check the row fails."""
        code, messages = value_problem_codes(x)
        by_combination = self.problem_index[self.codes[rows]]
        return (np.where(by_combination > 0, by_combination + (len(messages) - 1), code),
                (*messages, *self.combination_problems))

    def problems(self, x: Mapping[str, Any], rows: slice = _ALL) -> np.ndarray:
        """Per row of ``x`` (``inputs(rows)``): why it cannot be evaluated ('' when it can)."""
        code, messages = self.problem_codes(x, rows)
        return problem_strings(code, messages)


def problem_strings(code: np.ndarray, messages: tuple[str, ...]) -> np.ndarray:
    """The problem strings (an object array) of problem codes."""
    table = np.empty(len(messages), dtype=object)
    table[:] = messages
    return table[code]


def build_inputs(cols: Mapping[str, np.ndarray], catalog: Catalog, calibration: Calibration,
                 power_limit_w: np.ndarray | float | None = None,
                 engines: Mapping[str, EngineProfile] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Feature arrays for the core, and a per-row problem string ('' when the row is valid).

    ``engines`` (canonical engine id -> profile, planner.catalog.engines.load_engines()): each row takes its
    engine's scheduler defaults on its GPU (sequence cap of the offline point, default step token budget,
    chunked prefill or not); None: the core's one default for every engine (planner.core.constants)."""
    tables = input_tables(cols, catalog, calibration, power_limit_w, engines)
    x = tables.inputs()
    return x, tables.problems(x)


def input_tables(cols: Mapping[str, np.ndarray], catalog: Catalog, calibration: Calibration,
                 power_limit_w: np.ndarray | float | None = None,
                 engines: Mapping[str, EngineProfile] | None = None) -> InputTables:
    """build_inputs' features as tables of the distinct (model, GPU, precision, engine) combinations."""
    n = len(cols["model"])
    cal = _require_calibration(calibration)
    names = _name_codes(cols, n)
    models = [catalog.model(m) for m in names.model_ids]
    p_ids, e_ids = names.precision_ids, names.engine_ids
    e_canon = [canonical_engine(e) for e in e_ids]  # a few unique names, not one call per row
    groups = len(names.gpu_ids) * len(p_ids) * len(e_ids)
    combo_keys, combo_codes = np.unique(names.model_codes.astype(np.int64) * groups + names.group_key,
                                        return_inverse=True)
    combo_model, combo_group_key = np.divmod(combo_keys, groups)
    gp_keys, combo_group = np.unique(combo_group_key, return_inverse=True)
    g_rows, p_rows, c_rows, s_rows, problems = [], [], [], [], []
    for k in gp_keys:
        gi, rest = divmod(int(k), len(p_ids) * len(e_ids))
        pi, ei = divmod(rest, len(e_ids))
        g, prec, engine = catalog.gpu(names.gpu_ids[gi]), str(p_ids[pi]), e_canon[ei]
        wb, flops, weight_only, problem = precision_path(g, prec)
        fp8_kv = ENGINES[engine]["kv_fp8_with_fp8_weights"] and prec in ("fp8", "fp4")
        g_rows.append(gpu_features(g))
        p_rows.append({"weight_bytes": wb or 1.0, "compute_flops": flops or 1.0,
                       "weight_only": float(weight_only), "kv_scale": 0.5 if fp8_kv else 1.0})
        c_rows.append(cal.for_config(g.id, engine))
        if engines is not None and engine in engines:
            s_rows.append(scheduler_row(engines[engine], g.memory_gib, g.architecture))
        else:
            s_rows.append({"engine_max_sequences": fixed("max_batch_size"),
                           "engine_step_tokens": fixed("prefill_chunk_tokens"), "chunked_prefill": 1.0})
        problems.append(problem)
    m_rows = [model_features(m) for m in models]
    on_model, on_group = combo_model.reshape(-1), combo_group.reshape(-1)
    features = {k: np.array([r[k] for r in m_rows])[on_model] for k in MODEL_FEATURES}
    features.update((k, np.array([r[k] for r in g_rows])[on_group]) for k in GPU_FEATURES)
    features.update((k, np.array([r[k] for r in p_rows])[on_group])
                    for k in ("weight_bytes", "compute_flops", "weight_only", "kv_scale"))
    if engines is not None:
        features.update((k, np.array([r[k] for r in s_rows], dtype=float)[on_group]) for k in SCHEDULER_KEYS)
    found = sorted({p for p in problems if p})
    gpu_names = np.array([names.gpu_ids[int(k) // (len(p_ids) * len(e_ids))] for k in gp_keys], dtype=str)
    problem_index = np.array([found.index(p) + 1 if p else 0 for p in problems], dtype=np.int32)[on_group]
    return InputTables(n=n, codes=names.per_row(combo_codes.reshape(-1)), features=features,
                       coefficients={k: np.array([r[k] for r in c_rows])[on_group] for k in COEFFICIENTS},
                       rows=_row_columns(cols, n, power_limit_w), problem_index=problem_index,
                       combination_problems=tuple(found),
                       combination_names={"model": names.model_ids[on_model], "gpu": gpu_names[on_group]})


def _row_columns(cols: Mapping[str, np.ndarray], n: int, power_limit_w: np.ndarray | float | None) -> dict[str, Any]:
    """The core's per-row inputs taken from the columns as numbers (None and absent columns: their defaults)."""
    x: dict[str, Any] = {}
    for k in ("tp", "pp", "input_tokens", "output_tokens"):
        x[k] = np.asarray(cols[k], dtype=float)
    for k in ("batch_size", "prefill_chunk_tokens"):
        raw = np.asarray(cols[k]) if k in cols else np.full(n, np.nan)  # object: numbers mixed with None
        x[k] = (np.array([np.nan if v is None else float(v) for v in raw]) if raw.dtype == object
                else raw.astype(float))
    for k in ("ep", "dp"):  # optional columns: absent = 1 (the core then takes today's tp x pp path)
        if k in cols:
            raw = np.asarray(cols[k])
            x[k] = (np.array([1.0 if v is None else float(v) for v in raw]) if raw.dtype == object
                    else np.nan_to_num(raw.astype(float), nan=1.0))
    if power_limit_w is not None:
        x["power_limit_w"] = np.broadcast_to(np.asarray(power_limit_w, dtype=float), (n,))
    return x


@dataclass(frozen=True)
class _Names:
    """The distinct model, GPU, precision and engine names, and per run of rows the model's code and the
    (GPU, precision, engine) key; ``runs``: the length of each run (None: one row per run)."""

    model_ids: np.ndarray
    model_codes: np.ndarray
    gpu_ids: np.ndarray
    precision_ids: np.ndarray
    engine_ids: np.ndarray
    group_key: np.ndarray
    runs: np.ndarray | None

    def per_row(self, codes: np.ndarray) -> np.ndarray:
        return codes if self.runs is None else np.repeat(codes, self.runs)


def _name_codes(cols: Mapping[str, np.ndarray], n: int) -> _Names:
    """The names factorized once per run of rows that repeat all four names (tables are usually grouped by
    them: the 1.5 M-row grid of bench/bench_estimate.py has ~10 k runs), else once per row."""
    names = [np.asarray(cols[k]) for k in ("model", "gpu", "precision", "engine")]
    heads = _run_heads(names, n)
    if heads is not None:
        names = [a[heads] for a in names]
    (m_ids, m_codes), (g_ids, g_codes), (p_ids, p_codes), (e_ids, e_codes) = (_factorize(a) for a in names)
    key = (g_codes.astype(np.int64) * len(p_ids) + p_codes) * len(e_ids) + e_codes
    return _Names(m_ids, m_codes, g_ids, p_ids, e_ids, key, None if heads is None else np.diff(np.append(heads, n)))


def _run_heads(names: list[np.ndarray], n: int) -> np.ndarray | None:
    """First row of each run of rows whose names all repeat the row before's; None when the runs are
    short (fewer than 8 rows on average: the names are then factorized row by row)."""
    if n < 64:
        return None
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for a in names:
        change[1:] |= _differs_from_previous(a)
    heads = np.flatnonzero(change)
    return heads if len(heads) <= n // 8 else None


_WORD_VIEWS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _differs_from_previous(a: np.ndarray) -> np.ndarray:
    """``a[1:] != a[:-1]``. A contiguous fixed-width string column (numpy pads every value with zeros, so
    equal strings have equal bytes) of at most 8 64-bit words per value is compared word by word in one
    comparison, each value's word results read as one integer (with 3, 5, 6 or 7 words, written into 8 bool
    columns first): 2-4x faster than numpy's string comparison (5 ms instead of 15 ms on 1.5 M 16-character
    names, 9 ms instead of 18 ms on 14-character ones)."""
    words = a.itemsize // 8
    if a.dtype.kind != "U" or not a.flags.c_contiguous or a.itemsize % 8 or not 1 <= words <= 8 or len(a) < 2:
        return a[1:] != a[:-1]
    w = a.view(np.uint64)
    if words in _WORD_VIEWS:
        return (w[words:] != w[:-words]).view(_WORD_VIEWS[words]) != 0
    padded = np.zeros((len(a) - 1, 8), dtype=bool)
    np.not_equal(w[words:].reshape(-1, words), w[:-words].reshape(-1, words), out=padded[:, :words])
    return padded.view(np.uint64).reshape(-1) != 0


def value_problem_codes(x: Mapping[str, np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per row, the index of the first value check it fails in the messages returned with it (0: '', none).
    The checks of the configuration alone run once per run of rows when ``x`` carries runs (planner.core.runs)."""
    tp_whole, pp_whole, *config = per_run(configuration_checks, x, x.get("coefficients", {}))
    checks = [
        (~(x["input_tokens"] > 0), "input_tokens must be > 0"),
        (~(x["output_tokens"] > 0), "output_tokens must be > 0"),
        tp_whole,
        pp_whole,
        (~np.isnan(x["batch_size"]) & ~(x["batch_size"] >= 1), "batch_size must be >= 1"),
        (_budget_problem(x["prefill_chunk_tokens"], x["batch_size"]),
         "prefill_chunk_tokens (the step token budget) must exceed batch_size"),
        *config,
    ]
    if "power_limit_w" in x:
        checks.append((~(x["power_limit_w"] > x["idle_w"]), "power_limit_w must be above the GPU's idle power"))
    code = np.zeros(len(x["tp"]), dtype=np.int8)
    for i in range(len(checks) - 1, -1, -1):  # the first check a row fails names its problem
        failed = np.asarray(checks[i][0], dtype=bool)
        if failed.any():  # (most checks fail on no row: a scan instead of a masked write)
            code[failed] = i + 1
    return code, ("", *(msg for _, msg in checks))


def _budget_problem(budget: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Rows whose step token budget (NaN: the engine default) does not exceed their batch size; where no row
    sets a budget (the default), no row fails, without comparing."""
    given = ~np.isnan(budget)
    return given & ~(budget > np.nan_to_num(batch, nan=0.0)) if given.any() else given


def configuration_checks(x: Mapping[str, Any], c: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """The checks of value_problem_codes that read the configuration alone (tp, pp, ep, dp, the model), in
    order: whole tp, whole pp, then the parallelism checks and the heads tp must divide."""
    checks = [
        (~(x["tp"] >= 1) | (x["tp"] != np.floor(x["tp"])), "tp must be a whole number >= 1"),
        (~(x["pp"] >= 1) | (x["pp"] != np.floor(x["pp"])), "pp must be a whole number >= 1"),
    ]
    if "ep" in x or "dp" in x:
        checks.extend(parallel_problems(x))
    tp_ok = tp_splits_heads(x["tp"], x["attention_heads"], x["kv_split_heads"])
    checks.append((~tp_ok, "tp must divide the model's attention heads (and split or replicate its KV heads "
                           "evenly), as serving engines require"))
    return checks


def parallel_problems(x: Mapping[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """Row checks of expert parallelism ``ep`` and attention data parallelism ``dp``."""
    ep = x.get("ep", np.ones_like(x["tp"]))
    dp = x.get("dp", np.ones_like(x["tp"]))
    gpus = x["tp"] * x["pp"] * dp
    moe = x["params_routed"] > 0
    return [
        (~(dp >= 1) | (dp != np.floor(dp)), "dp must be a whole number >= 1"),
        (~(ep >= 1) | (ep != np.floor(ep)), "ep must be a whole number >= 1"),
        ((ep > 1) & ~moe, "ep > 1 needs a mixture-of-experts model (this one has no routed experts); use ep 1"),
        ((dp > 1) & ~moe & ~(x["kv_split_heads"] == 0),
         "dp > 1 (attention data parallelism) is only meaningful for MoE or MLA models, whose attention is "
         "small beside the experts or whose latent KV cache TP cannot split; for a dense model use more "
         "replicas (or tp) instead"),
        ((ep >= 1) & (np.mod(gpus, np.maximum(ep, 1.0)) != 0),
         "ep must divide the replica's GPUs (tp x pp x dp)"),
        ((ep > 1) & (ep > x["experts_total"]), "ep cannot exceed the model's routed experts"),
    ]


def estimate_arrays(x: dict[str, Any]) -> dict[str, np.ndarray]:
    """The vectorized path on prepared inputs (see build_inputs), evaluated in cache-sized blocks of rows
    (planner.core.chunks): the same numbers, bit for bit, as one evaluation of every row."""
    return evaluate_chunked(_plain, x)


def _plain(x: dict[str, Any]) -> dict[str, np.ndarray]:
    return evaluate(x, x["coefficients"])


Estimator = Callable[[dict[str, Any]], dict[str, np.ndarray]]
"""The core on prepared inputs (estimate_arrays' evaluation, or planner.core.speculative's)."""


def estimate_columns(cols: Mapping[str, np.ndarray], catalog: Catalog, calibration: Calibration,
                     power_limit_w: np.ndarray | float | None = None,
                     engines: Mapping[str, EngineProfile] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Names to results: ``estimate_arrays(build_inputs(...)[0])`` and the problem strings, with the same
    numbers bit for bit, but each block of rows gathered from the per-model and per-group tables and
    estimated while it is in cache (no full-length feature array is ever built)."""
    return estimate_tables(input_tables(cols, catalog, calibration, power_limit_w, engines))


def estimate_tables(tables: InputTables, fn: Estimator = _plain,
                    chunk_rows: int = CHUNK_ROWS) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``fn`` on ``tables.inputs()`` and the rows' problems, computed block by block over the rows."""
    messages: list[tuple[str, ...]] = []

    def block(rows: slice) -> dict[str, np.ndarray]:
        x = tables.inputs(rows, lean=fn is _plain)
        code, found = tables.problem_codes(x, rows)
        messages[:] = [found]  # the same for every block: it depends on the columns present, not the rows
        return {**fn(x), _PROBLEM: code}

    out = evaluate_blocks(block, tables.n, chunk_rows) if tables.n > 2 * chunk_rows else None
    if out is None:
        x = tables.inputs()
        return fn(x), tables.problems(x)
    return out, problem_strings(out.pop(_PROBLEM), messages[0])


_PROBLEM = "_problem_code"
