"""Predicted-versus-measured figure of an AccuracyReport (matplotlib, Agg; byte-reproducible SVG).

One log-log panel per metric that has measured points; colour = GPU; filled markers are calibration
points, hollow ones are scored but not fitted; the solid line is y = x, dashed lines are +-20 %.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner.calibration.accuracy import METRIC_LABELS, METRIC_UNITS, METRICS, AccuracyReport
from planner.errors import InputError
from planner.io.files import write_atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PLOT_FORMATS = (".svg", ".png")
BAND = 0.20
SVG_HASH_SALT = "planner-accuracy"  # fixed salt and no date: the same report gives the same SVG bytes


def _panels(report: AccuracyReport) -> list[str]:
    measured = report.points["measured"]
    predicted = report.points["predicted"]
    return [k for k in METRICS if np.any(np.isfinite(measured[k]) & np.isfinite(predicted[k]))]


def render_plot(report: AccuracyReport, path: str | Path) -> None:
    """Write the figure to ``path`` (.svg or .png), atomically."""
    import io

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in PLOT_FORMATS:
        raise InputError(f"cannot write a {suffix or 'suffix-less'} plot", file=str(p),
                         fix="name the file .svg or .png")
    panels = _panels(report)
    if not panels:
        raise InputError("no metric has both a measured and a predicted value: nothing to plot")
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path", "font.size": 8.0,
                                "axes.titlesize": 9.0, "legend.fontsize": 7.0}):
        fig = Figure(figsize=(2.6 * len(panels), 2.9), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        gpus = sorted(set(report.points["gpu"]))
        colors = {g: f"C{i % 10}" for i, g in enumerate(gpus)}
        for ax, metric in zip(axes, panels, strict=True):
            _panel(ax, report, metric, colors)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)
        buf = io.BytesIO()
        metadata = {"Date": None} if suffix == ".svg" else {"Software": None}
        fig.savefig(buf, format=suffix[1:], metadata=metadata, dpi=150)
    write_atomic(p, buf.getvalue())


def _panel(ax: Axes, report: AccuracyReport, metric: str, colors: dict[str, str]) -> None:
    pts = report.points
    meas, pred = pts["measured"][metric], pts["predicted"][metric]
    ok = np.isfinite(meas) & np.isfinite(pred) & (meas > 0) & (pred > 0)
    lo = float(min(meas[ok].min(), pred[ok].min())) / 1.5
    hi = float(max(meas[ok].max(), pred[ok].max())) * 1.5
    line = np.array([lo, hi])
    ax.plot(line, line, color="0.3", linewidth=0.8)
    for f in (1 - BAND, 1 + BAND):
        ax.plot(line, line * f, color="0.6", linewidth=0.6, linestyle="--")
    for gpu, color in colors.items():
        for fitted in (True, False):
            sel = ok & (pts["gpu"] == gpu) & (pts["fitted"] == fitted)
            if not sel.any():
                continue
            label = f"{gpu}" + ("" if fitted else " (scored, not fitted)")
            ax.scatter(meas[sel], pred[sel], s=14, label=label,
                       facecolors=color if fitted else "none", edgecolors=color, linewidths=0.8)
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())  # minor labels overlap on short log ranges
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_title(f"{METRIC_LABELS[metric]} ({METRIC_UNITS[metric]})")
    ax.set_xlabel("measured")
    ax.set_ylabel("predicted")
