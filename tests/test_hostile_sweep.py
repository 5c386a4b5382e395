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


def _edit_json(text: str, edit: Any) -> str:
    import json

    record = json.loads(text)
    edit(record)
    return json.dumps(record)


RECORD_EDITS: dict[str, Any] = {
    "nan": lambda t: t.replace('"gpus": ', '"gpus": NaN, "x": ', 1),
    "huge": lambda t: t.replace('"gpus": ', '"gpus": 1e400, "x": ', 1),
    "deep": lambda t: "[" * 100_000 + "]" * 100_000,
    "figures-list": lambda t: _edit_json(t, lambda r: r.update(figures=[])),
    "values-str": lambda t: _edit_json(t, lambda r: r.update(values="x")),
    "values-other": lambda t: _edit_json(t, lambda r: r["values"].update({"site.pue": 9.0})),
    "status-int": lambda t: _edit_json(t, lambda r: r.update(status=5)),
    "reason-dict": lambda t: _edit_json(t, lambda r: r.update(reason={"a": 1})),
    "gpus-by-type-list": lambda t: _edit_json(t, lambda r: r["figures"].update(gpus_by_type=[1])),
    "configurations-int": lambda t: _edit_json(t, lambda r: r["figures"].update(configurations=5)),
    "tco-text": lambda t: _edit_json(t, lambda r: r["figures"].update(tco_per_year_usd="abc")),
    "tco-missing": lambda t: _edit_json(t, lambda r: r["figures"].pop("tco_per_year_usd")),
}


def _one_variant_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A one-variant sweep of chatbot written in ``tmp_path`` (the working folder); its command's arguments."""
    sweep = {**SWEEP, "grid": {"site.electricity_usd_per_kwh": [0.08]}, "sample": {**SWEEP["sample"], "n": 1}}
    shutil.copy(ROOT / "scenarios/chatbot.yaml", tmp_path / "chatbot.yaml")
    (tmp_path / "sw.yaml").write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    return ["sweep", "sw.yaml", "--out", "out", "--workers", "1", "-q"]


@pytest.mark.parametrize("case", sorted(RECORD_EDITS))
def test_a_corrupt_kept_variant_is_solved_again(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A record under OUT/variants/ that is not as the planner writes it was trusted on resume: a traceback
    (RecursionError, AttributeError, TypeError, ValueError, KeyError) or its edited figures in the table."""
    args = _one_variant_sweep(tmp_path, monkeypatch)
    assert main(args) == 0
    table = (tmp_path / "out/sweep.csv").read_bytes()
    record = tmp_path / "out/variants/00000.json"
    record.write_text(RECORD_EDITS[case](record.read_text()))
    assert main(args) == 0, capsys.readouterr().err
    assert (tmp_path / "out/sweep.csv").read_bytes() == table


def test_a_resumed_sweep_removes_only_the_files_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Stale variant files are removed on resume; a file of the user's under OUT/variants/ whose name is digits
    (2024.json, 7.json) was removed with them."""
    args = _one_variant_sweep(tmp_path, monkeypatch)
    assert main(args) == 0
    variants = tmp_path / "out/variants"
    for name in ("2024.json", "7.json", "00005.json"):  # the last is a stale variant of the store's own
        (variants / name).write_text("{}")
    assert main(args) == 0
    assert sorted(p.name for p in variants.iterdir()) == ["00000.json", "00000.plan.json", "2024.json", "7.json"]
