"""Runs of rows that share a configuration (issue 13 item 4): terms of the core that depend on the
configuration alone (model, GPU, precision, engine, coefficients, tp, pp, ep, dp) computed once per run of
consecutive rows instead of once per row, then spread back to the rows.

Tables are usually grouped by configuration (the 1.5 M-row grid of bench/bench_estimate.py holds runs of 42
rows: 6 batch sizes x 7 sequence lengths), so a block of 16,384 rows holds ~400 runs. Every function of the
core is elementwise, so a term computed on the first row of each run and copied to the run's rows is the
same number, bit for bit, as the term computed on every row.

A block's inputs carry their runs under ``ROW_RUNS`` (planner.core.inputs.InputTables.inputs) together with
the arrays the runs hold constant; ``holds`` refuses the runs when any other input is present or an input was
replaced since (a caller that edits the inputs gets the row-by-row evaluation). Pure: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROW_RUNS = "row_runs"
"""The key of a block's inputs that holds its RowRuns."""

ROW_INPUTS = frozenset({"input_tokens", "output_tokens", "batch_size", "prefill_chunk_tokens", "power_limit_w",
                        "cached_prompt_share", "static_batching", "coefficients", ROW_RUNS})
"""Inputs that may change within a run: the configuration terms never read them."""

MAX_RUN_SHARE = 4
"""Runs are used when a block holds at most 1/4 as many runs as rows (spreading the terms back costs about
one gathered copy per term; computing them on every row costs ~3 numpy calls per term)."""


@dataclass(frozen=True)
class RowRuns:
    """Runs of consecutive rows whose configuration inputs are all equal."""

    heads: np.ndarray
    """The first row of each run."""
    lengths: np.ndarray
    """The rows of each run."""
    held: Mapping[str, Any]
    """The inputs (by identity) constant over each run."""
    coefficients: Mapping[str, Any]
    """The coefficient arrays (by identity) constant over each run."""
    at_heads: dict[str, Any] = field(default_factory=dict)
    """The values of ``held`` and ``coefficients`` on the first row of each run (under ``x`` and ``c``),
    given by the maker of the runs or kept by per_run once computed; with ``lean``, those of every input."""
    lean: bool = False
    """The inputs hold only what is read row by row (planner.core.model.ROW_FEATURES): every other input's
    values are in ``at_heads`` alone, so these inputs can only be evaluated through their runs."""


