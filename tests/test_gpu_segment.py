"""Without `hardware.gpus`, a scenario buys datacenter GPUs only: a consumer RTX 4090 or a
workstation card is considered when the scenario lists it, never by default."""

from __future__ import annotations

from pathlib import Path

import yaml

from planner.catalog import load_catalog
from planner.cli.main import main
from planner.problem.build import allowed_gpus
from planner.scenario.load import load_scenario
from planner.scenario.names import check_names

SCENARIO = {"name": "segment", "workloads": [{"name": "chat", "model": "llama-3.1-8b",
            "traffic": {"peak_requests_per_s": 2, "input_tokens": 300, "output_tokens": 100},
            "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 100}}], "objective": "min_tco"}


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_every_catalog_gpu_has_a_segment_and_the_geforce_card_is_consumer() -> None:
    gpus = load_catalog().gpus
    assert gpus["rtx-4090"].segment == "consumer"
    assert gpus["rtx-6000-ada"].segment == "workstation"
    assert gpus["h100-sxm"].segment == "datacenter"


def test_the_default_gpu_set_is_datacenter_only(tmp_path: Path) -> None:
    catalog = load_catalog()
    path = _write(tmp_path, SCENARIO)
    loaded = load_scenario(path)
    gpus, notes = allowed_gpus(check_names(loaded, catalog), catalog, str(path))
    assert gpus and all(g.segment == "datacenter" for g in gpus)
    assert "rtx-4090 left out: a consumer GPU (list it in hardware.gpus to consider it)" in notes


def test_a_listed_consumer_gpu_is_considered(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, {**SCENARIO, "hardware": {"gpus": ["rtx-4090"]}})
    assert main(["solve", str(path), "--no-write", "--no-analysis", "--format", "json"]) == 0
    assert '"gpu": "rtx-4090"' in capsys.readouterr().out
