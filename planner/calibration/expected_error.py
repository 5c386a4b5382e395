"""Expected error of an estimate, from the leave-one-GPU-out residuals of the calibration points.

Each calibration point (a measured row the calibration is fitted on) is predicted by the fold that held
its GPU out (planner.calibration.accuracy.cross_validate), so its error is the error of a GPU the fit
never saw. The points are grouped by GPU architecture, model class (dense / MoE) and size band (total
parameters); per metric, a group with at least ``MIN_POINTS`` points gives the quantiles
(QUANTILES) of |predicted / measured - 1|.

Lookup (``lookup``), per metric: architecture + class + band, else architecture + class, else the
architecture, else -- an architecture without a point for the metric, or never fitted -- the worst
held-out GPU (the GPU whose own held-out error is the largest at the 90th percentile) over the model's
class, else over every model.
The table is data (planner/data/expected_error.yaml), written by scripts/expected_error.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import CalibrationError
from planner.io.files import MAX_YAML_BYTES, parse_yaml, validate_data
from planner.paths import data_dir
from planner.schemas.catalog import ModelSpec
from planner.schemas.expected_error import (
    ANY,
    ERROR_METRICS,
    QUANTILES,
    ErrorGroup,
    ExpectedErrorTable,
    MetricError,
    WorstHeldOut,
)

MIN_POINTS = 5
"""Fewest held-out points a group needs for a metric (fewer: the next wider group)."""
SIZE_BANDS_B = (20.0, 100.0)
"""Total parameters (billions) that separate small | medium | large models."""
METHOD = ("leave-one-GPU-out: each calibration point predicted by a fit made without its GPU's rows "
          "(planner accuracy --leave-one-out gpu); quantiles of |predicted / measured - 1|")
EXPECTED_ERROR_FILE = "expected_error.yaml"


def expected_error_path() -> Path:
    return data_dir() / EXPECTED_ERROR_FILE


def model_class(model: ModelSpec) -> str:
    return "moe" if model.moe is not None else "dense"


def size_band(model: ModelSpec, bands_b: tuple[float, float] = SIZE_BANDS_B) -> str:
    b = model.params_total_b
    return "small" if b < bands_b[0] else "medium" if b < bands_b[1] else "large"


# ---- building the table ---------------------------------------------------------------------------
def metric_error(ape_pct: np.ndarray) -> MetricError:
    q = np.quantile(ape_pct, QUANTILES)
    return MetricError(n=int(ape_pct.size), p50_pct=_r(q[0]), p80_pct=_r(q[1]), p90_pct=_r(q[2]), p95_pct=_r(q[3]))


def _r(v: float) -> float:
    return round(float(v), 2)


@dataclass(frozen=True)
class Residuals:
    """Per calibration point: GPU id, architecture, model class, size band, and each metric's error (%)."""

    gpu: np.ndarray
    architecture: np.ndarray
    model_class: np.ndarray
    size_band: np.ndarray
    ape_pct: Mapping[str, np.ndarray]


def build_table(res: Residuals, *, measurements: str, measurements_sha256: str,
                calibration_sha256: str) -> ExpectedErrorTable:
    """The expected-error table of the residuals (groups sorted; only metrics with MIN_POINTS points)."""
    keys: set[tuple[str, str, str]] = set()
    for a, c, b in zip(res.architecture, res.model_class, res.size_band, strict=True):
        keys |= {(str(a), str(c), str(b)), (str(a), str(c), ANY), (str(a), ANY, ANY)}
    groups = []
    for a, c, b in sorted(keys):
        sel = (res.architecture == a) & ((res.model_class == c) | (c == ANY)) & ((res.size_band == b) | (b == ANY))
        metrics = {}
        for k in ERROR_METRICS:
            e = res.ape_pct[k][sel]
            e = e[np.isfinite(e)]
            if e.size >= MIN_POINTS:
                metrics[k] = metric_error(e)
        if metrics:
            groups.append(ErrorGroup(architecture=a, model_class=c, size_band=b, metrics=metrics))  # type: ignore[arg-type]
    return ExpectedErrorTable(method=METHOD, measurements=measurements, measurements_sha256=measurements_sha256,
                              calibration_sha256=calibration_sha256, min_points=MIN_POINTS, size_bands_b=SIZE_BANDS_B,
                              groups=groups, worst_held_out=_worst(res, np.ones(len(res.gpu), dtype=bool)),
                              worst_held_out_by_class={c: w for c in ("dense", "moe")
                                                       if (w := _worst(res, res.model_class == c))})


