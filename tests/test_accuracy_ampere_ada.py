"""Accuracy on the project's measurement set with the Ampere/Ada rows (issue 11, item 6): in sample per
fitted GPU and metric, and leave-one-GPU-out (each GPU's rows scored by a fit made without them).

The pins are upper bounds a little above the MdAPE measured with the shipped calibration on
2026-11-28 with each engine's scheduler defaults (measured + 15 %, at least + 1.5 points): a
regression fails, an improvement passes (then lower the pin). Issue 11's targets are in ISSUE_11 for
reference; where a pin is above its target the target is not met yet (README accuracy section,
"Leave-one-GPU-out next to WattGPU's published figures").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.calibration.accuracy import PLANNER, AccuracyReport, accuracy_report
from planner.calibration.coefficients import calibration_info
from planner.calibration.measurements import load_measurements

pytestmark = pytest.mark.integration

MEASUREMENTS = Path(__file__).resolve().parent.parent / "planner" / "data" / "measurements" / "measurements.csv"
FITTED_GPUS = ("h100-sxm", "a100-sxm-80gb", "a100-pcie-80gb", "l40s")

# Issue 11, "Done when": leave-one-GPU-out MdAPE (ITL, power, energy with the H100 held out); in sample <= 8 %.
ISSUE_11 = {"throughput": 12.0, "ttft": 20.0, "itl": 12.0, "power": 10.0, "energy_per_token": 15.0}

# (gpu, metric): (MdAPE measured in %, points). Metrics a GPU has no measurement of are absent.
IN_SAMPLE = {
    ("h100-sxm", "throughput"): (6.2, 41), ("h100-sxm", "itl"): (5.1, 29), ("h100-sxm", "power"): (6.2, 29),
    ("h100-sxm", "energy_per_token"): (5.4, 29),
    ("a100-sxm-80gb", "throughput"): (8.7, 21), ("a100-sxm-80gb", "ttft"): (11.8, 5),
    ("a100-pcie-80gb", "throughput"): (4.5, 5),
    ("l40s", "throughput"): (3.9, 18), ("l40s", "ttft"): (2.9, 5),
}
LEAVE_ONE_GPU_OUT = {
    ("h100-sxm", "throughput"): (10.2, 41), ("h100-sxm", "itl"): (8.0, 29), ("h100-sxm", "power"): (6.9, 29),
    ("h100-sxm", "energy_per_token"): (6.4, 29),
    ("a100-sxm-80gb", "throughput"): (9.4, 21), ("a100-sxm-80gb", "ttft"): (8.2, 5),
    ("a100-pcie-80gb", "throughput"): (5.3, 5),
    ("l40s", "throughput"): (5.7, 18), ("l40s", "ttft"): (10.8, 5),
}
# ML.ENERGY v2 A100 40GB rows (a 2024 vLLM): scored, never fitted, no leave-one-out fold of their own.
UNFITTED_A100_40GB = {"throughput": (198.4, 7), "itl": (65.6, 7), "energy_per_token": (34.4, 7)}
ISSUE_11_IN_SAMPLE = 8.0
"""Issue 11: in sample <= 8 % on each metric (the calibration points, every GPU together)."""


def pin(measured: float) -> float:
    return max(measured * 1.15, measured + 1.5)


@pytest.fixture(scope="module")
def report(catalog) -> AccuracyReport:
    m = load_measurements(MEASUREMENTS, catalog)
    cal, info = calibration_info(None, m.sha256)
    return accuracy_report(m, catalog, cal, calibration_info=info, leave_one_out=("gpu",))


def _fold_stats(report: AccuracyReport, gpu: str) -> dict:
    cv = next(c for c in report.cross_validation if c.by == "gpu")
    return next(f for f in cv.folds if f.held_out == gpu).score.stats[PLANNER]


def test_every_fitted_gpu_is_pinned_for_every_metric_it_has(report):
    for gpu in FITTED_GPUS:
        measured = {k for k, s in report.group(f"gpu: {gpu}").stats[PLANNER].items() if s.n}
        assert measured == {k for g, k in IN_SAMPLE if g == gpu} == {k for g, k in LEAVE_ONE_GPU_OUT if g == gpu}


@pytest.mark.parametrize(("gpu", "metric"), sorted(IN_SAMPLE))
def test_in_sample_error_per_gpu(report, gpu, metric):
    s = report.group(f"gpu: {gpu}").stats[PLANNER][metric]
    mdape, n = IN_SAMPLE[gpu, metric]
    assert s.n == n
    assert s.mdape <= pin(mdape), f"{gpu} {metric}: in-sample MdAPE {s.mdape:.1f} % (was {mdape} %)"


@pytest.mark.parametrize(("gpu", "metric"), sorted(LEAVE_ONE_GPU_OUT))
def test_leave_one_gpu_out_error(report, gpu, metric):
    s = _fold_stats(report, gpu)[metric]
    mdape, n = LEAVE_ONE_GPU_OUT[gpu, metric]
    assert s.n == n
    assert s.mdape <= pin(mdape), f"{gpu} held out, {metric}: MdAPE {s.mdape:.1f} % (was {mdape} %)"


@pytest.mark.parametrize(("gpu", "metric"), sorted(LEAVE_ONE_GPU_OUT))
def test_leave_one_gpu_out_meets_issue_11(report, gpu, metric):
    """Every held-out GPU within issue 11's leave-one-GPU-out target of each metric it has measured."""
    s = _fold_stats(report, gpu)[metric]
    assert s.mdape <= ISSUE_11[metric], f"{gpu} held out, {metric}: MdAPE {s.mdape:.1f} % > {ISSUE_11[metric]} %"


