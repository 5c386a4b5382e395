"""The CLI collects cyclic garbage less often while a command runs (a cold start builds tens of
thousands of long-lived objects) and gives an in-process caller its own thresholds back."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from planner.cli import main as cli_main

pytestmark = pytest.mark.unit


def test_a_command_runs_with_the_raised_threshold_and_restores_the_caller_s(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []

    def command(**_kwargs: Any) -> int:
        seen.append(gc.get_threshold())
        return 0

    monkeypatch.setattr(cli_main.cli, "main", command)
    before = gc.get_threshold()
    assert cli_main.main(["solve", "x.yaml"]) == 0
    assert seen == [(cli_main.GC_YOUNG_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before


def test_the_threshold_is_restored_after_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_threshold()
    assert cli_main.main(["solve", "no-such-file.yaml", "--no-write"]) == 1
    assert "no-such-file.yaml" in capsys.readouterr().err
    assert gc.get_threshold() == before
