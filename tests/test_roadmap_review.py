"""`planner check` and `planner diff` of roadmaps: a committed roadmap is checked period by period
against the scenario as it is now (stale inputs, its own sums, each period re-derived), and two
roadmaps are compared period by period; a roadmap against a single-period plan is one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from roadmap_helpers import growing_fleet, write

from planner.cli.main import main

pytestmark = pytest.mark.integration

_doc = growing_fleet


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(scenario, plan.json) solved once for the module."""
    folder = tmp_path_factory.mktemp("roadmap-review")
    path = write(folder, _doc())
    assert main(["solve", str(path), "--out", str(folder / "out")]) == 0
    return path, folder / "out" / "plan.json"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def _tampered(plan: Path, tmp_path: Path, edit: Any) -> str:
    doc = json.loads(plan.read_text())
    edit(doc)
    out = tmp_path / "plan.json"
    out.write_text(json.dumps(doc))
    return str(out)


def test_the_example_shape_solves_with_purchases_owned_servers_and_rentals(solved: tuple[Path, Path]) -> None:
    periods = json.loads(solved[1].read_text())["periods"]
    assert periods[0]["installed"] == {"h100-sxm": 1} and periods[0]["rentals"]
    assert sum(sum(p["purchases"].values()) for p in periods) > 0


def test_check_passes_on_the_plan_just_solved(solved: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(["check", str(solved[0]), "--plan", str(solved[1])], capsys)
    assert code == 0, text
    assert "3 periods" in text and "check passed" in text


def test_check_finds_a_purchase_the_fleet_does_not_show(solved: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][0]["purchases"]["h100-sxm"] = doc["periods"][0]["purchases"].get("h100-sxm", 0) + 1

    code, text = _run(["check", str(solved[0]), "--plan", _tampered(solved[1], tmp_path, edit)], capsys)
    assert code == 1
    label = json.loads(solved[1].read_text())["periods"][1]["label"]
    assert f"fail  {label}: " in text and "delivered purchases" in text
    assert "capex_usd" in text  # the first period's capex no longer follows from its orders


def test_check_re_derives_a_later_periods_deployments(solved: tuple[Path, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][2]["deployments"][0]["capacity_requests_per_s"] *= 1.5

    code, text = _run(["check", str(solved[0]), "--plan", _tampered(solved[1], tmp_path, edit)], capsys)
    assert code == 1
    assert "capacity_requests_per_s" in text and "recomputed" in text


def test_check_finds_rentals_short_of_the_rented_deployments(solved: tuple[Path, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["periods"][0]["rentals"] = {}

    code, text = _run(["check", str(solved[0]), "--plan", _tampered(solved[1], tmp_path, edit)], capsys)
    assert code == 1 and "GPUs of h100-sxm.cloud: deployments use" in text


def test_an_edited_scenario_makes_the_plan_stale_and_a_tighter_period_violates_it(
        solved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    doc["description"] = "edited"
    code, text = _run(["check", str(write(tmp_path, doc)), "--plan", str(solved[1])], capsys)
    assert code == 2 and "stale the scenario" in text
    plan = json.loads(solved[1].read_text())
    peak_kw = max(p["totals"]["it_power_nameplate_w"] for p in plan["periods"]) / 1e3
    doc["horizon"]["site"] = [{"from_period": 3, "power_cap_kw": peak_kw / 2}]
    code, text = _run(["check", str(write(tmp_path, doc)), "--plan", str(solved[1])], capsys)
    assert code == 1 and f"{plan['periods'][2]['label']}: site power" in text


def test_a_roadmap_and_a_single_period_plan_are_one_clear_error(solved: tuple[Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    single = {k: v for k, v in _doc().items() if k != "horizon"}
    single["hardware"] = {"gpus": ["h100-sxm"]}
    single_path = tmp_path / "single.yaml"
    single_path.write_text(yaml.safe_dump(single))
    code, text = _run(["check", str(single_path), "--plan", str(solved[1])], capsys)
    assert code == 1 and "horizon" in text and "Traceback" not in text
    assert _run(["solve", str(single_path), "--out", str(tmp_path / "single")], capsys)[0] == 0
    single_plan = str(tmp_path / "single" / "plan.json")
    code, text = _run(["check", str(solved[0]), "--plan", single_plan], capsys)
    assert code == 1 and "no periods" in text
    code, text = _run(["diff", str(solved[1]), single_plan], capsys)
    assert code == 1 and "cannot compare a roadmap" in text and "Traceback" not in text


def test_diff_of_a_roadmap_with_itself_is_no_change(solved: tuple[Path, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(["diff", str(solved[1]), str(solved[1])], capsys)
    assert code == 0 and "No changes" in text


@pytest.mark.parametrize("fmt", ["text", "md", "github-comment", "json"])
def test_diff_names_the_period_and_what_changes_in_it(solved: tuple[Path, Path], tmp_path: Path, fmt: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        last = doc["periods"][-1]
        last["installed"]["h100-sxm"] += 1
        last["totals"]["cost_usd"] += 1000.0

    new = _tampered(solved[1], tmp_path, edit)
    code, text = _run(["diff", str(solved[1]), new, "--format", fmt], capsys)
    label = json.loads(solved[1].read_text())["periods"][-1]["label"]
    assert code == 2
    if fmt == "json":
        doc = json.loads(text)
        changed = [p for p in doc["periods"] if p["changed"]]
        assert [p["label"] for p in changed] == [label]
        assert changed[0]["counts"][0]["what"] == "installed" and "cost_usd" in changed[0]["totals"]
    else:
        assert label in text and "1 of 3 periods change" in text
        assert ("<!-- planner-diff -->" in text) == (fmt == "github-comment")


def test_check_holds_the_horizon_to_the_budget_and_inventory_as_they_are_now(
        solved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(solved[1].read_text())
    bought = sum(p["purchases"].get("h100-sxm", 0) for p in plan["periods"])
    assert bought > 0
    doc = _doc()
    doc["finance"] = {**doc["finance"], "budget_usd": 1000.0}
    doc["hardware"] = {**doc["hardware"], "inventory": {"h100-sxm": 8 * bought - 1}}
    code, text = _run(["check", str(write(tmp_path, doc)), "--plan", str(solved[1])], capsys)
    assert code == 1
    assert "fail  budget: the roadmap spends" in text and "finance.budget_usd 1,000" in text
    assert f"fail  inventory: the roadmap buys {8 * bought} h100-sxm GPUs" in text
