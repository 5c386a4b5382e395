"""`planner estimate` through the real entry point (planner.cli.main.main), stdout and stderr."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from planner.catalog.loader import load_catalog
from planner.cli.estimate_cmd import annual_energy, idle_energy_kwh
from planner.cli.main import main
from planner.errors import UnknownNameError
from planner.estimation import Estimate

BASE = ["estimate", "--model", "llama-3.1-70b", "--gpu", "h100-sxm", "--precision", "fp16", "--tp", "4",
        "--batch-size", "8", "--input-tokens", "4096", "--output-tokens", "512"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_has_every_figure_with_its_unit(capsys):
    code, out, err = run(capsys, *BASE)
    assert code == 0, err
    assert out.startswith("llama-3.1-70b on 4 x h100-sxm (tp 4, pp 1), fp16")
    for label in ("weights per GPU (GiB)", "max batch that fits (sequences)", "TTFT, no queueing (ms)",
                  "ITL mean (ms)", "ITL p95 (ms)", "output tokens/s", "power per GPU (W)", "peak power total (W)",
                  "energy per output token (J)", "heat (BTU/hr)", "IT energy (kWh/yr)", "facility energy (kWh/yr)",
                  "electricity cost, facility (USD/yr)", "% of 700 W TDP"):
        assert label in out, label
    assert "Traceback" not in out + err


def test_json_has_the_api_field_names_and_annual_energy(capsys):
    code, out, _ = run(capsys, *BASE, "--format", "json", "--duty-cycle", "0.5", "--pue", "1.3",
                       "--electricity-usd-per-kwh", "0.10")
    assert code == 0
    doc = json.loads(out)
    assert {f.name for f in fields(Estimate)} <= set(doc)
    assert doc["model"] == "llama-3.1-70b" and doc["tp"] == 4 and doc["batch_size"] == 8
    assert doc["engine"] == "vllm" and doc["generic_model"] is False
    idle_total_w = load_catalog().gpu("h100-sxm").idle_w * 4
    it_kwh = (doc["power_total_w"] * 0.5 + idle_total_w * 0.5) * 8760 / 1000
    assert doc["annual_energy_it_kwh"] == pytest.approx(it_kwh)
    assert doc["annual_energy_facility_kwh"] == pytest.approx(it_kwh * 1.3)
    assert doc["annual_electricity_cost_usd"] == pytest.approx(it_kwh * 1.3 * 0.10)
    assert doc["heat_btu_per_hr"] == pytest.approx(doc["power_total_w"] * 3.412142)


def test_annual_energy_by_hand():
    # 2,000 W x 0.5 x 8,760 h = 8,760 kWh; x 1.3 = 11,388 kWh; x 0.10 USD = 1,138.80 USD
    a = annual_energy(2000.0, duty_cycle=0.5, pue=1.3, electricity_usd_per_kwh=0.10)
    assert a == pytest.approx({"annual_energy_it_kwh": 8760.0, "annual_energy_facility_kwh": 11388.0,
                               "annual_electricity_cost_usd": 1138.8})


def test_annual_energy_counts_idle_hours_by_hand():
    # (2,000 W x 0.5 + 4 x 70 W x 0.5) x 8,760 h = (1,000 + 140) W x 8,760 h = 9,986.4 kWh;
    # x 1.3 = 12,982.32 kWh; x 0.10 USD = 1,298.232 USD
    a = annual_energy(2000.0, duty_cycle=0.5, pue=1.3, electricity_usd_per_kwh=0.10, idle_total_w=280.0)
    assert a == pytest.approx({"annual_energy_it_kwh": 9986.4, "annual_energy_facility_kwh": 12982.32,
                               "annual_electricity_cost_usd": 1298.232})
    assert idle_energy_kwh(280.0, 0.5) == pytest.approx(1226.4)


def test_json_idle_fields_come_from_the_gpu_catalog(capsys):
    code, out, _ = run(capsys, *BASE, "--format", "json", "--duty-cycle", "0.25")
    assert code == 0
    doc = json.loads(out)
    idle_w = load_catalog().gpu("h100-sxm").idle_w
    assert doc["idle_power_per_gpu_w"] == idle_w and doc["idle_power_total_w"] == pytest.approx(4 * idle_w)
    assert doc["annual_energy_it_idle_kwh"] == pytest.approx(4 * idle_w * 0.75 * 8.76)
    assert doc["annual_energy_it_kwh"] == pytest.approx(
        doc["power_total_w"] * 0.25 * 8.76 + doc["annual_energy_it_idle_kwh"])


def test_full_duty_cycle_has_no_idle_energy(capsys):
    code, out, _ = run(capsys, *BASE, "--format", "json", "--duty-cycle", "1")
    assert code == 0
    doc = json.loads(out)
    assert doc["annual_energy_it_idle_kwh"] == 0.0
    assert doc["annual_energy_it_kwh"] == pytest.approx(doc["power_total_w"] * 8.76)


def test_table_says_the_gpus_idle_outside_the_duty_cycle(capsys):
    code, out, _ = run(capsys, *BASE, "--duty-cycle", "0.5")
    assert code == 0
    assert "duty cycle 0.5, GPUs idle the rest" in out
    assert "idle power total, 4 GPU(s) (W)" in out and "of which idle (kWh/yr)" in out
    assert "not counted" not in out


def test_json_and_table_agree(capsys):
    _, table, _ = run(capsys, *BASE)
    _, out, _ = run(capsys, *BASE, "--format", "json")
    doc = json.loads(out)
    assert f"{doc['max_batch_size']}" in table
    assert f"{doc['energy_per_output_token_j']:.3g}" in table


def test_options_reach_the_estimate(capsys):
    code, out, _ = run(capsys, "estimate", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100 SXM",
                       "--precision", "FP8", "--pp", "2", "--engine", "TensorRT-LLM", "--input-tokens", "100",
                       "--output-tokens", "50", "--batch-size", "4", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["model"], doc["gpu"], doc["precision"], doc["pp"], doc["engine"]) == (
        "llama-3.1-8b", "h100-sxm", "fp8", 2, "trt-llm")


# ---- warnings ------------------------------------------------------------------------------------

def test_warns_over_90_percent_of_tdp_and_at_the_memory_limit(capsys):
    code, out, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens",
                         "8000", "--output-tokens", "200", "--batch-size", "max", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["batch_size"] == doc["max_batch_size"] and doc["batch_size_requested"] == "max"
    assert any("90 % of TDP" in w for w in doc["warnings"])
    assert any("memory limit" in w for w in doc["warnings"])
    assert all(line.startswith("Warning: ") for line in err.splitlines())
    assert len(err.splitlines()) == len(doc["warnings"])


def test_a_batch_beyond_memory_is_an_error_naming_the_limit(capsys):
    code, out, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--input-tokens", "4000",
                         "--output-tokens", "1000", "--batch-size", "512")
    most = json.loads(run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "l4", "--input-tokens", "4000",
                          "--output-tokens", "1000", "--batch-size", "max", "--format", "json")[1])["max_batch_size"]
    assert code == 1 and out == "" and 0 < most < 512
    assert err.startswith(f"Error: batch 512 does not fit memory: at most {most} sequence(s)")
    assert f"use --batch-size {most} or less, --batch-size max" in err


def test_without_an_operating_point_the_command_asks_for_one(capsys):
    code, out, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "10",
                         "--output-tokens", "10")
    assert code == 1 and out == ""
    assert "--batch-size N" in err and "--batch-size max" in err and "--arrival-requests-per-s" in err


def test_batch_size_max_is_the_offline_point_of_the_api(capsys):
    import planner

    code, out, _ = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "1000",
                       "--output-tokens", "100", "--batch-size", "MAX", "--format", "json")
    offline = planner.estimate("llama-3.1-8b", "h100-sxm", input_tokens=1000, output_tokens=100)
    assert code == 0 and json.loads(out)["batch_size"] == offline.batch_size == offline.max_batch_size


def test_a_batch_that_is_neither_a_count_nor_max_is_a_usage_error(capsys):
    code, _, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "10",
                       "--output-tokens", "10", "--batch-size", "most")
    assert code == 1 and "neither a whole number of sequences nor `max`" in err


def test_the_default_price_is_the_scenario_default(capsys):
    from planner.schemas.scenario import Site

    code, out, _ = run(capsys, *BASE, "--format", "json")
    assert code == 0 and json.loads(out)["electricity_usd_per_kwh"] == Site().electricity_usd_per_kwh


def test_warns_when_the_sequence_exceeds_the_model_context(capsys):
    code, _, err = run(capsys, "estimate", "--model", "llama-2-7b", "--gpu", "h100-sxm", "--input-tokens",
                       "8000", "--output-tokens", "100", "--batch-size", "1")
    assert code == 0 and "context of 4096" in err


def test_warns_when_the_power_limit_binds(capsys):
    code, out, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens",
                         "2000", "--output-tokens", "500", "--power-limit-w", "350", "--batch-size", "max",
                         "--format", "json")
    assert code == 0
    assert json.loads(out)["power_per_gpu_w"] <= 350
    assert "350 W limit" in err


def test_params_uses_a_stated_generic_architecture(capsys):
    code, out, err = run(capsys, "estimate", "--params", "70e9", "--gpu", "h100-sxm", "--tp", "4",
                         "--input-tokens", "1000", "--output-tokens", "200", "--batch-size", "8", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["model"] == "generic-70b" and doc["generic_model"] is True
    assert doc["weights_per_gpu_bytes"] == pytest.approx(70e9 * 2 / 4)
    assert "generic Llama-like dense architecture" in err


def test_user_catalog_folder_and_env_var(capsys, tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(
        "schema_version: 1\nmodels:\n"
        "  - {id: tiny-8b, name: Tiny, params_total_b: 8, params_active_b: 8, layers: 32, hidden_size: 4096,\n"
        "     attention_heads: 32, kv_heads: 8, head_dim: 128, ffn_size: 14336, vocab_size: 128256,\n"
        "     attention: {kind: gqa}, max_context_tokens: 8192, source: test}\n")
    args = ["estimate", "--model", "tiny-8b", "--gpu", "h100-sxm", "--input-tokens", "10", "--output-tokens", "10",
            "--batch-size", "1"]
    assert run(capsys, *args)[0] == 1
    assert run(capsys, *args, "--catalog", str(tmp_path))[0] == 0
    monkeypatch.setenv("PLANNER_CATALOG_PATH", str(tmp_path))
    assert run(capsys, *args)[0] == 0


# ---- bad input: one `Error:` line, exit 1, no traceback ------------------------------------------

def _with(**changes: str) -> list[str]:
    args = list(BASE)
    for flag, value in changes.items():
        name = "--" + flag.replace("_", "-")
        if name in args:
            args[args.index(name) + 1] = value
        else:
            args += [name, value]
    return args


BAD = {
    "unknown model": (_with(model="llama-3.1-7b"), "did you mean"),
    "unknown gpu": (_with(gpu="h101"), "unknown GPU"),
    "zero input tokens": (_with(input_tokens="0"), "--input-tokens must be"),
    "negative output tokens": (_with(output_tokens="-5"), "--output-tokens must be"),
    "nan tokens": (_with(input_tokens="nan"), "--input-tokens must be"),
    "unsupported precision": (_with(gpu="v100-sxm", precision="bf16"), "no bf16 tensor path"),
    "unknown precision": (_with(precision="fp7"), "unknown precision"),
    "does not fit": (_with(tp="1", batch_size="1"), "smallest tensor parallelism that fits is --tp 2"),
    "zero tp": (_with(tp="0"), "--tp must be"),
    "zero batch": (_with(batch_size="0"), "--batch-size"),
    "zero pp": (_with(pp="0"), "--pp must be"),
    "unknown engine": (_with(engine="foo"), "unknown engine"),
    "missing calibration": (_with(calibration="/nonexistent/cal.yaml"), "calibration file not found"),
    "missing catalog dir": (_with(catalog="/nonexistent/dir"), "catalog folder not found"),
    "duty cycle above 1": (_with(duty_cycle="2"), "--duty-cycle"),
    "pue below 1": (_with(pue="0.5"), "--pue"),
    "negative price": (_with(electricity_usd_per_kwh="-1"), "--electricity-usd-per-kwh"),
    "power limit below idle": (_with(power_limit_w="30"), "idle power"),
    "negative power limit": (_with(power_limit_w="-5"), "--power-limit-w"),
    "model and params": (_with(params="7e9"), "exactly one of --model"),
    "params in billions": (["estimate", "--params", "70", "--gpu", "h100-sxm", "--input-tokens", "10",
                            "--output-tokens", "10"], "did you mean --params 70e9"),
    "params not a number": (["estimate", "--params", "big", "--gpu", "h100-sxm", "--input-tokens", "10",
                             "--output-tokens", "10"], "not a parameter count"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_error_line_and_exit_1(capsys, case):
    args, message = BAD[case]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert message in lines[0]
    assert "Traceback" not in err


def test_debug_shows_the_traceback():
    with pytest.raises(UnknownNameError):
        main(["--debug", *_with(model="llama-3.1-7b")])


def test_arrival_rate_adds_latency_under_load_to_the_table(capsys):
    args = ["estimate", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "256", "--output-tokens", "256",
            "--batch-size", "64", "--arrival-requests-per-s", "10", "--prefix-cache-hit-rate", "0.2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Under load: Poisson arrivals at 10 requests/s" in out and "TTFT mean / p50 / p95 / p99 (ms)" in out
    assert "at most 64 sequences in flight, prefix-cache hit rate 0.2" in out


@pytest.mark.parametrize(("flags", "message"), [
    (["--arrival-requests-per-s", "-1"], "--arrival-requests-per-s must be from 0"),
    (["--prefix-cache-hit-rate", "1"], "--prefix-cache-hit-rate must be at least 0 and below 1"),
    (["--arrival-requests-per-s", "1", "--output-tokens-p95", "10"], "--output-tokens-p95 must be at least"),
    (["--output-tokens-p95", "500"], "only matters with --arrival-requests-per-s"),
])
def test_bad_load_flags_name_the_flag(flags, message, capsys):
    args = ["estimate", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "256", "--output-tokens", "256"]
    assert main([*args, *flags]) != 0
    assert message in capsys.readouterr().err


def test_the_library_names_its_parameter_and_the_command_its_flag(capsys) -> None:
    import planner
    from planner.errors import ParameterError

    with pytest.raises(ParameterError, match=r"^batch_size must be a whole number >= 1") as caught:
        planner.estimate("llama-3.1-8b", "h100-sxm", batch_size=0, input_tokens=10, output_tokens=10)
    assert caught.value.parameter == "batch_size"
    code, _out, err = run(capsys, *_with(batch_size="0"))
    assert code == 1 and err.startswith("Error: --batch-size must be a whole number >= 1"), err


def test_a_long_unknown_name_is_not_echoed_in_full(capsys) -> None:
    code, _out, err = run(capsys, *_with(precision="y" * 400))
    assert code == 1 and "unknown precision 'yyy" in err and "y" * 100 not in err, err


def test_a_long_unknown_engine_is_not_echoed_in_full(capsys) -> None:
    code, _out, err = run(capsys, *_with(engine="x" * 400))
    assert code == 1 and "unknown engine 'xxx" in err and "x" * 100 not in err, err
