"""The plans committed under plans/ are current: `planner check` passes for every shipped scenario.

A change to a scenario, a catalog, the calibration or the model makes them stale; re-solve with
scripts/update_plans.sh and commit the new plans with the change, as a team would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "scenarios" / "roadmaps").glob("*.yaml"))


def _plans_dir(scenario: Path) -> Path:
    """plans/<name>/, or plans/roadmaps/<name>/ for a roadmap (scenarios/roadmaps/)."""
    return ROOT / "plans" / ("roadmaps" if scenario.parent.name == "roadmaps" else "") / scenario.stem


def _meant_infeasible(path: Path) -> bool:
    return yaml.safe_load(path.read_text())["name"].startswith("infeasible")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_committed_plan_is_current(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plans_dir(scenario) / "plan.json"
    if _meant_infeasible(scenario):
        assert not plan.exists()
        return
    assert plan.exists(), f"no committed plan for {scenario.name}: run scripts/update_plans.sh"
    rc = main(["check", str(scenario), "--plan", str(plan)])
    out = capsys.readouterr()
    assert rc == 0, f"{plan} is stale or violated; run scripts/update_plans.sh\n{out.out}{out.err}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_committed_report_is_what_planner_report_renders(scenario: Path) -> None:
    """The report written by `planner solve` equals `planner report plan.json` (rendered from the file)."""
    from planner.plan.io import load_plan
    from planner.report import render_report

    plan_path = _plans_dir(scenario) / "plan.json"
    if _meant_infeasible(scenario):
        return
    committed = (_plans_dir(scenario) / "report.md").read_text(encoding="utf-8")
    assert render_report(load_plan(plan_path), "md") == committed
