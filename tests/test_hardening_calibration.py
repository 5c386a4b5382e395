"""Hostile measurement files, vLLM results and nvidia-smi logs (issue 9): one `Error: ...` line naming
the file and the row, column or key, exit code 1, no traceback, no input overwritten."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.calibration.fit import fit_calibration
from planner.calibration.measurements import Measurements, load_measurements
from planner.catalog import load_catalog
from planner.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "planner/data/measurements/calibration-h100-a100.csv"
FIXTURES = ROOT / "tests/fixtures/measurements"
RESULT = FIXTURES / "vllm-llama8b-c8.json"
QUERY_LOG = FIXTURES / "nvidia-smi-query.csv"
DMON_LOG = FIXTURES / "nvidia-smi-dmon.txt"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_input_error(code: int, err: str, *words: str) -> str:
    """Exit 1 with exactly one `Error:` line (the first of the message) holding every word."""
    assert code == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


def small_csv(tmp_path: Path, rows: int = 5, name: str = "m.csv", **cells: str) -> Path:
    """The first ``rows`` rows of the shipped measurements, with ``cells`` set in row 1."""
    table = list(csv.reader(io.StringIO(SHIPPED.read_text(encoding="utf-8"))))
    header, body = table[0], table[1:rows + 1]
    for column, value in cells.items():
        if column not in header:
            header, body = [*header, column], [[*row, ""] for row in body]
        body[0][header.index(column)] = value
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *body])
    return path


# ---- --out never equals an input -----------------------------------------------------------------

def test_calibrate_refuses_to_write_over_its_measurements(capsys, tmp_path, monkeypatch):
    data = small_csv(tmp_path)
    before = data.read_bytes()
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "calibrate", "m.csv", "--out", "./m.csv")
    assert_input_error(code, err, "m.csv", "--out", "input")
    assert data.read_bytes() == before


def test_calibrate_refuses_an_output_that_is_a_link_to_an_input(capsys, tmp_path):
    data = small_csv(tmp_path)
    before = data.read_bytes()
    os.symlink(data, tmp_path / "link.yaml")
    code, _, err = run(capsys, "calibrate", data, "--out", tmp_path / "link.yaml")
    assert_input_error(code, err, "link.yaml", "choose another --out")
    assert data.read_bytes() == before


def test_calibrate_refuses_to_write_over_a_user_catalog_file(capsys, tmp_path):
    cat = tmp_path / "cat"
    cat.mkdir()
    models = cat / "models.yaml"
    shutil.copy(ROOT / "catalogs/models.yaml", models)
    before = models.read_bytes()
    code, _, err = run(capsys, "calibrate", small_csv(tmp_path), "--catalog", cat, "--out", models)
    assert_input_error(code, err, "models.yaml")
    assert models.read_bytes() == before


@pytest.mark.parametrize("which", ["vllm", "power"])
def test_import_refuses_to_append_to_one_of_its_inputs(capsys, tmp_path, which):
    result, log = tmp_path / "r.json", tmp_path / "p.csv"
    shutil.copy(RESULT, result)
    shutil.copy(QUERY_LOG, log)
    target = result if which == "vllm" else log
    before = target.read_bytes()
    code, _, err = run(capsys, "calibrate", "import", "--vllm", result, "--power", log, "--gpu", "h100-sxm",
                       "--gpus", "0", "--out", target)
    assert_input_error(code, err, target.name, "--out")
    assert target.read_bytes() == before


def test_import_still_appends_to_an_existing_measurement_file(capsys, tmp_path):
    out = small_csv(tmp_path, rows=2, name="mine.csv")
    lines = len(out.read_text(encoding="utf-8").splitlines())
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--gpu", "h100-sxm", "--out", out)
    assert code == 0, err
    assert len(out.read_text(encoding="utf-8").splitlines()) == lines + 1


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8\n", b"\n\nsource_id,model\n",
                                     b'"' + b"x" * 140_000 + b'"\n'])
def test_import_refuses_to_append_to_an_unreadable_csv(capsys, tmp_path, content):
    out = tmp_path / "mine.csv"
    out.write_bytes(content)
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--gpu", "h100-sxm", "--out", out)
    assert_input_error(code, err, "mine.csv")
    assert out.read_bytes() == content


def test_import_appends_to_a_csv_with_a_byte_order_mark(capsys, tmp_path):
    out = small_csv(tmp_path, rows=1, name="mine.csv")
    out.write_bytes(b"\xef\xbb\xbf" + out.read_bytes())
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--gpu", "h100-sxm", "--out", out)
    assert code == 0, err
    code, _, err = run(capsys, "accuracy", out)
    assert code == 0, err


# ---- vLLM results --------------------------------------------------------------------------------

def vllm_result(tmp_path: Path, raw: bytes | None = None, **changes: object) -> Path:
    path = tmp_path / "r.json"
    if raw is None:
        data = json.loads(RESULT.read_text(encoding="utf-8"))
        data.update(changes)
        raw = json.dumps(data).encode()
    path.write_bytes(raw)
    return path


def test_vllm_result_that_is_not_utf8(capsys, tmp_path):
    path = vllm_result(tmp_path, b"\xff\xfe" + RESULT.read_bytes())
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--gpu", "h100-sxm")
    assert_input_error(code, err, "r.json", "UTF-8")


@pytest.mark.parametrize("tp", [" ", "abc", "1.5", "0", "-2", "1e9", None, [4], {"x": 1}, True, 2.5, 10**6])
def test_vllm_metadata_tp_that_is_not_a_whole_number(capsys, tmp_path, tp):
    path = vllm_result(tmp_path, gpu="h100-sxm", tp=tp)
    code, out, err = run(capsys, "calibrate", "import", "--vllm", path)
    if tp is None:  # absent: tp 1
        assert code == 0, err
        return
    assert_input_error(code, err, "r.json", "tp")


@pytest.mark.parametrize("key, value", [
    ("output_throughput", "800"), ("output_throughput", None), ("output_throughput", float("inf")),
    ("output_throughput", float("nan")), ("output_throughput", -5), ("output_throughput", 1e300),
    ("completed", True), ("completed", [200]), ("completed", 1e300), ("total_output_tokens", {"a": 1}),
    ("total_input_tokens", -1), ("duration", 1e300), ("duration", "100"), ("max_concurrency", 0),
    ("median_itl_ms", float("inf")), ("median_ttft_ms", "fast"),
])
def test_vllm_numbers_must_be_finite_and_plausible(capsys, tmp_path, key, value):
    path = vllm_result(tmp_path, **{key: value})
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--gpu", "h100-sxm")
    assert_input_error(code, err, "r.json", key)


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000, b'{"completed": 1' + b"0" * 5000 + b"}", b"",
                                 b"null", b'"text"', b"\x00\x01\x02"])
def test_vllm_result_that_is_not_a_result_document(capsys, tmp_path, raw):
    path = vllm_result(tmp_path, raw)
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--gpu", "h100-sxm")
    assert_input_error(code, err, "r.json")


@pytest.mark.parametrize("key, value", [("model_id", ["a", "b"]), ("gpu", 5), ("precision", {"x": 1})])
def test_vllm_metadata_names_must_be_text(capsys, tmp_path, key, value):
    changes = {key: value} if key != "gpu" else {"gpu": value}
    path = vllm_result(tmp_path, **changes)
    args = ["calibrate", "import", "--vllm", path] + ([] if key == "gpu" else ["--gpu", "h100-sxm"])
    code, _, err = run(capsys, *args)
    assert_input_error(code, err, "r.json", key.replace("model_id", "model"))


def test_vllm_result_that_is_a_folder_or_missing(capsys, tmp_path):
    code, _, err = run(capsys, "calibrate", "import", "--vllm", tmp_path / "nope.json", "--gpu", "h100-sxm")
    assert_input_error(code, err, "nope.json", "not found")


def test_an_imported_row_problem_names_the_result_file(capsys, tmp_path):
    path = vllm_result(tmp_path, total_output_tokens=1, completed=10**6)  # 1e-6 tokens per request
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--gpu", "h100-sxm")
    assert_input_error(code, err, "r.json", "output_tokens")


@pytest.mark.parametrize("trim", ["nan", "inf", "1e300"])
def test_trim_must_be_a_finite_number_of_seconds(capsys, tmp_path, trim):
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", QUERY_LOG, "--gpus", "0",
                       "--gpu", "h100-sxm", "--trim-s", trim)
    assert_input_error(code, err, "--trim-s")


# ---- nvidia-smi logs -----------------------------------------------------------------------------

QUERY_TEXT = QUERY_LOG.read_text(encoding="utf-8")
DMON_TEXT = DMON_LOG.read_text(encoding="utf-8")
QUERY_LINE = QUERY_TEXT.splitlines()[3]
DMON_LINE = DMON_TEXT.splitlines()[3]

BAD_LOGS = {
    "query: garbage power": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", "lots W")),
    "query: nan power": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", "inf W")),
    "query: huge power": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", "1e400 W")),
    "query: negative power": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", "-5 W")),
    "query: milliwatts": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", "70000")),
    "query: garbled time": QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("2026/11/21", "2026/13/45")),
    "query: truncated line": QUERY_TEXT + "2026/11/21 14:03:00.1",
    "query: long field": QUERY_TEXT + '"' + "a" * 140_000 + '", 0, 1 W, 0 %\n',
    "query: header only": QUERY_TEXT.splitlines()[0] + "\n",
    "dmon: garbage power": DMON_TEXT.replace(DMON_LINE, DMON_LINE.replace("    70 ", " xyz ", 1)),
    "dmon: nan power": DMON_TEXT.replace(DMON_LINE, DMON_LINE.replace("    70 ", "   inf ", 1)),
    "dmon: huge power": DMON_TEXT.replace(DMON_LINE, DMON_LINE.replace("    70 ", " 99999999 ", 1)),
    "dmon: garbled time": DMON_TEXT.replace(DMON_LINE, DMON_LINE.replace("14:00:00", "99:99:99")),
    "dmon: truncated line": DMON_TEXT + " 20261121   14:03:00      0\n",
    "empty": "",
    "blank lines": "\n\n  \n",
    "binary": "\x00\x01\x02\xff garbage",
}


@pytest.mark.parametrize("name", list(BAD_LOGS))
def test_a_damaged_power_log_is_one_message(capsys, tmp_path, name):
    log = tmp_path / "power.log"
    log.write_text(BAD_LOGS[name], encoding="utf-8", errors="surrogateescape")
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", log, "--gpu", "h100-sxm",
                       "--gpus", "0")
    assert_input_error(code, err, "power.log")


def test_binary_bytes_in_a_power_log(capsys, tmp_path):
    log = tmp_path / "power.log"
    log.write_bytes(QUERY_LOG.read_bytes().replace(b"70.00 W", b"7\xff\xfe0 W", 1))
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", log, "--gpu", "h100-sxm",
                       "--gpus", "0")
    assert_input_error(code, err, "power.log", "line")


def test_a_power_log_that_is_a_folder(capsys, tmp_path):
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", tmp_path, "--gpu", "h100-sxm")
    assert_input_error(code, err, "directory")


@pytest.mark.parametrize("missing", ["[N/A]", "[N/A] W", "[Not Supported]", "-", ""])
def test_samples_nvidia_smi_writes_without_a_value_are_skipped(capsys, tmp_path, missing):
    log = tmp_path / "power.log"
    log.write_text(QUERY_TEXT.replace(QUERY_LINE, QUERY_LINE.replace("70.00 W", missing)), encoding="utf-8")
    code, out, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", log, "--gpu", "h100-sxm",
                         "--gpus", "0")
    assert code == 0, err


def test_the_fixture_logs_still_import(capsys):
    for log in (QUERY_LOG, DMON_LOG):
        code, out, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", log, "--gpu", "h100-sxm",
                             "--gpus", "0")
        assert code == 0, err
        assert "GPU-only, summed over all GPUs" in out


# ---- measurement CSV -----------------------------------------------------------------------------

def test_an_implausibly_small_itl_is_refused_at_load_with_row_and_column(capsys, tmp_path):
    code, _, err = run(capsys, "calibrate", small_csv(tmp_path, itl_ms="1e-308"), "--out", tmp_path / "c.yaml")
    assert_input_error(code, err, "m.csv", "row 1", "itl_ms", "1e-308")
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize("column, value", [
    ("itl_ms", "1e308"), ("ttft_ms", "5e-324"), ("throughput_tok_s", "1e300"), ("input_tokens", "1e300"),
    ("output_tokens", "1e-300"), ("energy_j_per_token", "1e30"), ("batch_or_concurrency", "1e300"),
    ("num_gpus", "1.5"), ("tp", "1e9"), ("pp", "0.5"), ("fit_weight", "1e300"), ("avg_power_w", "1e300"),
])
def test_every_numeric_column_is_bounded(capsys, tmp_path, column, value):
    code, _, err = run(capsys, "accuracy", small_csv(tmp_path, **{column: value}))
    assert_input_error(code, err, "m.csv", "row 1", column)


def test_the_fit_survives_a_row_the_core_cannot_evaluate():
    """Guard inside the fit, beside the loader's bounds: a non-finite residual must not stop the solver."""
    cat = load_catalog()
    m = load_measurements(SHIPPED, cat)
    frame = m.frame.copy()
    frame.loc[0, "itl_ms"] = 1e-308
    result = fit_calibration(Measurements(frame=frame, path=m.path, sha256=m.sha256), cat)
    assert all(np.isfinite(v) for v in result.calibration.coefficients.values())
    assert np.isfinite(result.cost)


