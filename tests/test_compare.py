"""planner.compare and `planner compare`: models x GPUs x precisions in one table from one vectorized
estimate; rows that do not fit say so and carry no figures; text, Markdown, CSV and JSON; a strict file."""

from __future__ import annotations

import csv
import io
import json

import pytest

import planner
from planner.cli.main import main
from planner.comparison import COLUMNS, PERFORMANCE, compare
from planner.schemas.scenario import Site

pytestmark = pytest.mark.integration

GRID = {"models": ["llama-3.1-70b", "llama-3.1-8b"], "gpus": ["h100-sxm", "a100-sxm-40gb"],
        "precisions": ["bf16", "fp8"]}
POINT = {"input_tokens": 2048, "output_tokens": 512}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def table():
    return compare(**GRID, **POINT, tp=1, batch_size=8)


def test_one_row_per_model_gpu_precision_with_the_named_columns(table) -> None:
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 2 * 2 * 2
    assert list(zip(table.model, table.gpu, table.precision, strict=True))[:2] == [
        ("llama-3.1-70b", "h100-sxm", "bf16"), ("llama-3.1-70b", "h100-sxm", "fp8")]


def test_rows_that_do_not_fit_carry_no_figures_and_say_why(table) -> None:
    no = table[table.fits_memory == False]  # noqa: E712 (object column: True, False or None)
    assert len(no) >= 2  # 70B in 16 bits on one 80 GB or 40 GB GPU
    for _, row in no.iterrows():
        assert all(row[c] is None for c in PERFORMANCE), row
        assert "does not fit memory" in row.warnings
        assert row.smallest_tp_that_fits is None or row.smallest_tp_that_fits > 1
    yes = table[table.fits_memory == True]  # noqa: E712
    assert len(yes) >= 2 and all(isinstance(v, float) and v > 0 for v in yes.energy_per_output_token_j)


def test_a_precision_the_gpu_lacks_is_a_row_that_cannot_run() -> None:
    t = compare("llama-3.2-3b", "t4", ["bf16", "fp16"], **POINT, tp=1, batch_size=1)
    bf16, fp16 = t.iloc[0], t.iloc[1]
    assert bf16.fits_memory is None and all(bf16[c] is None for c in PERFORMANCE)
    assert "no bf16 tensor path; use fp16" in bf16.warnings
    assert fp16.fits_memory is True and fp16.itl_s > 0


def test_a_fitting_row_matches_planner_estimate(table) -> None:
    row = table[(table.model == "llama-3.1-8b") & (table.gpu == "h100-sxm") & (table.precision == "bf16")].iloc[0]
    e = planner.estimate("llama-3.1-8b", "h100-sxm", precision="bf16", tp=1, batch_size=8, **POINT)
    assert row.fits_memory is True
    assert row.itl_s == pytest.approx(e.itl_s) and row.ttft_s == pytest.approx(e.ttft_s)
    assert row.power_per_gpu_w == pytest.approx(e.power_per_gpu_w)
    assert row.energy_per_output_token_j == pytest.approx(e.energy_per_output_token_j)
    # the same (GPU) basis as J/token: 1e6 tokens x J/token / 3.6e6 J per kWh
    assert row.kwh_per_million_output_tokens == pytest.approx(e.energy_per_output_token_j / 3.6)


def test_annual_cost_by_hand_with_the_scenario_default_price() -> None:
    t = compare("llama-3.1-8b", "h100-sxm", "bf16", **POINT, tp=1, batch_size=8, duty_cycle=0.5, pue=1.2)
    row = t.iloc[0]
    idle_w = planner.load_catalog().gpu("h100-sxm").idle_w
    kwh = (row.power_total_w * 0.5 + idle_w * 0.5) * 8760 / 1000 * 1.2
    assert row.annual_energy_facility_kwh == pytest.approx(kwh)
    assert row.annual_energy_cost_usd == pytest.approx(kwh * Site().electricity_usd_per_kwh)


def test_without_tp_each_row_takes_the_smallest_that_fits() -> None:
    t = compare("llama-3.1-70b", ["h100-sxm", "a100-sxm-40gb"], "bf16", **POINT, batch_size=8)
    assert list(t.tp) == list(t.smallest_tp_that_fits)
    assert all(t.fits_memory) and t.tp.iloc[1] > t.tp.iloc[0] > 1  # 40 GB needs more GPUs than 80 GB


