"""The core in blocks of rows (planner.core.chunks, issue 13 item 4) gives the same bytes as one evaluation of
every row: estimate_arrays, the fused names-to-results estimate_columns / estimate_tables, and their problem
strings, on grids that exercise every optional input (engines, power limits, ep/dp, prefix cache,
speculative decoding, object columns, unsorted rows)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.core.chunks import CHUNK_ROWS, evaluate_chunked, row_blocks, row_count
from planner.core.inputs import build_inputs, estimate_columns, estimate_tables, input_tables
from planner.core.model import evaluate
from planner.core.speculative import estimate_speculative
from planner.schemas.speculative import Speculative

pytestmark = pytest.mark.unit

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "deepseek-v3", "gemma-2-9b")
GPUS = ("h100-sxm", "a100-sxm-80gb", "l4", "v100-sxm", "mi300x")
PRECISIONS = ("bf16", "fp8", "int4")
SHAPES = [(tp, b, n_in, n_out) for tp in (1, 2, 8) for b in (np.nan, 1, 32)
          for n_in, n_out in ((128, 128), (4096, 512))]
BLOCK = 128  # small blocks, so a few thousand rows make many of them, and a partial last one


def grid(n_models: int = len(MODELS)) -> dict[str, np.ndarray]:
    rows = list(itertools.product(MODELS[:n_models], GPUS, PRECISIONS, SHAPES))
    n = len(rows)
    return {"model": np.array([r[0] for r in rows]), "gpu": np.array([r[1] for r in rows]),
            "precision": np.array([r[2] for r in rows]), "tp": np.array([float(r[3][0]) for r in rows]),
            "pp": np.ones(n), "batch_size": np.array([r[3][1] for r in rows], dtype=float),
            "input_tokens": np.array([float(r[3][2]) for r in rows]),
            "output_tokens": np.array([float(r[3][3]) for r in rows]), "engine": np.full(n, "vllm")}


def assert_same_bytes(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        left, right = np.asarray(a[k]), np.asarray(b[k])
        assert left.dtype == right.dtype and left.shape == right.shape, k
        assert left.tobytes() == right.tobytes(), k


def whole(x: dict) -> dict:
    with np.errstate(all="ignore"):
        return evaluate(x, x["coefficients"])


def by_blocks(tables, fn=None):
    with np.errstate(all="ignore"):
        return estimate_tables(tables, chunk_rows=BLOCK) if fn is None else estimate_tables(tables, fn, BLOCK)


def test_blocks_cover_the_rows_once():
    assert [(s.start, s.stop) for s in row_blocks(10, 4)] == [(0, 4), (4, 8), (8, 10)]
    assert row_count({"a": np.ones(3), "c": {"b": np.zeros(3)}, "s": 2.0}) == 3
    assert row_count({"a": np.ones(3), "b": np.ones(4)}) is None
    assert row_count({"a": np.ones((3, 2))}) is None


@pytest.mark.parametrize("case", ["plain", "engines", "power_limit", "ep_dp", "object_columns", "unsorted"])
def test_blocks_equal_one_evaluation(case, catalog, calibration):
    cols = grid()
    n = len(cols["model"])
    rng = np.random.default_rng(7)
    kw: dict = {"engines": catalog.engines} if case != "plain" else {}
    if case == "power_limit":
        kw["power_limit_w"] = rng.uniform(80.0, 900.0, n)
    if case == "ep_dp":
        cols = {**cols, "ep": rng.choice([1.0, 2.0, 8.0], n), "dp": rng.choice([1.0, 2.0], n)}
    if case == "object_columns":
        cols = {k: v.astype(object) if v.dtype.kind == "U" else v for k, v in cols.items()}
        cols["batch_size"] = np.array([None if np.isnan(b) else b for b in cols["batch_size"]], dtype=object)
    if case == "unsorted":
        order = rng.permutation(n)
        cols = {k: v[order] for k, v in cols.items()}
    x, problem = build_inputs(cols, catalog, calibration, **kw)
    assert n > 8 * BLOCK and (problem != "").any() and (problem == "").any()
    expected = whole(x)
    with np.errstate(all="ignore"):
        assert_same_bytes(evaluate_chunked(lambda xb: evaluate(xb, xb["coefficients"]), x, BLOCK), expected)
    out, found = by_blocks(input_tables(cols, catalog, calibration, **kw))
    assert_same_bytes(out, expected)
    assert found.dtype == object and list(found) == list(problem)


def test_fused_path_equals_build_inputs_on_large_tables(catalog, calibration):
    cols = grid()
    reps = 2 * CHUNK_ROWS // len(cols["model"]) + 1  # above two default blocks: estimate_columns takes its block path
    cols = {k: np.tile(v, reps) for k, v in cols.items()}
    assert len(cols["model"]) > 2 * CHUNK_ROWS
    x, problem = build_inputs(cols, catalog, calibration)
    with np.errstate(all="ignore"):
        out, found = estimate_columns(cols, catalog, calibration)
    assert_same_bytes(out, whole(x))
    assert list(found) == list(problem)


def test_prefix_cache_and_speculative_blocks(catalog, calibration):
    cols = {k: v[v.size // len(MODELS):] for k, v in grid(2).items()}  # llama-3.1-70b rows only
    n = len(cols["model"])
    spec = Speculative.model_validate({"method": "eagle"})
    tables = input_tables(cols, catalog, calibration, engines=catalog.engines)
    tables.rows["cached_prompt_share"] = np.random.default_rng(3).choice([0.0, 0.5, 0.9], n)
    x = tables.inputs()
    with np.errstate(all="ignore"):
        expected = estimate_speculative(x, spec)
    out, _ = by_blocks(tables, lambda xb: estimate_speculative(xb, spec))
    assert_same_bytes(out, expected)


def test_table_columns_by_combination_equal_by_name(catalog):
    """estimate_table reads node power and expected error per input_tables combination; the same as by name."""
    from planner.estimation import estimate_table, expected_error_of, node_power_column

    frame = estimate_table(grid(), catalog=catalog)
    by_name = node_power_column(frame, catalog)
    assert np.asarray(frame["node_power_w"]).tobytes() == by_name.tobytes()
    assert np.isfinite(by_name).any()
    for (gpu, model), rows in frame.groupby(["gpu", "model"]):
        expected = expected_error_of(catalog.gpu(gpu), catalog.model(model)).get("throughput", {})
        assert set(rows["expected_error_throughput_group"]) == {expected.get("group", "")}
