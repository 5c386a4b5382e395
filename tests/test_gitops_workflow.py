"""The pull-request workflow: its shape, and its review script run for real on two trees.

The review step's shell script is taken from .github/workflows/planner-review.yml and run with
GitHub's default shell options on a base and a head tree. Most tests stand `planner solve` in with
a shim that prints the committed plan (the script's logic does not need the solver); every other
command is the real `python -m planner`, and the last test runs the real solver too.
"""

from __future__ import annotations

import importlib.util
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.gitops.render import COMMENT_MARKER

_SPEC = importlib.util.spec_from_file_location("gitops_support", Path(__file__).parent / "fixtures" / "gitops"
                                               / "support.py")
support = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(support)  # type: ignore[union-attr]

ROOT, FIXTURES = support.ROOT, support.FIXTURES
WORKFLOW = ROOT / ".github" / "workflows" / "planner-review.yml"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps() -> list[dict]:
    return _workflow()["jobs"]["review"]["steps"]


def _step(name_start: str) -> dict:
    return next(s for s in _steps() if s.get("name", "").startswith(name_start))


def test_workflow_runs_on_pull_requests_with_comment_rights():
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers and "scenarios/**" in triggers["pull_request"]["paths"]
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_workflow_checks_out_base_and_head_and_installs_planner():
    checkouts = [s for s in _steps() if s.get("uses", "").startswith("actions/checkout@")]
    assert [c["with"]["path"] for c in checkouts] == ["head", "base"]
    assert checkouts[1]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    install = _step("Install planner")["run"]
    assert "pip install -q $(lock head) ./head" in install and "pip install -q $(lock base) ./base" in install
    assert 'echo "-c $1/constraints.txt"' in install  # each branch with its own lock file


def test_workflow_posts_the_diff_comment_and_fails_on_check():
    review = _step("Solve, diff and check")["run"]
    assert "--format github-comment" in review and "\"$PLANNER_HEAD\" diff" in review
    assert "check \"$HEAD_DIR/$rel\"" in review and COMMENT_MARKER in review
    post = _step("Post or update")["run"]
    assert COMMENT_MARKER in post and "--method PATCH" in post and "gh pr comment" in post
    assert _step("Fail on")["if"] == "steps.review.outputs.failed == 'true'"


# -- the review script, run ---------------------------------------------------------------------

FAKE_SOLVE = """#!/usr/bin/env bash
# `solve SCENARIO ...` prints the committed plan (exit 3 for a scenario marked "# infeasible");
# everything else is the real planner.
if [ "$1" = solve ]; then
  if grep -q "^# infeasible" "$2"; then echo "Error: scenario is infeasible" >&2; exit 3; fi
  plan="$(dirname "$2")/../plans/$(basename "${2%.*}")/plan.json"
  [ -f "$plan" ] || { echo "Error: $2: no plan to copy" >&2; exit 1; }
  exec cat "$plan"
fi
exec "@PYTHON@" -m planner "$@"
"""
REAL = """#!/usr/bin/env bash
exec "@PYTHON@" -m planner "$@"
"""


def _tree(root: Path, plans: dict[str, str]) -> Path:
    """A checkout with scenarios/<name>.yaml and a stamped plans/<name>/plan.json per fixture plan."""
    (root / "scenarios").mkdir(parents=True)
    shutil.copytree(ROOT / "policies", root / "policies")
    for name, fixture in plans.items():
        scenario = root / "scenarios" / f"{name}.yaml"
        text = support.scenario_text(fixture)
        scenario.write_text(text.replace("name: chatbot", f"name: {name}"), encoding="utf-8")
        support.stamp(fixture, scenario, root / "plans" / name / "plan.json", name=name, file=f"{name}.yaml")
    return root


def _run_review(tmp_path: Path, shim_text: str = FAKE_SOLVE) -> tuple[subprocess.CompletedProcess[str],
                                                                     dict[str, str], str]:
    shim = tmp_path / "planner-shim"
    shim.write_text(shim_text.replace("@PYTHON@", sys.executable), encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    script = tmp_path / "review.sh"
    script.write_text(_step("Solve, diff and check")["run"], encoding="utf-8")
    outputs = tmp_path / "github_output"
    env = support.planner_env() | {
        "BASE_DIR": "base", "HEAD_DIR": "head", "OUT_DIR": "review", "POLICY": "policies/default.yaml",
        "PLANNER_BASE": str(shim), "PLANNER_HEAD": str(shim), "PYTHON_HEAD": sys.executable,
        "GITHUB_OUTPUT": str(outputs)}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, check=False)
    pairs = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines())
    return done, pairs, (tmp_path / "review" / "comment.md").read_text(encoding="utf-8")


