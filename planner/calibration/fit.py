"""Refit the core's coefficients on measured points with bounded least squares (scipy).

Residuals are log(predicted / measured) for throughput, TTFT, ITL and power, so every metric counts in
relative terms (TTFT only where measured: batch-1 prefill runs in the shipped data); each coefficient
is bounded to its plausible range, so a fit can never leave it.
Rows whose source is marked lower-trust (ML.ENERGY v2) or whose ``fit_weight`` is 0 are scored but not
fitted. Power measured at the wall is not used (the core predicts GPU power). Data with no fittable row
gives the priors (planner.core.constants), said so in the provenance.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.calibration.measurements import Measurements, measured_targets, to_configs, wall_power
from planner.catalog.engines import load_engines
from planner.catalog.loader import Catalog
from planner.core.constants import COEFFICIENTS, DEFAULT_ENGINE, coefficient_defaults
from planner.core.inputs import build_inputs, estimate_arrays
from planner.errors import CalibrationError
from planner.schemas.calibration import Calibration

FIT_METRICS = ("output_tokens_per_s", "ttft_s", "itl_s", "power_total_w")
METRIC_WEIGHT = {"output_tokens_per_s": 1.0, "ttft_s": 1.0, "itl_s": 1.0, "power_total_w": 1.0}
LOW_TRUST_SOURCES = ("MLE2",)
# ML.ENERGY v2 ran an older vLLM 2-5x below the roofline on A100 (no CUDA graphs, TPOT incl.
# queueing): its rows are scored by `planner accuracy` but do not steer the fit.
LOW_TRUST_WEIGHT = 0.0
MIN_ROWS_PER_GPU = 8
PRIOR_WEIGHT = 0.3  # small: moves no fitted figure by more than ~0.5 pt, keeps eta_compute off its bound


@dataclass(frozen=True)
class FitResult:
    calibration: Calibration
    cost: float
    rows: int
    fitted_rows: int = 0
    clamped: tuple[str, ...] = ()
    """Coefficients the data would push beyond their plausible range (held at the bound)."""


def fit_weights(m: Measurements) -> np.ndarray:
    """Weight of each row in the fit: its ``fit_weight`` when given, else 0 for lower-trust sources, 1."""
    src = m.frame["source_id"].astype(str).to_numpy()
    default = np.where(np.isin(src, LOW_TRUST_SOURCES), LOW_TRUST_WEIGHT, 1.0)
    given = (m.frame["fit_weight"].to_numpy(dtype=float) if "fit_weight" in m.frame
             else np.full(len(m), np.nan))
    return np.where(np.isnan(given), default, given)


_row_weights = fit_weights  # the name the first version used


def predict(x: dict[str, Any],
            coefficients: dict[str, float] | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The core on prepared inputs with the given coefficients (scalars or one value per row)."""
    n = len(x["tp"])
    x = dict(x)
    x["coefficients"] = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,))
                         for k, v in coefficients.items()}
    with np.errstate(all="ignore"):
        return estimate_arrays(x)


def measured_inputs(cols: dict[str, np.ndarray], catalog: Catalog) -> tuple[dict[str, Any], np.ndarray]:
    """The core's inputs of measured runs (coefficients replaced per use; each engine's scheduler defaults,
    catalogs/engines.yaml, per row), with the rows measured under static batching marked as such."""
    x, problem = build_inputs(cols, catalog, Calibration(), engines=load_engines())
    if "static_batching" in cols:
        x["static_batching"] = np.asarray(cols["static_batching"], dtype=float)
    return x, problem


ENGINE_COEFFICIENTS = ("eta_compute", "step_overhead_s", "seq_overhead_s", "quantized_bw_factor")
MIN_ROWS_PER_ENGINE = 6

Param = tuple[str, str | None]  # (coefficient, engine it is specific to, or None for global)


