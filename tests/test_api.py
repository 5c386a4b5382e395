"""planner.api.solve: a scenario path or dict to the typed plan (no file written), and Plan.frames()."""

from __future__ import annotations

import copy
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.api import DICT_FILE, solve
from planner.errors import InputError
from planner.schemas.plan import Deployment, Plan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"


@pytest.fixture(scope="module")
def chatbot() -> Plan:
    return solve(CHATBOT, analysis=False)


@pytest.fixture(scope="module")
def chatbot_doc() -> dict:
    return yaml.safe_load(CHATBOT.read_text())


def test_solve_a_path_returns_the_typed_plan(chatbot):
    assert isinstance(chatbot, Plan) and chatbot.status == "optimal"
    assert chatbot.scenario.file == "chatbot.yaml"
    assert chatbot.totals.gpus == sum(s.gpus for s in chatbot.servers)


def test_deployments_frame_has_one_row_per_deployment_and_every_field(chatbot):
    frame = chatbot.frames()["deployments"]
    assert len(frame) == len(chatbot.deployments)
    serving = [c for c in ("role", "speculative_method", "speculative_tokens", "launch_command")
               if c not in Deployment.model_fields]
    assert list(frame.columns) == list(Deployment.model_fields) + serving
    for i, d in enumerate(chatbot.deployments):
        row = frame.iloc[i]
        assert (row["workload"], row["model"], row["gpu"], row["precision"]) == (d.workload, d.model, d.gpu,
                                                                               d.precision)
        assert (row["tp"], row["replicas"], row["gpus"]) == (d.tp, d.replicas, d.gpus)


def test_every_frame_matches_its_plan_section(chatbot):
    frames = chatbot.frames()
    assert sorted(frames) == ["constraints", "deployments", "racks", "servers", "totals"]
    assert len(frames["servers"]) == len(chatbot.servers) and len(frames["racks"]) == len(chatbot.racks)
    assert len(frames["constraints"]) == len(chatbot.constraints)
    assert len(frames["totals"]) == 1
    assert frames["totals"].iloc[0]["tco_usd"] == pytest.approx(chatbot.totals.tco_usd)
    assert int(frames["servers"]["gpus"].sum()) == chatbot.totals.gpus


def test_a_dict_gives_the_same_plan_as_its_file(chatbot, chatbot_doc):
    plan = solve(copy.deepcopy(chatbot_doc), analysis=False)
    assert plan.scenario.file == DICT_FILE
    assert plan.input_sha256.scenario == chatbot.input_sha256.scenario  # the hash is the content's
    assert plan.deployments == chatbot.deployments and plan.totals == chatbot.totals


def test_a_dict_with_an_override_is_merged_as_a_file_is(chatbot_doc):
    doc = copy.deepcopy(chatbot_doc)
    doc["overrides"] = {"double": {"workloads": {doc["workloads"][0]["name"]: {"traffic": {
        "peak_requests_per_s": 2 * doc["workloads"][0]["traffic"]["peak_requests_per_s"]}}}}}
    base, doubled = solve(doc, analysis=False), solve(doc, override="double", analysis=False)
    assert doubled.scenario.override == "double"
    assert sum(d.demand_requests_per_s for d in doubled.deployments) == pytest.approx(
        2 * sum(d.demand_requests_per_s for d in base.deployments))


def test_a_bad_dict_is_reported_naming_the_dict_and_the_key_path(chatbot_doc):
    doc = copy.deepcopy(chatbot_doc)
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = -1
    doc["site"]["pue"] = 0.5
    with pytest.raises(InputError) as err:
        solve(doc)
    text = str(err.value)
    assert "<dict>: workloads[0].traffic.peak_requests_per_s" in text and "site.pue" in text


def test_a_dict_override_that_does_not_exist_names_the_dict(chatbot_doc):
    with pytest.raises(InputError, match=r"<dict>.*unknown override 'nope'"):
        solve(chatbot_doc, override="nope")


def test_not_a_mapping_is_an_input_error():
    with pytest.raises(InputError, match="must be a mapping"):
        solve(["not", "a", "scenario"])  # type: ignore[arg-type]


def test_solve_writes_no_file(tmp_path, chatbot_doc):
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        solve(copy.deepcopy(chatbot_doc), analysis=False)
    finally:
        os.chdir(before)
    assert list(tmp_path.iterdir()) == []


def test_the_documented_call_works_in_a_fresh_interpreter():
    code = ('import planner.api; f = planner.api.solve("scenarios/chatbot.yaml", analysis=False).frames(); '
            'print(len(f["deployments"]), sorted(f["deployments"].columns)[:3])')
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert out.startswith("1 ")


def test_deployments_frame_carries_the_serving_decisions(chatbot_doc):
    doc = copy.deepcopy(chatbot_doc)
    doc["workloads"][0]["speculative"] = {"method": "eagle", "tokens": 2}
    plan = solve(doc, analysis=False)
    frame = plan.frames()["deployments"]
    for i, d in enumerate(plan.deployments):
        row = frame.iloc[i]
        assert row["power_limit_w"] == d.power_limit_w and d.power_limit_w is not None
        assert row["role"] == (getattr(d, "role", None) or "aggregated")
        assert (row["speculative_method"], row["speculative_tokens"]) == ("eagle", 2) == (
            d.speculative.method, d.speculative.tokens)
        command = row["launch_command"]
        assert isinstance(command, str) and shlex.split(command)[-len(d.launch.argv):] == d.launch.argv
        assert "--speculative-config" in command and f"--max-num-seqs {d.batch_size}" in command
    plain = solve(chatbot_doc, analysis=False).frames()["deployments"]
    assert plain["speculative_method"].isna().all() and plain["speculative_tokens"].isna().all()
    assert (plain["role"] == "aggregated").all()
