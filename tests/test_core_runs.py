"""Runs of rows sharing a configuration (planner.core.runs, issue 13 item 4): the configuration terms computed
once per run give the bytes of the row-by-row evaluation; runs are refused once the inputs are edited; lean
block inputs hold every feature evaluate reads row by row (ROW_FEATURES, ROW_COEFFICIENTS), and the string
comparison that finds runs of names agrees with numpy's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.core.inputs import _differs_from_previous, input_tables
from planner.core.model import ROW_COEFFICIENTS, ROW_FEATURES, evaluate
from planner.core.runs import ROW_RUNS, holds, per_run, spread

pytestmark = pytest.mark.unit

MODELS = ("llama-3.1-8b", "mixtral-8x7b", "deepseek-v3", "gemma-2-9b")
GPUS = ("h100-sxm", "mi300x", "l4")
SHAPES = [(b, n_in, n_out) for b in (np.nan, 1, 32) for n_in, n_out in ((128, 128), (4096, 512), (32768, 64))]


def grouped_grid(reps: int = 6) -> dict[str, np.ndarray]:
    """Rows grouped by configuration (runs of len(SHAPES) rows), as tables usually are."""
    rows = list(itertools.product(MODELS, GPUS, ("bf16", "fp8"), (1, 2, 8), SHAPES)) * reps
    n = len(rows)
    return {"model": np.array([r[0] for r in rows]), "gpu": np.array([r[1] for r in rows]),
            "precision": np.array([r[2] for r in rows]), "tp": np.array([float(r[3]) for r in rows]),
            "pp": np.ones(n), "batch_size": np.array([r[4][0] for r in rows], dtype=float),
            "input_tokens": np.array([float(r[4][1]) for r in rows]),
            "output_tokens": np.array([float(r[4][2]) for r in rows]), "engine": np.full(n, "vllm")}


def block(tables, lean: bool = False) -> dict:
    return tables.inputs(slice(0, tables.n), lean=lean)


def plain(x: dict) -> dict:
    return {k: v for k, v in x.items() if k != ROW_RUNS}


def assert_same_bytes(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
        assert np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes(), k


@pytest.mark.parametrize("case", ["plain", "engines", "power_limit", "ep_dp", "step_budget"])
def test_runs_and_lean_inputs_give_the_row_by_row_bytes(case, catalog, calibration):
    cols = grouped_grid()
    n = len(cols["model"])
    rng = np.random.default_rng(5)
    kw: dict = {"engines": catalog.engines} if case != "plain" else {}
    if case == "power_limit":
        kw["power_limit_w"] = np.repeat(rng.uniform(80.0, 900.0, n // len(SHAPES)), len(SHAPES))
    if case == "ep_dp":
        cols = {**cols, "ep": np.repeat(rng.choice([1.0, 2.0, 8.0], n // len(SHAPES)), len(SHAPES)),
                "dp": np.repeat(rng.choice([1.0, 2.0], n // len(SHAPES)), len(SHAPES))}
    if case == "step_budget":  # some rows set a budget, some of them at or below their batch size
        cols = {**cols, "prefill_chunk_tokens": rng.choice([np.nan, 16.0, 512.0, 4096.0], n)}
    tables = input_tables(cols, catalog, calibration, **kw)
    x, lean = block(tables), block(tables, lean=True)
    assert holds(x, x["coefficients"]) is not None and x[ROW_RUNS].lean is False
    assert holds(lean, lean["coefficients"]) is not None and lean[ROW_RUNS].lean is True
    assert len(lean) < len(x)  # the lean inputs spread fewer features over the rows
    with np.errstate(all="ignore"):
        expected = evaluate(plain(x), x["coefficients"])  # no runs: every term row by row
        assert_same_bytes(evaluate(x, x["coefficients"]), expected)
        assert_same_bytes(evaluate(lean, lean["coefficients"]), expected)
        code, messages = tables.problem_codes(x, slice(0, n))
        assert (code == tables.problem_codes(plain(x), slice(0, n))[0]).all()
        assert (code == tables.problem_codes(lean, slice(0, n))[0]).all() and len(messages) > 1
        if case == "step_budget":
            assert messages.index("prefill_chunk_tokens (the step token budget) must exceed batch_size") in code


def test_runs_are_refused_once_an_input_is_replaced(catalog, calibration):
    tables = input_tables(grouped_grid(), catalog, calibration)
    x = block(tables)
    c = x["coefficients"]
    assert holds(x, c) is not None
    assert holds({**x, "tp": x["tp"].copy()}, c) is None  # replaced by an equal copy: refused all the same
    assert holds({**x, "mesh_links": np.ones(tables.n)}, c) is None  # an input the runs do not hold
    assert holds({k: v for k, v in x.items() if k != "layers"}, c) is None  # an input dropped
    assert holds(x, {**c, "eta_compute": c["eta_compute"] * 1.0}) is None
    assert holds({**x, "input_tokens": x["input_tokens"] * 2.0}, c) is not None  # a per-row input may change
    lean = block(tables, lean=True)
    with pytest.raises(ValueError, match="lean inputs"):
        per_run(lambda xs, cs: xs["layers"], {**lean, "tp": lean["tp"].copy()}, lean["coefficients"])


def test_evaluate_reads_only_row_features_row_by_row(catalog, calibration):
    """Lean inputs hold only ROW_FEATURES and ROW_COEFFICIENTS row by row: evaluate, given runs, reads no
    other feature or coefficient from its inputs (a new one read row by row must be added there)."""
    tables = input_tables(grouped_grid(2), catalog, calibration, power_limit_w=700.0, engines=catalog.engines)
    x = block(tables)
    read: set[str] = set()

    class Recording(dict):
        def __getitem__(self, k):
            read.add(k)
            return dict.__getitem__(self, k)

        def get(self, k, default=None):
            read.add(k)
            return dict.get(self, k, default)

        def __contains__(self, k):
            read.add(k)
            return dict.__contains__(self, k)

    xr = Recording(x)
    xr[ROW_RUNS] = type(x[ROW_RUNS])(x[ROW_RUNS].heads, x[ROW_RUNS].lengths, x[ROW_RUNS].held,
                                     x[ROW_RUNS].coefficients, x[ROW_RUNS].at_heads)
    cr = Recording(x["coefficients"])
    assert holds(xr, cr) is not None
    with np.errstate(all="ignore"):
        evaluate(xr, cr)
    features = set(tables.features) | set(tables.coefficients)
    assert read & features, "the recording saw no read"
    assert read & features <= ROW_FEATURES | ROW_COEFFICIENTS


def test_spread_repeats_each_run_value():
    lengths = np.array([2, 1, 3])
    tree = {"a": np.array([1.0, 2.0, 3.0]), "b": (np.array([True, False, True]), 4.0), "c": None}
    out = spread(tree, 3, lengths)
    assert out["a"].tolist() == [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert out["b"][0].tolist() == [True, True, False, True, True, True] and out["b"][1] == 4.0
    assert out["c"] is None


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20])
def test_string_runs_compare_like_numpy(width):
    rng = np.random.default_rng(width)
    values = np.array(["".join(rng.choice(list("ab\u00e9\U0001f600"), rng.integers(0, width + 1)))
                       for _ in range(2000)], dtype=f"U{width}")
    values = np.repeat(values, rng.integers(1, 4, len(values)))
    for a in (values, values[::2], values.astype(object)):
        assert (_differs_from_previous(a) == (a[1:] != a[:-1])).all()
