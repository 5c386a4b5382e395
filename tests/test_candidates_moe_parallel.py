"""The candidate grid tries attention data parallelism with expert parallelism for MoE models (ep = tp x dp
within a server), not for dense ones; the plan carries ep and dp where above 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from planner.candidates.generate import _grid, _with_parallel_axes, generate_candidates
from planner.catalog import load_catalog
from planner.optimize.plan_builder import _parallelism
from planner.problem.build import resolve_problem
from planner.scenario.load import loaded_from_document

pytestmark = pytest.mark.integration

CHATBOT = Path(__file__).resolve().parent.parent / "scenarios" / "chatbot.yaml"


def _problem(model: str) -> Any:
    doc: dict[str, Any] = yaml.safe_load(CHATBOT.read_text(encoding="utf-8"))
    doc.pop("overrides", None)
    doc["workloads"] = doc["workloads"][:1]
    doc["workloads"][0]["model"] = model
    raw = yaml.safe_dump(doc).encode()
    return resolve_problem(loaded_from_document(doc, raw, CHATBOT), load_catalog())


def test_moe_grid_includes_data_and_expert_parallel_replicas():
    p = _problem("qwen3-30b-a3b")
    w = p.workloads[0]
    grid = _with_parallel_axes(_grid(w, p.catalog.model(w.model_id), p.gpus), w, p.catalog.model(w.model_id), p.gpus)
    dp, ep, tp = grid["dp"], grid["ep"], grid["tp"]
    many = dp > 1
    assert many.any() and (~many).any()
    assert np.array_equal(ep[many], tp[many] * dp[many])  # experts over every GPU of the replica
    assert np.all(grid["pp"][many] == 1) and np.all(grid["batch_size"][many] >= dp[many])
    assert np.all(ep[~many] == 1)
    per_server = {g.id: g.gpus_per_server for g in p.gpus}
    assert all(t * d <= per_server[g] for g, t, d in zip(grid["gpu"][many], tp[many], dp[many], strict=True))
    c = generate_candidates(p).columns  # the table carries the columns (pruning keeps what pays)
    assert "ep" in c and "dp" in c and np.all(c["num_gpus"] == c["tp"] * c["pp"] * c["dp"])


def test_dense_candidates_are_plain_replicas():
    c = generate_candidates(_problem("llama-3.1-8b")).columns
    assert "dp" not in c and "ep" not in c


def test_plan_carries_ep_and_dp_only_above_one():
    cols = {"ep": np.array([8.0, 1.0, np.nan]), "dp": np.array([8.0, 1.0, np.nan])}
    assert _parallelism(cols, 0) == {"ep": 8, "dp": 8}
    assert _parallelism(cols, 1) == {} and _parallelism(cols, 2) == {} and _parallelism({}, 0) == {}