def test_a_header_line_beyond_the_csv_field_limit(capsys, tmp_path):
    path = small_csv(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n", "," + "x" * 140_000 + "\n", 1), encoding="utf-8")
    code, _, err = run(capsys, "calibrate", path, "--out", tmp_path / "c.yaml")
    assert_input_error(code, err, "m.csv", "header")


def test_a_quoted_header_field_beyond_the_csv_field_limit(capsys, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('model,"' + "x\n" * 70_000 + '"\n1,2\n', encoding="utf-8")
    code, _, err = run(capsys, "accuracy", path)
    assert_input_error(code, err, "m.csv")


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00m\x00o", b"model,gpu\n", b"\x00" * 100])
def test_empty_binary_or_header_only_measurements(capsys, tmp_path, content):
    path = tmp_path / "m.csv"
    path.write_bytes(content)
    code, _, err = run(capsys, "accuracy", path)
    assert_input_error(code, err, "m.csv")


def test_measurements_that_are_a_folder(capsys, tmp_path):
    folder = tmp_path / "m.csv"
    folder.mkdir()
    code, _, err = run(capsys, "accuracy", folder)
    assert_input_error(code, err, "m.csv")


def test_a_malformed_avg_batch_note_is_not_a_crash(capsys, tmp_path):
    path = small_csv(tmp_path, notes="avg_batch=1.2.3; avg_batch=.", batch_or_concurrency="8")
    code, out, err = run(capsys, "accuracy", path, "--format", "json")
    assert code == 0, err
    assert json.loads(out)


def test_many_distinct_unknown_names_answer_quickly(capsys, tmp_path):
    """The 'did you mean' search runs only for the names the message shows."""
    table = list(csv.reader(io.StringIO(SHIPPED.read_text(encoding="utf-8"))))
    header, row = table[0], table[1]
    path = tmp_path / "m.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for i in range(20_000):
            names = {"model": f"llama-{i}-" * 20, "gpu": f"gpu{i}"}
            writer.writerow([names.get(c, v) for c, v in zip(header, row, strict=True)])
    start = time.perf_counter()
    code, _, err = run(capsys, "accuracy", path)
    assert time.perf_counter() - start < 5.0
    assert_input_error(code, err, "m.csv", "unknown model", "more of the same kind")
    assert len(err) < 2000  # long names are cut


# ---- calibration files ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, replacement, words", [
    ("schema_version: 1", "schema_version: 99", ("schema_version",)),
    ("eta_weight_bw:", "eta_weight_bw: .nan", ("eta_weight_bw",)),
    ("eta_weight_bw:", "eta_weight_bw: [1]", ("eta_weight_bw",)),
])
def test_a_damaged_calibration_file(capsys, tmp_path, line, replacement, words):
    text = (ROOT / "planner/data/calibration.yaml").read_text(encoding="utf-8")
    first = next(ln for ln in text.splitlines() if ln.strip().startswith(line))
    cal = tmp_path / "cal.yaml"
    cal.write_text(text.replace(first, first.split(line)[0] + replacement, 1), encoding="utf-8")
    code, _, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "100",
                       "--output-tokens", "10", "--calibration", cal)
    assert_input_error(code, err, "cal.yaml", *words)


