"""Property tests (hypothesis) of the vectorized core over a sample of catalog models, GPUs and
precisions: bounds and monotonicity that must hold for every configuration.

A failing property is a finding for planner/core: keep the test, report the counterexample.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import load_catalog
from planner.core.constants import ENGINES
from planner.core.inputs import build_inputs, estimate_arrays
from planner.schemas.catalog import PRECISIONS

CAT = load_catalog()
CAL = load_calibration()[0]  # the shipped calibration
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)

scenarios = st.fixed_dictionaries({
    "model": st.sampled_from(sorted(CAT.models)),
    "gpu": st.sampled_from(sorted(CAT.gpus)),
    "precision": st.sampled_from(PRECISIONS),
    "tp": st.sampled_from([1, 2, 4, 8]),
    "pp": st.sampled_from([1, 1, 2, 4]),
    "input_tokens": st.integers(1, 32_768),
    "output_tokens": st.integers(1, 8_192),
    "engine": st.sampled_from(sorted(ENGINES)),
})


def run(s: dict, *, n: int = 1, power_limit_w: np.ndarray | float | None = None, **vary: np.ndarray
        ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Evaluate ``n`` copies of scenario ``s`` with the columns in ``vary`` replaced."""
    cols = {k: np.full(n, v, dtype=object if isinstance(v, str) else float) for k, v in s.items()}
    cols["batch_size"] = np.full(n, np.nan)
    cols.update({k: np.asarray(v, dtype=float) for k, v in vary.items()})
    x, problem = build_inputs(cols, CAT, CAL, power_limit_w=power_limit_w)
    with np.errstate(all="ignore"):
        return estimate_arrays(x), problem


BATCHES = np.array([np.nan, 1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512, 1024])


@SETTINGS
@given(scenarios, st.one_of(st.none(), st.floats(0.01, 2.0)))
def test_power_within_idle_and_min_of_tdp_and_limit(s, limit_share):
    g = CAT.gpu(s["gpu"])
    limit = None if limit_share is None else g.idle_w + limit_share * (g.tdp_w - g.idle_w)
    out, problem = run(s, n=len(BATCHES), power_limit_w=limit, batch_size=BATCHES)
    ok = (problem == "") & out["fits_memory"]
    high = min(g.tdp_w, limit if limit is not None else g.tdp_w)
    for key in ("power_per_gpu_w", "peak_power_per_gpu_w"):
        p = out[key][ok]
        assert np.all(p >= g.idle_w - 1e-9) and np.all(p <= high + 1e-9), (key, p, g.idle_w, high)
    assert np.all(out["peak_power_per_gpu_w"][ok] >= out["power_per_gpu_w"][ok] - 1e-9)


@SETTINGS
@given(scenarios)
def test_more_tp_never_raises_weight_or_kv_memory_per_gpu(s):
    tps = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    out, _ = run(s, n=len(tps), tp=tps)
    assert np.all(np.diff(out["weights_per_gpu_bytes"]) <= 0)
    assert np.all(np.diff(out["kv_bytes_per_token_per_gpu"]) <= 0)
    assert np.all(np.diff(out["max_batch_size"]) >= 0)


def _batch_sweep(s: dict) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """Every batch from 1 to the memory limit (at most 1024), or None when fewer than two fit."""
    one, problem = run(s)
    if problem[0] != "" or one["max_batch_size"][0] < 2:
        return None
    batches = np.arange(1, min(one["max_batch_size"][0], 1024) + 1)
    out, _ = run(s, n=len(batches), batch_size=batches)
    return out, batches


@SETTINGS
@given(scenarios)
def test_output_throughput_never_falls_as_batch_grows_to_the_memory_limit(s):
    sweep = _batch_sweep(s)
    if sweep is None:
        return
    out, batches = sweep
    t = out["output_tokens_per_s"]
    falls = np.flatnonzero(np.diff(t) < -1e-9 * t[:-1])
    assert falls.size == 0, f"{s}: tokens/s falls from batch {batches[falls[0]]} to {batches[falls[0]] + 1}"


@SETTINGS
@given(scenarios)
def test_itl_never_falls_as_batch_grows(s):
    sweep = _batch_sweep(s)
    if sweep is None:
        return
    out, batches = sweep
    falls = np.flatnonzero(np.diff(out["itl_s"]) < -1e-12)
    assert falls.size == 0, f"{s}: ITL falls from batch {batches[falls[0]]} to {batches[falls[0]] + 1}"


@SETTINGS
@given(scenarios)
def test_energy_per_token_is_positive_and_finite(s):
    out, problem = run(s, n=len(BATCHES), batch_size=BATCHES)
    ok = (problem == "") & out["fits_memory"]
    e = out["energy_per_output_token_j"][ok]
    assert np.all(np.isfinite(e)) and np.all(e > 0)
    for key in ("ttft_s", "itl_s", "output_tokens_per_s"):
        v = out[key][ok]
        assert np.all(np.isfinite(v)) and np.all(v > 0), key
