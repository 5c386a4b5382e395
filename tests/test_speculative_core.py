"""Speculative decoding in the estimation core (planner.core.speculative) and planner.estimate: the
expected tokens per step, a = 0 is plain decoding plus the drafter (never faster), higher acceptance
lowers ITL, memory holds the drafter, and bad settings are refused with the key and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.calibration.coefficients import load_calibration
from planner.catalog import load_catalog
from planner.core.features import model_features
from planner.core.inputs import build_inputs, estimate_arrays
from planner.core.speculative import expected_tokens, head_features, speculative_evaluate
from planner.errors import InputError
from planner.schemas.speculative import DEFAULT_ACCEPTANCE, MTP_MODULES, Speculative

pytestmark = pytest.mark.unit

BATCHES = np.array([1.0, 8.0, 64.0])


@pytest.fixture(scope="module")
def inputs() -> dict:
    cat = load_catalog()
    n = len(BATCHES)
    cols = {"model": np.full(n, "llama-3.1-70b"), "gpu": np.full(n, "h100-sxm"), "precision": np.full(n, "fp8"),
            "tp": np.full(n, 4.0), "pp": np.ones(n), "batch_size": BATCHES, "input_tokens": np.full(n, 1000.0),
            "output_tokens": np.full(n, 300.0), "engine": np.full(n, "vllm")}
    x, problem = build_inputs(cols, cat, load_calibration(None)[0])
    assert (problem == "").all()
    return {"x": x, "draft": model_features(cat.model("llama-3.2-1b"))}


def _spec(inputs: dict, method: str, a: float, k: int = 3) -> dict:
    draft = inputs["draft"] if method == "draft" else None
    x = inputs["x"]
    return speculative_evaluate(x, x["coefficients"], method=method, tokens=k, acceptance_rate=a, draft_features=draft)


def test_expected_tokens_formula() -> None:
    # E = 1 + a + ... + a^k (the geometric sum; Leviathan et al. 2023)
    for a in (0.0, 0.3, 0.7, 0.9):
        for k in (1, 3, 5):
            assert expected_tokens(a, k) == pytest.approx(sum(a ** i for i in range(k + 1)))
    assert expected_tokens(1.0, 4) == pytest.approx(5.0)
    assert np.allclose(expected_tokens(np.array([0.0, 0.5]), 2), [1.0, 1.75])


@pytest.mark.parametrize("method", ["draft", "eagle"])
def test_zero_acceptance_is_plain_decoding_plus_the_drafter(inputs: dict, method: str) -> None:
    plain = estimate_arrays(inputs["x"])
    spec = _spec(inputs, method, 0.0)
    assert np.allclose(spec["expected_tokens_per_step"], 1.0)
    # one token per cycle, and the cycle carries the verify of k + 1 tokens and the drafter: never faster
    assert (spec["itl_s"] > plain["itl_s"]).all()
    assert (spec["output_tokens_per_s"] < plain["output_tokens_per_s"]).all()
    assert (spec["energy_per_output_token_j"] > plain["energy_per_output_token_j"]).all()


@pytest.mark.parametrize("method", ["draft", "eagle"])
def test_higher_acceptance_lowers_itl(inputs: dict, method: str) -> None:
    itl = np.array([_spec(inputs, method, a)["itl_s"] for a in (0.2, 0.5, 0.7, 0.9)])
    assert (np.diff(itl, axis=0) < 0).all()
    # at one sequence in flight (memory-bound) a good draft beats plain decoding
    assert _spec(inputs, method, 0.8)["itl_s"][0] < estimate_arrays(inputs["x"])["itl_s"][0]


def test_itl_is_the_cycle_over_the_expected_tokens(inputs: dict) -> None:
    spec = _spec(inputs, "eagle", 0.75)
    assert np.allclose(spec["itl_s"] * spec["expected_tokens_per_step"], spec["speculative_cycle_s"])
    assert np.allclose(spec["output_tokens_per_s"],
                       spec["batch_size"] * spec["expected_tokens_per_step"] / spec["speculative_cycle_s"])


@pytest.mark.parametrize("method", ["draft", "eagle"])
def test_memory_includes_the_drafter(inputs: dict, method: str) -> None:
    plain = estimate_arrays(inputs["x"])
    spec = _spec(inputs, method, 0.7)
    assert (spec["draft_weights_per_gpu_bytes"] > 0).all()
    added = plain["weights_per_gpu_bytes"] + spec["draft_weights_per_gpu_bytes"]
    assert np.allclose(spec["weights_per_gpu_bytes"], added)
    assert (spec["memory_per_gpu_bytes"] > plain["memory_per_gpu_bytes"]).all()
    assert (spec["max_batch_size"] < plain["max_batch_size"]).all()  # the drafter's weights and KV cache take room


def test_eagle_head_is_one_layer_sharing_the_vocabulary(inputs: dict) -> None:
    x = inputs["x"]
    head = head_features(x, dense=True)
    layer = (x["params_active"] - x["params_vocab"]) / x["layers"]
    assert np.allclose(head["params_total"], layer + x["params_vocab"])
    assert np.allclose(head["kv_bytes_per_token"] * x["layers"], x["kv_bytes_per_token"])
    spec = _spec(inputs, "eagle", 0.7)
    assert np.allclose(spec["draft_weights_per_gpu_bytes"], layer * x["weight_bytes"] / x["tp"])


def test_defaults_are_sourced_and_in_range() -> None:
    for method, d in DEFAULT_ACCEPTANCE.items():
        assert d.low <= d.value <= d.high < 1.0
        assert "arXiv" in d.source
        resolved = Speculative(method=method, draft_model="llama-3.2-1b" if method == "draft" else None).resolved()
        assert resolved.acceptance_rate == d.value and resolved.tokens == d.tokens
    assert MTP_MODULES["deepseek-v3"] == 1


def test_estimate_records_the_settings() -> None:
    plain = planner.estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, batch_size=4, input_tokens=1000,
                             output_tokens=300)
    est = planner.estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, batch_size=4, input_tokens=1000,
                           output_tokens=300, speculative={"method": "draft", "draft_model": "Llama-3.2-1B"})
    assert est.speculative == {"method": "draft", "draft_model": "llama-3.2-1b", "tokens": 4, "acceptance_rate": 0.7}
    assert est.expected_tokens_per_step == pytest.approx(expected_tokens(0.7, 4))
    assert est.itl_s < plain.itl_s and plain.speculative is None and plain.expected_tokens_per_step == 1.0
    loaded = planner.estimate("deepseek-v3", "h200", precision="fp8", tp=8, input_tokens=1000, output_tokens=300,
                              speculative={"method": "mtp"}, arrival_requests_per_s=1.0)
    assert loaded.speculative["tokens"] == 1 and loaded.ttft_p95_s is not None and loaded.ttft_p95_s > 0


def test_estimate_table_takes_speculative() -> None:
    rows = [{"model": "llama-3.1-8b", "gpu": "h100-sxm", "tp": 1, "batch_size": b, "input_tokens": 500,
             "output_tokens": 200} for b in (1, 16)]
    plain = planner.estimate_table(rows)
    spec = planner.estimate_table(rows, speculative={"method": "eagle", "acceptance_rate": 0.8})
    assert (spec["itl_s"] < plain["itl_s"]).all()
    with pytest.raises(InputError, match="one model"):
        planner.estimate_table([*rows, {**rows[0], "model": "llama-3.1-70b"}], speculative={"method": "eagle"})


@pytest.mark.parametrize(("spec", "message"), [
    ({"method": "mtp"}, "method mtp needs a model that ships a multi-token-prediction module"),
    ({"method": "draft", "draft_model": "llama-3.1-405b"}, "is not smaller than llama-3.1-70b"),
    ({"method": "draft", "draft_model": "qwen2.5-7b"}, "must share the model's tokenizer"),
    ({"method": "draft"}, "method draft needs draft_model"),
    ({"method": "eagle", "draft_model": "llama-3.2-1b"}, "draft_model is for method draft only"),
    ({"method": "eagle", "tokens": 0}, "speculative.tokens"),
    ({"method": "eagle", "tokens": 9}, "speculative.tokens"),
    ({"method": "eagle", "acceptance_rate": 1.0}, "speculative.acceptance_rate"),
    ({"method": "medusa"}, "speculative.method"),
])
def test_bad_settings_are_refused(spec: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        planner.estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, batch_size=4, input_tokens=1000,
                         output_tokens=300, speculative=spec)


def test_pipeline_parallelism_is_refused() -> None:
    with pytest.raises(InputError, match="pipeline parallelism"):
        planner.estimate("llama-3.1-70b", "h100-sxm", precision="fp8", tp=4, pp=2, batch_size=4, input_tokens=1000,
                         output_tokens=300, speculative={"method": "eagle"})
