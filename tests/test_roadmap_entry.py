"""A scenario with `horizon` reaches the roadmap from every entry point that solves it, and the
single-period sweep, which would misread one, refuses it by name; diff and check take it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import planner
from planner.cli.main import main
from tests.roadmap_helpers import scenario, write

pytestmark = pytest.mark.integration


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_python_api_solves_a_dict_with_horizon_as_a_roadmap() -> None:
    plan = planner.solve(scenario())
    assert plan.periods is not None and len(plan.periods) == 3
    assert plan.roadmap_what_if == []  # analysis (the default) ran; no site limit binds in this roadmap


def test_the_python_api_passes_analysis_to_a_roadmap() -> None:
    doc = scenario(horizon={"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 3.0}},
                            "site": [{"from_period": 2, "racks": 1}]},
                   hardware={"gpus": ["h100-sxm"], "owned": [{"gpu": "h100-sxm", "servers": 1,
                                                              "remaining_life_periods": 3}]})
    analysed = planner.solve(doc)
    assert analysed.roadmap_what_if is not None and [w.limit for w in analysed.roadmap_what_if] == ["racks_total"]
    skipped = planner.solve(doc, analysis=False)
    assert skipped.roadmap_what_if is None
    assert skipped.periods == analysed.periods


def test_planner_solve_writes_a_plan_with_one_entry_per_period(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, scenario())
    code, _ = _run(["solve", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 0
    doc = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert len(doc["periods"]) == 3


def test_check_and_diff_take_a_roadmap_plan_and_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, scenario())
    assert _run(["solve", str(path), "--out", str(tmp_path / "out")], capsys)[0] == 0
    plan = str(tmp_path / "out" / "plan.json")
    code, text = _run(["check", str(path), "--plan", plan], capsys)
    assert code == 0 and "check passed" in text
    code, text = _run(["diff", plan, str(path)], capsys)
    assert code == 0 and "No changes" in text
    code, text = _run(["diff", "/dev/null", str(path)], capsys)
    assert code == 2 and "3 of 3 periods change" in text


def test_sweep_refuses_a_roadmap_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, scenario())
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"scenario": "roadmap-test.yaml",
                                     "grid": {"site.electricity_usd_per_kwh": [0.1, 0.2]}}))
    code, text = _run(["sweep", str(sweep), "--out", str(tmp_path / "sw")], capsys)
    assert code == 1 and "horizon" in text and "Traceback" not in text


def test_planner_solve_prints_the_roadmap_as_an_order_schedule(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    doc = scenario(horizon={"period": "quarter", "count": 3, "start": "2027-Q1",
                            "traffic": {"chat": {"growth_per_period": 3.0}}})
    code, text = _run(["solve", str(write(tmp_path, doc)), "--no-write"], capsys)
    assert code == 0
    assert text.startswith("Roadmap for roadmap-test: optimal")
    rows = [line for line in text.splitlines() if line.startswith("2027-Q")]
    assert [r.split()[0] for r in rows] == ["2027-Q1", "2027-Q2", "2027-Q3"]  # one row per period
    assert "order (servers)" in text and "kW nameplate / cap" in text
    assert "Order 2027-Q1: " in text  # the report's headline, in short
    assert "workload  gpu" not in text  # not the single-period deployment table of the first period