def _coefficient_arrays(theta: np.ndarray, params: list[Param], engines: np.ndarray,
                        base: dict[str, np.ndarray],
                        pinned: dict[str, dict[str, float]] | None = None) -> dict[str, np.ndarray]:
    """Per-row coefficients: ``base``, the global ``theta`` values, then the engine-specific ones; the
    ``pinned`` per-engine values (engines timed with their profile's priors) are not fitted."""
    coeffs = {k: v.copy() for k, v in base.items()}
    for value, (name, engine) in zip(theta, params, strict=True):
        if engine is None:
            coeffs[name][:] = value
    for value, (name, engine) in zip(theta, params, strict=True):
        if engine is not None:
            coeffs[name][engines == engine] = value
    for engine, values in (pinned or {}).items():
        for name, value in values.items():
            coeffs[name][engines == engine] = value
    return coeffs


def _fit(x: dict[str, Any], targets: dict[str, np.ndarray], weights: np.ndarray, wall: np.ndarray,
         params: list[Param], engines: np.ndarray, base: dict[str, np.ndarray],
         start: np.ndarray | None = None, main_engine: str = DEFAULT_ENGINE,
         pinned: dict[str, dict[str, float]] | None = None) -> tuple[np.ndarray, float, list[int]]:
    """Bounded fit; returns (coefficients, cost, indices of coefficients the data pushes past a bound).
    A coefficient's prior and range are the core's (planner.core.constants), or, for the per-step and
    per-sequence overheads, those of the engine it describes (catalogs/engines.yaml; the global ones
    describe ``main_engine``)."""
    from scipy.optimize import least_squares

    masks = {k: np.isfinite(targets[k]) & (targets[k] > 0) for k in FIT_METRICS}
    masks["power_total_w"] &= ~wall

    def residuals(theta: np.ndarray) -> np.ndarray:
        pred = predict(x, _coefficient_arrays(theta, params, engines, base, pinned))
        parts = []
        for k in FIT_METRICS:
            mk = masks[k]
            with np.errstate(all="ignore"):  # overflow and NaN are made finite just below
                r = np.log(np.maximum(pred[k][mk], 1e-12) / targets[k][mk])
            parts.append(_finite_log_ratios(r) * weights[mk] * METRIC_WEIGHT[k])
        # Gaussian prior around the literature value, scaled by the plausible range: keeps
        # coefficients the data cannot tell apart near physics instead of at a bound.
        parts.append(PRIOR_WEIGHT * (theta - prior_values) / (hi - lo))
        return np.concatenate(parts)

    lo, hi, prior_values = (np.array(v) for v in zip(*(_prior(k, e or main_engine) for k, e in params),
                                                       strict=True))
    prior = prior_values.copy() if start is None else start
    best = None
    # A few deterministic starts guard against local minima of the p-norm rooflines.
    for s in (prior, lo + 0.3 * (hi - lo), lo + 0.7 * (hi - lo)):
        res = least_squares(residuals, s, bounds=(lo, hi), loss="soft_l1", f_scale=0.2, x_scale="jac",
                            max_nfev=300)
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    return np.round(best.x, 6), float(best.cost), _pushed_past_bounds(residuals, best.x, lo, hi)


ENGINE_PRIORS = ("step_overhead_s", "seq_overhead_s")
"""Coefficients whose prior and range each engine profile states (catalogs/engines.yaml)."""


def _prior(name: str, engine: str) -> tuple[float, float, float]:
    """(low, high, prior) of a coefficient describing ``engine``: its profile's figure for the overheads
    (an engine's own per-step and per-sequence costs), else the core's constant."""
    profile = load_engines().get(engine)
    if name in ENGINE_PRIORS and profile is not None:
        fig = getattr(profile, name)
        return fig.low, fig.high, fig.value
    c = COEFFICIENTS[name]
    return c.low, c.high, c.value


def engine_prior_overheads(engines: set[str], main_engine: str) -> dict[str, dict[str, float]]:
    """Per-engine overheads of the data's engines that have too few fitted rows for their own fit: the
    engine profile's priors, so an engine is never timed with another engine's fitted overheads (a
    Python scheduler's per-sequence cost is not a C++ runtime's)."""
    profiles = load_engines()
    return {e: {k: getattr(profiles[e], k).value for k in ENGINE_PRIORS}
            for e in sorted(engines) if e != main_engine and e in profiles}


NAN_LOG_RATIO = 5.0  # a row the core cannot evaluate counts as off by e^5 (~150x)
MAX_LOG_RATIO = 50.0  # no residual beyond e^50: the solver needs finite residuals and a finite cost


