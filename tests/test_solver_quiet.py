"""Solver output never reaches stdout, whatever the solver version (issue 9, "What to build" 1):
every `--format json` prints exactly one JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pulp
import pytest
import yaml

from planner.optimize.quiet import solver_output_silenced

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "name": "small",
    "workloads": [{"name": "chat", "model": "llama-3.1-8b",
                   "traffic": {"peak_requests_per_s": 30, "input_tokens": 1000, "output_tokens": 200},
                   "slo": {"ttft_p95_ms": 1000, "itl_p95_ms": 40}, "precisions": ["bf16"]}],
    "hardware": {"gpus": ["h100-sxm", "h200"]},
    "site": {"power_cap_kw": 100},
    "objective": "min_tco",
}


def _planner(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_solve_format_json_prints_one_json_document() -> None:
    r = _planner("solve", "scenarios/chatbot.yaml", "--no-write", "--format", "json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)  # the whole of stdout: a banner line would make this fail
    assert plan["scenario"]["name"] == "chatbot"


def test_diff_of_two_scenarios_format_json_prints_one_json_document(tmp_path: Path) -> None:
    bigger = {**SMALL, "workloads": [{**SMALL["workloads"][0], "traffic": {**SMALL["workloads"][0]["traffic"],
                                                                          "peak_requests_per_s": 60}}]}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(SMALL))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bigger))
    r = _planner("diff", "a.yaml", "b.yaml", "--format", "json", cwd=tmp_path)
    assert r.returncode in (0, 2), r.stderr
    assert isinstance(json.loads(r.stdout), dict)


def test_silenced_drops_c_level_writes_and_restores_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    os.write(1, b"before\n")
    with solver_output_silenced():
        os.write(1, b"from the solver\n")
    os.write(1, b"after\n")
    assert capfd.readouterr().out == "before\nafter\n"


def test_silenced_restores_stdout_when_the_solver_raises(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), solver_output_silenced():
        os.write(1, b"from the solver\n")
        raise RuntimeError("solver crashed")
    os.write(1, b"after\n")
    assert capfd.readouterr().out == "after\n"


def test_silenced_keeps_python_output_written_before(capfd: pytest.CaptureFixture[str]) -> None:
    print("plan header", end="\n")  # buffered in sys.stdout: flushed before the descriptor moves
    with solver_output_silenced():
        os.write(1, b"banner\n")
    assert capfd.readouterr().out == "plan header\n"


def _small_model():  # type: ignore[no-untyped-def]
    from pathlib import Path

    from planner.candidates.generate import generate_candidates
    from planner.catalog import load_catalog
    from planner.optimize.program import build_program
    from planner.problem.build import resolve_problem
    from planner.scenario.load import LoadedScenario
    from planner.schemas.scenario import Scenario

    loaded = LoadedScenario(Scenario.model_validate(SMALL), Path("s.yaml"), None, b"name: s\n")
    p = resolve_problem(loaded, load_catalog())
    return build_program(p, generate_candidates(p))


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_no_solver_writes_to_stdout(solver: str, capfd: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that prints on file descriptor 1 (as highspy 1.16 does, whatever its options) is silenced,
    whichever highspy this machine has: the banner is simulated at the C level."""
    from planner.optimize.backend import run_solver

    for cls in (pulp.HiGHS, pulp.PULP_CBC_CMD, getattr(pulp, "COIN_CMD", pulp.PULP_CBC_CMD)):
        original = cls.actualSolve

        def noisy(self, lp, *a, _original=original, **kw):  # type: ignore[no-untyped-def]
            os.write(1, b"Running a solver banner\n")
            return _original(self, lp, *a, **kw)

        monkeypatch.setattr(cls, "actualSolve", noisy)
    r = run_solver(_small_model(), solver, 30.0, tie_break=False)
    assert r.status == "optimal"
    assert r.solver_name == solver
    assert capfd.readouterr().out == ""