@pytest.mark.parametrize("metric", sorted(ISSUE_11))
def test_in_sample_meets_issue_11(report, metric):
    s = report.group("calibration points").stats[PLANNER][metric]
    assert s.n > 0 and s.mdape <= ISSUE_11_IN_SAMPLE, f"in sample {metric}: MdAPE {s.mdape:.1f} %"


def test_every_fold_of_a_fitted_gpu_is_refitted_on_the_others(report):
    cv = next(c for c in report.cross_validation if c.by == "gpu")
    points = report.measurements["calibration_points"]
    for f in cv.folds:
        if f.held_out in FITTED_GPUS:
            assert 0 < f.train_fitted_rows < points  # its own rows left the fit; the others' did not
        else:
            assert f.train_fitted_rows == points  # the score-only A100 40GB rows steer no fit


@pytest.mark.parametrize("metric", sorted(UNFITTED_A100_40GB))
def test_the_2024_vllm_a100_rows_are_scored_not_fitted(report, metric):
    s = report.group("gpu: a100-sxm-40gb").stats[PLANNER][metric]
    mdape, n = UNFITTED_A100_40GB[metric]
    assert s.n == n and s.mdape <= pin(mdape)


def test_the_readme_table_states_issue_11_targets():
    readme = (MEASUREMENTS.parents[3] / "README.md").read_text(encoding="utf-8")
    order = ("throughput", "ttft", "itl", "power", "energy_per_token")
    assert "| issue 11 target | " + " | ".join(f"<= {ISSUE_11[k]:g}" for k in order) + " |" in readme


def test_the_aiconfigurator_estimates_name_rows_of_the_measurement_set(catalog):
    """planner/data/aiconfigurator-ampere-ada.csv scores the same rows: each names a measured row with the
    same GPU and lengths (TTFT rows: two output tokens, aiconfigurator's minimum)."""
    import csv

    m = load_measurements(MEASUREMENTS, catalog).frame
    with (MEASUREMENTS.parents[1] / "aiconfigurator-ampere-ada.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == int((m["source_id"].str.startswith("TRTLLM_V")).sum())
    for r in rows:
        i = int(r["row"]) - 1
        assert catalog.gpu(r["gpu"]).id == m["gpu"][i]
        assert float(r["input_tokens"]) == m["input_tokens"][i]
        assert float(r["output_tokens"]) == max(m["output_tokens"][i], 2.0)
