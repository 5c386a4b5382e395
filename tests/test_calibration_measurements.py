"""The measurement CSV format: loading the shipped file, and clear errors (row and column) for bad ones."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from planner.calibration.measurements import load_measurements, measured_targets, to_configs
from planner.cli.main import main
from planner.errors import CalibrationError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "planner" / "data" / "measurements" / "calibration-h100-a100.csv"
HEADER = ["source_id", "model", "gpu", "num_gpus", "tp", "pp", "precision", "engine", "batch_or_concurrency",
          "input_tokens", "output_tokens", "throughput_tok_s", "itl_ms", "avg_power_w", "power_scope"]
GOOD = ["lab", "llama-3.1-8b", "h100-sxm", "1", "1", "1", "bf16", "vLLM", "64", "512", "400", "5000", "12.5",
        "600", ""]


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def with_value(column: str, value: str) -> list[str]:
    row = list(GOOD)
    row[HEADER.index(column)] = value
    return row


def load_error(path: Path, catalog) -> str:
    with pytest.raises(CalibrationError) as exc:
        load_measurements(path, catalog)
    return exc.value.render()


def test_shipped_measurements_load_and_resolve_names(catalog):
    m = load_measurements(SHIPPED, catalog)
    assert len(m) == 48
    assert set(m.frame["gpu"]) == {"h100-sxm", "a100-sxm-40gb"}
    assert set(m.frame["engine"]) == {"vllm", "trt-llm"}
    cols = to_configs(m)
    # expert-parallel MoE rows (num_gpus > tp, "tp1 x ep8"): attention data parallel ranks, experts over all GPUs
    ep = (m.frame["model"] == "qwen3-235b-a22b").to_numpy() & (m.frame["source_id"] == "MLE3").to_numpy()
    assert (set(cols["tp"][ep]), set(cols["dp"][ep]), set(cols["ep"][ep])) == ({1.0}, {8.0}, {8.0})
    t = measured_targets(m)
    assert t["itl_s"][0] == pytest.approx(7.32e-3)
    assert t["power_total_w"][0] == pytest.approx(486.4)


def test_a_good_file_loads(tmp_path, catalog):
    m = load_measurements(write_rows(tmp_path / "m.csv", [GOOD]), catalog)
    assert m.frame["model"][0] == "llama-3.1-8b"
    # energy is derived from power and throughput when the column is blank or absent
    assert measured_targets(m)["energy_per_output_token_j"][0] == pytest.approx(600 / 5000)


def test_a_ttft_run_may_leave_throughput_blank(tmp_path, catalog):
    """A batch-1 TTFT run (one output token) measures no throughput: it loads and scores TTFT only."""
    header = [*HEADER, "ttft_ms"]
    ttft_only = [*with_value("throughput_tok_s", ""), "15.4"]
    ttft_only[HEADER.index("itl_ms")] = ttft_only[HEADER.index("avg_power_w")] = ""
    m = load_measurements(write_rows(tmp_path / "m.csv", [ttft_only], header), catalog)
    t = measured_targets(m)
    assert t["ttft_s"][0] == pytest.approx(0.0154)
    assert np.isnan(t["output_tokens_per_s"][0]) and np.isnan(t["energy_per_output_token_j"][0])


def test_missing_columns_are_named(tmp_path, catalog):
    header = [h for h in HEADER if h not in ("throughput_tok_s", "tp")]
    row = [v for h, v in zip(HEADER, GOOD, strict=True) if h in header]
    msg = load_error(write_rows(tmp_path / "m.csv", [row], header), catalog)
    assert "missing column(s): tp, throughput_tok_s" in msg
    assert "planner calibrate --help" in msg


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("itl_ms", "fast", "row 2, column 'itl_ms': 'fast' is not a number"),
    ("avg_power_w", "612 W", "row 2, column 'avg_power_w': '612 W' is not a number"),
    ("throughput_tok_s", "0", "row 2, column 'throughput_tok_s': must be > 0, got 0"),
    ("throughput_tok_s", "", "row 2, column 'throughput_tok_s': must be > 0, got blank"),
    ("avg_power_w", "7000",
     "row 2, column 'avg_power_w': 7000 W is 7000 W per GPU, above any plausible GPU power"),
    ("avg_power_w", "0.6", "row 2, column 'avg_power_w': 0.6 W is 0.6 W per GPU, below half the idle power"),
    ("gpu", "h100-sxmm", "row 2, column 'gpu': unknown GPU 'h100-sxmm' (did you mean"),
    ("model", "llama-9-1b", "row 2, column 'model': unknown model"),
    ("precision", "fp7", "row 2, column 'precision': unknown precision 'fp7'"),
    ("num_gpus", "2", ""),  # more GPUs than tp x pp is expert parallelism: fine
    ("tp", "2", "row 2, column 'num_gpus': 1 GPUs cannot run tp=2 x pp=1"),
])
def test_bad_values_name_row_and_column(tmp_path, catalog, column, value, expected):
    path = write_rows(tmp_path / "m.csv", [GOOD, with_value(column, value)])
    if not expected:
        load_measurements(path, catalog)
        return
    msg = load_error(path, catalog)
    assert expected in msg
    assert str(path) in msg


def test_per_gpu_scope_checks_the_per_gpu_value(tmp_path, catalog):
    # 4 GPUs at 600 W summed is 2400 W: fine; the same number labelled "per GPU" is not
    row = with_value("num_gpus", "4")
    row[HEADER.index("tp")] = "4"
    row[HEADER.index("avg_power_w")] = "2400"
    load_measurements(write_rows(tmp_path / "ok.csv", [row]), catalog)
    row[HEADER.index("power_scope")] = "per GPU"
    msg = load_error(write_rows(tmp_path / "bad.csv", [row]), catalog)
    assert "2400 W is 2400 W per GPU" in msg and "power_scope" in msg


def four_gpu_row(power_w: str, scope: str) -> list[str]:
    row = with_value("num_gpus", "4")
    row[HEADER.index("tp")] = "4"
    row[HEADER.index("avg_power_w")] = power_w
    row[HEADER.index("power_scope")] = scope
    return row


@pytest.mark.parametrize(("scope", "expected", "total_w"), [
    ("per GPU", "per_gpu", 2400.0), ("per-GPU", "per_gpu", 2400.0), ("per_gpu", "per_gpu", 2400.0),
    ("PER GPU", "per_gpu", 2400.0), (" Per  GPU ", "per_gpu", 2400.0),
    ("", "summed", 600.0), ("summed", "summed", 600.0), ("Total", "summed", 600.0),
    ("GPU-only, summed over all GPUs", "summed", 600.0),
    ("GPU-only, summed over all GPUs in run", "summed", 600.0),  # the shipped file's text
    ("wall", "wall", 600.0), ("WALL", "wall", 600.0),
])
def test_power_scope_spellings(tmp_path, catalog, scope, expected, total_w):
    m = load_measurements(write_rows(tmp_path / "m.csv", [four_gpu_row("600", scope)]), catalog)
    assert m.frame["power_scope"][0] == expected
    assert measured_targets(m)["power_total_w"][0] == pytest.approx(total_w)


@pytest.mark.parametrize("scope", ["per node", "not per gpu", "wall-ish", "GPU"])
def test_unknown_power_scope_is_refused(tmp_path, catalog, scope):
    # a substring match read "not per gpu" as per GPU and "wall-ish" as wall power
    msg = load_error(write_rows(tmp_path / "m.csv", [GOOD, with_value("power_scope", scope)]), catalog)
    assert f"row 2, column 'power_scope': unknown power scope {scope!r}" in msg
    assert '"summed"' in msg and '"per GPU"' in msg and '"wall"' in msg


def test_unknown_column_is_refused_with_a_close_match(tmp_path, catalog):
    header = [("avg_power_watts" if h == "avg_power_w" else h) for h in HEADER]
    msg = load_error(write_rows(tmp_path / "m.csv", [GOOD], header), catalog)
    assert "column 'avg_power_watts': unknown column (did you mean 'avg_power_w'?" in msg
    assert str(tmp_path / "m.csv") in msg


def test_header_and_value_problems_are_reported_together(tmp_path, catalog):
    header = [*HEADER, "fit_wieght", "colour"]
    rows = [[*GOOD, "1", "red"], [*with_value("itl_ms", "x"), "1", "red"]]
    msg = load_error(write_rows(tmp_path / "m.csv", rows, header), catalog)
    assert msg.count("\n  - ") == 3
    assert "column 'fit_wieght': unknown column (did you mean 'fit_weight'?" in msg
    assert "column 'colour': unknown column (rename it" in msg
    assert "row 2, column 'itl_ms': 'x' is not a number" in msg


def test_missing_and_misspelled_columns_are_reported_together(tmp_path, catalog):
    header = [("throughput" if h == "throughput_tok_s" else h) for h in HEADER]
    msg = load_error(write_rows(tmp_path / "m.csv", [GOOD], header), catalog)
    assert "missing column(s): throughput_tok_s" in msg
    assert "column 'throughput': unknown column (did you mean 'throughput_tok_s'?" in msg


def test_a_column_named_twice_is_refused(tmp_path, catalog):
    # pandas would silently read the second one as `model.1`
    msg = load_error(write_rows(tmp_path / "m.csv", [[*GOOD, "llama-3.1-70b"]], [*HEADER, "model"]), catalog)
    assert "column 'model': appears 2 times in the header line" in msg
    assert "model.1" not in msg


def test_the_informational_columns_of_the_shipped_file_are_accepted(tmp_path, catalog):
    header = [*HEADER, "scenario", "total_params_b", "active_params_b", "notes", ""]
    m = load_measurements(write_rows(tmp_path / "m.csv", [[*GOOD, "chat", "8", "8", "avg_batch=60", ""]], header),
                          catalog)
    assert m.frame["achieved_batch"][0] == 60.0


def test_an_unnamed_column_with_values_is_refused(tmp_path, catalog):
    msg = load_error(write_rows(tmp_path / "m.csv", [[*GOOD, "3"]], [*HEADER, ""]), catalog)
    assert f"column {len(HEADER) + 1} has no name in the header line" in msg


@pytest.mark.parametrize("value", ["nan", "NaN", "inf"])
def test_a_nan_cell_is_reported_once(tmp_path, catalog, value):
    msg = load_error(write_rows(tmp_path / "m.csv", [GOOD, with_value("throughput_tok_s", value)]), catalog)
    assert f"row 2, column 'throughput_tok_s': {value!r} is not a number" in msg
    assert "must be > 0" not in msg and "problems" not in msg


def test_every_problem_is_reported_at_once(tmp_path, catalog):
    rows = [with_value("itl_ms", "x"), with_value("throughput_tok_s", "-5"), with_value("gpu", "nope")]
    msg = load_error(write_rows(tmp_path / "m.csv", rows), catalog)
    assert msg.count("\n  - ") == 3
    for part in ("row 1, column 'itl_ms'", "row 2, column 'throughput_tok_s'", "row 3, column 'gpu'"):
        assert part in msg


def test_not_a_csv(tmp_path, catalog):
    p = tmp_path / "m.csv"
    p.write_bytes(b"\xff\xfe\x00garbage")
    assert "UTF-8" in load_error(p, catalog) or "CSV" in load_error(p, catalog)


@pytest.mark.parametrize("command", [["calibrate", "{path}", "--out", "{out}"], ["accuracy", "{path}"]])
def test_cli_reports_bad_files_with_exit_1_and_no_traceback(tmp_path, capsys, command):
    path = write_rows(tmp_path / "m.csv", [GOOD, with_value("throughput_tok_s", "0")])
    out = tmp_path / "cal.yaml"
    code = main([a.format(path=path, out=out) for a in command])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Error: ") and "row 2, column 'throughput_tok_s': must be > 0" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_subprocess_has_no_traceback(tmp_path):
    path = write_rows(tmp_path / "m.csv", [with_value("avg_power_w", "70000")])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "planner", "accuracy", str(path)], capture_output=True,
                       text=True, env=env, cwd=ROOT, check=False)
    assert r.returncode == 1
    assert "row 1, column 'avg_power_w'" in r.stderr
    assert "Traceback" not in r.stderr
