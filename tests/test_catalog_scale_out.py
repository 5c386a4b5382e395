"""A server's scale-out network (catalog `server.scale_out`, issue 12 item 1): the schema accepts a sourced block
and refuses a bad one naming its key path; every shipped server carries one; disaggregated serving's KV transfer
(and so a prefill pool's TTFT) takes the prefill server's own figure, the fallback constant only without one."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from planner.api import loaded_from_dict
from planner.candidates.disaggregated import assumption_rows, evaluate_prefill, scale_out_columns
from planner.candidates.generate import _grid, _with_parallel_axes
from planner.catalog.loader import load_catalog
from planner.core.disaggregated import (
    KV_TRANSFER_EFFICIENCY,
    KV_TRANSFER_SETUP_S,
    SCALE_OUT_BYTES_PER_S_PER_GPU,
    SCALE_OUT_LATENCY_S,
)
from planner.errors import InputError
from planner.problem.build import resolve_problem
from planner.schemas.catalog import ScaleOut

pytestmark = pytest.mark.unit

GOOD = {"gbit_per_s_per_gpu": 400, "latency_us": 2, "fabric": "infiniband", "source": "DGX H100 user guide"}
USER_GPU = """schema_version: 1
gpus:
  - id: my-box-gpu
    name: My GPU
    vendor: other
    architecture: x
    form_factor: pcie
    memory_gib: 48
    memory_bandwidth_tb_per_s: 0.8
    peak_tflops: {bf16: 150}
    tdp_w: 300
    idle_w: 25
    interconnect: {kind: pcie4, bandwidth_gb_per_s: 32, latency_us: 20}
    server:
      model: my box
      gpus_per_server: 4
      max_power_w: 3000
      rack_units: 4
      source: "mine"
      scale_out: SCALE_OUT
    source: "mine"
