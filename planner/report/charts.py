"""Charts for the HTML report, drawn directly as inline SVG (no plotting library on the hot path).

Each chart is a function of its numbers only and gives the same bytes every run: coordinates are
written with one decimal, every piece of text is escaped, and there are no ids, scripts or
external references. The layout is computed from the labels themselves (a generous estimate of
the text width), so no tick label, rack name or legend entry is cut at the edge of the drawing:
margins grow with the longest label and the legend wraps above the plot instead of beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from planner.report.pareto import Point

WIDTH_PX = 720.0
HEIGHT_PX = 300.0
FONT_PX = 11.0
CHAR_W_PX = 7.0
"""Upper estimate of the advance of one character at FONT_PX in the sans-serif fonts browsers
pick (DejaVu Sans averages about 6.4 px at 11 px); over-estimating only adds white space."""
_COLORS = {"nameplate": "#9aa5b1", "peak": "#d9822b", "average": "#2b6cb0", "cap": "#c53030",
           "air": "#2f855a", "front": "#2b6cb0", "chosen": "#c53030", "axis": "#4a5568", "grid": "#e2e8f0"}
_MAX_FLAT_TICKS = 12
_MIN_GROUP_PX = 26.0


def _f(x: float) -> str:
    """A coordinate: one decimal, no negative zero."""
    return f"{round(x, 1) + 0.0:.1f}"


def text_width_px(text: str) -> float:
    return len(text) * CHAR_W_PX


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{extra}>{escape(text)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float, color: str, width: float = 1.0, dash: bool = False) -> str:
    style = ' stroke-dasharray="5 3"' if dash else ""
    return (f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{color}" '
            f'stroke-width="{width:g}"{style}/>')


def _rect(x: float, y: float, w: float, h: float, color: str) -> str:
    return f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(max(h, 0.0))}" fill="{color}"/>'


def _circle(x: float, y: float, r: float, color: str) -> str:
    return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{r:g}" fill="{color}"/>'


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    label = escape(title)
    return (f'<svg role="img" aria-label="{label}" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" '
            f'height="{_f(height)}" style="max-width:100%;height:auto" font-family="DejaVu Sans, Arial, sans-serif" '
            f'font-size="{FONT_PX:g}"><title>{label}</title>\n' + "\n".join(body) + "\n</svg>\n")


# -- axes ------------------------------------------------------------------------------------------

def _step(span: float, count: int) -> float:
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-12))


def nice_ticks(top: float, count: int = 5, bottom: float = 0.0) -> list[float]:
    """Ticks on a 1-2-2.5-5 step from the last multiple at or below ``bottom`` to the first at or
    above ``top``."""
    if not (math.isfinite(top) and math.isfinite(bottom)) or top <= bottom:
        return [bottom, bottom + 1.0]
    step = _step(top - bottom, count)
    first = math.floor(bottom / step + 1e-9)
    last = max(first + 1, math.ceil(top / step - 1e-9))
    return [i * step + 0.0 for i in range(first, last + 1)]


def tick_label(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


@dataclass(frozen=True)
class _Frame:
    """Plot area in pixels and the value range it maps."""

    left: float
    top: float
    right: float
    bottom: float
    y_max: float

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value / self.y_max if self.y_max else 0.0)


# -- legend ----------------------------------------------------------------------------------------

_SWATCH_PX = 14.0
_LEGEND_ROW_PX = 16.0


def _legend(items: Sequence[tuple[str, str, str]], left: float, top: float, width: float) -> tuple[list[str], float]:
    """Legend entries (label, color, mark: bar | line | dash | dot) laid out in rows that wrap
    within ``width``; returns the SVG parts and the height used."""
    parts: list[str] = []
    x, y = left, top + _LEGEND_ROW_PX / 2
    for label, color, mark in items:
        need = _SWATCH_PX + 6 + text_width_px(label) + 16
        if x > left and x + need > left + width:
            x, y = left, y + _LEGEND_ROW_PX
        if mark == "bar":
            parts.append(_rect(x, y - 5, _SWATCH_PX, 10, color))
        elif mark == "dot":
            parts.append(_circle(x + _SWATCH_PX / 2, y, 4, color))
        else:
            parts.append(_line(x, y, x + _SWATCH_PX, y, color, 2 if mark == "line" else 1, dash=mark == "dash"))
        parts.append(_text(x + _SWATCH_PX + 6, y + 4, label))
        x += need
    return parts, y + _LEGEND_ROW_PX / 2 - top


def _y_axis(frame: _Frame, ticks: list[float], unit: str) -> list[str]:
    parts = []
    for t in ticks:
        y = frame.y(t)
        parts.append(_line(frame.left, y, frame.right, y, _COLORS["grid"]))
        parts.append(_text(frame.left - 6, y + 4, tick_label(t), "end"))
    parts.append(_line(frame.left, frame.top, frame.left, frame.bottom, _COLORS["axis"]))
    parts.append(_line(frame.left, frame.bottom, frame.right, frame.bottom, _COLORS["axis"]))
    mid = (frame.top + frame.bottom) / 2
    parts.append(_text(12, mid, unit, "middle", f' transform="rotate(-90 12 {_f(mid)})"'))
    return parts


def _y_margin(ticks: list[float]) -> float:
    return 28 + max(text_width_px(tick_label(t)) for t in ticks)


# -- the charts ------------------------------------------------------------------------------------

def rack_power_svg(rack_ids: list[str], nameplate_kw: list[float], peak_kw: list[float],
                   average_kw: list[float], cap_kw: list[float], air_limit_kw: float) -> str:
    """Grouped bars of each rack's three power figures against its usable cap and the air limit."""
    ticks = nice_ticks(max([*nameplate_kw, *cap_kw, air_limit_kw, 0.0]) * 1.05)
    left = _y_margin(ticks)
    width = max(WIDTH_PX, left + 16 + _MIN_GROUP_PX * len(rack_ids))
    legend, legend_h = _legend([("Nameplate max", _COLORS["nameplate"], "bar"),
                                ("Expected peak", _COLORS["peak"], "bar"),
                                ("Expected average", _COLORS["average"], "bar"),
                                ("Usable cap (breaker x derating)", _COLORS["cap"], "line"),
                                ("Air-cooling limit", _COLORS["air"], "dash")], left, 8, width - left - 8)
    rotate = len(rack_ids) > _MAX_FLAT_TICKS
    label_h = (max(map(text_width_px, rack_ids), default=0.0) + 10) if rotate else 20.0
    height = HEIGHT_PX + legend_h
    frame = _Frame(left, 8 + legend_h + 12, width - 16, height - label_h, ticks[-1])
    parts = legend + _y_axis(frame, ticks, "kW")
    group = (frame.right - frame.left) / max(len(rack_ids), 1)
    bar = group * 0.27
    for i, rack in enumerate(rack_ids):
        center = frame.left + group * (i + 0.5)
        for offset, values, key in ((-bar, nameplate_kw, "nameplate"), (0.0, peak_kw, "peak"),
                                    (bar, average_kw, "average")):
            y = frame.y(values[i])
            parts.append(_rect(center + offset - bar / 2, y, bar, frame.bottom - y, _COLORS[key]))
        cap_y = frame.y(cap_kw[i])
        parts.append(_line(center - group * 0.45, cap_y, center + group * 0.45, cap_y, _COLORS["cap"], 2))
        if rotate:
            parts.append(_text(center + 4, frame.bottom + 6, rack, "end",
                               f' transform="rotate(-90 {_f(center + 4)} {_f(frame.bottom + 6)})"'))
        else:
            parts.append(_text(center, frame.bottom + 15, rack, "middle"))
    air_y = frame.y(air_limit_kw)
    parts.append(_line(frame.left, air_y, frame.right, air_y, _COLORS["air"], 1, dash=True))
    return _svg(width, height, "IT power per rack against its usable cap", parts)


