"""The sweep report (Markdown and HTML): percentile bands, how often each GPU type and configuration is
chosen, and the variants without a plan and why. Content is built here as format-neutral tables
(planner.report.tables); templates/sweep/ lays them out. Same records -> same bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePath
from typing import Any

import jinja2
import numpy as np

from planner.paths import templates_dir
from planner.report import markdown
from planner.report.tables import Cell, Table, key_value_table, table
from planner.sweep.spec import Distribution, SweepSpec
from planner.sweep.store import PLANNED, Record
from planner.sweep.table import cell
from planner.units import W_PER_KW

PERCENTILES = (10, 50, 90)
MAX_LISTED = 50
"""Variants without a plan listed one by one in the report (sweep.csv has them all)."""


@dataclass(frozen=True)
class Band:
    label: str
    key: str
    scale: float
    fmt: str


BANDS = (Band("GPUs", "gpus", 1.0, "{:,.0f}"),
         Band("IT power, expected peak (kW)", "it_power_max_w", W_PER_KW, "{:,.1f}"),
         Band("IT power, nameplate (kW)", "it_power_nameplate_w", W_PER_KW, "{:,.1f}"),
         Band("TCO per year (USD)", "tco_per_year_usd", 1.0, "{:,.0f}"),
         Band("Energy per output token (J)", "joules_per_output_token", 1.0, "{:.3f}"),
         Band("Cost per million tokens (USD)", "usd_per_million_tokens", 1.0, "{:.3f}"))


def _num(text: str) -> Cell:
    return Cell(text, number=True)


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f} %" if total else "n/a"


def bands(planned: list[Record]) -> Table:
    rows = []
    for b in BANDS:
        x = np.array([float(r["figures"][b.key]) for r in planned]) / b.scale
        qs = np.percentile(x, PERCENTILES) if len(x) else [None] * len(PERCENTILES)
        rows.append([Cell(b.label), *(_num("n/a" if q is None else b.fmt.format(float(q))) for q in qs),
                     _num("n/a" if not len(x) else b.fmt.format(float(x.min()))),
                     _num("n/a" if not len(x) else b.fmt.format(float(x.max())))])
    return table(["Figure", "P10", "P50", "P90", "min", "max"], rows, empty_text="No variant has a plan.")


GRID_BANDS = (BANDS[0], BANDS[1], BANDS[3], BANDS[4])
"""Figures banded per grid point: GPUs, expected peak kW, TCO per year, J per token."""


def _band_text(b: Band, planned: list[Record]) -> str:
    if not planned:
        return "n/a"
    x = np.array([float(r["figures"][b.key]) for r in planned]) / b.scale
    return " / ".join(b.fmt.format(float(q)) for q in np.percentile(x, PERCENTILES))


def by_grid_point(spec: SweepSpec, records: list[Record]) -> Table:
    """P10 / P50 / P90 over the draws of each grid combination (empty without both a grid and a sample)."""
    if not spec.grid or spec.sample is None:
        return table([], [], empty_text="")
    groups: dict[tuple[str, ...], list[Record]] = {}
    for r in records:
        groups.setdefault(tuple(cell(r["values"][k]) for k in spec.grid), []).append(r)
    rows = []
    for values, group in groups.items():
        planned = [r for r in group if r["status"] in PLANNED]
        rows.append([*(Cell(v) for v in values), _num(f"{len(planned)}/{len(group)}"),
                     *(_num(_band_text(b, planned)) for b in GRID_BANDS)])
    return table([*spec.grid, "with a plan", *(f"{b.label} P10 / P50 / P90" for b in GRID_BANDS)], rows)


def gpu_frequency(planned: list[Record]) -> Table:
    chosen: Counter[str] = Counter()
    gpus: dict[str, list[int]] = {}
    for r in planned:
        for g, n in r["figures"]["gpus_by_type"].items():
            if n > 0:
                chosen[g] += 1
                gpus.setdefault(g, []).append(n)
    rows = [[Cell(g), _num(str(c)), _num(_pct(c, len(planned))), _num(f"{float(np.median(gpus[g])):,.0f}")]
            for g, c in sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))]
    return table(["GPU type", "variants choosing it", "share", "median GPUs when chosen"], rows,
                 empty_text="No variant has a plan.")


def configuration_frequency(planned: list[Record]) -> Table:
    """Each deployment configuration (workload:gpu/precision/tp/pp/batch, replicas left out)."""
    counts: Counter[str] = Counter()
    for r in planned:
        seen = {c.rsplit("x", 1)[0] for c in r["figures"]["configurations"].split("; ") if c}
        counts.update(seen)
    rows = [[Cell(c), _num(str(n)), _num(_pct(n, len(planned)))]
            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return table(["configuration (workload:gpu/precision/tp pp/batch)", "variants", "share"], rows,
                 empty_text="No variant has a plan.")


def _main_reason(reason: str) -> str:
    lines = [line for line in reason.splitlines() if line.strip()]
    detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
    return detail if len(detail) <= 300 else detail[:300] + "..."


def without_plan(records: list[Record], key_paths: list[str]) -> tuple[Table, Table]:
    """(reasons with their counts, the first MAX_LISTED variants with their values and reason)."""
    missing = [r for r in records if r["status"] not in PLANNED]
    reasons = Counter((r["status"], _main_reason(r["reason"])) for r in missing)
    grouped = table(["status", "reason", "variants"],
                    [[Cell(s), Cell(text), _num(str(n))] for (s, text), n in sorted(reasons.items(),
                                                                                     key=lambda kv: (-kv[1], kv[0]))],
                    empty_text="Every variant has a plan.")
    listed = table(["variant", *key_paths, "status", "reason"],
                   [[_num(str(r["variant"])), *(Cell(cell(r["values"][k])) for k in key_paths), Cell(r["status"]),
                     Cell(_main_reason(r["reason"]))] for r in missing[:MAX_LISTED]],
                   empty_text="Every variant has a plan.")
    return grouped, listed


def _distribution(d: Distribution) -> str:
    """``lognormal median=38000, sigma=0.35``."""
    params = d.params.model_dump(exclude_none=True)
    return d.kind + " " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={cell(v)}"
                                    for k, v in params.items())


def _describe(spec: SweepSpec) -> list[tuple[str, Cell]]:
    rows = [(f"grid: {k}", Cell(", ".join(cell(v) for v in values))) for k, values in spec.grid.items()]
    if spec.sample:
        rows += [(f"sample: {k}", Cell(_distribution(d))) for k, d in spec.sample.vary.items()]
        rows.append(("sample: draws per grid combination, seed", Cell(f"{spec.sample.n}, seed {spec.sample.seed}")))
    return rows


def _relative(path: str) -> str:
    """The scenario as the sweep file names it, unless that is a path of this machine (then its name)."""
    return PurePath(path).name if PurePath(path).is_absolute() else path


def view(spec: SweepSpec, sweep_name: str, records: list[Record]) -> dict[str, Any]:
    planned = [r for r in records if r["status"] in PLANNED]
    statuses = Counter(r["status"] for r in records)
    overview = [("sweep file", Cell(sweep_name)), ("scenario", Cell(_relative(spec.scenario))),
                ("override", Cell(spec.override or "none")), ("variants", Cell(str(len(records)))),
                *((f"status {s}", Cell(f"{n} ({_pct(n, len(records))})")) for s, n in sorted(statuses.items()))]
    grouped, listed = without_plan(records, spec.key_paths)
    return {"title": f"Sweep: {sweep_name}", "description": spec.description,
            "overview": key_value_table(overview),
            "inputs": key_value_table(_describe(spec), header=("Input", "Values")),
            "bands": bands(planned), "by_grid": by_grid_point(spec, records),
            "draws": spec.sample.n if spec.sample else 1, "planned": len(planned), "gpus": gpu_frequency(planned),
            "configurations": configuration_frequency(planned), "reasons": grouped, "missing": listed,
            "missing_count": len(records) - len(planned), "max_listed": MAX_LISTED}


@lru_cache(maxsize=2)
def _env(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=html,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True, finalize=None if html else _finalize_markdown)
    env.filters["table"] = markdown.pipe_table
    return env


def _finalize_markdown(value: Any) -> Any:
    return value if isinstance(value, int | float) else markdown.escape(value)


def render(spec: SweepSpec, sweep_name: str, records: list[Record], fmt: str) -> str:
    name = "sweep/report.html.j2" if fmt == "html" else "sweep/report.md.j2"
    return _env(fmt == "html").get_template(name).render(**view(spec, sweep_name, records))
