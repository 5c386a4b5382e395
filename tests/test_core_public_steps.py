"""The core's public step helpers (planner.core.model.capped_step, compute_efficiency) are what evaluate and
the speculative estimate time their steps with: same numbers, a power limit stretches a step's busy time."""

from __future__ import annotations

import numpy as np
import pytest

from planner.core.inputs import build_inputs
from planner.core.model import (
    capped_step,
    compute_efficiency,
    gpu_power,
    low_precision_factor,
    step_invariants,
    token_step,
)
from planner.core.speculative import speculative_evaluate
from planner.estimation import _calibration, _catalog

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def x() -> dict:
    n = 4
    cols = {"model": np.array(["llama-3.1-70b", "llama-3.1-70b", "qwen3-235b-a22b", "llama-3.1-8b"]),
            "gpu": np.array(["h100-sxm", "l40s", "h100-sxm", "b200"]), "precision": np.full(n, "fp8"),
            "tp": np.array([4.0, 4.0, 8.0, 1.0]), "pp": np.ones(n), "batch_size": np.full(n, 32.0),
            "input_tokens": np.full(n, 1000.0), "output_tokens": np.full(n, 300.0), "engine": np.full(n, "vllm")}
    out, _ = build_inputs(cols, _catalog(None), _calibration(None))
    return out


def _step(x: dict, prompt: float = 512.0) -> dict:
    c = x["coefficients"]
    ctx = x["input_tokens"] + x["output_tokens"] / 2.0
    return token_step(x, c, x["batch_size"], np.full(len(ctx), prompt), ctx, compute_efficiency(x, c),
                      step_invariants(x, c, ctx))


def test_compute_efficiency_is_the_calibrated_one(x: dict) -> None:
    c = x["coefficients"]
    assert np.all(compute_efficiency(x, c) == c["eta_compute"])
    # native fp8 GEMMs (all four rows: H100, L40S and B200 have an fp8 tensor path) take fp8_compute_factor
    # in the step's invariants; a weight-only row (dequantized to 16-bit math) does not
    weight_only = {**x, "weight_only": np.array([0.0, 1.0, 0.0, 1.0])}
    assert np.allclose(low_precision_factor(weight_only, {**c, "fp8_compute_factor": 0.5}), [0.5, 1.0, 0.5, 1.0])
    assert np.allclose(step_invariants(x, c, x["input_tokens"])["gemm_eta_factor"], c["fp8_compute_factor"])


def test_capped_step_stretches_busy_time_under_a_limit(x: dict) -> None:
    c = x["coefficients"]
    step = _step(x)
    same, power = capped_step(x, c, step)
    assert same is step and np.array_equal(power, gpu_power(x, c, step))
    limited = {**x, "power_limit_w": 0.5 * x["tdp_w"]}
    timed, capped = capped_step(limited, c, step)
    assert (timed["step_s"] > step["step_s"]).all() and (capped <= 0.5 * x["tdp_w"] + 1e-9).all()
    assert np.allclose(timed["step_s"] - step["step_s"], timed["busy_s"] - step["busy_s"])


def test_speculative_uses_the_same_helpers(x: dict) -> None:
    """a = 0, k = 1 with an MTP module: a cycle is a verify step plus one drafter pass, timed as one step."""
    c = x["coefficients"]
    with np.errstate(all="ignore"):
        spec = speculative_evaluate(x, c, method="mtp", tokens=1, acceptance_rate=0.0)
    assert np.isfinite(spec["itl_s"]).all() and (spec["prefill_room_tokens"] >= 1.0).all()
