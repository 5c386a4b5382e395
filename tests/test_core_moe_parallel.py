"""Expert parallelism (ep) and attention data parallelism (dp): ep=1, dp=1 is the plain replica bit for
bit, memory and step terms follow the layout, validation names the fix, and a mesh link is slower than
a switch at small groups."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.core.inputs import build_inputs
from planner.core.model import evaluate
from planner.errors import InputError
from planner.estimation import _calibration, _catalog, estimate, estimate_table

pytestmark = pytest.mark.unit

MODELS = ["llama-3.1-8b", "qwen3-30b-a3b", "mixtral-8x7b", "deepseek-v3", "qwen3-235b-a22b"]
GPUS = ["h100-sxm", "a100-sxm-80gb", "l40s", "b200", "mi300x"]


def _grid() -> dict[str, np.ndarray]:
    rows = list(itertools.product(MODELS, GPUS, ["bf16", "fp8"], [1, 2, 8], [1, 2], [np.nan, 1, 64],
                                  [128, 2048], [128, 1024]))
    names = ["model", "gpu", "precision", "tp", "pp", "batch_size", "input_tokens", "output_tokens"]
    cols = {k: np.array([r[i] for r in rows]) for i, k in enumerate(names)}
    for k in ("tp", "pp", "batch_size", "input_tokens", "output_tokens"):
        cols[k] = cols[k].astype(float)
    cols["engine"] = np.full(len(rows), "vllm")
    return cols


def test_ep1_dp1_reproduces_the_plain_replica_bit_for_bit():
    cols = _grid()
    x, _ = build_inputs(cols, _catalog(None), _calibration(None))
    ones = np.ones(len(cols["model"]))
    with np.errstate(all="ignore"):
        plain = evaluate(x, x["coefficients"])
        x1 = {**x, "ep": ones, "dp": ones}
        explicit = evaluate(x1, x1["coefficients"])
    assert len(ones) > 1000
    for k, v in plain.items():
        a, b = np.asarray(v, dtype=float), np.asarray(explicit[k], dtype=float)
        assert np.array_equal(a, b, equal_nan=True), k


def _est(**kw):
    base = dict(precision="fp8", input_tokens=256, output_tokens=512, batch_size=64)
    return estimate("qwen3-235b-a22b", "h100-sxm", **{**base, **kw})


def test_expert_parallel_memory_layout():
    tp8 = _est(tp=8)
    ep8 = _est(tp=1, dp=8, ep=8)
    dp_only = _est(tp=4, dp=2)
    assert tp8.num_gpus == ep8.num_gpus == dp_only.num_gpus == 8
    # dp replicates attention and dense weights per rank; ep=8 still spreads the experts over all 8
    assert ep8.weights_per_gpu_bytes > tp8.weights_per_gpu_bytes
    # ep=1 with dp=2: every rank holds its own (tp-sliced) copy of the experts: about twice tp8's weights
    assert dp_only.weights_per_gpu_bytes == pytest.approx(2.0 * tp8.weights_per_gpu_bytes, rel=1e-9)
    assert (ep8.ep, ep8.dp, tp8.ep, tp8.dp) == (8, 8, 1, 1)


def test_mla_attention_dp_frees_the_replicated_latent_cache():
    tp8 = estimate("deepseek-v3", "h200", precision="fp8", tp=8, input_tokens=2048, output_tokens=512)
    dp8 = estimate("deepseek-v3", "h200", precision="fp8", tp=1, dp=8, ep=8, input_tokens=2048, output_tokens=512)
    # MLA latents are replicated over tp ranks; dp ranks each hold their own sequences: far more batch fits
    assert dp8.max_batch_size > 3 * tp8.max_batch_size


def test_all_to_all_is_priced_by_the_link():
    fast = _est(tp=8, ep=8, batch_size=256)
    x_cols = {"model": ["qwen3-235b-a22b"] * 2, "gpu": ["h100-sxm", "h100-pcie"], "precision": ["fp8"] * 2,
              "tp": [8, 8], "ep": [8, 8], "batch_size": [256, 256], "input_tokens": [256, 256],
              "output_tokens": [512, 512]}
    t = estimate_table(x_cols)
    assert list(t["ep"]) == [8, 8] and list(t["dp"]) == [1, 1]
    assert t["output_tokens_per_s"][0] == pytest.approx(fast.output_tokens_per_s, rel=1e-9)
    assert t["itl_s"][1] > t["itl_s"][0]  # PCIe all-to-all is slower than NVLink


def test_mesh_link_is_one_peer_link_at_tp2():
    # MI300X: 7 Infinity Fabric links; TP2 uses one of them, TP8 all seven
    small = estimate("llama-3.1-70b", "mi300x", tp=2, batch_size=128, input_tokens=2048, output_tokens=256)
    x, _ = build_inputs({"model": np.array(["llama-3.1-70b"]), "gpu": np.array(["mi300x"]),
                         "precision": np.array(["bf16"]), "tp": np.array([2.0]), "pp": np.array([1.0]),
                         "batch_size": np.array([128.0]), "input_tokens": np.array([2048.0]),
                         "output_tokens": np.array([256.0]), "engine": np.array(["vllm"])},
                        _catalog(None), _calibration(None))
    assert x["mesh_links"][0] == 7.0
    switch = {**x, "mesh_links": np.zeros(1)}
    with np.errstate(all="ignore"):
        as_switch = evaluate(switch, switch["coefficients"])
    assert small.itl_s > as_switch["itl_s"][0]


@pytest.mark.parametrize("kw, words", [
    (dict(model="llama-3.1-8b", ep=2, tp=2), "no routed experts"),
    (dict(model="llama-3.1-8b", dp=2), "only meaningful for MoE or MLA"),
    (dict(model="qwen3-30b-a3b", tp=2, ep=3), "does not divide"),
    (dict(model="mixtral-8x7b", tp=1, dp=16, ep=16), "exceeds"),
    (dict(model="qwen3-30b-a3b", dp=0), "dp must be"),
])
def test_parallel_validation_names_the_fix(kw, words):
    model = kw.pop("model")
    with pytest.raises(InputError, match=words):
        estimate(model, "h100-sxm", input_tokens=128, output_tokens=128, **kw)


def test_table_marks_bad_parallelism_as_a_row_problem():
    t = estimate_table({"model": ["llama-3.1-8b", "qwen3-30b-a3b"], "gpu": ["h100-sxm"] * 2,
                        "ep": [2, 3], "tp": [2, 2], "input_tokens": [128, 128], "output_tokens": [128, 128]})
    assert "routed experts" in t["problem"][0] and "divide" in t["problem"][1]


def test_a_prompt_lands_on_one_data_parallel_rank():
    # TTFT of one request: its prompt is prefilled by one rank (tp 1 here), the experts see its tokens once
    tp8 = _est(tp=8, batch_size=1, input_tokens=2048)
    dp8 = _est(tp=1, dp=8, ep=8, batch_size=1, input_tokens=2048)
    assert dp8.ttft_s > tp8.ttft_s  # one GPU does the prompt's attention and dense GEMMs
    x, _ = build_inputs({"model": np.array(["qwen3-235b-a22b"]), "gpu": np.array(["h100-sxm"]),
                         "precision": np.array(["fp8"]), "tp": np.array([1.0]), "pp": np.array([1.0]),
                         "ep": np.array([8.0]), "dp": np.array([8.0]), "batch_size": np.array([1.0]),
                         "input_tokens": np.array([2048.0]), "output_tokens": np.array([512.0]),
                         "engine": np.array(["vllm"])}, _catalog(None), _calibration(None))
    from planner.core.model import stage_work, step_invariants

    c = x["coefficients"]
    inv = step_invariants(x, c, np.array([2304.0]))
    solo = stage_work(x, c, np.zeros(1), np.array([2048.0]), np.array([2304.0]), c["eta_compute"], inv, True)
    spread = stage_work(x, c, np.zeros(1), np.array([2048.0]), np.array([2304.0]), c["eta_compute"], inv)
    assert solo["flops"][0] < spread["flops"][0]  # spread: every rank's 2048 tokens reach the experts


def test_does_not_fit_under_dp_names_the_layout_and_the_fix():
    from planner.errors import DoesNotFitError

    with pytest.raises(DoesNotFitError) as exc:  # dp 8 without ep: every GPU holds all experts
        estimate("deepseek-v3", "h100-sxm", precision="fp8", tp=1, dp=8, batch_size=8, input_tokens=100,
                 output_tokens=100)
    assert "dp=8, ep=1" in str(exc.value) and "--ep" in exc.value.fix
