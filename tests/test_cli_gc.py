"""The CLI collects cyclic garbage less often while a command runs (a cold start builds tens of
thousands of long-lived objects) and gives an in-process caller its own thresholds back; it runs
numpy's BLAS on one thread unless the user chose otherwise."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
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


_PRINT_BLAS_THREADS = """
import os, sys
from planner.cli import main as cli_main
cli_main.cli.main = lambda **_kwargs: print(os.environ.get("OPENBLAS_NUM_THREADS"), "numpy" in sys.modules) or 0
sys.exit(cli_main.main(["solve", "x.yaml"]))
"""


@pytest.mark.parametrize(("exported", "seen"), [(None, "1"), ("3", "3")])
def test_a_command_runs_numpy_s_blas_on_one_thread_unless_the_user_set_it(exported: str | None, seen: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in cli_main.BLAS_THREAD_VARIABLES}
    if exported is not None:
        env["OPENBLAS_NUM_THREADS"] = exported
    out = subprocess.run([sys.executable, "-c", _PRINT_BLAS_THREADS], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == [seen, "False"]  # set before numpy is imported, so its BLAS reads it
