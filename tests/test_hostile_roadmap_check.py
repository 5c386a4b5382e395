"""Hostile edits of a roadmap plan (fuzz findings N13, N8): `planner check` re-derives each period's
rented GPUs and IT power, and `planner diff` refuses a plan whose period labels repeat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from roadmap_helpers import roadmap, scenario, write

from planner.cli.main import main
from planner.errors import PlanFileError
from planner.plan.io import read_plan
from planner.roadmap.diff import diff_roadmaps, render_json
from planner.schemas.plan import Plan

pytestmark = pytest.mark.integration

CLOUD = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "test price"}]


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(scenario, plan.json): a lead time bridged by rentals in the first period."""
    folder = tmp_path_factory.mktemp("roadmap-hostile")
    doc = scenario(hardware={"gpus": ["h100-sxm"], "lead_time_periods": 1, "cloud": CLOUD},
                   horizon={"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 1.0}}})
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = 400
    path = write(folder, doc)
    assert main(["solve", str(path), "--out", str(folder / "out"), "--no-analysis"]) == 0
    return path, folder / "out" / "plan.json"


def _check(solved: tuple[Path, Path], tmp_path: Path, edit: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    doc = json.loads(solved[1].read_text())
    edit(doc)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(doc))
    capsys.readouterr()
    code = main(["check", str(solved[0]), "--plan", str(plan)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _rented_period(solved: tuple[Path, Path]) -> int:
    periods = json.loads(solved[1].read_text())["periods"]
    return next(i for i, p in enumerate(periods) if p["totals"]["gpus_rented"] > 0)


def test_the_untouched_plan_passes(solved: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _check(solved, tmp_path, lambda doc: None, capsys)
    assert code == 0, text


def test_an_edited_gpus_rented_fails_naming_the_period_and_field(solved: tuple[Path, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    i = _rented_period(solved)

    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][i]["totals"]["gpus_rented"] *= 2

    code, text = _check(solved, tmp_path, edit, capsys)
    assert code == 1, text
    assert f"periods[{i}].totals.gpus_rented" in text


def test_a_rental_of_an_option_not_offered_fails(solved: tuple[Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][2]["rentals"]["b200.cloud"] = 1

    code, text = _check(solved, tmp_path, edit, capsys)
    assert code == 1 and "periods[2].rentals[b200.cloud]" in text


def test_a_later_periods_edited_peak_power_fails(solved: tuple[Path, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][2]["totals"]["it_power_max_w"] *= 1.1

    code, text = _check(solved, tmp_path, edit, capsys)
    assert code == 1 and "periods[2].totals.it_power_max_w" in text


def _plan(solved: tuple[Path, Path]) -> Plan:
    return read_plan(solved[1]).plan


def test_diff_refuses_a_plan_whose_period_labels_repeat(solved: tuple[Path, Path]) -> None:
    plan = _plan(solved)
    periods = list(plan.periods or [])
    twice = plan.model_copy(update={"periods": [*periods[:2], periods[1].model_copy(), *periods[3:]]})
    with pytest.raises(PlanFileError) as err:
        diff_roadmaps(plan, twice, base_label="base.json", new_label="new.json")
    assert err.value.file == "new.json" and err.value.key_path == "periods[2].label"


def test_diff_json_writes_a_changed_launch_spec_as_an_object(solved: tuple[Path, Path]) -> None:
    plan = _plan(solved)
    periods = list(plan.periods or [])
    d = periods[1].deployments[0]
    assert d.launch is not None
    edited = d.model_copy(update={"launch": d.launch.model_copy(update={"argv": [*d.launch.argv, "--x"]})})
    changed = periods[1].model_copy(update={"deployments": [edited, *periods[1].deployments[1:]]})
    new = plan.model_copy(update={"periods": [periods[0], changed, *periods[2:]]})
    doc = json.loads(render_json(diff_roadmaps(plan, new)))
    launch = doc["periods"][1]["deployments"][0]["changes"]["launch"]
    assert launch["after"]["argv"][-1] == "--x" and isinstance(launch["before"], dict)


def test_validate_refuses_the_growth_solve_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """N12: a growth compounding past the peak bound over 120 months was 'ok' to validate, refused by solve."""
    doc = scenario(horizon={"period": "month", "count": 120, "traffic": {"chat": {"growth_per_period": 0.405}}})
    path = str(write(tmp_path, doc))
    results = []
    for command in ("validate", "solve"):
        capsys.readouterr()
        code = main([command, path] + (["--out", str(tmp_path / "out")] if command == "solve" else []))
        out = capsys.readouterr()
        results.append((code, "horizon.traffic.chat.growth_per_period" in out.out + out.err))
    assert results == [(1, True), (1, True)]
    assert not (tmp_path / "out").exists()


def test_a_roadmap_without_hardware_gpus_says_why_it_is_slow(tmp_path: Path) -> None:
    """N5: every catalog GPU may be bought in every period; the plan's notes say so and how to solve faster."""
    r = roadmap(tmp_path, scenario(hardware={}))
    note = next(n for n in r.base.notes if n.startswith("hardware.gpus not given"))
    assert f"{len(r.buyable)} priced datacenter GPU types" in note and f"{len(r.buyable) * 3} purchase" in note
    assert all(note in p.problem.notes for p in r.periods)
    listed = roadmap(tmp_path, scenario())
    assert not any(n.startswith("hardware.gpus not given") for n in listed.base.notes)
