"""Render an AccuracyReport as plain text, Markdown or JSON (deterministic: same report, same bytes)."""

from __future__ import annotations

import json
import math

from planner.calibration.accuracy import (
    BASELINES,
    CALIBRATION_POINTS,
    METRIC_LABELS,
    METRICS,
    PLANNER,
    AccuracyReport,
    CrossValidation,
    ErrorStats,
    GroupScore,
    accuracy_report,
)
from planner.calibration.fit import FitResult
from planner.calibration.measurements import Measurements
from planner.catalog.loader import Catalog
from planner.core.constants import COEFFICIENTS

FORMATS = ("text", "md", "json")
NOT_MEASURED = "–"
CV_TITLES = {"gpu": "Leave-one-GPU-out", "model": "Leave-one-model-out"}


def _cell(s: ErrorStats) -> str:
    if s.n == 0 or not math.isfinite(s.mdape):
        return NOT_MEASURED
    return f"{s.mdape:.1f} / {s.mape:.1f} ({s.n})"


def _metric_cells(g: GroupScore, predictor: str) -> list[str]:
    return [_cell(g.stats[predictor][k]) for k in METRICS]


def _table(headers: list[str], rows: list[list[str]], fmt: str) -> list[str]:
    if fmt == "md":
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    return lines + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _heading(title: str, fmt: str) -> list[str]:
    return [f"#### {title}", ""] if fmt == "md" else [title, ""]


def _metric_headers() -> list[str]:
    return [METRIC_LABELS[k] for k in METRICS]


def _summary(report: AccuracyReport, fmt: str) -> list[str]:
    rows = []
    for g in report.summary:
        for i, p in enumerate((PLANNER, *BASELINES)):
            label = f"{g.name} ({g.rows})" if i == 0 else ""
            rows.append([label, p, *_metric_cells(g, p)])
    return [*_heading("Calibrated model and baselines", fmt),
            *_table(["rows", "predictor", *_metric_headers()], rows, fmt), ""]


def _groups(report: AccuracyReport, fmt: str) -> list[str]:
    rows = [[f"{g.name} ({g.rows})", *_metric_cells(g, PLANNER)] for g in report.groups]
    return [*_heading("Calibrated model per GPU, engine and model", fmt),
            *_table(["rows", *_metric_headers()], rows, fmt), ""]


def _cross_validation(cv: CrossValidation, fmt: str) -> list[str]:
    rows = []
    for f in cv.folds:
        if f.priors_only:
            train = f"priors only ({f.train_rows} rows, none fitted)"
        else:
            train = f"{f.train_fitted_rows} fitted of {f.train_rows} rows"
        rows.append([f"{f.held_out} ({f.held_out_rows})", train, *_metric_cells(f.score, PLANNER)])
    for g in cv.pooled:
        rows.append([f"{g.name} ({g.rows})", "", *_metric_cells(g, PLANNER)])
    title = f"{CV_TITLES[cv.by]}: refit without the {cv.by}, score its rows"
    bounded = [f"{f.held_out} held out: {', '.join(f.at_bound)}" for f in cv.folds if f.at_bound]
    note = ["Refits with a coefficient at a bound of its plausible range: "
            + ("; ".join(bounded) if bounded else "none") + ".", ""]
    return [*_heading(title, fmt), *_table(["held out", "refit on", *_metric_headers()], rows, fmt), "", *note]


def _preamble(report: AccuracyReport, fmt: str) -> list[str]:
    m, c = report.measurements, report.calibration
    code = (lambda s: f"`{s}`") if fmt == "md" else (lambda s: s)
    lines = [f"Measurements: {code(m['file'])} ({m['rows']} rows, sha256 {m['sha256'][:12]}; "
             f"{m['calibration_points']} calibration points = rows with fit weight > 0).",
             f"Calibration: {c.get('label', 'priors')}.",
             "Coefficients at a bound of their plausible range: "
             + (", ".join(report.at_bound) if report.at_bound else "none") + "."]
    unmeasured = [METRIC_LABELS[k] for k in METRICS
                  if all(g.stats[PLANNER][k].n == 0 for g in report.summary)]
    lines.append("Cells: MdAPE / MAPE in % (points); " + NOT_MEASURED + " = not measured"
                 + (f"; no measured {', '.join(unmeasured)} in this file." if unmeasured else "."))
    lines.append("Baselines: plain roofline ITL = weight bytes per GPU / (0.8 x HBM bandwidth), throughput = "
                 "batch / ITL; power = TDP x GPUs or 0.7 x TDP x GPUs, their energy/token over the roofline "
                 "throughput.")
    if fmt == "md":
        return [" ".join(lines[:3]), "", " ".join(lines[3:]), ""]
    return [*lines, ""]


def render(report: AccuracyReport, fmt: str) -> str:
    """The report in ``fmt`` (text, md or json), ending with one newline."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    lines = [*_preamble(report, fmt), *_summary(report, fmt), *_groups(report, fmt)]
    for cv in report.cross_validation:
        lines += _cross_validation(cv, fmt)
    return "\n".join(lines).rstrip("\n") + "\n"


def describe_fit(result: FitResult, m: Measurements, catalog: Catalog) -> str:
    """What `planner calibrate` prints: each coefficient beside its prior and range, then the
    in-sample errors on the calibration points."""
    cal = result.calibration
    rows = []
    for name, c in COEFFICIENTS.items():
        value = cal.coefficients.get(name, c.value)
        at_bound = " (at bound)" if value in (c.low, c.high) and c.low != c.high else ""
        rows.append([name, f"{value:.6g}{at_bound}", f"{c.value:g}", f"[{c.low:g}, {c.high:g}]", c.unit])
    lines = [f"fitted {result.fitted_rows} of {result.rows} rows of {m.path.split('/')[-1]} "
             f"({cal.provenance.get('method', '')})", ""]
    lines += _table(["coefficient", "fitted", "prior", "plausible range", "unit"], rows, "text")
    for kind, groups in (("engine", cal.per_engine), ("gpu", cal.per_gpu)):
        for key, coeffs in groups.items():
            shown = ", ".join(f"{k}={v:.6g}" for k, v in coeffs.items()) or "global coefficients"
            lines.append(f"{kind} {key}: {shown}")
    report = accuracy_report(m, catalog, cal, calibration_info={})
    g = report.group(CALIBRATION_POINTS)
    lines += ["", "in-sample error on the calibration points (MdAPE / MAPE in %, points):",
              *_table(_metric_headers(), [_metric_cells(g, PLANNER)], "text")]
    return "\n".join(lines)
