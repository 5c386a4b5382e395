"""How far the estimation core is from measured points: error statistics, baselines, cross-validation.

Pure computation (no printing, no files): ``accuracy_report`` returns an ``AccuracyReport`` that
planner.calibration.accuracy_render turns into text, Markdown or JSON, and planner.calibration.plot
into a predicted-versus-measured figure.

Error of one point: absolute percentage error |predicted / measured - 1| x 100. A group's figures
are the median (MdAPE) and mean (MAPE) over its points that have the metric measured. Power and
energy measured at the wall are not scored (the core predicts GPU power).

Baselines (what a user without this tool would do):
* plain roofline: ITL = weight bytes per GPU x pp / (0.8 x HBM bandwidth), throughput = batch / ITL
  (batch: the measured one, or for offline rows the largest batch that fits memory);
* power = TDP x GPUs, and power = 0.7 x TDP x GPUs; their energy per token divides that power by
  the roofline throughput (issue 2's "textbook roofline").

Cross-validation: leave-one-GPU-out and leave-one-model-out refit the calibration
(planner.calibration.fit, same settings) without the held-out group and score the held-out rows.
A training set without any fittable row gives the priors, and the fold says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner.calibration.fit import fit_calibration, fit_weights, measured_inputs, predict
from planner.calibration.measurements import Measurements, measured_targets, to_configs, wall_power
from planner.catalog.loader import Catalog
from planner.core.constants import COEFFICIENTS
from planner.errors import CalibrationError
from planner.schemas.calibration import Calibration

METRICS: dict[str, str] = {
    "throughput": "output_tokens_per_s",
    "ttft": "ttft_s",
    "itl": "itl_s",
    "power": "power_total_w",
    "energy_per_token": "energy_per_output_token_j",
}
"""Reported metric -> the core's output key (and measured_targets key)."""
METRIC_LABELS = {"throughput": "throughput", "ttft": "TTFT", "itl": "ITL", "power": "power",
                 "energy_per_token": "energy/token"}
METRIC_UNITS = {"throughput": "tokens/s", "ttft": "s", "itl": "s", "power": "W", "energy_per_token": "J"}
PLANNER = "planner"
BASELINES = ("plain roofline", "power = TDP x GPUs", "power = 0.7 x TDP")
ROOFLINE_BW_EFFICIENCY = 0.8
LOW_POWER_TDP_SHARE = 0.7
LEAVE_ONE_OUT = ("gpu", "model")
_NO_METRIC = np.nan

Predictions = dict[str, np.ndarray]  # metric -> one value per row (NaN = not predicted)


@dataclass(frozen=True)
class ErrorStats:
    """Absolute percentage errors of one predictor on one group of points for one metric."""

    n: int
    mdape: float
    mape: float

    @staticmethod
    def of(ape: np.ndarray) -> ErrorStats:
        ok = ape[np.isfinite(ape)]
        if ok.size == 0:
            return ErrorStats(0, np.nan, np.nan)
        return ErrorStats(int(ok.size), float(np.median(ok)), float(np.mean(ok)))

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mdape_pct": _round(self.mdape), "mape_pct": _round(self.mape)}


@dataclass(frozen=True)
class GroupScore:
    """One group of rows (all rows, one GPU, one model, ...) scored per predictor and metric."""

    name: str
    rows: int
    stats: dict[str, dict[str, ErrorStats]]  # predictor -> metric -> stats

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows,
                "predictors": {p: {k: s.to_dict() for k, s in m.items()} for p, m in self.stats.items()}}


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: the held-out group, what the refit saw, and its held-out scores."""

    held_out: str
    held_out_rows: int
    train_rows: int
    train_fitted_rows: int
    score: GroupScore
    at_bound: tuple[str, ...] = ()
    """Coefficients of the fold's refit that sit at a bound of their plausible range."""

    @property
    def priors_only(self) -> bool:
        return self.train_fitted_rows == 0

    def to_dict(self) -> dict[str, Any]:
        return {"held_out": self.held_out, "held_out_rows": self.held_out_rows, "train_rows": self.train_rows,
                "train_fitted_rows": self.train_fitted_rows, "priors_only": self.priors_only,
                "at_bound": list(self.at_bound), "score": self.score.to_dict()}


@dataclass(frozen=True)
class CrossValidation:
    by: str  # "gpu" or "model"
    folds: tuple[Fold, ...]
    pooled: tuple[GroupScore, ...]  # every held-out row; held-out calibration points
    held_out_predictions: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    """Metric -> each row's prediction by the fold that held it out (NaN: not predicted); the residuals
    planner.calibration.expected_error turns into the expected error of an estimate. Not in to_dict."""

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "folds": [f.to_dict() for f in self.folds],
                "pooled": [g.to_dict() for g in self.pooled]}