def cost_svg(labels: list[str], usd_per_year: list[float]) -> str:
    """Horizontal bars of the yearly cost by kind (capex straight-line over the horizon)."""
    row = 26.0
    left = 16 + max(map(text_width_px, labels), default=0.0)
    values = [f"{v:,.0f}" for v in usd_per_year]
    right = WIDTH_PX - 16 - max(map(text_width_px, values), default=0.0) - 8
    ticks = nice_ticks(max([*usd_per_year, 0.0]))
    top, height = 10.0, 10 + row * len(labels) + 44
    bottom = top + row * len(labels)
    scale = (right - left) / ticks[-1]
    parts = []
    for t in ticks:
        x = left + t * scale
        parts.append(_line(x, top, x, bottom, _COLORS["grid"]))
        parts.append(_text(x, bottom + 15, tick_label(t), "middle"))
    for i, (label, value) in enumerate(zip(labels, usd_per_year, strict=True)):
        y = top + row * i
        parts.append(_text(left - 8, y + row / 2 + 4, label, "end"))
        parts.append(_rect(left, y + 5, value * scale, row - 10, _COLORS["average"]))
        parts.append(_text(left + value * scale + 4, y + row / 2 + 4, values[i]))
    parts.append(_line(left, top, left, bottom, _COLORS["axis"]))
    parts.append(_text((left + right) / 2, bottom + 34, "USD per year", "middle"))
    return _svg(WIDTH_PX, height, "Yearly cost by kind", parts)


