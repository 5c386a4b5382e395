"""Engine scheduler defaults in the core (catalogs/engines.yaml through build_inputs(engines=...)): the
offline point's sequence cap and the default step token budget follow each row's engine on its GPU, and
TRT-LLM's default unchunked prefill takes a prompt in one step; without profiles the core is unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from planner.catalog.engines import load_engines
from planner.core.inputs import SCHEDULER_KEYS, build_inputs
from planner.core.model import evaluate
from planner.estimation import _calibration, _catalog

pytestmark = pytest.mark.unit


def _rows(engine: str, gpu: str, model: str = "llama-3.1-8b", batch: float = np.nan, n_in: float = 128.0,
          **kw: object) -> dict:
    cols = {"model": np.array([model]), "gpu": np.array([gpu]), "precision": np.array(["bf16"]),
            "tp": np.array([1.0]), "pp": np.array([1.0]), "batch_size": np.array([batch]),
            "input_tokens": np.array([n_in]), "output_tokens": np.array([128.0]), "engine": np.array([engine])}
    x, problem = build_inputs(cols, _catalog(None), _calibration(None), **kw)
    assert problem[0] == ""
    with np.errstate(all="ignore"):
        return {"x": x, "out": evaluate(x, x["coefficients"])}


def test_without_profiles_nothing_changes() -> None:
    for engine in ("vllm", "sglang", "trt-llm"):
        plain = _rows(engine, "a100-sxm-80gb")
        assert not set(SCHEDULER_KEYS) & set(plain["x"])
        assert plain["out"]["batch_size"][0] == min(1024.0, plain["out"]["max_batch_size"][0])
        assert plain["out"]["prefill_chunk_tokens"][0] == max(8192.0, 1024.0 + 1024.0)


def test_vllm_on_a100_takes_its_smaller_defaults() -> None:
    engines = load_engines()
    a100 = _rows("vllm", "a100-sxm-80gb", engines=engines)["out"]
    h100 = _rows("vllm", "h100-sxm", engines=engines)["out"]
    # vLLM get_batch_defaults: A100 (and GPUs below 70 GiB) 256 sequences and 2048 tokens, else 1024 and 8192
    assert a100["batch_size"][0] == 256.0 and h100["batch_size"][0] == 1024.0 < h100["max_batch_size"][0]
    assert h100["prefill_chunk_tokens"][0] == 8192.0 and a100["prefill_chunk_tokens"][0] == 2048.0
    # the budget still grows with the batch: 1024 decodes beside 2048 steady prompt tokens (256-token prompts)
    big = _rows("vllm", "a100-sxm-80gb", batch=1024.0, n_in=256.0, engines=engines)["out"]
    assert big["prefill_chunk_tokens"][0] == 1024.0 + 2048.0


def test_trtllm_caps_at_its_max_batch_size_and_does_not_chunk() -> None:
    engines = load_engines()
    offline = _rows("trt-llm", "h100-sxm", engines=engines)["out"]
    assert offline["batch_size"][0] == min(2048.0, offline["max_batch_size"][0])
    # an 8k prompt at batch 64 with a 2048-token budget: chunked it takes several steps, unchunked one
    long = {"batch": 64.0, "n_in": 8000.0}
    chunked = _rows("vllm", "h100-sxm", engines=engines, **long)
    whole = _rows("trt-llm", "h100-sxm", engines=engines, **long)
    assert whole["x"]["chunked_prefill"][0] == 0.0 and chunked["x"]["chunked_prefill"][0] == 1.0
    assert whole["out"]["prefill_room_tokens"][0] >= 8000.0
    assert whole["out"]["prefill_tokens_per_mixed_step"][0] >= 8000.0


def test_sglang_without_a_sequence_cap_is_memory_bound() -> None:
    out = _rows("sglang", "h100-sxm", engines=load_engines())["out"]
    assert out["batch_size"][0] == out["max_batch_size"][0] > 1024.0
