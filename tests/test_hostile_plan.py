"""Corrupt plan files handed to report, diff, check and export: one error naming the file and the key path,
exit 1, no traceback, nothing written. Numbers too large for any plan (10**400, 1e308) overflowed the
report's arithmetic (OverflowError traceback in planner/report/format.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "plans/chatbot/plan.json"
COMMANDS = {"report": ["report", "p.json", "--format", "md", "--out", "out/r.md"],
            "diff": ["diff", "base.json", "p.json", "--format", "json"],
            "export": ["export", "p.json", "--out", "out/run.sh"],
            "check": ["check", str(ROOT / "scenarios/chatbot.yaml"), "--plan", "p.json"]}


def _set(doc: Any, path: tuple[str | int, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("path", "value", "shown"), [
    (("deployments", 0, "dp"), 10**400, "deployments[0].dp"),
    (("servers", 0, "servers"), 1e308, "servers[0].servers"),
    (("totals", "capex_usd"), -(10**30), "totals.capex_usd"),
])
def test_a_number_no_plan_holds_is_one_error_naming_its_key(
        command: str, path: tuple[str | int, ...], value: Any, shown: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(PLAN.read_text())
    _set(plan, path, value)
    _refused_at(shown, command, plan, PLAN, tmp_path, monkeypatch, capsys)
    assert list((tmp_path / "out").iterdir()) == []


def _refused_at(shown: str, command: str, plan: dict[str, Any], base: Path, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``command`` (COMMANDS) on ``plan`` written to p.json (``base``: the diff's other side) exits 1 with
    one error line naming p.json and the key path ``shown``."""
    (tmp_path / "p.json").write_text(json.dumps(plan))
    (tmp_path / "base.json").write_bytes(base.read_bytes())
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    rc = main(COMMANDS[command])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert rc == 1 and len(errors) == 1 and errors[0].startswith(f"Error: p.json: {shown}: "), err


ROADMAP = ROOT / "plans/roadmaps/roadmap/plan.json"


@pytest.mark.parametrize("fmt", ["json", "text", "md", "github-comment"])
def test_a_roadmap_diff_of_a_changed_launch_spec_or_energy_split_renders(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A period's deployment whose launch spec or energy split changed: `diff --format json` printed a
    TypeError traceback (a pydantic section in the JSON); every format now renders, exit 2."""
    plan = json.loads(ROADMAP.read_text())
    deployment = plan["periods"][0]["deployments"][0]
    deployment["launch"]["argv"] = [*deployment["launch"]["argv"], "--seed", "1"]
    deployment["energy_breakdown_j_per_token"] = {k: v * 2 for k, v in
                                                  deployment["energy_breakdown_j_per_token"].items()}
    (tmp_path / "new.json").write_text(json.dumps(plan))
    assert main(["diff", str(ROADMAP), str(tmp_path / "new.json"), "--format", fmt]) == 2
    out = capsys.readouterr().out
    if fmt == "json":
        changes = json.loads(out)["periods"][0]["deployments"][0]["changes"]
        assert changes["launch"]["after"]["argv"][-2:] == ["--seed", "1"]
        assert set(changes["energy_breakdown_j_per_token"]["after"]) == set(deployment["energy_breakdown_j_per_token"])


@pytest.mark.parametrize("command", ["report", "diff", "export"])
def test_a_roadmap_with_two_periods_of_one_label_is_refused(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Periods are matched by label: a plan with its periods written three times diffed as 'No changes'
    against the original (exit 0)."""
    plan = json.loads(ROADMAP.read_text())
    plan["periods"] = plan["periods"] * 3
    _refused_at(f"periods[{len(plan['periods']) // 3}].label", command, plan, ROADMAP, tmp_path, monkeypatch, capsys)


def test_a_deployment_written_twice_is_not_lost_from_the_diff(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Two identical deployments got one key, so the diff showed one of them: doubling a deployment's replicas by
    copying it read as a rename."""
    plan = json.loads(PLAN.read_text())
    plan["deployments"].append(dict(plan["deployments"][0], replicas=plan["deployments"][0]["replicas"] * 10))
    plan["deployments"].append(dict(plan["deployments"][0]))
    (tmp_path / "p.json").write_text(json.dumps(plan))
    assert main(["diff", str(PLAN), str(tmp_path / "p.json"), "--format", "json"]) == 2
    changes = json.loads(capsys.readouterr().out)["deployments"]
    after = [c["after"]["replicas"] for c in changes if c["after"] is not None]
    assert after == [d["replicas"] for d in plan["deployments"]], changes


def test_a_plan_of_a_newer_minor_schema_is_read_with_a_note_that_does_not_say_re_solve(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 2.x plan newer than this planner loads without its unknown keys; the note said 'migrated on read ...;
    re-solve to write <older version>', which would downgrade the plan."""
    from planner.schemas.plan import PLAN_SCHEMA_VERSION

    major = PLAN_SCHEMA_VERSION.split(".")[0]
    plan = json.loads(PLAN.read_text())
    plan.update(schema_version=f"{major}.999.0", a_key_from_the_future={"x": 1})
    (tmp_path / "p.json").write_text(json.dumps(plan))
    assert main(["report", str(tmp_path / "p.json"), "--format", "md"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Note: ")]
    assert len(notes) == 1 and "newer than this planner" in notes[0] and "re-solve" not in notes[0], notes