def _worst(res: Residuals, rows: np.ndarray) -> dict[str, WorstHeldOut]:
    """Per metric, the held-out GPU (among ``rows``) whose error's 90th percentile is the largest."""
    out: dict[str, WorstHeldOut] = {}
    for k in ERROR_METRICS:
        best: WorstHeldOut | None = None
        for g in sorted(set(res.gpu.tolist())):
            e = res.ape_pct[k][(res.gpu == g) & rows]
            e = e[np.isfinite(e)]
            if e.size >= MIN_POINTS:
                cand = WorstHeldOut(gpu=g, error=metric_error(e))
                if best is None or cand.error.p90_pct > best.error.p90_pct:
                    best = cand
        if best is not None:
            out[k] = best
    return out


def residuals(report: Any, catalog: Any, fitted: np.ndarray) -> Residuals:
    """The leave-one-GPU-out residuals of ``report`` (an AccuracyReport with the gpu fold) on the rows
    ``fitted`` (the calibration points)."""
    cv = next((c for c in report.cross_validation if c.by == "gpu"), None)
    if cv is None or not cv.held_out_predictions:
        raise CalibrationError("the accuracy report has no leave-one-GPU-out predictions",
                               fix="score it with leave_one_out=('gpu',)")
    from planner.calibration.accuracy import ape

    p = report.points
    gpus = np.asarray(p["gpu"], dtype=str)
    models = [catalog.model(str(m)) for m in p["model"]]
    arch = np.array([catalog.gpu(g).architecture for g in gpus], dtype=str)
    ape_pct = {k: np.where(fitted, ape(cv.held_out_predictions[k], p["measured"][k]), np.nan) for k in ERROR_METRICS}
    return Residuals(gpu=gpus, architecture=arch, model_class=np.array([model_class(m) for m in models], dtype=str),
                     size_band=np.array([size_band(m) for m in models], dtype=str), ape_pct=ape_pct)


def table_yaml(table: ExpectedErrorTable) -> str:
    """The file's text: a header, then the table (keys in schema order: same table, same bytes)."""
    import yaml

    head = ("# Expected error of planner's estimates per metric, by GPU architecture, model class and size band.\n"
            "# Written by scripts/expected_error.py from the leave-one-GPU-out residuals of the calibration\n"
            "# points; regenerate it rather than edit it (tests/test_sizing_confidence.py fails when stale).\n")
    return head + yaml.safe_dump(table.model_dump(mode="json"), sort_keys=False, width=120)


# ---- reading and looking up -------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _load(path: str) -> ExpectedErrorTable:
    from planner.calibration.measurements import read_bounded

    if not Path(path).exists():
        raise CalibrationError("expected-error table not found", file=path,
                               fix="run python3 scripts/expected_error.py")
    return validate_data(ExpectedErrorTable, parse_yaml(read_bounded(path, "expected-error table", MAX_YAML_BYTES),
                                                        path), path)


def load_expected_error(path: str | Path | None = None) -> ExpectedErrorTable:
    """The expected-error table (the shipped one when ``path`` is None), read once per process."""
    return _load(str(path if path is not None else expected_error_path()))


@dataclass(frozen=True)
class ExpectedError:
    """One metric's expected error for one configuration, and the group it comes from."""

    metric: str
    error: MetricError
    group: str

    def to_dict(self) -> dict[str, Any]:
        return {"p50_pct": self.error.p50_pct, "p90_pct": self.error.p90_pct, "n": self.error.n, "group": self.group}


def lookup(table: ExpectedErrorTable, architecture: str, model: ModelSpec) -> dict[str, ExpectedError]:
    """Every metric's expected error for a model on a GPU of ``architecture`` (see the module docstring)."""
    cls, band = model_class(model), size_band(model, table.size_bands_b)
    by_key: dict[tuple[str, str, str], ErrorGroup] = {(g.architecture, g.model_class, g.size_band): g
                                                      for g in table.groups}
    out = {}
    for k in ERROR_METRICS:
        found = None
        for key in ((architecture, cls, band), (architecture, cls, ANY), (architecture, ANY, ANY)):
            g = by_key.get(key)
            if g is not None and k in g.metrics:
                found = ExpectedError(k, g.metrics[k], g.label)
                break
        by_class = table.worst_held_out_by_class.get(cls, {})  # type: ignore[call-overload]
        if found is None and k in by_class:
            w = by_class[k]
            found = ExpectedError(k, w.error, f"worst held-out GPU for {cls} models ({w.gpu})")
        if found is None and k in table.worst_held_out:
            w = table.worst_held_out[k]
            found = ExpectedError(k, w.error, f"worst held-out GPU ({w.gpu})")
        if found is not None:
            out[k] = found
    return out
