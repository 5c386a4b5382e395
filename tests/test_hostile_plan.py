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
    (tmp_path / "p.json").write_text(json.dumps(plan))
    (tmp_path / "base.json").write_bytes(PLAN.read_bytes())
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    rc = main(COMMANDS[command])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert rc == 1 and len(errors) == 1 and errors[0].startswith(f"Error: p.json: {shown}: "), err
    assert list((tmp_path / "out").iterdir()) == []