# ---- properties: any cell, any JSON value --------------------------------------------------------

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats()
                           | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
CELLS = (st.text(max_size=20) | st.floats().map(repr) | st.integers(-(10**40), 10**40).map(str)
         | st.sampled_from(["1e-308", "5e-324", "1e400", "-0", " 7 W", "[N/A]", "0x10", "1_000"]))
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_answer(code: int, err: str, name: str) -> None:
    """Exit 0, or exit 1 with one `Error:` line naming the file; never a traceback."""
    assert code in (0, 1), err
    assert "Traceback" not in err
    if code == 1:
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and name in errors[0], err


@PROPERTY
@given(cell=CELLS, dmon=st.booleans())
def test_any_power_cell_is_a_sample_or_one_message(capsys, tmp_path, cell, dmon):
    text, line = (DMON_TEXT, DMON_LINE) if dmon else (QUERY_TEXT, QUERY_LINE)
    old = " 70 " if dmon else "70.00 W"
    log = tmp_path / "power.log"
    log.write_text(text.replace(line, line.replace(old, f" {cell} " if dmon else cell, 1)), encoding="utf-8",
                   errors="surrogatepass")
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", log, "--gpu", "h100-sxm",
                       "--gpus", "0")
    assert_answer(code, err, "power.log")


