"""Roadmap-only keys where no roadmap runs: a single-period scenario with hardware.cloud, hardware.owned,
hardware.lead_time_periods or finance.discount_rate_per_year validated and solved with the key silently ignored,
and a sweep could vary `horizon` (each variant a roadmap, solved as one period, exit 0). Each is now one error
naming the file and the key path, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli.main import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CLOUD = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "a quote"}]
OWNED = [{"gpu": "h100-sxm", "gpus": 8, "remaining_life_periods": 4}]
KEYS: dict[str, tuple[str, str, Any]] = {
    "cloud": ("hardware", "cloud", CLOUD), "owned": ("hardware", "owned", OWNED),
    "lead-time": ("hardware", "lead_time_periods", 2), "discount": ("finance", "discount_rate_per_year", 0.08)}


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("Error: ")]


@pytest.mark.parametrize("case", sorted(KEYS))
def test_a_roadmap_key_without_horizon_is_an_error(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    section, key, value = KEYS[case]
    doc = yaml.safe_load((ROOT / "scenarios/chatbot.yaml").read_text())
    doc.setdefault(section, {})[key] = value
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    for args in (["validate", "s.yaml"], ["solve", "s.yaml", "--out", "out", "--no-analysis"]):
        assert main(args) == 1
        errors = _errors(capsys)
        assert len(errors) == 1 and errors[0].startswith(f"Error: s.yaml: {section}.{key}: "), errors
    assert not (tmp_path / "out").exists()


def test_the_roadmap_example_still_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "scenarios/roadmaps/roadmap.yaml")]) == 0


@pytest.mark.parametrize("key_path", ["horizon", "horizon.count", "hardware.cloud", "hardware.lead_time_periods",
                                      "finance.discount_rate_per_year"])
def test_a_sweep_cannot_vary_a_roadmap_key(key_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(ROOT / "scenarios/chatbot.yaml", tmp_path / "chatbot.yaml")
    value = {"horizon": {"period": "quarter", "count": 2}, "hardware.cloud": CLOUD}.get(key_path, 2)
    (tmp_path / "sw.yaml").write_text(yaml.safe_dump({"scenario": "chatbot.yaml", "grid": {key_path: [value]}}))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "sw.yaml", "--out", "out", "--workers", "1", "-q"]) == 1
    errors = _errors(capsys)
    assert len(errors) == 1 and errors[0].startswith(f"Error: sw.yaml: grid.{key_path}: "), errors
    assert not (tmp_path / "out").exists()
