"""Static-batching runs (TensorRT-LLM v0.9) are timed as a static batch, and an engine without enough fitted
rows is timed with its own profile's overhead priors, not another engine's fit (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.calibration.fit import engine_prior_overheads, measured_inputs
from planner.calibration.measurements import STATIC_BATCHING_SOURCES, load_measurements, to_configs
from planner.catalog.engines import load_engines
from planner.core.inputs import estimate_arrays
from planner.paths import data_dir

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def v09(catalog):
    m = load_measurements(data_dir() / "measurements" / "measurements.csv", catalog)
    static = m.frame["source_id"].isin(STATIC_BATCHING_SOURCES).to_numpy()
    assert static.sum() == 15
    return m.subset(static)


def test_a_static_batch_is_one_prefill_of_every_prompt_then_the_decode_steps(v09, catalog):
    cols = to_configs(v09)
    x, problem = measured_inputs(cols, catalog)
    assert (problem == "").all() and (x["static_batching"] == 1.0).all()
    static = estimate_arrays(x)
    continuous = estimate_arrays({k: v for k, v in x.items() if k != "static_batching"})
    batch, n_out = static["batch_size"], x["output_tokens"]
    # the run's output over its time: prefill of the B prompts plus n_out decode-only steps
    run_s = batch * n_out / static["output_tokens_per_s"]
    prefill_s = run_s - n_out * static["decode_step_s"]
    assert (prefill_s > 0).all()
    np.testing.assert_allclose(static["itl_s"], static["decode_step_s"])
    # no overlap of the prompts with decodes: never faster than the continuous-batching estimate
    assert (static["output_tokens_per_s"] <= continuous["output_tokens_per_s"] * (1 + 1e-9)).all()
    assert (static["output_tokens_per_s"] < continuous["output_tokens_per_s"]).any()


def test_an_engine_without_fitted_rows_takes_its_profiles_overheads():
    profiles = load_engines()
    got = engine_prior_overheads({"vllm", "trt-llm"}, main_engine="trt-llm")
    assert got == {"vllm": {"step_overhead_s": profiles["vllm"].step_overhead_s.value,
                            "seq_overhead_s": profiles["vllm"].seq_overhead_s.value}}
    assert engine_prior_overheads({"vllm"}, main_engine="vllm") == {}
