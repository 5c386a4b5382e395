"""planner.core is a pure numeric core: values in, arrays out. It imports no module that reads
files (the calibration package, the catalog loader, planner.io), reads no file while it computes,
keeps nothing between calls, and refuses a calibration path instead of reading it."""

from __future__ import annotations

import builtins
import io
import pathlib
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest

import planner.core
from planner.catalog import load_catalog
from planner.core.inputs import build_inputs, estimate_arrays
from planner.schemas.calibration import Calibration

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[1]
FORBIDDEN = ("planner.calibration", "planner.catalog.loader", "planner.io")
"""Module prefixes the core must not import: each reads files or holds the file-reading API."""
CORE = sorted(f"planner.core.{m.name}" for m in pkgutil.iter_modules(planner.core.__path__))


def _forbidden(modules: set[str] | list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def _columns(n: int = 2) -> dict[str, np.ndarray]:
    return {"model": np.array(["llama-3.1-8b"] * n), "gpu": np.array(["h100-sxm"] * n),
            "precision": np.array(["bf16", "fp8"][:n]), "tp": np.ones(n), "pp": np.ones(n),
            "batch_size": np.full(n, 16.0), "input_tokens": np.full(n, 1000.0),
            "output_tokens": np.full(n, 200.0), "engine": np.array(["vllm"] * n)}


def test_no_core_module_imports_a_file_reading_module_even_inside_a_function():
    sys.path.insert(0, str(TESTS))
    try:
        import architecture
    finally:
        sys.path.remove(str(TESTS))
    graph = architecture.import_graph()
    seen, todo = set(), list(CORE)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    assert "planner.schemas.calibration" in seen  # the walk follows imports
    assert _forbidden(seen) == []


@pytest.mark.parametrize("given", ["planner/data/calibration.yaml", Path("calibration.yaml"), None,
                                   {"coefficients": {}}])
def test_build_inputs_refuses_anything_but_a_calibration_object(given):
    with pytest.raises(TypeError, match="takes a Calibration object.*reads no file.*load_calibration"):
        build_inputs(_columns(), load_catalog(), given)


def test_the_core_reads_no_file_while_it_computes(monkeypatch):
    catalog, calibration = load_catalog(), Calibration()  # loaded before the guard

    def refuse(*args, **kwargs):
        raise AssertionError(f"the core opened a file: {args[:1]}")

    for owner, name in ((builtins, "open"), (io, "open"), (pathlib.Path, "open"),
                        (pathlib.Path, "read_text"), (pathlib.Path, "read_bytes")):
        monkeypatch.setattr(owner, name, refuse)
    x, problem = build_inputs(_columns(), catalog, calibration)
    with np.errstate(all="ignore"):
        out = estimate_arrays(x)
    assert list(problem) == ["", ""]
    assert np.all(out["fits_memory"]) and np.all(out["itl_s"] > 0)


def test_each_call_uses_the_calibration_it_is_given():
    """No cache between calls: a second calibration changes the coefficients and the estimate."""
    catalog, cols = load_catalog(), _columns(1)
    priors = Calibration()
    slower = Calibration(coefficients={"step_overhead_s": 5e-3})
    x1, _ = build_inputs(cols, catalog, priors)
    x2, _ = build_inputs(cols, catalog, slower)
    x3, _ = build_inputs(cols, catalog, priors)
    assert x2["coefficients"]["step_overhead_s"][0] == 5e-3
    assert x1["coefficients"]["step_overhead_s"][0] == x3["coefficients"]["step_overhead_s"][0] != 5e-3
    with np.errstate(all="ignore"):
        itl = [estimate_arrays(x)["itl_s"][0] for x in (x1, x2, x3)]
    assert itl[1] > itl[0] == itl[2]


@pytest.mark.parametrize("table", ["COEFFICIENTS", "FIXED", "WEIGHT_BYTES", "ENGINES", "ENGINE_ALIASES"])
def test_the_constant_tables_cannot_be_changed(table):
    from planner.core import constants

    with pytest.raises(TypeError):
        getattr(constants, table)["bf16"] = None
