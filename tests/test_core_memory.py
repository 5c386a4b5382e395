"""Memory formulas of the core against hand calculations.

Weights per GPU = params x bytes / (tp x pp); KV bytes per token = 2 x layers x kv_heads x head_dim
x 2 bytes (GQA) or layers x (kv_lora_rank + rope dim) x 2 bytes (MLA), split over TP down to one KV
head per GPU and over PP by layers; sliding-window layers cap their context at the window; the
largest batch is the free memory over the KV bytes of one sequence.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibration.coefficients import load_calibration
from planner.catalog.loader import load_catalog
from planner.core.constants import fixed
from planner.core.inputs import build_inputs, estimate_arrays
from planner.core.model import memory
from planner.estimation import estimate

CAT = load_catalog()
CAL = load_calibration()[0]  # the shipped calibration
GIB = 1024**3


def core_row(model: str, gpu: str, *, precision: str = "bf16", tp: int = 1, pp: int = 1,
             batch_size: float = np.nan, input_tokens: float = 1000, output_tokens: float = 100,
             engine: str = "vllm") -> tuple[dict, dict]:
    """(inputs, memory outputs) of one configuration through the public build_inputs."""
    cols = {"model": np.array([model]), "gpu": np.array([gpu]), "precision": np.array([precision]),
            "tp": np.array([float(tp)]), "pp": np.array([float(pp)]), "batch_size": np.array([batch_size]),
            "input_tokens": np.array([float(input_tokens)]), "output_tokens": np.array([float(output_tokens)]),
            "engine": np.array([engine])}
    x, problem = build_inputs(cols, CAT, CAL)
    assert problem[0] == ""
    return x, {k: v[0] for k, v in memory(x).items()}


@pytest.mark.parametrize(("precision", "bytes_per_weight"), [("bf16", 2.0), ("fp16", 2.0), ("fp8", 1.0),
                                                              ("int8", 1.0)])
@pytest.mark.parametrize(("tp", "pp"), [(1, 1), (2, 1), (4, 1), (8, 1), (4, 2), (2, 4)])
def test_weights_per_gpu_is_params_times_bytes_over_gpus(precision, bytes_per_weight, tp, pp):
    # body at the precision, the two untied 16-bit vocabulary matrices (128256 x 8192 each) at 2 B;
    # 80 layers split evenly over pp in {1, 2, 4}
    _, mem = core_row("llama-3.1-70b", "h200", precision=precision, tp=tp, pp=pp)
    vocab = 2 * 128256 * 8192
    expected = ((70.6e9 - vocab) * bytes_per_weight + vocab * 2.0) / (tp * pp)
    assert mem["weights_per_gpu_bytes"] == pytest.approx(expected, rel=1e-12)


def test_uneven_pipeline_stages_size_the_largest_stage():
    # 80 layers over pp=3: the largest stage holds ceil(80/3) = 27 layers, not 26.67
    _, even = core_row("llama-3.1-70b", "h200", precision="bf16", tp=1, pp=1)
    _, three = core_row("llama-3.1-70b", "h200", precision="bf16", tp=1, pp=3)
    assert three["weights_per_gpu_bytes"] == pytest.approx(even["weights_per_gpu_bytes"] * 27 / 80, rel=1e-12)


def test_int4_and_fp4_weights_carry_their_group_scales():
    # 4 bits + scales: 0.5625 bytes per weight (notes/estimation.md, OCP MX / NVFP4)
    for precision in ("int4", "fp4"):
        _, mem = core_row("llama-3.1-8b", "b200", precision=precision)
        # the two untied vocabulary matrices (128256 x 4096) stay 16-bit
        vocab = 2 * 128256 * 4096
        assert mem["weights_per_gpu_bytes"] == pytest.approx((8.03e9 - vocab) * 0.5625 + vocab * 2.0)


def test_estimate_reports_the_same_weights_and_gpu_count():
    e = estimate("llama-3.1-70b", "h100-sxm", precision="fp16", tp=4, pp=2, batch_size=8, input_tokens=4096,
                 output_tokens=512)
    assert e.weights_per_gpu_bytes == pytest.approx(70.6e9 * 2 / 8)
    assert e.num_gpus == 8


# ---- KV cache ------------------------------------------------------------------------------------

LLAMA_70B_KV = 2 * 80 * 8 * 128 * 2  # 327,680 B per token: K and V, 80 layers, 8 KV heads x 128, 16-bit


@pytest.mark.parametrize(("tp", "heads_per_gpu"), [(1, 8), (2, 4), (4, 2), (8, 1), (16, 1), (32, 1)])
def test_gqa_kv_bytes_split_by_tp_down_to_one_head_per_gpu(tp, heads_per_gpu):
    _, mem = core_row("llama-3.1-70b", "b200", tp=tp)
    assert mem["kv_bytes_per_token_per_gpu"] == pytest.approx(LLAMA_70B_KV * heads_per_gpu / 8)


def test_gqa_kv_bytes_split_by_pp_layers():
    _, mem = core_row("llama-3.1-70b", "h100-sxm", tp=2, pp=4)
    assert mem["kv_bytes_per_token_per_gpu"] == pytest.approx(LLAMA_70B_KV / 2 / 4)


def test_mha_kv_bytes():
    _, mem = core_row("llama-2-7b", "a100-sxm-80gb")
    assert mem["kv_bytes_per_token_per_gpu"] == pytest.approx(2 * 32 * 32 * 128 * 2)  # 524,288 B


@pytest.mark.parametrize("tp", [1, 2, 8])
def test_mla_kv_bytes_are_the_latent_plus_rope_key_replicated_over_tp(tp):
    _, mem = core_row("deepseek-v3", "b200", precision="fp8", tp=tp)
    assert mem["kv_bytes_per_token_per_gpu"] == pytest.approx(61 * (512 + 64) * 2)  # 70,272 B


def test_fp8_kv_cache_only_where_the_engine_quantizes_it():
    _, vllm = core_row("llama-3.1-8b", "h100-sxm", precision="fp8", engine="vllm")
    _, trt = core_row("llama-3.1-8b", "h100-sxm", precision="fp8", engine="trt-llm")
    assert vllm["kv_bytes_per_token_per_gpu"] == pytest.approx(2 * 32 * 8 * 128 * 2)
    assert trt["kv_bytes_per_token_per_gpu"] == pytest.approx(2 * 32 * 8 * 128 * 1)


GEMMA_9B_KV = 2 * 42 * 8 * 256 * 2  # 344,064 B per token


@pytest.mark.parametrize(("n_in", "n_out", "tokens_kept"), [
    (1500, 500, 2000),                          # below the 4096 window: every layer keeps all
    (7000, 1000, 0.5 * 8000 + 0.5 * 4096),      # half the layers keep only the 4096-token window
])
def test_sliding_window_layers_cap_their_context(n_in, n_out, tokens_kept):
    _, mem = core_row("gemma-2-9b", "l40s", input_tokens=n_in, output_tokens=n_out)
    assert mem["kv_bytes_per_sequence"] == pytest.approx(GEMMA_9B_KV * tokens_kept)


def test_gpt_oss_window_of_128_tokens_on_half_the_layers():
    _, mem = core_row("gpt-oss-120b", "h100-sxm", precision="fp4", input_tokens=8000, output_tokens=192)
    per_token = 2 * 36 * 8 * 64 * 2
    assert mem["kv_bytes_per_sequence"] == pytest.approx(per_token * (0.5 * 8192 + 0.5 * 128))


def test_max_batch_is_free_memory_over_kv_per_sequence():
    x, mem = core_row("llama-3.1-8b", "h100-sxm", input_tokens=4096, output_tokens=512)
    usable = 80 * GIB * fixed("gpu_memory_utilization")
    free = usable - 8.03e9 * 2 - fixed("runtime_reserve_bytes")
    per_sequence = 2 * 32 * 8 * 128 * 2 * (4096 + 512)
    assert mem["max_batch_size"] == np.floor(free / per_sequence)
    assert mem["fits_memory"]


def test_a_model_larger_than_memory_does_not_fit_and_estimate_names_the_tp_that_fits():
    _, mem = core_row("llama-3.1-70b", "h100-sxm")
    assert not mem["fits_memory"] and mem["max_batch_size"] == 0
    from planner.errors import DoesNotFitError

    with pytest.raises(DoesNotFitError, match="--tp 2"):
        estimate("llama-3.1-70b", "h100-sxm", input_tokens=1000, output_tokens=100)


def test_memory_per_gpu_grows_with_batch_by_one_sequence_of_kv():
    one = estimate("llama-3.1-8b", "h100-sxm", batch_size=1, input_tokens=1000, output_tokens=100)
    ten = estimate("llama-3.1-8b", "h100-sxm", batch_size=10, input_tokens=1000, output_tokens=100)
    assert ten.memory_per_gpu_bytes - one.memory_per_gpu_bytes == pytest.approx(9 * 131072 * 1100)


def test_offline_batch_is_the_largest_that_fits():
    x, mem = core_row("llama-3.1-8b", "l4", input_tokens=2000, output_tokens=500)
    out = estimate_arrays(x)
    assert out["batch_size"][0] == min(mem["max_batch_size"], fixed("max_batch_size"))
