"""The queueing model's prefill room is the core's per data-parallel rank (prefill_room_tokens): with
dp = 1 it is budget - batch bit for bit (plans of plain replicas do not move); with dp > 1 it is the
room of the rank a prompt lands on, larger than the replica-wide budget - batch."""

from __future__ import annotations

import itertools
from dataclasses import fields

import numpy as np
import pytest

from planner.candidates.queueing import replica_load
from planner.core.inputs import build_inputs
from planner.core.model import evaluate
from planner.estimation import _calibration, _catalog

pytestmark = pytest.mark.unit


def _estimates(dp: float, batch: float) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    rows = list(itertools.product(["llama-3.1-8b", "qwen3-235b-a22b", "deepseek-v3"], ["h100-sxm", "b200"],
                                  ["fp8"], [1.0, 2.0], [256.0, 4096.0], [128.0, 1024.0]))
    names = ["model", "gpu", "precision", "tp", "input_tokens", "output_tokens"]
    cols = {k: np.array([r[i] for r in rows]) for i, k in enumerate(names)}
    n = len(rows)
    cols |= {"pp": np.ones(n), "engine": np.full(n, "vllm"), "prefill_chunk_tokens": np.full(n, 8192.0)}
    x, _ = build_inputs(cols, _catalog(None), _calibration(None))
    if dp > 1:
        x = {**x, "dp": np.full(n, dp), "ep": x["tp"] * dp}
    with np.errstate(all="ignore"):
        at_c = evaluate({**x, "batch_size": np.full(n, batch)}, x["coefficients"])
        at_1 = evaluate({**x, "batch_size": np.ones(n)}, x["coefficients"])
    return at_1, at_c, x["input_tokens"], x["output_tokens"]


def _same(a, b) -> None:
    for f in fields(a):
        assert np.array_equal(np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name)), equal_nan=True), f.name


def test_dp1_room_is_budget_minus_batch_bit_for_bit() -> None:
    at_1, at_c, n_in, n_out = _estimates(1.0, 200.0)
    without = {k: v for k, v in at_c.items() if k != "prefill_room_tokens"}
    _same(replica_load(at_1, at_c, n_in, n_out), replica_load(at_1, without, n_in, n_out))


def test_dp_room_is_the_ranks() -> None:
    at_1, at_c, n_in, n_out = _estimates(4.0, 4000.0)
    assert (at_c["prefill_room_tokens"] == 8192.0 - 4000.0 / 4.0).all()
    load = replica_load(at_1, at_c, n_in, n_out)
    assert np.array_equal(load.prompt_room_share, np.minimum(1.0, n_in / (8192.0 - 1000.0)))
    # the replica-wide 8192 - 4000 was the old, wrong room: a 4096-token prompt looked like most of a step
    long = n_in == 4096.0
    assert (load.prompt_room_share[long] < 0.6).all() and (4096.0 / (8192.0 - 4000.0) > 0.97)
