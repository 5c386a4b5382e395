"""The review loop on commits of a real (temporary) git repository, through `python -m planner`.

With fixture plans (diff): commit 1 holds a scenario and its plan; commit 2 doubles the chat
traffic and commits the re-solved plan (the fixture plans stamped with the scenario's real input
hashes). With the solver (check, which re-derives every figure of a plan from the estimation core,
so a hand-made plan does not pass it): the same two commits with plans `planner solve` wrote, and
the loop on scenarios/chatbot.yaml, including a commit that edits the scenario without re-solving.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

from planner.catalog import load_catalog
from planner.plan.io import load_plan
from planner.problem.build import input_hashes_of
from planner.scenario.load import load_scenario

_SPEC = importlib.util.spec_from_file_location("gitops_support", Path(__file__).parent / "fixtures" / "gitops"
                                               / "support.py")
support = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(support)  # type: ignore[union-attr]

SCENARIO, PLAN = "scenarios/chatbot.yaml", "plans/chatbot/plan.json"
git, run_planner = support.git, support.run_planner

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def set_first_peak(repo: Path, peak_requests_per_s: int) -> None:
    """Set the first workload's ``peak_requests_per_s`` in the scenario (a text edit, like a person's)."""
    path = repo / SCENARIO
    text = re.sub(r"(?m)^(\s+peak_requests_per_s:) *[0-9.]+", rf"\g<1> {peak_requests_per_s}",
                  path.read_text(encoding="utf-8"), count=1)
    path.write_text(text, encoding="utf-8")


def commit_stamped(repo: Path, fixture: str, message: str) -> None:
    support.stamp(fixture, repo / SCENARIO, repo / PLAN)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def new_repo(path: Path, scenario: Path) -> Path:
    (path / "scenarios").mkdir(parents=True)
    shutil.copytree(support.ROOT / "policies", path / "policies")
    shutil.copy(scenario, path / SCENARIO)
    git(path, "init", "-q", "-b", "main")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = new_repo(tmp_path / "capacity", support.FIXTURES / "chatbot.yaml")
    commit_stamped(repo, "chatbot-base", "chatbot: 10 req/s")
    set_first_peak(repo, 20)
    commit_stamped(repo, "chatbot-doubled", "chatbot: chat traffic doubles")
    return repo


def commit_solved(repo: Path, message: str) -> None:
    support.solve(repo, SCENARIO, repo / PLAN)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def solved_template(tmp_path_factory) -> Path:
    repo = new_repo(tmp_path_factory.mktemp("solved") / "capacity", support.FIXTURES / "chatbot.yaml")
    commit_solved(repo, "chatbot: 10 req/s")
    set_first_peak(repo, 20)
    commit_solved(repo, "chatbot: chat traffic doubles")
    return repo


@pytest.fixture
def solved_repo(solved_template: Path, tmp_path: Path) -> Path:
    """The two commits of `repo` with solved plans (solved once per module, copied per test)."""
    return Path(shutil.copytree(solved_template, tmp_path / "capacity"))


def checkout(repo: Path, rev: str, where: Path) -> Path:
    git(repo, "worktree", "add", "-q", "--detach", str(where), rev)
    return where


def test_diff_between_two_commits(repo, tmp_path):
    base = checkout(repo, "HEAD~1", tmp_path / "base")
    done = run_planner(repo, "diff", str(base / PLAN), PLAN)
    assert done.returncode == 2, done.stderr
    assert "~ chat/h100-sxm/fp8/tp4: replicas 6 -> 12 (+24 GPUs)" in done.stdout
    assert "IT power, expected peak" in done.stdout and "+17.3 kW (+85.0%)" in done.stdout
    assert "Now binding: rack_power_h100-sxm-r02" in done.stdout
    comment = run_planner(repo, "diff", str(base / PLAN), PLAN, "--format", "github-comment")
    assert comment.returncode == 2 and comment.stdout.startswith("<!-- planner-diff -->")


def test_unchanged_plan_between_commits_exits_0(repo, tmp_path):
    git(repo, "commit", "-q", "--allow-empty", "-m", "docs only")
    base = checkout(repo, "HEAD~1", tmp_path / "base")
    done = run_planner(repo, "diff", str(base / PLAN), PLAN)
    assert done.returncode == 0 and "No changes" in done.stdout


def test_check_at_each_commit(solved_repo, tmp_path):
    repo = solved_repo
    base = checkout(repo, "HEAD~1", tmp_path / "base")
    for tree in (base, repo):
        done = run_planner(tree, "check", SCENARIO, "--plan", PLAN, "--policy", "policies/default.yaml")
        assert done.returncode == 0, done.stdout + done.stderr
    with_base = run_planner(repo, "check", SCENARIO, "--plan", PLAN, "--policy", "policies/default.yaml",
                            "--base", str(base / PLAN))
    before, after = load_plan(base / PLAN).totals.capex_usd, load_plan(repo / PLAN).totals.capex_usd
    assert with_base.returncode == 0 and after > 1.1 * before
    assert f"warn  capex-growth: capex_delta_pct = {(after - before) / before * 100:+.1f}% (> 10.0%)" \
        in with_base.stdout


def test_a_scenario_edited_without_re_solving_is_stale_and_checked_against_the_edit(solved_repo):
    repo = solved_repo
    served = sum(d.capacity_requests_per_s for d in load_plan(repo / PLAN).deployments if d.workload == "chat")
    assert served < 36
    set_first_peak(repo, 30)
    git(repo, "commit", "-q", "-am", "chatbot: 30 req/s, forgot to re-solve")
    done = run_planner(repo, "check", SCENARIO, "--plan", PLAN)
    assert done.returncode == 1  # stale, and the plan no longer serves the edited traffic
    assert [line for line in done.stdout.splitlines() if line.startswith("stale")] == [
        f"stale the scenario {SCENARIO} changed since the plan was solved "
        f"(sha256 {load_plan(repo / PLAN).input_sha256.scenario[:12]} -> "
        f"{input_hashes_of(load_scenario(repo / SCENARIO), load_catalog()).scenario[:12]})"]
    assert [line for line in done.stdout.splitlines() if line.startswith("fail")] == [
        "fail  traffic chat: the plan routes 20 req/s, but the scenario's traffic.peak_requests_per_s is 30 req/s",
        f"fail  capacity chat: the plan serves {served:.3g} req/s, below the scenario's peak x (1 + headroom) = "
        "30 x 1.2 = 36 req/s"]


def test_a_commit_that_only_edits_comments_keeps_the_plan_current(solved_repo):
    repo = solved_repo
    path = repo / SCENARIO
    text = path.read_text(encoding="utf-8").replace("name: chatbot\n", "name: chatbot   # owned by the chat team\n")
    path.write_text("# Reviewed 2025-01: traffic forecast unchanged.\n" + text, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "chatbot: comments only")
    done = run_planner(repo, "check", SCENARIO, "--plan", PLAN)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == "ok    inputs unchanged since the plan was solved"


def test_a_policy_deny_between_commits_exits_4(solved_repo, tmp_path):
    repo = solved_repo
    base = checkout(repo, "HEAD~1", tmp_path / "base")
    delta = load_plan(repo / PLAN).totals.gpus - load_plan(base / PLAN).totals.gpus
    assert delta > 1
    (repo / "policies" / "strict.yaml").write_text(
        f"rules:\n  - {{name: gpu-growth, level: deny, metric: gpus_delta, operator: '>', threshold: {delta - 1},\n"
        "     message: GPU growth needs a capacity review}\n", encoding="utf-8")
    done = run_planner(repo, "check", SCENARIO, "--plan", PLAN, "--policy", "policies/strict.yaml",
                       "--base", str(base / PLAN))
    assert done.returncode == 4
    assert (f"deny  gpu-growth: gpus_delta = +{delta} (> {delta - 1}): GPU growth needs a capacity review"
            in done.stdout.splitlines())


def test_review_loop_with_the_solver(tmp_path):
    repo = new_repo(tmp_path / "capacity", support.ROOT / SCENARIO)
    support.solve(repo, SCENARIO, repo / PLAN)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "chatbot")
    set_first_peak(repo, 40)
    git(repo, "commit", "-q", "-am", "chatbot: traffic doubles, plan not re-solved yet")
    not_re_solved = run_planner(repo, "check", SCENARIO, "--plan", PLAN)
    assert not_re_solved.returncode == 1 and "stale the scenario" in not_re_solved.stdout
    assert "fail  traffic " in not_re_solved.stdout  # the plan routes the old peak
    support.solve(repo, SCENARIO, repo / PLAN)
    git(repo, "commit", "-q", "-am", "chatbot: re-solved")

    base_plan = str(checkout(repo, "HEAD~2", tmp_path / "base") / PLAN)
    diff = run_planner(repo, "diff", base_plan, PLAN, "--format", "github-comment")
    assert diff.returncode == 2 and diff.stdout.startswith("<!-- planner-diff -->")
    assert "| GPUs |" in diff.stdout and "**+" in diff.stdout
    same = run_planner(repo, "diff", PLAN, SCENARIO)
    assert same.returncode == 0 and "No changes" in same.stdout
    check = run_planner(repo, "check", SCENARIO, "--plan", PLAN, "--policy", "policies/default.yaml",
                        "--base", base_plan)
    assert check.returncode == 0, check.stdout
