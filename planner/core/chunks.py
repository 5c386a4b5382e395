"""The core evaluated in cache-sized blocks of rows (issue 13 item 4).

Every function of the core is elementwise over rows, so a block of rows gives the same numbers, bit for bit,
as the whole table. On a million rows each of the core's few hundred intermediates is a 12 MB array: the
evaluation then runs at memory bandwidth and spends its system time faulting in fresh pages (0.6 M rows/s
measured on a 2-core machine); on blocks of ``CHUNK_ROWS`` rows the intermediates stay in L2/L3 and the
same evaluation runs at 2.5-2.9 M rows/s (bench/bench_estimate.py; 4,096-16,384 rows measured, 8,192 best
then). With the configuration terms computed once per run of rows (planner.core.runs) and lean block inputs,
blocks of 16,384 rows are ~3-5 % faster than 8,192 from names to results (2026-11-28), so that is the size.

Pure: arrays in, arrays out; nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

CHUNK_ROWS = 16_384
"""Rows per block: a float64 column of a block is 128 KiB, so a step's working set stays in L2/L3."""

Rows = slice | np.ndarray
"""The rows of a block: a slice, or an integer index array."""


def row_blocks(n: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[slice]:
    """Consecutive slices of at most ``chunk_rows`` rows covering ``range(n)``."""
    for start in range(0, n, chunk_rows):
        yield slice(start, min(start + chunk_rows, n))


def row_count(x: Mapping[str, Any]) -> int | None:
    """The length of the per-row arrays of ``x`` (nested mappings included), or None when ``x`` holds an
    array that is neither 0-d nor 1-d of that one length (such inputs are evaluated in one piece)."""
    lengths: set[int] = set()
    stack = [x]
    while stack:
        for v in stack.pop().values():
            if isinstance(v, Mapping):
                stack.append(v)
            elif np.ndim(v) == 1:
                lengths.add(len(v))
            elif np.ndim(v) > 1:
                return None
    return lengths.pop() if len(lengths) == 1 else None


def take_rows(x: Mapping[str, Any], rows: slice, n: int) -> dict[str, Any]:
    """``x`` with every per-row array (1-d of length ``n``) cut to ``rows`` (views, no copy); scalars kept."""
    return {k: take_rows(v, rows, n) if isinstance(v, Mapping)
            else v[rows] if np.ndim(v) == 1 and len(v) == n else v for k, v in x.items()}


def evaluate_blocks(block: Callable[[slice], Mapping[str, Any]], n: int,
                    chunk_rows: int = CHUNK_ROWS) -> dict[str, np.ndarray] | None:
    """``block(rows)`` (the outputs of a block of rows) for each block, written into arrays of ``n`` rows
    allocated once. None when an output of the first block is not one value per row (the caller then
    evaluates in one piece)."""
    out: dict[str, np.ndarray] = {}
    for rows in row_blocks(n, chunk_rows):
        part = block(rows)
        if not out:
            m = rows.stop - rows.start
            if any(np.shape(v) != (m,) for v in part.values()):
                return None
            out = _allocate(part, n)
        for k, v in part.items():
            out[k][rows] = v
    return out


def _allocate(part: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    """Output arrays of ``n`` rows with the dtypes of ``part``'s: the float64 ones rows of one 2-D array (one
    allocation to fault in instead of dozens: 0.08 s instead of 0.13 s for 45 columns of 1.5 M rows)."""
    floats = [k for k, v in part.items() if np.asarray(v).dtype == np.float64]
    rows = dict(zip(floats, np.empty((len(floats), n)), strict=True))
    return {k: rows[k] if k in rows else np.empty(n, dtype=np.asarray(v).dtype) for k, v in part.items()}


def evaluate_chunked(fn: Callable[[dict[str, Any]], Mapping[str, Any]], x: dict[str, Any],
                     chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """``fn(x)`` computed block by block over the rows of ``x`` (bitwise the same result for an elementwise
    ``fn``); in one piece when ``x`` is small or not a table of per-row arrays."""
    n = row_count(x)
    if n is None or n <= 2 * chunk_rows:
        return dict(fn(x))
    out = evaluate_blocks(lambda rows: fn(take_rows(x, rows, n)), n, chunk_rows)
    return dict(fn(x)) if out is None else out