def test_the_table_comes_from_one_vectorized_estimate(monkeypatch) -> None:
    import planner.estimation as estimation

    def refuse(*_a, **_k):
        raise AssertionError("compare must not call planner.estimate row by row")

    monkeypatch.setattr(estimation, "estimate", refuse)
    assert len(compare(**GRID, **POINT, batch_size=4)) == 8


def test_sorting_ranks_and_puts_empty_rows_last(table) -> None:
    from planner.comparison import sort_table

    by_energy = sort_table(table, "energy_per_output_token_j")
    values = [v for v in by_energy.energy_per_output_token_j if v is not None]
    assert values == sorted(values) and by_energy.energy_per_output_token_j.iloc[-1] is None
    by_rate = sort_table(table, "output_tokens_per_s")
    rates = [v for v in by_rate.output_tokens_per_s if v is not None]
    assert rates == sorted(rates, reverse=True)


def test_an_unknown_sort_column_suggests_the_close_one() -> None:
    with pytest.raises(planner.errors.InputError, match="did you mean energy_per_output_token_j"):
        compare("llama-3.1-8b", "h100-sxm", **POINT, batch_size=1, sort_by="energy_per_token_j")


def test_under_load_the_latency_columns_are_the_queueing_ones() -> None:
    t = compare("llama-3.1-8b", "h100-sxm", "bf16", **POINT, tp=1, batch_size=64, arrival_requests_per_s=2.0)
    e = planner.estimate("llama-3.1-8b", "h100-sxm", tp=1, batch_size=64, arrival_requests_per_s=2.0, **POINT)
    row = t.iloc[0]
    assert row.saturated is False and row.ttft_p95_s == pytest.approx(e.ttft_p95_s)
    assert row.itl_s == pytest.approx(e.itl_s) and row.output_tokens_per_s == pytest.approx(e.output_tokens_per_s)


# ---- the command -----------------------------------------------------------------------------------

FLAGS = ["-m", "llama-3.1-70b", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--precision", "bf16", "--precision", "fp8",
         "--tp", "1", "--batch-size", "8", "--input-tokens", "2048", "--output-tokens", "512"]


def test_text_table_numbers_every_warning(capsys) -> None:
    code, out, err = run(capsys, *FLAGS)
    assert code == 0, err
    head, *rows = out.split("\n\n")[0].splitlines()
    assert head.split()[:4] == ["model", "gpu", "precision", "tp"] and len(rows) == 4
    assert "[1] does not fit memory at tp 1" in out


