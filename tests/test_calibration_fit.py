"""`planner calibrate`: bounded refit, provenance, atomic write, refusal of out-of-range calibrations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from planner.calibration.coefficients import calibration_yaml, load_calibration
from planner.calibration.fit import fit_calibration, fit_weights
from planner.calibration.measurements import load_measurements
from planner.catalog.engines import load_engines
from planner.cli.main import main
from planner.core.constants import COEFFICIENTS
from planner.errors import InputError
from planner.schemas.calibration import Calibration

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "planner" / "data" / "measurements" / "calibration-h100-a100.csv"
EPOCH_2026_11_21 = 1795219200


def assert_in_ranges(cal: Calibration) -> None:
    for group in (cal.coefficients, *cal.per_engine.values(), *cal.per_gpu.values()):
        for name, value in group.items():
            c = COEFFICIENTS[name]
            assert c.low <= value <= c.high, name


def test_fit_stays_inside_the_plausible_ranges_with_provenance(measurements, catalog, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH_2026_11_21))
    r = fit_calibration(measurements, catalog, per_gpu=True)
    cal = r.calibration
    assert_in_ranges(cal)
    assert set(cal.coefficients) == set(COEFFICIENTS)
    assert set(cal.per_engine) == {"trt-llm"}  # 12 TRT-LLM rows get their own engine coefficients
    assert set(cal.per_gpu) == {"h100-sxm"}  # the A100 rows are not fitted (ML.ENERGY v2, weight 0)
    p = cal.provenance
    assert p["data_sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert (p["rows"], p["fitted_rows"], p["date"]) == (48, 41, "2026-11-21")


def test_a_fit_that_wants_to_leave_a_range_stops_at_its_bound(tmp_path, catalog):
    # Throughput 30x higher and ITL 30x lower than physics allows: the bandwidth efficiencies hit
    # their upper bounds instead of exceeding them.
    df = pd.read_csv(SHIPPED, dtype=str, keep_default_na=False)
    df["throughput_tok_s"] = (df["throughput_tok_s"].astype(float) * 30).astype(str)
    df["itl_ms"] = [str(float(v) / 30) if v else "" for v in df["itl_ms"]]
    df["energy_j_per_token"] = ""
    path = tmp_path / "impossible.csv"
    df.to_csv(path, index=False)
    cal = fit_calibration(load_measurements(path, catalog), catalog).calibration
    assert_in_ranges(cal)
    assert cal.coefficients["eta_weight_bw"] == COEFFICIENTS["eta_weight_bw"].high


def test_no_fittable_row_gives_the_priors(measurements, catalog):
    a100 = measurements.subset(measurements.frame["gpu"].to_numpy() == "a100-sxm-40gb")
    assert not (fit_weights(a100) > 0).any()
    r = fit_calibration(a100, catalog)
    assert r.fitted_rows == 0
    assert r.calibration.coefficients == {k: c.value for k, c in COEFFICIENTS.items()}
    assert r.calibration.provenance["method"].startswith("priors")


def test_fit_weight_column_excludes_rows(tmp_path, catalog):
    df = pd.read_csv(SHIPPED, dtype=str, keep_default_na=False)
    df["fit_weight"] = ["0" if s == "TRTLLM_PERF" else "" for s in df["source_id"]]
    path = tmp_path / "no-trt.csv"
    df.to_csv(path, index=False)
    m = load_measurements(path, catalog)
    assert int((fit_weights(m) > 0).sum()) == 29
    # no fitted TRT-LLM rows left: TRT-LLM rows take their engine profile's overhead priors, not vLLM's fit
    trt = load_engines()["trt-llm"]
    assert fit_calibration(m, catalog).calibration.per_engine == {
        "trt-llm": {"step_overhead_s": trt.step_overhead_s.value, "seq_overhead_s": trt.seq_overhead_s.value}}


def test_calibrate_cli_writes_the_file_atomically(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH_2026_11_21))
    # a plausible range narrower than the data wants (power_active_share at most 0.1) holds the fit at its
    # ceiling: refused unless asked for
    from dataclasses import replace
    from types import MappingProxyType

    import planner.calibration.fit as fit_module

    narrow = replace(fit_module.COEFFICIENTS["power_active_share"], value=0.05, high=0.1)
    monkeypatch.setattr(fit_module, "COEFFICIENTS",
                        MappingProxyType({**fit_module.COEFFICIENTS, "power_active_share": narrow}))
    data = SHIPPED
    out = tmp_path / "cal.yaml"
    out.write_text("old content that must be replaced\n")
    assert main(["calibrate", str(data), "--out", str(out)]) == 1
    assert "power_active_share" in capsys.readouterr().err
    assert out.read_text() == "old content that must be replaced\n"  # nothing written on refusal
    assert main(["calibrate", str(data), "--out", str(out), "--allow-clamped"]) == 0
    printed = capsys.readouterr().out
    assert "eta_weight_bw" in printed and "in-sample error" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.yaml"]  # no temp file left behind
    cal, _ = load_calibration(out)
    assert cal.provenance["command"] == "planner calibrate calibration-h100-a100.csv --allow-clamped"
    assert cal.provenance["clamped"] == "power_active_share"
    assert cal.provenance["date"] == "2026-11-21"
    assert out.read_text() == calibration_yaml(cal)  # the written text round-trips
    # the explicit subcommand is the same command
    assert main(["calibrate", "fit", str(data), "--out", str(tmp_path / "b.yaml"), "--allow-clamped"]) == 0
    assert (tmp_path / "b.yaml").read_text() == out.read_text()


def test_bad_source_date_epoch_is_an_input_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    assert main(["calibrate", str(SHIPPED), "--out", str(tmp_path / "c.yaml")]) == 1
    assert "SOURCE_DATE_EPOCH='yesterday'" in capsys.readouterr().err


@pytest.mark.parametrize(("edit", "expected"), [
    ({"coefficients": {"eta_weight_bw": 1.7}},
     "eta_weight_bw = 1.7 is outside its plausible range [0.5, 0.95]"),
    ({"per_engine": {"trt-llm": {"step_overhead_s": 0.5}}},
     "trt-llm: step_overhead_s = 0.5 s is outside its plausible range [5e-05, 0.006] s"),
    ({"per_gpu": {"h100-sxm": {"compute_energy_share": 9}}},
     "h100-sxm: compute_energy_share = 9 is outside its plausible range"),
    ({"coefficients": {"eta_magic": 1.0}}, "unknown coefficient 'eta_magic'"),
])
def test_out_of_range_calibration_is_refused_with_the_reason(tmp_path, capsys, edit, expected):
    doc = yaml.safe_load((ROOT / "planner" / "data" / "calibration.yaml").read_text())
    for key, value in edit.items():
        for group, coeffs in value.items():
            if isinstance(coeffs, dict):
                doc[key].setdefault(group, {}).update(coeffs)
            else:
                doc[key][group] = coeffs
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as exc:
        load_calibration(bad)
    assert expected in exc.value.render()
    assert main(["accuracy", str(SHIPPED), "--calibration", str(bad)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_rewritten_calibration_file_is_read_again(tmp_path):
    path = tmp_path / "cal.yaml"
    path.write_text(calibration_yaml(Calibration(coefficients={"eta_weight_bw": 0.7})))
    assert load_calibration(path)[0].coefficients["eta_weight_bw"] == 0.7
    path.write_text(calibration_yaml(Calibration(coefficients={"eta_weight_bw": 0.75})))
    assert load_calibration(path)[0].coefficients["eta_weight_bw"] == 0.75


def test_calibration_yaml_is_deterministic(measurements, catalog, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH_2026_11_21))
    a = calibration_yaml(fit_calibration(measurements, catalog).calibration)
    b = calibration_yaml(fit_calibration(measurements, catalog).calibration)
    assert a == b
    assert np.isfinite(list(yaml.safe_load(a)["coefficients"].values())).all()


def test_a_fit_the_data_pushes_past_a_bound_is_refused(tmp_path, capsys):
    """Issue 6: a calibration that would push a coefficient outside its plausible range is refused."""
    import csv

    from planner.paths import data_dir

    src = data_dir() / "measurements" / "calibration-h100-a100.csv"
    with src.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = tmp_path / "impossible.csv"
    with bad.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:  # 30x the measured throughput: no plausible efficiency reaches it
            r["throughput_tok_s"] = str(float(r["throughput_tok_s"]) * 30) if r["throughput_tok_s"] else ""
            w.writerow(r)
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "eta_weight_bw" in err and "--allow-clamped" in err
    assert not out.exists()
    assert main(["calibrate", str(bad), "--out", str(out), "--allow-clamped"]) == 0
    assert "clamped" in out.read_text()


def test_a_per_gpu_coefficient_pushed_past_its_bound_is_named(measurements, catalog, monkeypatch):
    """--per-gpu fits are checked like the global one: a GPU's coefficient the data pushes past a bound is
    in the result's clamped list and provenance (so `planner calibrate --per-gpu` refuses it)."""
    import planner.calibration.fit as fit_module

    real_fit = fit_module._fit

    def fit_pushing_the_first_per_gpu_coefficient(*args, **kwargs):
        theta, cost, pushed = real_fit(*args, **kwargs)
        per_gpu_fit = len(args) + len(kwargs) > 7  # per-GPU fits pass a start (the global fit)
        return theta, cost, ([0] if per_gpu_fit else pushed)

    monkeypatch.setattr(fit_module, "_fit", fit_pushing_the_first_per_gpu_coefficient)
    result = fit_calibration(measurements, catalog, per_gpu=True)
    engine_specific = {k for values in result.calibration.per_engine.values() for k in values}
    first = next(k for k in fit_module.PER_GPU_COEFFICIENTS if k not in engine_specific)
    assert f"{first} (gpu h100-sxm)" in result.clamped
    assert result.calibration.provenance["clamped"] == ", ".join(result.clamped)
