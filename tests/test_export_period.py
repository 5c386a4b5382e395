"""`planner export ROADMAP --period LABEL`: any period of a roadmap plan is exported (the default stays the
first period, as the title says); a period the plan lacks, or --period on a single-period plan, is one error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
ROADMAP = ROOT / "plans" / "roadmaps" / "roadmap" / "plan.json"
CHATBOT = ROOT / "plans" / "chatbot" / "plan.json"


def _export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["export", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_each_period_exports_its_own_deployments(capsys: pytest.CaptureFixture[str]) -> None:
    periods = json.loads(ROADMAP.read_text(encoding="utf-8"))["periods"]
    last = periods[-1]
    rc, text, _ = _export(capsys, str(ROADMAP), "--period", last["label"])
    assert rc == 0
    assert f"period {last['label']} ({len(periods)} of {len(periods)}" in text
    assert subprocess.run(["bash", "-n"], input=text, text=True, check=False).returncode == 0
    listed = subprocess.run(["bash", "-s", "list"], input=text, capture_output=True, text=True, check=True)
    replicas = sorted(int(line.split()[1]) for line in listed.stdout.splitlines()[1:])
    assert replicas == sorted(d["replicas"] for d in last["deployments"])  # that period's, one row each
    assert replicas != sorted(d["replicas"] for d in periods[0]["deployments"])  # not the first period's


def test_the_default_is_the_first_period_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    rc, text, _ = _export(capsys, str(ROADMAP))
    first = json.loads(ROADMAP.read_text(encoding="utf-8"))["periods"][0]["label"]
    assert rc == 0 and f"period {first} (the first of " in text and "the later periods are not exported" in text


@pytest.mark.parametrize("plan, period, words", [
    (ROADMAP, "Q9", "no period 'Q9' in this roadmap"),
    (CHATBOT, "2027-Q1", "has no periods (it is not a roadmap)"),
])
def test_a_period_the_plan_lacks_is_one_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, plan: Path,
                                              period: str, words: str) -> None:
    out = tmp_path / "run.sh"
    rc, _, err = _export(capsys, str(plan), "--period", period, "--out", str(out))
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert rc == 1 and len(errors) == 1 and words in errors[0] and "Traceback" not in err
    assert not out.exists()