@PROPERTY
@given(column=st.sampled_from(["itl_ms", "ttft_ms", "throughput_tok_s", "num_gpus", "tp", "input_tokens",
                               "avg_power_w", "energy_j_per_token", "achieved_batch", "precision", "gpu"]),
       cell=CELLS)
def test_any_measurement_cell_is_read_or_one_message(capsys, tmp_path, column, cell):
    path = small_csv(tmp_path, rows=2, **{column: cell.replace("\x00", "")})
    code, _, err = run(capsys, "accuracy", path, "--format", "json")
    assert_answer(code, err, "m.csv")


@PROPERTY
@given(key=st.sampled_from(["completed", "output_throughput", "total_input_tokens", "duration", "date", "tp",
                            "num_gpus", "gpu", "model_id", "max_concurrency", "median_itl_ms", "request_rate"]),
       value=JSON_VALUES)
def test_any_vllm_value_is_read_or_one_message(capsys, tmp_path, key, value):
    path = vllm_result(tmp_path, **{key: value})
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--gpu", "h100-sxm", "--power", QUERY_LOG,
                       "--gpus", "0")
    assert_answer(code, err, "r.json")


@pytest.mark.parametrize("which", ["measurements", "vllm", "power"])
def test_a_pipe_or_device_is_refused_not_waited_on(capsys, tmp_path, which):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    args = {"measurements": ["accuracy", fifo],
            "vllm": ["calibrate", "import", "--vllm", fifo, "--gpu", "h100-sxm"],
            "power": ["calibrate", "import", "--vllm", RESULT, "--power", fifo, "--gpu", "h100-sxm"]}[which]
    code, _, err = run(capsys, *args)
    assert_input_error(code, err, "pipe", "regular file")
    code, _, err = run(capsys, *[a if a != fifo else "/dev/zero" for a in args])
    assert_input_error(code, err, "/dev/zero")