"""


def test_the_schema_accepts_a_sourced_block_in_si() -> None:
    block = ScaleOut(**GOOD)
    assert block.bits_per_s_per_gpu == 400e9 and block.latency_s == pytest.approx(2e-6)


@pytest.mark.parametrize(("change", "field"), [
    ({"fabric": "omnipath"}, "fabric"), ({"gbit_per_s_per_gpu": 0}, "gbit_per_s_per_gpu"),
    ({"latency_us": -1}, "latency_us"), ({"source": ""}, "source"), ({"gbps": 400}, "gbps")])
def test_the_schema_refuses_a_bad_block(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ScaleOut(**{**GOOD, **change})
    assert field in str(info.value)


def test_a_user_catalogs_bad_block_is_an_input_error_naming_the_key_path(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(USER_GPU.replace(
        "SCALE_OUT", '{gbit_per_s_per_gpu: 100, latency_us: 3, fabric: myrinet, source: "x"}'))
    with pytest.raises(InputError) as info:
        load_catalog([str(tmp_path)])
    text = str(info.value)
    assert "gpus[0].server.scale_out.fabric" in text and "'infiniband', 'roce' or 'ethernet'" in text


def test_a_user_server_may_leave_the_block_out(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(USER_GPU.replace("      scale_out: SCALE_OUT\n", ""))
    assert load_catalog([str(tmp_path)]).gpu("my-box-gpu").server.scale_out is None


def test_every_shipped_server_has_a_sourced_block() -> None:
    catalog = load_catalog()
    gpus = list(catalog.gpus.values()) if isinstance(catalog.gpus, dict) else list(catalog.gpus)
    assert len(gpus) >= 20
    for g in gpus:
        block = g.server.scale_out
        assert block is not None, f"{g.id}: server has no scale_out block"
        assert len(block.source) > 40, g.id
        # an estimate says so and gives its plausible range, with the figure inside it
        if block.source.startswith("ESTIMATE"):
            low, high = (float(v) for v in re.search(r"range ([\d.]+)-([\d.]+)", block.source).groups())
            assert low <= block.gbit_per_s_per_gpu <= high, g.id
        assert "latency ESTIMATE" in block.source, g.id  # no vendor publishes a KV-transfer latency
    dgx = {g.id: g.server.scale_out.gbit_per_s_per_gpu for g in gpus if g.id in ("h100-sxm", "a100-sxm-80gb", "b200")}
    assert dgx == {"h100-sxm": 400, "a100-sxm-80gb": 200, "b200": 400}  # 8 x ConnectX-7 400 / ConnectX-6 200 Gb/s


@pytest.fixture(scope="module")
def problem() -> Any:
    doc = {"name": "pd", "objective": "min_tco", "hardware": {"gpus": ["h100-sxm", "a100-sxm-80gb"]},
           "workloads": [{"name": "long", "model": "llama-3.1-8b", "precisions": ["bf16"],
                          "serving": ["aggregated", "disaggregated"],
                          "traffic": {"peak_requests_per_s": 2, "input_tokens": 8000, "output_tokens": 300},
                          "slo": {"ttft_p95_ms": 4000, "itl_p95_ms": 100}}]}
    return resolve_problem(loaded_from_dict(doc), load_catalog())


def _prefill(p: Any) -> dict[str, np.ndarray]:
    w = p.workloads[0]
    model = p.catalog.model(w.model_id)
    grid = _with_parallel_axes(_grid(w, model, p.gpus), w, model, p.gpus)
    keep = (grid["batch_size"] == 1.0) & (grid["tp"] == 1) & (grid["pp"] == 1)
    cols, *_ = evaluate_prefill(p, w, model, {k: v[keep] for k, v in grid.items()})
    return cols


def _transfer_at(cols: dict[str, np.ndarray], gpu: str) -> float:
    rows = (cols["gpu"] == gpu) & (cols["prefill_chunk_tokens"] == cols["prefill_chunk_tokens"].max())
    assert rows.any(), gpu
    return float(cols["kv_transfer_s"][rows][0])


def test_the_kv_transfer_takes_the_prefill_servers_figure(problem: Any) -> None:
    cols = _prefill(problem)
    h100, a100 = _transfer_at(cols, "h100-sxm"), _transfer_at(cols, "a100-sxm-80gb")
    setup = KV_TRANSFER_SETUP_S.value + 2e-6  # both DGX fabrics: InfiniBand, 2 us
    # DGX A100 (200 Gb/s = 25 GB/s per GPU) moves the same KV cache at half DGX H100's rate (400 Gb/s = 50 GB/s)
    assert a100 - setup == pytest.approx(2 * (h100 - setup))
    # and the TTFT a prefill candidate is sized with carries it
    rows = cols["gpu"] == "a100-sxm-80gb"
    assert np.all(cols["ttft_solo_p95_s"][rows] >= cols["kv_transfer_s"][rows])


def test_a_server_without_the_block_falls_back_to_the_constant(problem: Any) -> None:
    h100 = problem.gpu("h100-sxm")
    bare = dataclasses.replace(h100, spec=h100.spec.model_copy(
        update={"server": h100.spec.server.model_copy(update={"scale_out": None})}))
    p = dataclasses.replace(problem, gpus=(bare, problem.gpu("a100-sxm-80gb")))
    cols = scale_out_columns(p, np.array(["h100-sxm", "a100-sxm-80gb"]))
    assert cols["scale_out_bytes_per_s_per_gpu"].tolist() == [SCALE_OUT_BYTES_PER_S_PER_GPU.value, 25e9]
    assert cols["scale_out_latency_s"].tolist() == pytest.approx([SCALE_OUT_LATENCY_S.value, 2e-6])
    rows = {r["name"]: r for r in assumption_rows(p)}
    assert rows["h100-sxm scale-out"]["value"] == "fallback"
    assert rows["a100-sxm-80gb scale-out"]["value"] == "200 Gb/s infiniband, 2 us"
    assert "ConnectX-6" in rows["a100-sxm-80gb scale-out"]["source"]
    assert KV_TRANSFER_EFFICIENCY.name in rows
