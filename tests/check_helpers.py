"""Helpers of the tests that tamper a solved plan and run `planner check` on it (test_check_serving.py,
test_moe_parallel_review.py): write the plan, check it, read the failing lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.cli.main import main


def check_plan(capsys: pytest.CaptureFixture[str], scenario: Path, doc: dict[str, Any],
               folder: Path) -> tuple[int, str]:
    """Write ``doc`` as folder/plan.json and run `planner check` on it: (exit code, stdout)."""
    path = folder / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code = main(["check", str(scenario), "--plan", str(path)])
    return code, capsys.readouterr().out


def tampered(doc: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of the plan document with ``edit`` applied to its first deployment."""
    copy = json.loads(json.dumps(doc))
    edit(copy["deployments"][0])
    return copy


def fails(out: str, *words: str) -> list[str]:
    """The `fail` lines of a check's output that hold every one of ``words``."""
    return [line for line in out.splitlines() if line.startswith("fail  ") and all(w in line for w in words)]