@dataclass(frozen=True)
class AccuracyReport:
    measurements: dict[str, Any]
    calibration: dict[str, Any]
    summary: tuple[GroupScore, ...]  # planner and baselines on the calibration points and all rows
    groups: tuple[GroupScore, ...]  # planner per GPU, engine and model
    cross_validation: tuple[CrossValidation, ...] = ()
    points: dict[str, Any] = field(default_factory=dict, repr=False)  # per-row values for plots
    at_bound: tuple[str, ...] = ()
    """Coefficients of the scored calibration at a bound of their plausible range (global, per engine, per GPU)."""

    def group(self, name: str) -> GroupScore:
        for g in (*self.summary, *self.groups):
            if g.name == name:
                return g
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"measurements": self.measurements, "calibration": self.calibration,
                "metrics": {k: {"label": METRIC_LABELS[k], "unit": METRIC_UNITS[k]} for k in METRICS},
                "summary": [g.to_dict() for g in self.summary], "groups": [g.to_dict() for g in self.groups],
                "at_bound": list(self.at_bound),
                "cross_validation": [c.to_dict() for c in self.cross_validation], "points": self._points()}

    def _points(self) -> list[dict[str, Any]]:
        """Every row's measured and predicted values (SI units; None = not measured/predicted)."""
        p = self.points
        if not p:
            return []
        out = []
        for i in range(len(p["gpu"])):
            out.append({"row": i + 1, "model": str(p["model"][i]), "gpu": str(p["gpu"][i]),
                        "engine": str(p["engine"][i]), "fitted": bool(p["fitted"][i]),
                        "measured": {k: _sig(p["measured"][k][i]) for k in METRICS},
                        "predicted": {k: _sig(p["predicted"][k][i]) for k in METRICS}})
        return out


def _sig(v: float) -> float | None:
    return None if not np.isfinite(v) else float(f"{float(v):.6g}")


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 2)


# ---- predictions --------------------------------------------------------------------------------
CALIBRATION_POINTS = "calibration points"
ALL_ROWS = "all rows"


