"""Speculative decoding through the whole pipeline: a scenario with ``workloads[].speculative`` solves,
its deployment records the settings, `planner check` passes the plan, the export carries each engine's
flags (the script passes `bash -n`), a scenario without the key writes no trace of it, and bad settings
name their key path and the fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import planner.api
from planner.cli.main import cli
from planner.errors import InputError

pytestmark = pytest.mark.integration

BASH = shutil.which("bash")


def _scenario(speculative: dict[str, Any] | None, *, model: str = "llama-3.3-70b", engine: str = "vllm",
              gpus: tuple[str, ...] = ("h100-sxm",)) -> dict[str, Any]:
    workload: dict[str, Any] = {
        "name": "chat", "model": model, "engine": engine,
        "traffic": {"peak_requests_per_s": 4, "input_tokens": {"mean": 1000, "p95": 3000},
                    "output_tokens": {"mean": 300, "p95": 600}},
        "slo": {"ttft_p95_ms": 1500, "itl_p95_ms": 40}, "precisions": ["fp8"]}
    if speculative is not None:
        workload["speculative"] = speculative
    return {"name": "spec", "workloads": [workload], "hardware": {"gpus": list(gpus)}, "objective": "min_gpus"}


def _solve(doc: dict[str, Any]) -> Any:
    return planner.api.solve(doc, analysis=False)


def test_a_speculative_workload_solves_and_its_deployment_records_the_settings() -> None:
    plan = _solve(_scenario({"method": "draft", "draft_model": "Llama-3.2-1B", "tokens": 4}))
    assert plan.deployments
    for d in plan.deployments:
        assert d.speculative is not None
        assert (d.speculative.method, d.speculative.draft_model, d.speculative.tokens) == ("draft", "llama-3.2-1b", 4)
        assert d.speculative.acceptance_rate == 0.7  # the sourced default of method draft
        assert d.pp == 1
        argv = d.launch.argv
        config = json.loads(argv[argv.index("--speculative-config") + 1])
        assert config == {"method": "draft_model", "model": "meta-llama/Llama-3.2-1B-Instruct",
                          "num_speculative_tokens": 4}
    dumped = json.loads(plan.model_dump_json())
    assert dumped["deployments"][0]["speculative"]["method"] == "draft"


def test_without_the_key_no_trace_of_it() -> None:
    plan = _solve(_scenario(None))
    for d in json.loads(plan.model_dump_json())["deployments"]:
        assert "speculative" not in d
        assert not any("speculative" in a for a in d["launch"]["argv"])


def test_good_acceptance_needs_fewer_gpus_than_plain_decoding() -> None:
    plain = _solve(_scenario(None))
    spec = _solve(_scenario({"method": "eagle", "acceptance_rate": 0.8}))
    assert sum(d.gpus for d in spec.deployments) <= sum(d.gpus for d in plain.deployments)
    poor = _solve(_scenario({"method": "eagle", "acceptance_rate": 0.0}))
    assert sum(d.gpus for d in poor.deployments) >= sum(d.gpus for d in plain.deployments)


def test_sglang_and_trtllm_get_their_own_flags() -> None:
    sglang = _solve(_scenario({"method": "eagle", "tokens": 3}, engine="sglang")).deployments[0].launch
    argv = sglang.argv
    assert argv[argv.index("--speculative-algorithm") + 1] == "EAGLE"
    assert argv[argv.index("--speculative-num-steps") + 1] == "3"
    assert argv[argv.index("--speculative-num-draft-tokens") + 1] == "4"
    assert "--speculative-draft-model-path" in argv
    assert any("EAGLE head" in n for n in sglang.notes)
    trt = _solve(_scenario({"method": "draft", "draft_model": "llama-3.2-1b", "tokens": 2},
                           engine="trt-llm")).deployments[0].launch
    options = yaml.safe_load(trt.config_files[0].content)
    assert options["speculative_config"] == {"decoding_type": "DraftTarget", "max_draft_len": 2,
                                             "speculative_model_dir": "meta-llama/Llama-3.2-1B-Instruct"}


def test_mtp_on_a_model_that_ships_it() -> None:
    plan = _solve(_scenario({"method": "mtp"}, model="deepseek-v3", gpus=("h200", "b200")))
    d = plan.deployments[0]
    assert d.speculative.method == "mtp" and d.speculative.tokens == 1 and d.speculative.acceptance_rate == 0.85
    config = json.loads(d.launch.argv[d.launch.argv.index("--speculative-config") + 1])
    assert config == {"method": "mtp", "num_speculative_tokens": 1}


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_plan_passes_check_and_its_export_passes_bash_n(tmp_path: Path) -> None:
    scenario = tmp_path / "spec.yaml"
    scenario.write_text(yaml.safe_dump(_scenario({"method": "draft", "draft_model": "llama-3.2-1b"})))
    out = tmp_path / "plan"
    runner = CliRunner()
    solved = runner.invoke(cli, ["solve", str(scenario), "--out", str(out)], catch_exceptions=False)
    assert solved.exit_code == 0, solved.output
    checked = runner.invoke(cli, ["check", str(scenario), "--plan", str(out / "plan.json")], catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    script = tmp_path / "run.sh"
    exported = runner.invoke(cli, ["export", str(out / "plan.json"), "--out", str(script)], catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    text = script.read_text()
    assert "--speculative-config" in text and "Llama-3.2-1B-Instruct" in text
    assert subprocess.run([str(BASH), "-n", str(script)], capture_output=True).returncode == 0


@pytest.mark.parametrize(("speculative", "key", "message"), [
    ({"method": "mtp"}, "workloads[0].speculative", "ships a multi-token-prediction module"),
    ({"method": "draft", "draft_model": "no-such-model"}, "workloads[0].speculative.draft_model", ""),
    ({"method": "draft", "draft_model": "llama-3.1-405b"}, "workloads[0].speculative", "not smaller"),
    ({"method": "draft", "draft_model": "mistral-7b"}, "workloads[0].speculative", "tokenizer"),
    ({"method": "eagle", "draft_model": "llama-3.2-1b"}, "speculative", "draft_model is for method draft only"),
    ({"method": "eagle", "tokens": 20}, "speculative.tokens", ""),
    ({"method": "eagle", "acceptance_rate": 1.5}, "speculative.acceptance_rate", ""),
])
def test_bad_settings_name_the_key(speculative: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        _solve(_scenario(speculative))
    text = str(err.value)
    assert key in text and message in text
