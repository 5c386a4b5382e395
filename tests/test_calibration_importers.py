"""Importers: nvidia-smi query CSV and dmon logs, vLLM benchmark JSON -> measurement rows.

The sample files in tests/fixtures/measurements/ describe one 2-GPU machine sampled every 10 s from
13:59:50 to 14:04:10: GPU 0 idles at 70 W, draws 400 W during run 1 (vllm-llama8b-c8.json, ends
14:02:00 after 100 s) and 500 W during run 2 (vllm-llama8b-c64-metadata.json, ends 14:04:00 after
90 s); GPU 1 idles at 60 W throughout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.calibration import importers as imp
from planner.calibration.measurements import load_measurements, measured_targets
from planner.catalog import load_catalog
from planner.cli.main import main
from planner.errors import CalibrationError

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).resolve().parent / "fixtures" / "measurements"
RUN1, RUN2 = FIX / "vllm-llama8b-c8.json", FIX / "vllm-llama8b-c64-metadata.json"
SHIPPED = ROOT / "planner" / "data" / "measurements" / "calibration-h100-a100.csv"
H100 = {"gpu": "h100-sxm"}


@pytest.mark.parametrize("log", ["nvidia-smi-query.csv", "nvidia-smi-query-nounits.csv",
                                 "nvidia-smi-dmon.txt"])
def test_power_is_averaged_over_the_run_window(log):
    samples = imp.read_power_log(FIX / log)
    assert samples.has_time
    start, end = imp.read_vllm_result(RUN1).window
    p = imp.average_power(samples, start_s=start, end_s=end, gpus=["0"])
    assert p.per_gpu_w == {"0": pytest.approx(400.0)}
    assert p.samples["0"] >= 10  # 100 s at one sample per 10 s
    assert imp.average_power(samples, gpus=["0"]).per_gpu_w["0"] < 400.0  # the whole log includes idle


def test_per_gpu_and_summed_power():
    samples = imp.read_power_log(FIX / "nvidia-smi-query.csv")
    assert samples.kind == "nvidia-smi query"
    start, end = imp.read_vllm_result(RUN2).window
    p = imp.average_power(samples, start_s=start, end_s=end)
    assert p.per_gpu_w == {"0": pytest.approx(500.0), "1": pytest.approx(60.0)}
    assert p.total_w == pytest.approx(560.0)


def test_dmon_without_timestamps_is_averaged_whole():
    samples = imp.read_power_log(FIX / "nvidia-smi-dmon-plain.txt")
    assert samples.kind == "nvidia-smi dmon" and not samples.has_time
    assert imp.average_power(samples).per_gpu_w == {"0": pytest.approx(320.0)}
    with pytest.raises(CalibrationError, match="no timestamps"):
        imp.average_power(samples, start_s=0.0, end_s=10.0)


def test_vllm_row_from_a_result_and_its_power():
    rows = imp.import_vllm_runs([imp.read_vllm_result(RUN1)], H100,
                                power=imp.read_power_log(FIX / "nvidia-smi-query.csv"), gpus=["0"])
    r = rows[0]
    assert (r["model"], r["gpu"], r["num_gpus"], r["tp"], r["precision"], r["engine"]) == (
        "meta-llama/Llama-3.1-8B-Instruct", "h100-sxm", "1", "1", "bf16", "vLLM")
    assert (r["batch_or_concurrency"], r["input_tokens"], r["output_tokens"]) == ("8", "256", "400")
    assert (r["throughput_tok_s"], r["ttft_ms"], r["itl_ms"]) == ("800", "45.2", "9.8")  # medians
    assert (r["avg_power_w"], r["energy_j_per_token"]) == ("400", "0.5")
    assert r["power_scope"] == imp.GPU_POWER_SCOPE
    mean = imp.vllm_row(imp.read_vllm_result(RUN1), H100, stat="mean")
    assert (mean["ttft_ms"], mean["itl_ms"], mean["avg_power_w"]) == ("50.1", "10.1", "")


def test_one_log_for_several_runs_and_metadata_keys():
    results = [imp.read_vllm_result(RUN1), imp.read_vllm_result(RUN2)]
    log = imp.read_power_log(FIX / "nvidia-smi-dmon.txt")
    rows = imp.import_vllm_runs(results, {"gpu": "h100-sxm"}, power=log)
    assert [r["avg_power_w"] for r in rows] == ["400", "500"]
    # run 2 carries `--metadata gpu=H100-SXM-80GB tp=1 precision=bf16`: used when no option is given
    assert imp.import_vllm_runs([results[1]], {})[0]["gpu"] == "H100-SXM-80GB"
    trimmed = imp.import_vllm_runs(results[:1], H100, power=log, trim_s=30.0)
    assert trimmed[0]["avg_power_w"] == "400"


@pytest.mark.parametrize(("call", "expected"), [
    (lambda: imp.import_vllm_runs([imp.read_vllm_result(RUN1)], H100,
                                  power=imp.read_power_log(FIX / "nvidia-smi-query.csv")),
     "the log has 2 GPU(s) (0, 1) but the run used 1"),
    (lambda: imp.import_vllm_runs([imp.read_vllm_result(RUN1)], H100,
                                  power=imp.read_power_log(FIX / "nvidia-smi-query.csv"), gpus=["0"],
                                  start_s=imp.parse_window_time("2026-11-22T10:00:00", "--start")),
     "the log covers 2026-11-21 13:59:50 .. 2026-11-21 14:04:10"),
    (lambda: imp.import_vllm_runs([imp.read_vllm_result(RUN1)], H100,
                                  power=imp.read_power_log(FIX / "nvidia-smi-query.csv"), gpus=["7"]),
     "GPU 7 is not in the log (GPUs: 0, 1)"),
    (lambda: imp.import_vllm_runs([imp.read_vllm_result(RUN1), imp.read_vllm_result(RUN2)], H100,
                                  power=imp.read_power_log(FIX / "nvidia-smi-dmon-plain.txt")),
     "cannot be split between several runs"),
    (lambda: imp.import_vllm_runs([imp.read_vllm_result(RUN1)], {}), "the run's gpu is not known"),
    (lambda: imp.read_power_log(FIX / "nvidia-smi-noheader.csv"), "no header line"),
    (lambda: imp.read_vllm_result(FIX / "not-vllm.json"), "not a vLLM benchmark result: missing key(s)"),
    (lambda: imp.read_vllm_result(FIX / "nvidia-smi-query.csv"), "not JSON (line 1"),
    (lambda: imp.parse_window_time("noon", "--start"), "--start 'noon' is not a time"),
])
def test_import_problems_are_explained(call, expected):
    with pytest.raises(CalibrationError) as exc:
        call()
    assert expected in exc.value.render()


def test_cli_import_writes_a_file_calibrate_accepts(tmp_path, capsys):
    out = tmp_path / "mine.csv"
    args = ["calibrate", "import", "--vllm", str(RUN1), "--vllm", str(RUN2), "--power",
            str(FIX / "nvidia-smi-query.csv"), "--gpus", "0", "--gpu", "h100-sxm", "--out", str(out)]
    assert main(args) == 0
    assert "wrote 2 row(s)" in capsys.readouterr().err
    m = load_measurements(out, load_catalog())
    t = measured_targets(m)
    np.testing.assert_allclose(t["power_total_w"], [400.0, 500.0])
    np.testing.assert_allclose(t["itl_s"], [9.8e-3, 20.5e-3])
    assert list(m.frame["model"]) == ["llama-3.1-8b", "llama-3.1-8b"]
    assert list(m.frame["power_scope"]) == ["summed", "summed"]  # imp.GPU_POWER_SCOPE's text


def test_cli_import_appends_without_touching_existing_rows(tmp_path, capsys):
    target = tmp_path / "data.csv"
    original = SHIPPED.read_bytes()
    target.write_bytes(original)
    args = ["calibrate", "import", "--vllm", str(RUN1), "--power", str(FIX / "nvidia-smi-dmon.txt"),
            "--gpu", "h100-sxm", "--out", str(target)]
    assert main(args) == 0
    capsys.readouterr()
    data = target.read_bytes()
    assert data.startswith(original)
    assert len(load_measurements(target, load_catalog())) == 49


def test_cli_import_prints_csv_and_checks_rows(capsys):
    assert main(["calibrate", "import", "--vllm", str(RUN1), "--gpu", "h100-sxm"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("source_id,model,gpu,num_gpus,tp")
    assert main(["calibrate", "import", "--vllm", str(RUN1), "--gpu", "h100-sxmm"]) == 1
    err = capsys.readouterr().err
    assert "imported rows: row 1, column 'gpu': unknown GPU 'h100-sxmm'" in err
    assert "Traceback" not in err