def _padded_range(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 if hi > lo else max(abs(hi) * 0.05, 1.0)
    return nice_ticks(hi + pad, 4, lo - pad)


def _place_labels(labels: list[tuple[float, float, str, str]]) -> list[str]:
    """Text at (x, y) with its anchor, each moved down a line until it overlaps no label placed before."""
    placed: list[tuple[float, float, float, float]] = []
    parts = []
    for x, y, text, anchor in sorted(labels, key=lambda label: (label[1], label[0])):
        w = text_width_px(text)
        x0 = x if anchor == "start" else x - w
        while any(x0 < bx1 and bx0 < x0 + w and y - FONT_PX < by1 and by0 < y for bx0, by0, bx1, by1 in placed):
            y += FONT_PX + 2
        placed.append((x0, y - FONT_PX, x0 + w, y))
        parts.append(_text(x, y, text, anchor))
    return parts


def pareto_svg(points: list[Point], on_front: list[bool], chosen_objective: str) -> str:
    """Yearly cost against expected peak IT power for each alternative objective, front joined.

    Objectives whose plans land on the same point share one dot and one label; labels that would
    overlap are moved apart.
    """
    xs = [p.power_w / 1e3 for p in points]
    ys = [p.cost_usd_per_year for p in points]
    x_ticks, y_ticks = _padded_range(xs), _padded_range(ys)
    x_lo, x_hi, y_lo, y_hi = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    left = _y_margin(y_ticks)
    legend, legend_h = _legend([("Pareto front", _COLORS["front"], "line"),
                                ("Alternative objective", _COLORS["nameplate"], "dot"),
                                ("This plan", _COLORS["chosen"], "dot")], left, 8, WIDTH_PX - left - 8)
    top, right = 8 + legend_h + 12, WIDTH_PX - 16
    height = HEIGHT_PX + legend_h
    bottom = height - 40

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (right - left) * (x - x_lo) / (x_hi - x_lo),
                bottom - (bottom - top) * (y - y_lo) / (y_hi - y_lo))

    parts = []
    for value in y_ticks:
        _, y = px(x_lo, value)
        parts += [_line(left, y, right, y, _COLORS["grid"]), _text(left - 6, y + 4, tick_label(value), "end")]
    for value in x_ticks:
        x, _ = px(value, y_lo)
        parts.append(_text(x, bottom + 15, tick_label(value), "middle"))
    parts += [_line(left, top, left, bottom, _COLORS["axis"]), _line(left, bottom, right, bottom, _COLORS["axis"]),
              _text((left + right) / 2, bottom + 32, "IT power, expected peak (kW)", "middle")]
    mid = (top + bottom) / 2
    parts.append(_text(12, mid, "TCO (USD per year)", "middle", f' transform="rotate(-90 12 {_f(mid)})"'))
    front = sorted(px(x, y) for x, y, f in zip(xs, ys, on_front, strict=True) if f)
    if len(front) > 1:
        path = " ".join(f"{_f(x)},{_f(y)}" for x, y in front)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{_COLORS["front"]}" stroke-width="1.5"/>')
    groups: dict[tuple[float, float], list[str]] = {}
    for p, x, y in zip(points, xs, ys, strict=True):
        cx, cy = px(x, y)
        groups.setdefault((round(cx, 1), round(cy, 1)), []).append(p.objective)
    labels = []
    for (x, y), objectives in sorted(groups.items()):
        chosen = chosen_objective in objectives
        parts.append(_circle(x, y, 5.5 if chosen else 4, _COLORS["chosen" if chosen else "nameplate"]))
        label = ", ".join(objectives)
        fits_right = x + 8 + text_width_px(label) <= WIDTH_PX - 4
        labels.append((x + 8 if fits_right else x - 8, y - 6, label, "start" if fits_right else "end"))
    return _svg(WIDTH_PX, height, "Cost versus power of alternative objectives", legend + parts + _place_labels(labels))