def test_csv_and_json_hold_every_column_and_empty_cells_for_rows_that_do_not_fit(capsys) -> None:
    _, out, _ = run(capsys, *FLAGS, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 4
    first = rows[0]
    assert first["fits_memory"] == "False" and first["itl_s"] == "" and first["power_per_gpu_w"] == ""
    _, out, _ = run(capsys, *FLAGS, "--format", "json")
    doc = json.loads(out)
    assert doc["electricity_usd_per_kwh"] == Site().electricity_usd_per_kwh
    assert doc["rows"][0]["itl_s"] is None and doc["rows"][-1]["itl_s"] > 0


def test_markdown_has_a_header_row_and_the_warnings(capsys) -> None:
    _, out, _ = run(capsys, *FLAGS, "--format", "md", "--columns", "model,gpu,fits_memory,itl_s")
    lines = out.splitlines()
    assert lines[0] == "| model | gpu | fits_memory | itl_s | warnings |" and lines[1].startswith("| ---")
    assert "does not fit memory" in lines[2]


def test_the_same_inputs_give_the_same_bytes(capsys) -> None:
    assert run(capsys, *FLAGS, "--format", "csv")[1] == run(capsys, *FLAGS, "--format", "csv")[1]


def test_out_writes_the_file_and_never_over_the_input(capsys, tmp_path) -> None:
    target = tmp_path / "table.csv"
    code, out, err = run(capsys, *FLAGS, "--format", "csv", "--sort-by", "itl_s", "--out", str(target))
    assert code == 0 and out == "" and "wrote" in err
    assert target.read_text().startswith("model,gpu,precision,tp,")
    spec = tmp_path / "grid.yaml"
    spec.write_text("models: [llama-3.1-8b]\ngpus: [h100-sxm]\nbatch_size: 1\ninput_tokens: 10\noutput_tokens: 10\n")
    code, _, err = run(capsys, "--file", str(spec), "--out", str(spec))
    assert code == 1 and "would overwrite the input" in err and spec.read_text().startswith("models:")


def test_a_file_gives_the_grid_and_flags_win(capsys, tmp_path) -> None:
    spec = tmp_path / "grid.yaml"
    spec.write_text("models: [llama-3.1-8b]\ngpus: [h100-sxm, l40s]\nprecisions: [bf16]\nbatch_size: max\n"
                    "input_tokens: 1000\noutput_tokens: 200\nsort_by: energy_per_output_token_j\n")
    code, out, err = run(capsys, "--file", str(spec), "--format", "json", "--output-tokens", "100")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["output_tokens"] == 100 and doc["batch_size"] == "max" and len(doc["rows"]) == 2
    energies = [r["energy_per_output_token_j"] for r in doc["rows"]]
    assert energies == sorted(energies)


@pytest.mark.parametrize(("text", "words"), [
    ("models: [llama-3.1-8b]\ngpus: [h100-sxm]\nbatch: 4\ninput_tokens: 1\noutput_tokens: 1\n", ["batch"]),
    ("models: [llama-3.1-8b]\ngpus: [h100-sxm]\nbatch_size: most\ninput_tokens: 1\noutput_tokens: 1\n",
     ["batch_size"]),
    ("models: llama\ngpus: [h100-sxm]\nbatch_size: 1\ninput_tokens: 1\noutput_tokens: 1\n", ["models"]),
    ("models: [llama-3.1-8b]\ngpus: [h100-sxm]\nprecisions: [fp12]\nbatch_size: 1\ninput_tokens: 1\n"
     "output_tokens: 1\n", ["precisions[0]"]),
    ("- not a mapping\n", []),
])
def test_a_bad_file_is_one_error_naming_file_and_key(capsys, tmp_path, text, words) -> None:
    spec = tmp_path / "grid.yaml"
    spec.write_text(text)
    code, out, err = run(capsys, "--file", str(spec))
    assert code == 1 and out == "" and "Traceback" not in err
    assert str(spec) in err and all(w in err for w in words), err


@pytest.mark.parametrize(("args", "words"), [
    (["-g", "h100-sxm", "--batch-size", "1", "--input-tokens", "1", "--output-tokens", "1"], ["--model is missing"]),
    (["-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "1", "--output-tokens", "1"],
     ["--batch-size max", "--arrival-requests-per-s"]),
    (["-m", "llama-3.1-8b", "-g", "A6000", "--batch-size", "1", "--input-tokens", "1", "--output-tokens", "1"],
     ["unknown GPU 'A6000'"]),
    ([*FLAGS, "--columns", "model,watts"], ["unknown column 'watts'"]),
    ([*FLAGS, "--duty-cycle", "0"], ["--duty-cycle must be in (0, 1]"]),
    ([*FLAGS, "--tp", "0"], ["--tp must be a whole number"]),
])
def test_bad_flags_are_one_error(capsys, args, words) -> None:
    code, out, err = run(capsys, *args)
    assert code == 1 and out == "" and all(w in err for w in words), err


def test_the_docs_example_file_is_valid_and_the_docs_name_every_column(tmp_path) -> None:
    from pathlib import Path

    from planner.comparison import load_compare_file

    doc = (Path(__file__).resolve().parents[1] / "docs" / "compare.md").read_text(encoding="utf-8")
    start = doc.index("```yaml\n") + len("```yaml\n")
    (tmp_path / "grid.yaml").write_text(doc[start:doc.index("```", start)])
    spec = load_compare_file(tmp_path / "grid.yaml")
    assert spec.batch_size == "max" and spec.models == ["llama-3.1-70b", "llama-3.1-8b"]
    assert [c for c in COLUMNS if f"`{c}`" not in doc] == []


@pytest.mark.parametrize("flags", [
    ["--input-tokens", "nan"], ["--output-tokens", "inf"], ["--input-tokens", "1e300"], ["--batch-size", "0"],
    ["--batch-size", "999999999"], ["--tp", "0"], ["--tp", "1000"], ["--engine", "foo"], ["--pue", "nan"],
    ["--electricity-usd-per-kwh", "-1"], ["--arrival-requests-per-s", "nan"], ["--sort-by", "nope"],
])
def test_a_hostile_setting_shared_by_every_row_is_one_error(capsys, flags) -> None:
    base = {"-m": "llama-3.1-8b", "-g": "h100-sxm", "--batch-size": "1", "--input-tokens": "10",
            "--output-tokens": "10"}
    args = [x for k, v in {**base, flags[0]: flags[1]}.items() for x in (k, v)]
    code, out, err = run(capsys, *args)
    assert code == 1 and out == "" and "Traceback" not in err
    assert sum(line.startswith("Error: ") for line in err.splitlines()) == 1, err
