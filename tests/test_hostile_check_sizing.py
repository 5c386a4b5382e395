"""`planner check` of a sizing_confidence plan whose sizing margin was edited: the confidence, the factors and the
error group the report prints, and the GPUs the margin adds, passed check (exit 0) before; each is now a
violation naming the key. The plan is solved fresh, so this does not depend on committed plan bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from check_helpers import check_plan, fails, tampered

from planner.cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("sized")
    doc = yaml.safe_load((ROOT / "scenarios/chatbot.yaml").read_text())
    doc["workloads"][0]["sizing_confidence"] = 0.9
    scenario = folder / "sized.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["solve", str(scenario), "--out", str(folder), "--no-analysis"]) == 0
    return scenario, json.loads((folder / "plan.json").read_text())


def test_the_fresh_plan_passes(solved: tuple[Path, dict[str, Any]], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    scenario, plan = solved
    assert plan["deployments"][0]["sizing_margin"] is not None
    assert check_plan(capsys, scenario, plan, tmp_path)[0] == 0


@pytest.mark.parametrize("key", ["confidence", "ttft_factor", "itl_factor", "throughput_factor", "group"])
def test_an_edited_deployment_margin_fails(key: str, solved: tuple[Path, dict[str, Any]], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    scenario, plan = solved

    def edit(d: dict[str, Any]) -> None:
        m = d["sizing_margin"]
        m[key] = m[key] + "x" if isinstance(m[key], str) else m[key] * 0.5

    code, out = check_plan(capsys, scenario, tampered(plan, edit), tmp_path)
    assert code == 1 and fails(out, "sizing_margin", key), out


def test_a_margin_the_scenario_does_not_ask_for_fails(solved: tuple[Path, dict[str, Any]], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    scenario, plan = solved
    code, out = check_plan(capsys, scenario, tampered(plan, lambda d: d.update(sizing_margin=None)), tmp_path)
    assert code == 1 and fails(out, "sizing_margin is absent"), out


def test_edited_gpus_added_fail(solved: tuple[Path, dict[str, Any]], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    scenario, plan = solved
    doc = json.loads(json.dumps(plan))
    doc["totals"]["sizing_margin"]["gpus_added"] += 8
    code, out = check_plan(capsys, scenario, doc, tmp_path)
    assert code == 1 and fails(out, "sizing_margin.gpus_added"), out
