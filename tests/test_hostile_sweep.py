"""`planner sweep` of a hostile sweep file: one error naming the file and the key path, exit 1, no traceback,
nothing written. A scenario name no file system takes (OSError) and distributions whose draws overflow to
infinity (OverflowError, or a ValueError from the plan's float rounding) were tracebacks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli.main import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SWEEP: dict[str, Any] = {"scenario": "chatbot.yaml",
                         "grid": {"site.electricity_usd_per_kwh": [0.08, 0.2]},
                         "sample": {"n": 2, "seed": 7, "vary": {"site.pue": {"uniform": {"low": 1.1, "high": 1.5}}}}}
HUGE = {"lognormal": {"median": 1e308, "sigma": 10}, "uniform": {"low": -1e308, "high": 1e308},
        "triangular": {"low": -1e308, "mode": 0, "high": 1e308}}


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         sweep: dict[str, Any]) -> tuple[int, list[str]]:
    shutil.copy(ROOT / "scenarios/chatbot.yaml", tmp_path / "chatbot.yaml")
    (tmp_path / "sw.yaml").write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    rc = main(["sweep", "sw.yaml", "--out", "out", "--workers", "1", "-q"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    return rc, [line for line in err.splitlines() if line.startswith("Error: ")]


@pytest.mark.parametrize("scenario", ["x" * 3000, "a\0b"])
def test_a_scenario_name_no_file_system_takes_is_not_found(
        scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rc, errors = _run(tmp_path, monkeypatch, capsys, {**SWEEP, "scenario": scenario})
    assert rc == 1 and len(errors) == 1 and errors[0].startswith("Error: sw.yaml: scenario: "), errors
    assert len(errors[0]) < 400


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_a_distribution_drawing_past_the_floats_names_its_key(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {**SWEEP, "sample": {**SWEEP["sample"], "vary": {"site.pue": {kind: HUGE[kind]}}}}
    rc, errors = _run(tmp_path, monkeypatch, capsys, sweep)
    assert rc == 1 and len(errors) == 1 and errors[0].startswith("Error: sw.yaml: sample.vary.site.pue: "), errors


def test_one_bad_distribution_is_one_line_not_one_per_variant(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = {**SWEEP, "sample": {**SWEEP["sample"], "n": 5,
                                 "vary": {"site.pue": {"normal": {"mean": 0, "sd": 1e300}}}}}
    shutil.copy(ROOT / "scenarios/chatbot.yaml", tmp_path / "chatbot.yaml")
    (tmp_path / "sw.yaml").write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "sw.yaml", "--out", "out", "--workers", "1", "-q"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "sample.vary.site.pue" in line]
    assert len(lines) <= 2, lines  # at most once too small and once too large, each value shortly
    assert all(len(line) < 600 for line in lines), lines