def coefficient_arrays(cal: Calibration, gpus: np.ndarray, engines: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row coefficients of a calibration (priors < global < engine < GPU), one lookup per pair."""
    keys = np.char.add(np.char.add(np.asarray(gpus, dtype=str), "|"), np.asarray(engines, dtype=str))
    uniq, codes = np.unique(keys, return_inverse=True)
    rows = [cal.for_config(*k.split("|")) for k in uniq]
    return {name: np.array([r[name] for r in rows], dtype=float)[codes] for name in COEFFICIENTS}


@dataclass(frozen=True)
class _Prepared:
    x: dict[str, Any]
    cols: dict[str, np.ndarray]
    targets: Predictions  # metric -> measured (NaN = not measured or not comparable)


def _prepare(m: Measurements, catalog: Catalog) -> _Prepared:
    cols = to_configs(m)
    # coefficients replaced per use; each engine's scheduler defaults (catalogs/engines.yaml) per row
    x, problem = measured_inputs(cols, catalog)
    bad = problem != ""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(f"row {i + 1}: {problem[i]}", file=m.path)
    t = measured_targets(m)
    wall = wall_power(m)
    targets = {k: np.asarray(t[v], dtype=float).copy() for k, v in METRICS.items()}
    for k in ("power", "energy_per_token"):
        targets[k][wall] = np.nan
    return _Prepared(x=x, cols=cols, targets=targets)


def planner_predictions(p: _Prepared, cal: Calibration) -> tuple[Predictions, dict[str, np.ndarray]]:
    """(metric -> predicted, the core's raw outputs) with the calibration's coefficients."""
    out = predict(p.x, coefficient_arrays(cal, p.cols["gpu"], p.cols["engine"]))
    fits = out["fits_memory"]
    preds = {k: np.where(fits, np.asarray(out[v], dtype=float), np.nan) for k, v in METRICS.items()}
    return preds, out


def baseline_predictions(x: Mapping[str, Any], core: Mapping[str, np.ndarray]) -> dict[str, Predictions]:
    """The three baselines (see the module docstring); ``core`` supplies weights per GPU and batch."""
    n = len(x["tp"])
    nan = np.full(n, _NO_METRIC)
    n_gpu = core["num_gpus"]  # tp x pp x dp
    itl = core["weights_per_gpu_bytes"] * x["pp"] / (ROOFLINE_BW_EFFICIENCY * x["bandwidth_bytes_per_s"])
    thr = core["batch_size"] / itl
    tdp = x["tdp_w"] * n_gpu
    roof = {"throughput": thr, "ttft": nan, "itl": itl, "power": nan, "energy_per_token": nan}
    full = {"throughput": nan, "ttft": nan, "itl": nan, "power": tdp, "energy_per_token": tdp / thr}
    low = LOW_POWER_TDP_SHARE * tdp
    part = {"throughput": nan, "ttft": nan, "itl": nan, "power": low, "energy_per_token": low / thr}
    return dict(zip(BASELINES, (roof, full, part), strict=True))


def ape(pred: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Absolute percentage error per point; NaN where either side is missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(np.asarray(pred, dtype=float) / np.asarray(measured, dtype=float) - 1.0) * 100.0
    return np.where(np.isfinite(out), out, np.nan)


def score_group(name: str, mask: np.ndarray, predictors: Mapping[str, Predictions],
                targets: Predictions) -> GroupScore:
    stats = {p: {k: ErrorStats.of(ape(pred[k][mask], targets[k][mask])) for k in METRICS}
             for p, pred in predictors.items()}
    return GroupScore(name=name, rows=int(mask.sum()), stats=stats)


def _groups(m: Measurements) -> list[tuple[str, np.ndarray]]:
    f = m.frame
    out = []
    for col in ("gpu", "engine", "model"):
        values = f[col].to_numpy(dtype=str)
        for v in sorted(set(values)):
            out.append((f"{col}: {v}", values == v))
    return out


# ---- cross-validation ---------------------------------------------------------------------------
FitFn = Callable[[Measurements], Calibration]


def cross_validate(m: Measurements, p: _Prepared, by: str, fit: FitFn) -> CrossValidation:
    """Refit without each group of ``by`` (gpu or model) and score that group's rows."""
    if by not in LEAVE_ONE_OUT:
        raise CalibrationError(f"unknown cross-validation grouping {by!r}", fix=f"use one of {LEAVE_ONE_OUT}")
    values = m.frame[by].to_numpy(dtype=str)
    fitted = fit_weights(m) > 0
    held = {k: np.full(len(m), np.nan) for k in METRICS}
    folds = []
    for v in sorted(set(values)):
        test = values == v
        train = m.subset(~test)
        cal = fit(train) if len(train) else Calibration()
        preds, _ = planner_predictions(p, cal)
        for k in METRICS:
            held[k][test] = preds[k][test]
        train_fitted = int((fitted & ~test).sum())
        folds.append(Fold(held_out=v, held_out_rows=int(test.sum()), train_rows=int((~test).sum()),
                          train_fitted_rows=train_fitted,
                          score=score_group(f"{by}: {v}", test, {PLANNER: preds}, p.targets),
                          at_bound=coefficients_at_bound(cal) if train_fitted else ()))
    everything = np.ones(len(m), dtype=bool)
    pooled = (score_group(f"pooled: {ALL_ROWS}", everything, {PLANNER: held}, p.targets),
              score_group(f"pooled: {CALIBRATION_POINTS}", fitted, {PLANNER: held}, p.targets))
    return CrossValidation(by=by, folds=tuple(folds), pooled=pooled, held_out_predictions=held)


# ---- the report ---------------------------------------------------------------------------------
def accuracy_report(m: Measurements, catalog: Catalog, cal: Calibration, *, calibration_info: dict[str, Any],
                    leave_one_out: tuple[str, ...] = ()) -> AccuracyReport:
    """Score ``cal`` on ``m`` beside the baselines, per group, and cross-validate as asked."""
    p = _prepare(m, catalog)
    preds, core = planner_predictions(p, cal)
    predictors = {PLANNER: preds, **baseline_predictions(p.x, core)}
    fitted = fit_weights(m) > 0
    everything = np.ones(len(m), dtype=bool)
    summary = (score_group(CALIBRATION_POINTS, fitted, predictors, p.targets),
               score_group(ALL_ROWS, everything, predictors, p.targets))
    groups = tuple(score_group(name, mask, {PLANNER: preds}, p.targets) for name, mask in _groups(m))
    per_gpu = bool(cal.per_gpu)

    def refit(train: Measurements) -> Calibration:
        return fit_calibration(train, catalog, per_gpu=per_gpu).calibration

    cv = tuple(cross_validate(m, p, by, refit) for by in dict.fromkeys(leave_one_out))
    f = m.frame
    points = {"gpu": f["gpu"].to_numpy(dtype=str), "model": f["model"].to_numpy(dtype=str),
              "engine": f["engine"].to_numpy(dtype=str), "fitted": fitted,
              "measured": p.targets, "predicted": preds}
    info = {"file": m.path.split("/")[-1], "sha256": m.sha256, "rows": len(m),
            "calibration_points": int(fitted.sum())}
    return AccuracyReport(measurements=info, calibration=calibration_info, summary=summary, groups=groups,
                          cross_validation=cv, points=points, at_bound=coefficients_at_bound(cal))


def coefficients_at_bound(cal: Calibration) -> tuple[str, ...]:
    """Each coefficient of ``cal`` at a bound of its plausible range, as "name = value (floor|ceiling)",
    with "[engine e]" or "[gpu g]" for the engine- and GPU-specific ones (a bounded fit holds a value
    the data pushes further there, so the figure is named, never silent)."""
    sets = [("", cal.coefficients)]
    sets += [(f" [engine {e}]", v) for e, v in sorted(cal.per_engine.items())]
    sets += [(f" [gpu {g}]", v) for g, v in sorted(cal.per_gpu.items())]
    out = []
    for where, values in sets:
        for name, value in values.items():
            c = COEFFICIENTS.get(name)
            if c is None or c.low == c.high:
                continue
            tol = 1e-6 * (c.high - c.low)
            side = "floor" if abs(value - c.low) <= tol else "ceiling" if abs(value - c.high) <= tol else ""
            if side:
                out.append(f"{name} = {value:g}{where} ({side})")
    return tuple(out)
