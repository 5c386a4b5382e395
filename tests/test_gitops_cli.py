"""`planner diff` and `planner check` through the real entry point: output, exit codes, clear errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.gitops.render import COMMENT_MARKER
from planner.plan.io import load_plan, write_plan

_SPEC = importlib.util.spec_from_file_location("gitops_support", Path(__file__).parent / "fixtures" / "gitops"
                                               / "support.py")
support = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(support)  # type: ignore[union-attr]
FIXTURES = Path(__file__).parent / "fixtures" / "gitops"
BASE, HEAD = str(FIXTURES / "chatbot-base.json"), str(FIXTURES / "chatbot-head.json")
ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A scenario and its committed plan (the head fixture, stamped with the scenario's real hashes)."""
    monkeypatch.delenv("PLANNER_CATALOG_PATH", raising=False)
    scenario = tmp_path / "scenarios" / "chatbot.yaml"
    scenario.parent.mkdir()
    shutil.copy(FIXTURES / "chatbot.yaml", scenario)
    support.stamp("chatbot-head", scenario, tmp_path / "plans" / "chatbot" / "plan.json")
    return tmp_path


def _policy(tmp_path: Path, rules: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n" + rules, encoding="utf-8")
    return str(path)


def _corrupt(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.json"
    path.write_text(Path(BASE).read_text(encoding="utf-8")[:300], encoding="utf-8")
    return str(path)


def _newer_major(tmp_path: Path) -> str:
    data = json.loads(Path(BASE).read_text(encoding="utf-8")) | {"schema_version": "2.0.0"}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _foreign(tmp_path: Path) -> str:
    path = tmp_path / "package.json"
    path.write_text('{"name": "web", "version": "1.2.3"}', encoding="utf-8")
    return str(path)


BAD_PLANS = {
    "corrupt": (_corrupt, "not valid JSON: line"),
    "foreign": (_foreign, "not a planner plan: no `schema_version` key"),
    "newer-major": (_newer_major, "plan schema 2.0.0 is newer than this planner reads (1.x)"),
    "missing": (lambda tmp: str(tmp / "nope.json"), "plan file not found"),
    "directory": (lambda tmp: str(tmp), "is a directory"),
}


# -- planner diff -------------------------------------------------------------------------------

def test_diff_of_a_plan_with_itself_exits_0_and_says_no_changes(capsys):
    code, out, _ = run(capsys, "diff", BASE, BASE)
    assert code == 0 and "No changes" in out


def test_diff_of_changed_plans_exits_2(capsys):
    code, out, _ = run(capsys, "diff", BASE, HEAD)
    assert code == 2
    assert "~ chat/h100-sxm/fp8/tp4: replicas 6 -> 8 (+8 GPUs)" in out
    assert "Deployments: 2 to add, 1 to change, 1 to remove." in out


@pytest.mark.parametrize("fmt, start", [("md", "### Capacity plan"), ("text", "planner diff: chatbot"),
                                        ("github-comment", COMMENT_MARKER + "\n")])
def test_diff_formats(capsys, fmt, start):
    code, out, _ = run(capsys, "diff", BASE, HEAD, "--format", fmt)
    assert code == 2 and out.startswith(start)


def test_diff_json_format(capsys):
    code, out, _ = run(capsys, "diff", BASE, HEAD, "--format", "json")
    assert code == 2 and json.loads(out)["totals"]["gpus"]["delta"] == 13


def test_diff_from_no_plan_is_all_additions(capsys):
    code, out, _ = run(capsys, "diff", "/dev/null", BASE)
    assert code == 2 and "Deployments: 2 to add, 0 to change, 0 to remove." in out


def test_diff_of_two_empty_sides_is_an_error(capsys):
    code, _, err = run(capsys, "diff", "/dev/null", "/dev/null")
    assert code == 1 and err.startswith("Error: both sides are /dev/null")


@pytest.mark.parametrize("kind", sorted(BAD_PLANS))
@pytest.mark.parametrize("side", ["base", "new"])
def test_diff_bad_plan_files_give_one_clear_error(capsys, tmp_path, kind, side):
    make, words = BAD_PLANS[kind]
    bad = make(tmp_path)
    code, out, err = run(capsys, "diff", *((bad, BASE) if side == "base" else (BASE, bad)))
    assert code == 1 and out == ""
    assert err.startswith(f"Error: {bad}: ") and words in err and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_diff_override_on_a_plan_file_is_an_error(capsys):
    code, _, err = run(capsys, "diff", BASE, HEAD, "--override", "growth")
    assert code == 1 and "--override applies to scenario files" in err


def test_diff_unknown_format_is_a_usage_error(capsys):
    code, _, err = run(capsys, "diff", BASE, HEAD, "--format", "html")
    assert code == 1 and "'html' is not one of" in err


def test_diff_through_python_m_planner(tmp_path):
    done = support.run_planner(tmp_path, "diff", BASE, HEAD, "--format", "md")
    assert done.returncode == 2 and "| GPUs | 28 | 41 | **+13 (+46.4%)** |" in done.stdout
    bad = support.run_planner(tmp_path, "diff", _corrupt(tmp_path), HEAD)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr


# -- planner check ------------------------------------------------------------------------------

def _check(capsys, repo: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "check", str(repo / "scenarios" / "chatbot.yaml"),
               "--plan", str(repo / "plans" / "chatbot" / "plan.json"), *extra)


def test_check_of_a_current_plan_passes(capsys, repo):
    code, out, _ = _check(capsys, repo)
    assert code == 0
    assert out.splitlines() == [
        "ok    inputs unchanged since the plan was solved",
        "ok    8 constraints, 3 deployments (capacity, SLOs, GPU counts) and 2 racks hold",
        "check passed"]


def test_check_of_an_edited_scenario_is_stale(capsys, repo):
    scenario = repo / "scenarios" / "chatbot.yaml"
    text = scenario.read_text(encoding="utf-8")
    scenario.write_text(text.replace("peak_requests_per_s: 10", "peak_requests_per_s: 20"), encoding="utf-8")
    code, out, _ = _check(capsys, repo)
    assert code == 2
    [why] = [line for line in out.splitlines() if line.startswith("stale")]
    assert why.startswith(f"stale the scenario {scenario} changed since the plan was solved (sha256 ")
    assert out.splitlines()[-1].startswith("check failed: 1 stale (re-run `planner solve ")


def test_check_with_another_override_is_stale(capsys, repo):
    code, out, _ = _check(capsys, repo, "--override", "growth")
    assert code == 2 and "stale the plan was solved with override None, expected 'growth'" in out


def test_check_policy_deny_exits_4_with_one_line(capsys, repo):
    policy = _policy(repo, "  - {name: gpu-cap, level: deny, metric: totals.gpus, operator: '>',"
                           " threshold: 40, message: the hall has 40 GPUs}\n")
    code, out, _ = _check(capsys, repo, "--policy", policy)
    assert code == 4
    assert "deny  gpu-cap: totals.gpus = 41 (> 40): the hall has 40 GPUs" in out.splitlines()
    assert out.splitlines()[-1] == "check failed: 1 denied"


def test_check_policy_warn_exits_0(capsys, repo):
    policy = _policy(repo, "  - {name: capex, level: warn, metric: capex_delta_pct, operator: '>',"
                           " threshold: 10}\n")
    code, out, _ = _check(capsys, repo, "--policy", policy, "--base", BASE)
    assert code == 0 and "warn  capex: capex_delta_pct = 47.58 (> 10)" in out
    assert out.splitlines()[-1] == "check passed: 1 warned"


def test_check_with_the_shipped_default_policy(capsys, repo):
    code, out, _ = _check(capsys, repo, "--policy", str(ROOT / "policies" / "default.yaml"), "--base", BASE)
    assert code == 0 and "pass  rack-within-breaker" in out and "warn  capex-growth" in out


def test_check_of_a_plan_that_breaks_its_constraints_exits_1(capsys, repo):
    path = repo / "plans" / "chatbot" / "plan.json"
    plan = load_plan(path)
    chat = plan.deployments[0].model_copy(update={"capacity_requests_per_s": 10.0})
    write_plan(plan.model_copy(update={"deployments": [chat, *plan.deployments[1:]]}), path)
    code, out, _ = _check(capsys, repo)
    assert code == 1
    assert "fail  deployment chat/h100-sxm/fp8/tp4: capacity 10 req/s is below demand 16.2 req/s" in out


@pytest.mark.parametrize("kind", sorted(BAD_PLANS))
def test_check_bad_plan_files_give_one_clear_error(capsys, repo, kind):
    make, words = BAD_PLANS[kind]
    bad = make(repo)
    code, out, err = run(capsys, "check", str(repo / "scenarios" / "chatbot.yaml"), "--plan", bad)
    assert code == 1 and out == "" and words in err and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_check_bad_policy_is_an_input_error(capsys, repo):
    policy = _policy(repo, "  - {name: x, level: deny, metric: totals.gpu, operator: '>', threshold: 1}\n")
    code, _, err = _check(capsys, repo, "--policy", policy)
    assert code == 1 and "did you mean totals.gpus" in err


def test_check_missing_scenario_is_an_input_error(capsys, repo):
    plan = str(repo / "plans" / "chatbot" / "plan.json")
    code, _, err = run(capsys, "check", str(repo / "nope.yaml"), "--plan", plan)
    assert code == 1 and "scenario file not found" in err


def test_check_through_python_m_planner(repo):
    done = support.run_planner(repo, "check", "scenarios/chatbot.yaml", "--plan", "plans/chatbot/plan.json")
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "check passed"
