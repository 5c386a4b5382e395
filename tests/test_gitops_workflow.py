"""The pull-request workflow: its shape, and its review script run for real on two trees.

The review step's shell script is taken from .github/workflows/planner-review.yml and run with
GitHub's default shell options on a base and a head tree. Most tests stand `planner solve` in with
a shim that prints the committed plan (the script's logic does not need the solver); every other
command is the real `python -m planner`, and the last test runs the real solver too.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_catalog
from planner.gitops.diff import deployment_key
from planner.gitops.render import COMMENT_MARKER
from planner.plan.io import load_plan, write_plan
from planner.problem.build import input_hashes_of
from planner.scenario.load import load_scenario
from planner.schemas.plan import Plan

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


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> dict[str, Plan]:
    """The scenario of each fixture plan, solved once: `planner check` re-derives every figure from
    the estimation core, so the hand-made fixture plans would not pass it."""
    plans = {}
    for fixture in ("chatbot-base", "chatbot-doubled", "chatbot-head"):
        work = tmp_path_factory.mktemp(fixture)
        (work / "chatbot.yaml").write_text(support.scenario_text(fixture), encoding="utf-8")
        support.solve(work, "chatbot.yaml", work / "plan.json")
        plans[fixture] = load_plan(work / "plan.json")
    return plans


def _tree(root: Path, plans: dict[str, str], solved: dict[str, Plan]) -> Path:
    """A checkout with scenarios/<name>.yaml and its solved plans/<name>/plan.json per fixture (the
    scenario renamed to <name>, the plan's record of it and input hashes to match)."""
    (root / "scenarios").mkdir(parents=True)
    shutil.copytree(ROOT / "policies", root / "policies")
    for name, fixture in plans.items():
        scenario = root / "scenarios" / f"{name}.yaml"
        text = support.scenario_text(fixture)
        scenario.write_text(text.replace("name: chatbot", f"name: {name}"), encoding="utf-8")
        plan = solved[fixture]
        ref = plan.scenario.model_copy(update={"name": name, "file": f"{name}.yaml"})
        hashes = input_hashes_of(load_scenario(scenario), load_catalog())
        path = root / "plans" / name / "plan.json"
        path.parent.mkdir(parents=True)
        write_plan(plan.model_copy(update={"scenario": ref, "input_sha256": hashes}), path)
    return root


def _chat(plan: Plan, like: object = None):
    """The plan's chat deployment (the largest, where the solver splits chat over configurations), or the
    one keyed like ``like``."""
    chats = [d for d in plan.deployments if d.workload == "chat"]
    if like is not None:
        [chat] = [d for d in chats if deployment_key(d) == deployment_key(like)]
        return chat
    return max(chats, key=lambda d: d.gpus)


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


def test_review_script_on_a_changed_a_new_and_a_removed_scenario(tmp_path, solved):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base", "legacy": "chatbot-base"}, solved)
    _tree(tmp_path / "head", {"chatbot": "chatbot-doubled", "assistant": "chatbot-head"}, solved)
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "true", "failed": "false"}
    assert comment.startswith(COMMENT_MARKER + "\n## Capacity plan review")
    before = _chat(solved["chatbot-base"])
    after = _chat(solved["chatbot-doubled"], like=before)
    assert deployment_key(before) == deployment_key(after) and after.replicas > before.replicas
    assert (f"~ {deployment_key(before)}: replicas {before.replicas} -> {after.replicas} "  # chatbot changed
            f"({after.gpus - before.gpus:+d} GPUs)") in comment
    added, removed = len(solved["chatbot-head"].deployments), len(solved["chatbot-base"].deployments)
    assert f"### Capacity plan `assistant`: {added} to add, 0 to change, 0 to remove" in comment  # new
    assert f"### Capacity plan `legacy`: 0 to add, 0 to change, {removed} to remove" in comment   # removed
    assert comment.count(":white_check_mark:") == 2 and ":x:" not in comment


def test_review_script_fails_on_a_stale_plan_and_reports_no_change(tmp_path, solved):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"}, solved)
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"}, solved)
    scenario = head / "scenarios" / "chatbot.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("pue: 1.3", "pue: 1.35"), encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "true"}
    assert "No capacity changes in 1 scenario(s)." in comment
    assert ":x: <code>scenarios/chatbot.yaml</code>: check failed: 1 stale" in comment
    assert "stale the scenario head/scenarios/chatbot.yaml changed since the plan was solved" in comment


def test_review_script_passes_a_scenario_whose_comments_changed(tmp_path, solved):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"}, solved)
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"}, solved)
    scenario = head / "scenarios" / "chatbot.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8") + "# reviewed, nothing to re-solve\n", encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "false"}
    assert re.search(r":white_check_mark: <code>scenarios/chatbot.yaml</code>: check passed(: \d+ warned)? "
                     r"\(exit 0\)", comment), comment  # a policy warning (an SLO within 5 %) still passes


def test_review_script_reports_a_missing_plan(tmp_path, solved):
    _tree(tmp_path / "base", {}, solved)
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"}, solved)
    shutil.rmtree(head / "plans")
    done, outputs, comment = _run_review(tmp_path)
    assert outputs["failed"] == "true"
    assert "no committed plan at `plans/chatbot/plan.json`" in comment
    assert ":x: `scenarios/chatbot.yaml` does not solve: head/scenarios/chatbot.yaml: no plan" in comment


def test_review_script_accepts_a_scenario_that_is_meant_to_be_infeasible(tmp_path, solved):
    for tree in ("base", "head"):
        root = _tree(tmp_path / tree, {}, solved)
        (root / "scenarios" / "too-big.yaml").write_text("# infeasible\nname: too-big\n", encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert done.returncode == 0, done.stderr
    assert outputs == {"changed": "false", "failed": "false"}
    assert "`scenarios/too-big.yaml` is infeasible, so it has no plan to check" in comment


def test_review_script_flags_a_scenario_that_becomes_infeasible(tmp_path, solved):
    _tree(tmp_path / "base", {"chatbot": "chatbot-base"}, solved)
    head = _tree(tmp_path / "head", {"chatbot": "chatbot-base"}, solved)
    scenario = head / "scenarios" / "chatbot.yaml"
    # the new hall caps racks at 5 kW: no H100 server fits ("# infeasible" tells the shim)
    text = scenario.read_text(encoding="utf-8").replace("rack_power_cap_kw: 40", "rack_power_cap_kw: 5")
    scenario.write_text("# infeasible\n" + text, encoding="utf-8")
    done, outputs, comment = _run_review(tmp_path)
    assert outputs == {"changed": "true", "failed": "true"}  # the committed plan is stale and breaks the cap
    assert ":warning: `scenarios/chatbot.yaml` is now infeasible: scenario is infeasible" in comment
    rack = solved["chatbot-base"].racks[0]
    assert f"fail  rack power: rack {rack.id} draws {rack.power_nameplate_w / 1e3:.1f} kW at nameplate, above the " \
           "scenario's usable 4.0 kW" in comment
    assert f"0 to add, 0 to change, {len(solved['chatbot-base'].deployments)} to remove" in comment


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