def test_review_script_on_a_changed_a_new_and_a_removed_scenario(tmp_path):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base", "legacy": "chatbot-base"})
    _tree(tmp_path / "head", {"chatbot": "chatbot-doubled", "assistant": "chatbot-head"})
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "true", "failed": "false"}
    assert comment.startswith(COMMENT_MARKER + "\n## Capacity plan review")
    assert "~ chat/h100-sxm/fp8/tp4: replicas 6 -> 12 (+24 GPUs)" in comment      # chatbot changed
    assert "### Capacity plan `assistant`: 3 to add, 0 to change, 0 to remove" in comment  # new
    assert "### Capacity plan `legacy`: 0 to add, 0 to change, 2 to remove" in comment     # removed
    assert comment.count(":white_check_mark:") == 2 and ":x:" not in comment


def test_review_script_fails_on_a_stale_plan_and_reports_no_change(tmp_path):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"})
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"})
    scenario = head / "scenarios" / "chatbot.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("pue: 1.3", "pue: 1.35"), encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "true"}
    assert "No capacity changes in 1 scenario(s)." in comment
    assert ":x: <code>scenarios/chatbot.yaml</code>: check failed: 1 stale" in comment
    assert "stale the scenario head/scenarios/chatbot.yaml changed since the plan was solved" in comment


def test_review_script_passes_a_scenario_whose_comments_changed(tmp_path):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"})
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"})
    scenario = head / "scenarios" / "chatbot.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8") + "# reviewed, nothing to re-solve\n", encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "false"}
    assert ":white_check_mark: <code>scenarios/chatbot.yaml</code>: check passed (exit 0)" in comment


def test_review_script_reports_a_missing_plan(tmp_path):
    _tree(tmp_path / "base", {})
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"})
    shutil.rmtree(head / "plans")
    done, outputs, comment = _run_review(tmp_path)
    assert outputs["failed"] == "true"
    assert "no committed plan at `plans/chatbot/plan.json`" in comment
    assert ":x: `scenarios/chatbot.yaml` does not solve: head/scenarios/chatbot.yaml: no plan" in comment


def test_review_script_accepts_a_scenario_that_is_meant_to_be_infeasible(tmp_path):
    for tree in ("base", "head"):
        root = _tree(tmp_path / tree, {})
        (root / "scenarios" / "too-big.yaml").write_text("# infeasible\nname: too-big\n", encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "false"}
    assert "`scenarios/too-big.yaml` is infeasible, so it has no plan to check" in comment


def test_review_script_flags_a_scenario_that_becomes_infeasible(tmp_path):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"})
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"})
    scenario = head / "scenarios" / "chatbot.yaml"
    # the new hall caps racks at 5 kW: no DGX H100 (10.2 kW) fits ("# infeasible" tells the shim)
    text = scenario.read_text(encoding="utf-8").replace("rack_power_cap_kw: 40", "rack_power_cap_kw: 5")
    scenario.write_text("# infeasible\n" + text, encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert outputs == {"changed": "true", "failed": "true"}  # the committed plan is stale and breaks the cap
    assert ":warning: `scenarios/chatbot.yaml` is now infeasible: scenario is infeasible" in comment
    assert "fail  rack power: rack h100-sxm-r01 draws 30.6 kW at nameplate, above the scenario's usable " \
           "4.0 kW" in comment
    assert "0 to add, 0 to change, 2 to remove" in comment


def test_review_script_with_the_real_solver(tmp_path):
    for tree in ("base", "head"):
        (tmp_path / tree / "scenarios").mkdir(parents=True)
        shutil.copytree(ROOT / "policies", tmp_path / tree / "policies")
    shutil.copy(ROOT / "scenarios" / "chatbot.yaml", tmp_path / "base" / "scenarios")
    head = tmp_path / "head"
    support.double_first_workload(ROOT / "scenarios" / "chatbot.yaml", head / "scenarios" / "chatbot.yaml")
    support.solve(head, "scenarios/chatbot.yaml", head / "plans" / "chatbot" / "plan.json")
    done, outputs, comment = _run_review(tmp_path, REAL)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "true", "failed": "false"}
    assert "### Capacity plan `chatbot`:" in comment and ":white_check_mark:" in comment