def find_runs(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(first row, length) of each run of rows over which every array of ``keys`` (one value per row, e.g.
    the configuration code, tp and pp) repeats the row before's; None when the runs are too short to pay
    (MAX_RUN_SHARE)."""
    m = len(keys[0])
    change = np.empty(m, dtype=bool)
    change[0] = True
    np.not_equal(keys[0][1:], keys[0][:-1], out=change[1:])
    for k in keys[1:]:
        change[1:] |= k[1:] != k[:-1]
    heads = np.flatnonzero(change)
    if len(heads) * MAX_RUN_SHARE > m:
        return None
    return heads, np.diff(heads, append=m)


def holds(x: Mapping[str, Any], c: Mapping[str, Any]) -> RowRuns | None:
    """``x``'s runs when they still describe ``x`` and ``c``: every input of ``x`` is either one of the arrays
    the runs hold constant (the same object) or a row input (ROW_INPUTS), and ``c`` is the runs'
    coefficients; else None."""
    runs = x.get(ROW_RUNS)
    if not isinstance(runs, RowRuns) or len(c) != len(runs.coefficients):
        return None
    held = runs.held
    if any(k not in ROW_INPUTS and held.get(k) is not v for k, v in x.items()):
        return None
    if sum(k not in ROW_INPUTS for k in x) != len(held):  # an input held constant was dropped from x
        return None
    if any(runs.coefficients.get(k) is not v for k, v in c.items()):
        return None
    return runs


def per_run(terms: Callable[[dict[str, Any], dict[str, Any]], Any], x: Mapping[str, Any],
            c: Mapping[str, Any]) -> Any:
    """``terms(x, c)`` (a function of the configuration inputs only) computed on the first row of each run of
    ``x`` and spread to every row: the same numbers, bit for bit, as ``terms(x, c)`` on every row (it is
    called on every row when ``x`` carries no runs that hold)."""
    runs = holds(x, c)
    if runs is None:
        if getattr(x.get(ROW_RUNS), "lean", False):
            raise ValueError("lean inputs (planner.core.inputs.InputTables.inputs(rows, lean=True)) were changed "
                             "after they were made: they hold only what is read row by row and cannot be "
                             "evaluated row by row; make them with lean=False")
        return terms(dict(x), dict(c))
    heads, at = runs.heads, runs.at_heads
    if "x" not in at:
        at["x"] = {k: _at(v, heads) for k, v in runs.held.items()}
    if "c" not in at:
        at["c"] = {k: _at(v, heads) for k, v in runs.coefficients.items()}
    return spread(terms(dict(at["x"]), dict(at["c"])), len(heads), runs.lengths)


def _at(v: Any, heads: np.ndarray) -> Any:
    return v[heads] if np.ndim(v) == 1 else v


def spread(tree: Any, h: int, lengths: np.ndarray) -> Any:
    """``tree`` (dicts, tuples and lists of values) with every 1-d array of ``h`` values repeated ``lengths``
    times each; the float64 ones in one numpy call (np.repeat of a 2-d array costs ~1.4 us per array on
    8,192 rows, a gather by row index ~4.6 us). Other values are kept."""
    arrays: list[np.ndarray] = []
    shape = _shape(tree, h, arrays)
    floats = {id(a): a for a in arrays if a.dtype == np.float64}
    stacked = np.concatenate(list(floats.values())).reshape(len(floats), h) if floats else None  # np.stack: 3x
    rows = {} if stacked is None else dict(zip(floats, np.repeat(stacked, lengths, axis=1), strict=True))
    rows.update((id(a), np.repeat(a, lengths)) for a in arrays if id(a) not in rows)
    return _fill(shape, rows)


def _per_head(v: Any, h: int) -> bool:
    return type(v) is np.ndarray and v.ndim == 1 and v.shape[0] == h


def _children(tree: Any) -> Any:
    """The values of a dict, tuple or list (or any Mapping), else None."""
    t = type(tree)
    if t is dict:
        return tree.values()
    if t is tuple or t is list:
        return tree
    if t is np.ndarray or tree is None or t is float or t is bool:
        return None
    return tree.values() if isinstance(tree, Mapping) else tree if isinstance(tree, tuple | list) else None


_ARRAY = object()
"""A leaf of spread's shape: the array of that id is spread."""


def _shape(tree: Any, h: int, arrays: list[np.ndarray]) -> Any:
    """``tree``'s containers as (kind, keys, children), its per-head arrays as (_ARRAY, id) and appended to
    ``arrays``, other values as (None, value): one call per container, not per value (~40 values a block)."""
    values = _children(tree)
    if values is None:
        if _per_head(tree, h):
            arrays.append(tree)
            return _ARRAY, id(tree)
        return None, tree
    kind = dict if isinstance(tree, Mapping) else type(tree)
    children: list[Any] = []
    for v in values:
        if type(v) is np.ndarray:
            if v.ndim == 1 and v.shape[0] == h:
                arrays.append(v)
                children.append((_ARRAY, id(v)))
            else:
                children.append((None, v))
        elif v is None or type(v) is float or type(v) is bool:
            children.append((None, v))
        else:
            children.append(_shape(v, h, arrays))
    return kind, list(tree) if kind is dict else None, children


def _fill(shape: Any, rows: Mapping[int, np.ndarray]) -> Any:
    kind = shape[0]
    if kind is _ARRAY:
        return rows[shape[1]]
    if kind is None:
        return shape[1]
    values = [rows[c[1]] if c[0] is _ARRAY else c[1] if c[0] is None else _fill(c, rows) for c in shape[2]]
    return dict(zip(shape[1], values, strict=True)) if kind is dict else kind(values)
