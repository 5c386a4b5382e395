"""`planner check` holds a deployment's serving decisions to the scenario and the code that derives them:
speculative decoding as the workload asks now (the violation names workloads.<name>.speculative), the
launch spec as planner.export.launch_for derives it from the deployment (a stale one names the argument),
and the energy and FLOPs by phase and cause as its recomputed operating point gives them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from check_helpers import check_plan, fails, tampered

import planner.api
from planner.plan.io import dump_plan

pytestmark = pytest.mark.integration

SCENARIO: dict[str, Any] = {
    "name": "spec-check", "objective": "min_gpus", "hardware": {"gpus": ["h100-sxm"]},
    "workloads": [{"name": "chat", "model": "llama-3.3-70b", "engine": "vllm", "precisions": ["fp8"],
                   "speculative": {"method": "eagle", "tokens": 4},
                   "traffic": {"peak_requests_per_s": 4, "input_tokens": {"mean": 1000, "p95": 3000},
                               "output_tokens": {"mean": 300, "p95": 600}},
                   "slo": {"ttft_p95_ms": 1500, "itl_p95_ms": 40}}]}


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("spec-check")
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    plan = planner.api.solve(scenario, analysis=False)
    return scenario, json.loads(dump_plan(plan))




def test_the_solved_plan_records_every_decision_and_passes(capsys, tmp_path, solved):
    scenario, doc = solved
    d = doc["deployments"][0]
    assert d["speculative"]["method"] == "eagle" and d["speculative"]["tokens"] == 4
    assert d["launch"]["argv"] and "energy_breakdown_j_per_token" in d
    code, out = check_plan(capsys, scenario, doc, tmp_path)
    assert code == 0, out


def test_a_speculative_setting_the_scenario_does_not_ask_fails(capsys, tmp_path, solved):
    scenario, doc = solved
    fewer = tampered(doc, lambda d: d["speculative"].update(tokens=2))
    code, out = check_plan(capsys, scenario, fewer, tmp_path)
    assert code == 1
    assert fails(out, "speculative eagle k=2", "workload chat", "workloads.chat.speculative: eagle k=4"), out
    off = tampered(doc, lambda d: d.pop("speculative"))
    code, out = check_plan(capsys, scenario, off, tmp_path)
    assert code == 1 and fails(out, "speculative off", "workloads.chat.speculative"), out


def test_a_scenario_that_no_longer_asks_for_speculation_fails_the_plan(capsys, tmp_path, solved):
    scenario, doc = solved
    plain = json.loads(json.dumps(SCENARIO))
    del plain["workloads"][0]["speculative"]
    edited = tmp_path / "scenario.yaml"
    edited.write_text(yaml.safe_dump(plain), encoding="utf-8")
    code, out = check_plan(capsys, edited, doc, tmp_path)
    assert code == 1  # stale, and violated: the scenario as it is now asks for no speculation
    assert fails(out, "speculative eagle k=4", "workloads.chat.speculative: off"), out


def test_a_stale_launch_argument_fails_naming_it(capsys, tmp_path, solved):
    scenario, doc = solved

    def edit(d: dict[str, Any]) -> None:
        argv = d["launch"]["argv"]
        argv[argv.index("--max-num-seqs") + 1] = str(int(argv[argv.index("--max-num-seqs") + 1]) + 7)

    code, out = check_plan(capsys, scenario, tampered(doc, edit), tmp_path)
    batch = doc["deployments"][0]["batch_size"]
    assert code == 1
    assert fails(out, "launch is stale", f"--max-num-seqs {batch + 7} -> {batch}"), out
    code, out = check_plan(capsys, scenario, tampered(doc, lambda d: d["launch"].update(engine="sglang")), tmp_path)
    assert code == 1 and fails(out, "launch is stale", "sglang -> vllm"), out


@pytest.mark.parametrize(("key", "edit"), [
    ("energy_breakdown_j_per_token.memory", lambda d: d["energy_breakdown_j_per_token"].update(
        memory=d["energy_breakdown_j_per_token"]["memory"] * 1.5)),
    ("prefill_flops", lambda d: d.update(prefill_flops=d["prefill_flops"] * 2)),
    ("kwh_per_million_output_tokens", lambda d: d.update(
        kwh_per_million_output_tokens=d["kwh_per_million_output_tokens"] * 0.9)),
])
def test_a_tampered_energy_figure_fails_naming_it(capsys, tmp_path, solved, key, edit):
    scenario, doc = solved
    code, out = check_plan(capsys, scenario, tampered(doc, edit), tmp_path)
    assert code == 1 and fails(out, "figures that do not follow", f"{key} "), out
