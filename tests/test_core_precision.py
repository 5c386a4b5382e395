"""Precision paths: native, weight-only (dequantized), or refused with a clear error."""

from __future__ import annotations

import pytest

from planner.errors import InputError, UnsupportedPrecisionError
from planner.estimation import estimate

RUN = {"input_tokens": 1000, "output_tokens": 200}


@pytest.mark.parametrize("gpu", ["v100-sxm", "t4"])
def test_bf16_on_gpus_without_a_bf16_path_is_refused(gpu):
    with pytest.raises(UnsupportedPrecisionError, match="bf16") as info:
        estimate("llama-3.1-8b", gpu, precision="bf16", **RUN)
    assert "fp16" in str(info.value)  # says what to use instead


@pytest.mark.parametrize("gpu", ["v100-sxm", "t4"])
def test_fp16_runs_natively_there(gpu):
    e = estimate("llama-3.2-1b", gpu, precision="fp16", **RUN)
    assert not e.weight_only


@pytest.mark.parametrize("gpu", ["a100-sxm-80gb", "a100-sxm-40gb", "a100-pcie-80gb"])
def test_fp8_on_ampere_runs_weight_only(gpu):
    e = estimate("llama-3.1-8b", gpu, precision="fp8", **RUN)
    assert e.weight_only
    vocab = 2 * 128256 * 4096  # embedding and lm_head stay 16-bit
    assert e.weights_per_gpu_bytes == pytest.approx((8.03e9 - vocab) * 1.0 + vocab * 2.0)
    assert any("weight-only" in w for w in e.warnings)


def test_fp8_on_hopper_is_native():
    assert not estimate("llama-3.1-8b", "h100-sxm", precision="fp8", **RUN).weight_only


def test_int4_is_always_weight_only():
    assert estimate("llama-3.1-8b", "h100-sxm", precision="int4", **RUN).weight_only


def test_weight_only_fp8_on_a100_is_no_faster_in_compute_than_bf16_prefill():
    bf16 = estimate("llama-3.1-8b", "a100-sxm-80gb", precision="bf16", batch_size=1, input_tokens=8000,
                    output_tokens=10)
    fp8 = estimate("llama-3.1-8b", "a100-sxm-80gb", precision="fp8", batch_size=1, input_tokens=8000,
                   output_tokens=10)
    assert fp8.ttft_s >= bf16.ttft_s  # dequantization costs compute; prefill is compute-bound


@pytest.mark.parametrize("precision", ["fp7", "FP8x", "", "float16"])
def test_unknown_precision_is_an_input_error(precision):
    with pytest.raises(InputError, match="precision"):
        estimate("llama-3.1-8b", "h100-sxm", precision=precision, **RUN)
