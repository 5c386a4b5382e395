"""Charts for the HTML report: matplotlib figures as inline, byte-deterministic SVG.

matplotlib is imported here only, and only when a chart is drawn, so the CLI and the Markdown
report start fast. SVG output is made reproducible with a fixed ``svg.hashsalt`` per chart, text
kept as text (``svg.fonttype: none``) and no date/creator metadata; the XML prolog, DOCTYPE and
namespace URLs are dropped (HTML5 inline SVG needs none of them) and element ids are prefixed
per chart so several charts can share one page.
"""

from __future__ import annotations

import io
import re
from typing import Any

from planner.report.pareto import Point

_FIG_WIDTH_IN = 7.5
_FIG_HEIGHT_IN = 3.2
_COLORS = {"nameplate": "#9aa5b1", "peak": "#d9822b", "average": "#2b6cb0", "cap": "#c53030",
           "air": "#2f855a", "front": "#2b6cb0", "chosen": "#c53030"}
_RC: dict[str, Any] = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9.0, "text.parse_math": False,
       "axes.spines.top": False, "axes.spines.right": False}
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_MAX_FLAT_TICKS = 12
_LEGEND_RIGHT = {"left": 0.12, "right": 0.68, "bottom": 0.14, "top": 0.95}


def _clean_svg(svg: str, prefix: str, title: str) -> str:
    """Inline-ready SVG: no prolog/DOCTYPE/comments/xmlns URLs, ids prefixed, an accessible name."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', rf'\1="#{prefix}-\2"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escaped}" ', 1).strip() + "\n"


def _render(draw: Any, name: str, title: str, margins: dict[str, float]) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"planner-{name}"}):  # type: ignore[dict-item]  # matplotlib types rc keys as Literals
        # Fixed margins rather than constrained layout: several times faster, same bytes every run.
        fig = Figure(figsize=(_FIG_WIDTH_IN, _FIG_HEIGHT_IN))
        fig.subplots_adjust(**margins)
        draw(fig.subplots())
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata=_METADATA)
    return _clean_svg(buffer.getvalue(), name, title)


def rack_power_svg(rack_ids: list[str], nameplate_kw: list[float], peak_kw: list[float],
                   average_kw: list[float], cap_kw: list[float], air_limit_kw: float) -> str:
    """Grouped bars of each rack's three power figures against its usable cap and the air limit."""
    def draw(ax: Any) -> None:
        width = 0.27
        xs = list(range(len(rack_ids)))
        for offset, values, key, label in ((-width, nameplate_kw, "nameplate", "Nameplate max"),
                                           (0.0, peak_kw, "peak", "Expected peak"),
                                           (width, average_kw, "average", "Expected average")):
            ax.bar([x + offset for x in xs], values, width, color=_COLORS[key], label=label)
        ax.hlines(cap_kw, [x - 0.45 for x in xs], [x + 0.45 for x in xs], colors=_COLORS["cap"],
                  linewidth=2, label="Usable cap (breaker x derating)")
        ax.axhline(air_limit_kw, color=_COLORS["air"], linestyle="--", linewidth=1,
                   label="Air-cooling limit")
        ax.set_xticks(xs, rack_ids, rotation=90 if len(rack_ids) > _MAX_FLAT_TICKS else 0)
        ax.set_ylabel("kW")
        ax.set_ylim(0, max([*nameplate_kw, *cap_kw, air_limit_kw]) * 1.15)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _render(draw, "rack-power", "IT power per rack against its usable cap", _LEGEND_RIGHT)


def cost_svg(labels: list[str], usd_per_year: list[float]) -> str:
    """Horizontal bars of the yearly cost by kind (capex straight-line over the horizon)."""
    def draw(ax: Any) -> None:
        ys = list(range(len(labels)))
        ax.barh(ys, usd_per_year, color=_COLORS["average"])
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.set_xlabel("USD per year")
        ax.ticklabel_format(axis="x", style="plain")
        ax.xaxis.set_major_formatter(_thousands_formatter())
        for y, value in zip(ys, usd_per_year, strict=True):
            ax.annotate(f"{value:,.0f}", (value, y), xytext=(3, 0), textcoords="offset points",
                        va="center")
    return _render(draw, "cost", "Yearly cost by kind",
                   {"left": 0.24, "right": 0.9, "bottom": 0.17, "top": 0.95})


def pareto_svg(points: list[Point], on_front: list[bool], chosen_objective: str) -> str:
    """Yearly cost against expected peak IT power for each alternative objective, front joined."""
    def draw(ax: Any) -> None:
        xs = [p.power_w / 1e3 for p in points]
        ys = [p.cost_usd_per_year for p in points]
        front = sorted((x, y) for x, y, f in zip(xs, ys, on_front, strict=True) if f)
        ax.plot([x for x, _ in front], [y for _, y in front], color=_COLORS["front"], linewidth=1,
                label="Pareto front")
        ax.scatter(xs, ys, color=_COLORS["nameplate"], zorder=3, label="Alternative objective")
        for p, x, y in zip(points, xs, ys, strict=True):
            chosen = p.objective == chosen_objective
            if chosen:
                ax.scatter([x], [y], color=_COLORS["chosen"], zorder=4, s=60, label="This plan")
            ax.annotate(p.objective, (x, y), xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("IT power, expected peak (kW)")
        ax.set_ylabel("TCO (USD per year)")
        ax.yaxis.set_major_formatter(_thousands_formatter())
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _render(draw, "pareto", "Cost versus power of alternative objectives", _LEGEND_RIGHT)


def _thousands_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value:,.0f}")