def _finite_log_ratios(r: np.ndarray) -> np.ndarray:
    """log(predicted / measured) made finite: a NaN or infinite ratio must not stop the fit."""
    r = np.nan_to_num(r, nan=NAN_LOG_RATIO, posinf=MAX_LOG_RATIO, neginf=-MAX_LOG_RATIO)
    return np.clip(r, -MAX_LOG_RATIO, MAX_LOG_RATIO)


CLAMP_STEP = 0.05  # of the plausible range: how far past a bound the fit is probed
CLAMP_GAIN = 1e-4  # relative cost drop past the bound that counts as "the data wants to leave the range"


def _soft_l1_cost(f: np.ndarray, f_scale: float = 0.2) -> float:
    """The objective scipy's least_squares(loss="soft_l1", f_scale=...) minimizes."""
    z = (f / f_scale) ** 2
    return float(0.5 * f_scale**2 * np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))


def _pushed_past_bounds(residuals: Any, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[int]:
    """Coefficients at a bound whose cost still falls when moved past it: a bounded fit hides such a
    push by holding the value at the bound, so it is reported instead of silently accepted."""
    base = _soft_l1_cost(residuals(theta))
    span = hi - lo
    out = []
    for i in range(len(theta)):
        for bound, direction in ((lo[i], -1.0), (hi[i], 1.0)):
            if abs(theta[i] - bound) <= 1e-6 * span[i]:
                probe = theta.copy()
                probe[i] = bound + direction * CLAMP_STEP * span[i]
                if _soft_l1_cost(residuals(probe)) < base * (1.0 - CLAMP_GAIN):
                    out.append(i)
    return out


def fit_calibration(m: Measurements, catalog: Catalog, *, per_gpu: bool = False,
                    command: str = "planner calibrate") -> FitResult:
    """Fit global coefficients, engine-specific ones for non-default engines with enough fitted rows,
    and (with ``per_gpu``) per-GPU ones where a GPU has enough fitted rows."""
    cols = to_configs(m)
    targets = measured_targets(m)
    # coefficients replaced per use; each engine's scheduler defaults (catalogs/engines.yaml) per row
    x, problem = measured_inputs(cols, catalog)
    bad = problem != ""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CalibrationError(f"row {i + 1}: {problem[i]}", file=m.path)
    n = len(m)
    base = {k: np.full(n, c.value) for k, c in COEFFICIENTS.items()}
    pred0 = predict(x, base)
    if not pred0["fits_memory"].all():
        i = int(np.flatnonzero(~pred0["fits_memory"])[0])
        raise CalibrationError(f"row {i + 1}: the model does not fit this configuration's memory "
                               "(check num_gpus/tp/precision)", file=m.path)
    weights = fit_weights(m)
    fitted = weights > 0
    provenance: dict[str, str | int | float] = {
        "data_file": m.path.split("/")[-1], "data_sha256": m.sha256, "rows": n,
        "fitted_rows": int(fitted.sum()),
        "date": _fixed_date() or _dt.date.today().isoformat(), "command": command,
        "method": "scipy.optimize.least_squares, soft_l1 on log ratios, bounded"}
    if not fitted.any():
        provenance["method"] = "priors: no row with a fit weight above 0"
        return FitResult(Calibration(coefficients=coefficient_defaults(), provenance=provenance), 0.0, n, 0)
    wall = wall_power(m)
    engines = np.asarray(cols["engine"], dtype=str)
    counts = {e: int((engines[fitted] == e).sum()) for e in sorted(set(engines[fitted]))}
    main_engine = _main_engine(counts)
    params: list[Param] = [(k, None) for k in COEFFICIENTS]
    params += [(k, e) for e in counts if e != main_engine and counts[e] >= MIN_ROWS_PER_ENGINE
               for k in ENGINE_COEFFICIENTS]
    fitted_engines = {e for _, e in params if e is not None}
    pinned = engine_prior_overheads(set(engines) - fitted_engines, main_engine)
    theta, cost, pushed = _fit(x, targets, weights, wall, params, engines, base, main_engine=main_engine,
                               pinned=pinned)
    clamped = tuple(f"{params[i][0]}" + (f" ({params[i][1]})" if params[i][1] else "") for i in pushed)
    if clamped:
        provenance["clamped"] = ", ".join(clamped)
    glob = {k: float(v) for v, (k, e) in zip(theta, params, strict=True) if e is None}
    per_engine = {e: dict(v) for e, v in pinned.items()}
    for v, (k, e) in zip(theta, params, strict=True):
        if e is not None:
            per_engine.setdefault(e, {})[k] = float(v)
    if main_engine != DEFAULT_ENGINE:
        per_engine.setdefault(main_engine, {})
    per: dict[str, dict[str, float]] = {}
    if per_gpu:
        engine_specific = {k for k, e in params if e is not None}
        per, gpu_clamped = _fit_per_gpu(m, x, targets, weights, wall, engines,
                                        _coefficient_arrays(theta, params, engines, base, pinned),
                                        engine_specific | set(ENGINE_PRIORS))
        clamped += gpu_clamped
        if clamped:
            provenance["clamped"] = ", ".join(clamped)
    cal = Calibration(coefficients=glob, per_gpu=per, per_engine=per_engine, provenance=provenance)
    return FitResult(cal, cost, n, int(fitted.sum()), clamped)


def _main_engine(counts: dict[str, int]) -> str:
    """The engine the global coefficients describe: the default engine (vLLM) whenever it has enough
    fitted rows, so the globals that engines without data fall back on do not flip with the data's mix;
    else the engine with the most fitted rows. The others get engine-specific coefficients."""
    if counts.get(DEFAULT_ENGINE, 0) >= MIN_ROWS_PER_ENGINE:
        return DEFAULT_ENGINE
    return max(counts, key=lambda e: (counts[e], e == DEFAULT_ENGINE))


PER_GPU_COEFFICIENTS = ("eta_weight_bw", "eta_kv_bw", "eta_compute", "memory_energy_scale",
                        "compute_energy_share")


def _fit_per_gpu(m: Measurements, x: dict[str, Any], targets: dict[str, np.ndarray], weights: np.ndarray,
                 wall: np.ndarray, engines: np.ndarray, fitted: dict[str, np.ndarray],
                 engine_specific: set[str]) -> tuple[dict[str, dict[str, float]], tuple[str, ...]]:
    """Bandwidth, compute and power coefficients refitted per GPU that has enough fitted rows,
    starting from (and keeping everything else at) the global fit. A coefficient fitted per engine
    is left alone: a per-GPU value would override it for every engine (per_gpu wins in for_config).
    Also returns the per-GPU coefficients the data pushes past a bound, as "name (gpu g)"."""
    n = len(m)
    gpus = m.frame["gpu"].to_numpy(dtype=str)
    per: dict[str, dict[str, float]] = {}
    clamped: list[str] = []
    for g in sorted(set(gpus)):
        sel = gpus == g
        if int((sel & (weights > 0)).sum()) < MIN_ROWS_PER_GPU:
            continue
        xs = {k: (v[sel] if isinstance(v, np.ndarray) and v.shape == (n,) else v) for k, v in x.items()}
        ts = {k: v[sel] for k, v in targets.items()}
        b = {k: v[sel] for k, v in fitted.items()}
        names = [k for k in PER_GPU_COEFFICIENTS if k not in engine_specific]
        gparams: list[Param] = [(k, None) for k in names]
        start = np.array([float(np.median(b[k])) for k in names])
        gtheta, _, pushed = _fit(xs, ts, weights[sel], wall[sel], gparams, engines[sel], b, start)
        per[g] = {k: float(v) for v, (k, _) in zip(gtheta, gparams, strict=True)}
        clamped += [f"{gparams[i][0]} (gpu {g})" for i in pushed]
    return per, tuple(clamped)


def _fixed_date() -> str:
    """SOURCE_DATE_EPOCH (reproducible builds convention) pins the provenance date."""
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return ""
    try:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC).date().isoformat()
    except (ValueError, OverflowError, OSError):
        raise CalibrationError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds",
                               fix="unset it, or set it to e.g. $(date -d 2026-11-21 +%s)") from None
