"""The review loop end to end with the real solver on scenarios/chatbot.yaml.

Byte-reproducible plans across processes and working directories; a traffic change shows up in
`planner diff` (exit 2) and makes the committed plan stale for `planner check` (exit 2); a policy
deny exits 4. (The same commands on git commits: test_gitops_git.py; the pull-request workflow's
script with the solver: test_gitops_workflow.py.)
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import yaml

from planner.cli.main import main

_SPEC = importlib.util.spec_from_file_location("gitops_support", Path(__file__).parent / "fixtures" / "gitops"
                                               / "support.py")
support = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(support)  # type: ignore[union-attr]

ROOT = support.ROOT
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"
run_planner, solve, double_first_workload = support.run_planner, support.solve, support.double_first_workload


# -- reproducibility ----------------------------------------------------------------------------

def test_two_processes_in_two_working_directories_write_identical_bytes(tmp_path):
    written = run_planner(ROOT, "solve", "scenarios/chatbot.yaml", "--out", str(tmp_path / "a"))
    assert written.returncode == 0, written.stderr
    from_root = (tmp_path / "a" / "plan.json").read_bytes()
    from_scenarios = solve(ROOT / "scenarios", "chatbot.yaml", tmp_path / "b.json")
    from_elsewhere = solve(tmp_path, CHATBOT, tmp_path / "c.json")
    assert from_root == from_scenarios == from_elsewhere
    assert from_root.endswith(b"}\n") and b'"time_s": 0.0' in from_root


# -- diff ---------------------------------------------------------------------------------------

def test_doubled_traffic_adds_gpus_and_kw_and_exits_2(tmp_path, capsys):
    doubled = tmp_path / "chatbot.yaml"
    workload = double_first_workload(CHATBOT, doubled)
    code = main(["diff", str(CHATBOT), str(doubled), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["changed"] is True
    assert data["totals"]["gpus"]["delta"] > 0
    assert data["totals"]["it_power_max_w"]["delta"] > 0 and data["totals"]["it_power_avg_w"]["delta"] > 0
    assert any(d["key"].startswith(f"{workload}/") for d in data["deployments"])
    code = main(["diff", str(CHATBOT), str(doubled)])
    text = capsys.readouterr().out
    assert code == 2 and f"{workload}/" in text and "GPUs" in text and "kW" in text


def test_a_plan_against_itself_and_against_its_scenario_has_no_changes(tmp_path, capsys):
    solve(tmp_path, CHATBOT, tmp_path / "plan.json")
    plan = str(tmp_path / "plan.json")
    assert main(["diff", plan, plan]) == 0 and "No changes" in capsys.readouterr().out
    assert main(["diff", str(CHATBOT), plan]) == 0 and "No changes" in capsys.readouterr().out


def test_diff_of_an_override_against_the_plain_scenario(capsys):
    code = main(["diff", str(CHATBOT), str(CHATBOT), "--override", "traffic_x2", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["totals"]["gpus"]["delta"] > 0


def test_diff_of_an_infeasible_scenario_explains_without_a_traceback(capsys):
    code = main(["diff", str(CHATBOT), str(ROOT / "scenarios" / "infeasible-power-cap.yaml")])
    out, err = capsys.readouterr()
    assert code == 3 and out == "" and err.startswith("Error: ") and "Traceback" not in err


# -- check --------------------------------------------------------------------------------------

def test_check_a_fresh_plan_then_an_edited_scenario_then_a_policy_deny(tmp_path):
    scenario = tmp_path / "scenarios" / "chatbot.yaml"
    scenario.parent.mkdir()
    shutil.copy(CHATBOT, scenario)
    solve(tmp_path, scenario, tmp_path / "plans" / "chatbot" / "plan.json")
    args = ["check", "scenarios/chatbot.yaml", "--plan", "plans/chatbot/plan.json"]

    fresh = run_planner(tmp_path, *args, "--policy", str(ROOT / "policies" / "default.yaml"))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr

    (tmp_path / "deny.yaml").write_text(
        "rules:\n  - {name: no-gpus, level: deny, metric: totals.gpus, operator: '>', threshold: 0,\n"
        "     message: this site takes no GPUs}\n", encoding="utf-8")
    denied = run_planner(tmp_path, *args, "--policy", "deny.yaml")
    assert denied.returncode == 4
    plan = json.loads((tmp_path / "plans" / "chatbot" / "plan.json").read_text(encoding="utf-8"))
    gpus = plan["totals"]["gpus"]
    assert [line for line in denied.stdout.splitlines() if line.startswith("deny")] == [
        f"deny  no-gpus: totals.gpus = {gpus} (> 0): this site takes no GPUs"]

    double_first_workload(CHATBOT, scenario)
    stale = run_planner(tmp_path, *args)
    assert stale.returncode == 1  # stale, and the plan no longer routes the doubled peak
    [why] = [line for line in stale.stdout.splitlines() if line.startswith("stale")]
    assert why.startswith("stale the scenario scenarios/chatbot.yaml changed since the plan was solved")
    assert any(line.startswith("fail  traffic ") for line in stale.stdout.splitlines())


def _set_site(scenario: Path, **values: object) -> None:
    doc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    doc["site"].update(values)
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_check_a_stale_plan_against_the_edited_rack_cap(tmp_path):
    """The reviewer's case: chatbot.yaml with `site.rack_power_cap_kw: 10`, its plan not re-solved."""
    scenario = tmp_path / "scenarios" / "chatbot.yaml"
    scenario.parent.mkdir()
    shutil.copy(CHATBOT, scenario)
    solve(tmp_path, scenario, tmp_path / "plans" / "chatbot" / "plan.json")
    args = ["check", "scenarios/chatbot.yaml", "--plan", "plans/chatbot/plan.json"]
    _set_site(scenario, rack_power_cap_kw=10)
    done = run_planner(tmp_path, *args)
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines[0].startswith("stale the scenario scenarios/chatbot.yaml changed")
    fails = [line for line in lines if line.startswith("fail")]
    assert fails and all(line.startswith("fail  rack power: rack ") and line.endswith(
        "at nameplate, above the scenario's usable 8.0 kW (site.rack_power_cap_kw 10 x breaker_derating 0.8)")
        for line in fails)
    assert not any(line.startswith("ok    ") and line.endswith("hold") for line in lines)

    _set_site(scenario, rack_power_cap_kw=40, pue=1.4)  # a change within every limit: stale only
    assert run_planner(tmp_path, *args).returncode == 2
