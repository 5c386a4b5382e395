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