def test_a_calibration_file_that_never_ends(capsys, tmp_path):
    link = tmp_path / "cal.yaml"
    os.symlink("/dev/zero", link)
    code, _, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "100",
                       "--output-tokens", "10", "--calibration", link)
    assert_input_error(code, err, "cal.yaml", "regular file")


def test_a_window_that_ends_before_it_starts(capsys):
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", QUERY_LOG, "--gpu", "h100-sxm",
                       "--gpus", "0", "--start", "2026-11-21T14:00:00", "--end", "2026-11-21T13:00:00")
    assert_input_error(code, err, "--end", "--start")


@pytest.mark.parametrize("bounds", [["--end", "0001-01-01T00:00:00"], ["--start", "9999-12-31T23:59:59"]])
def test_a_trimmed_window_past_the_calendar(capsys, bounds):
    code, _, err = run(capsys, "calibrate", "import", "--vllm", RESULT, "--power", QUERY_LOG, "--gpu", "h100-sxm",
                       "--gpus", "0", *bounds, "--trim-s", "50")
    assert_input_error(code, err, "nvidia-smi-query.csv", "window")


def test_an_avg_batch_note_with_an_exponent_is_read_whole(capsys, tmp_path):
    """`avg_batch=1e9` was read as 1 (the exponent dropped); now it is read and refused as implausible."""
    code, _, err = run(capsys, "accuracy", small_csv(tmp_path, notes="avg_batch=1e9"))
    assert_input_error(code, err, "m.csv", "achieved_batch", "1e+09")


def test_a_window_without_samples_names_the_result_it_comes_from(capsys, tmp_path):
    path = vllm_result(tmp_path, duration=4.0, date="20261121-140400")
    code, _, err = run(capsys, "calibrate", "import", "--vllm", path, "--power", QUERY_LOG, "--gpu", "h100-sxm",
                       "--gpus", "0")
    assert_input_error(code, err, "nvidia-smi-query.csv", "r.json", "duration")
