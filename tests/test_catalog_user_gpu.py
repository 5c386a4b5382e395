"""A user GPU without a `server:` block: enough for estimates and compare (a per-GPU figure needs no
server), and `planner solve` says exactly which block to add when such a GPU is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import planner
from planner.catalog.loader import load_catalog
from planner.errors import InputError

pytestmark = pytest.mark.integration

A6000 = (Path(__file__).parent / "fixtures" / "catalogs" / "user-a6000.yaml").read_text(encoding="utf-8")
SCENARIO = {"name": "user-gpu", "workloads": [{
    "name": "chat", "model": "llama-3.1-8b", "precisions": ["bf16"],
    "traffic": {"peak_requests_per_s": 1, "input_tokens": 500, "output_tokens": 100},
    "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 200}}]}


@pytest.fixture
def folder(tmp_path: Path) -> str:
    (tmp_path / "mine.yaml").write_text(A6000)
    return str(tmp_path)


def test_a_gpu_without_a_server_block_loads(folder) -> None:
    g = load_catalog([folder]).gpu("my-a6000")
    assert g.server is None and g.memory_gib == 48


def test_solve_names_the_block_to_add_when_the_gpu_is_listed(folder) -> None:
    doc = {**SCENARIO, "hardware": {"gpus": ["my-a6000"]}, "finance": {"gpu_prices_usd": {"my-a6000": 4500}}}
    with pytest.raises(InputError) as info:
        planner.solve(doc, catalog_dirs=[folder], analysis=False)
    text = str(info.value)
    assert "hardware.gpus" in text and "my-a6000 has no `server:` block" in text
    assert "add `server: {model, gpus_per_server, max_power_w, rack_units, source}`" in text


def test_compare_works_without_a_server(folder) -> None:
    t = planner.compare("llama-3.1-8b", "my-a6000", "bf16", batch_size=4, input_tokens=500, output_tokens=100,
                        catalog=load_catalog([folder]))
    row = t.iloc[0]
    assert row.fits_memory is True and row.power_per_gpu_w > 0 and row.energy_per_output_token_j > 0
    assert row.node_power_w is None and "no node power" in row.warnings


def test_estimate_works_without_a_server(folder, capsys) -> None:
    from planner.cli.main import main

    e = planner.estimate("llama-3.1-8b", "my-a6000", batch_size=4, input_tokens=500, output_tokens=100,
                         catalog=load_catalog([folder]))
    assert e.fits_memory and e.power_per_gpu_w > 0 and e.tp == 1
    code = main(["estimate", "-m", "llama-3.1-8b", "-g", "my-a6000", "--catalog", folder, "--batch-size", "4",
                 "--input-tokens", "500", "--output-tokens", "100"])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err and "llama-3.1-8b on 1 x my-a6000" in out
    assert "no server block" in next(line for line in out.splitlines() if "node power" in line)
    assert main(["estimate", "-m", "llama-3.1-8b", "-g", "my-a6000", "--catalog", folder, "--batch-size", "4",
                 "--input-tokens", "500", "--output-tokens", "100", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["node_power_w"] is None


def test_catalog_gpus_lists_a_gpu_without_a_server(folder, capsys) -> None:
    from planner.cli.main import main

    for fmt in ("table", "csv"):
        code = main(["catalog", "gpus", "--catalog", folder, "--format", fmt])
        out, err = capsys.readouterr()
        assert code == 0 and "Traceback" not in err
        assert "my-a6000" in out
