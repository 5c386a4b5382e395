"""MoE expert coverage against hand calculations.

With uniform routing of T tokens, each to k of E experts, the expected number of distinct experts
a step reads is E x (1 - (1 - k/E)^T): k at one token, all E at many.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import load_catalog
from planner.core.inputs import build_inputs
from planner.core.model import stage_work

CAT = load_catalog()
CAL = load_calibration()[0]  # the shipped calibration


def experts_read(model: str, tokens: float, *, tp: int = 1) -> float:
    """Distinct experts one MoE layer reads in a decode step of ``tokens`` tokens (KV reads zeroed)."""
    cols = {"model": np.array([model]), "gpu": np.array(["b200"]), "precision": np.array(["bf16"]),
            "tp": np.array([float(tp)]), "pp": np.array([1.0]), "batch_size": np.array([np.nan]),
            "input_tokens": np.array([100.0]), "output_tokens": np.array([100.0]), "engine": np.array(["vllm"])}
    x, _ = build_inputs(cols, CAT, CAL)
    x["kv_bytes_per_token"] = np.zeros(1)
    s = stage_work(x, x["coefficients"], np.array([float(tokens)]), np.zeros(1), np.array([100.0]),
                   x["coefficients"]["eta_compute"])
    params_read = s["bytes"][0] * tp / x["weight_bytes"][0]  # bf16: every matrix at 2 bytes
    # a step reads the dense body and the lm_head, not the input embedding table
    dense_read = x["params_dense"][0] - (x["params_vocab"][0] - x["params_embedding"][0])
    routed_share = (params_read - dense_read) / x["params_routed"][0]
    return routed_share * x["experts_total"][0]


@pytest.mark.parametrize(("tokens", "experts"), [
    (1, 2.0),          # 8 x (1 - 0.75)
    (2, 3.5),          # 8 x (1 - 0.75^2)
    (3, 4.625),        # 8 x (1 - 0.421875)
    (4, 5.46875),      # 8 x (1 - 0.31640625)
    (64, 8.0),         # every expert
])
def test_mixtral_expert_coverage(tokens, experts):
    assert experts_read("mixtral-8x7b", tokens) == pytest.approx(experts, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(("tokens", "experts"), [(1, 8.0), (32, 163.31), (1024, 256.0)])
def test_deepseek_expert_coverage(tokens, experts):
    # 256 x (1 - (31/32)^32) = 256 x (1 - 0.36206) = 163.31
    assert experts_read("deepseek-v3", tokens) == pytest.approx(experts, rel=1e-4)


def test_coverage_does_not_depend_on_tp():
    assert experts_read("qwen3-30b-a3b", 5, tp=4) == pytest.approx(experts_read("qwen3-30b-a3b", 5, tp=1))


def test_dense_model_reads_all_its_weights_every_step():
    cols = {"model": np.array(["llama-3.1-8b"]), "gpu": np.array(["h100-sxm"]), "precision": np.array(["bf16"]),
            "tp": np.array([1.0]), "pp": np.array([1.0]), "batch_size": np.array([np.nan]),
            "input_tokens": np.array([100.0]), "output_tokens": np.array([100.0]), "engine": np.array(["vllm"])}
    x, _ = build_inputs(cols, CAT, CAL)
    x["kv_bytes_per_token"] = np.zeros(1)
    s = stage_work(x, x["coefficients"], np.array([3.0]), np.zeros(1), np.array([100.0]), 0.5)
    # every weight except the input embedding table (128256 x 4096, only 3 rows are gathered)
    assert s["bytes"][0] == pytest.approx((8.03e9 - 128256 * 4096) * 2)
