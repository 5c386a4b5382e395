"""The pull-request comment form of a report: the plan in under 60,000 characters, for any fleet.

GitHub holds at most 65,536 characters in a comment, and report.md of a 20-workload plan is over
that. The comment keeps what a reviewer decides on (status, what to buy, totals, binding limits,
what is worth a second look, the largest deployments) and points to report.md / report.html beside
plan.json for the rest. Long tables keep their first rows (largest first) and say how many rows
they leave out; if the text is still too long the row caps are halved until it fits. Deterministic:
the same plan (and pointer) gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.report import format as f
from planner.report.constraints import constraint_row
from planner.report.markdown import escape, pipe_table
from planner.report.sections.summary import key_figures_table, sizing_margin_text
from planner.report.sections.workloads import power_limited
from planner.report.site import site_facts
from planner.report.tables import Cell, Table, table
from planner.schemas.plan import Deployment, Plan

MAX_COMMENT_CHARS = 60_000
"""Under GitHub's 65,536-character comment limit, with room for a bot's own header."""
DEFAULT_ROWS = 25
"""Rows a long table shows before it summarizes the rest."""
MAX_DESCRIPTION_CHARS = 500
UTILIZATION_WATCH = 0.9
"""A deployment routed above this share of its capacity has little margin for a traffic surprise."""
SLO_WATCH = 0.9
"""A TTFT or ITL p95 above this share of its SLO is close to missing it."""
RACK_WATCH = 0.95
"""A rack whose nameplate is above this share of its usable cap is full."""

_STATUS = {"optimal": "optimal (proven)", "feasible": "feasible, NOT proven optimal", "infeasible": "INFEASIBLE"}


def _cut(rows: list[list[Cell]], cap: int, what: str) -> tuple[list[list[Cell]], str]:
    """The first ``cap`` rows, and a sentence on those left out ('' when none are)."""
    if len(rows) <= cap:
        return rows, ""
    return rows[:cap], f"_{len(rows) - cap} more {what} not shown (see the full report)._"


def _block(title: str, t: Table, note: str = "") -> str:
    return "\n\n".join(part for part in (f"#### {title}", pipe_table(t), note) if part)


def _headline(plan: Plan) -> str:
    t = plan.totals
    workloads = len({d.workload for d in plan.deployments})
    return (f"**{_STATUS[plan.status]}** · objective {escape(plan.objective.name)} = "
            f"{f.number_text(plan.objective.value, f.unit_named(plan.objective.unit))} · "
            f"{_count(workloads, 'workload')} · {_count(t.gpus, 'GPU')} in {_count(t.servers, 'server')}, "
            f"{_count(t.racks, 'rack')} · "
            f"capex {f.number_text(t.capex_usd, f.USD)} · TCO {f.number_text(t.tco_per_year_usd, f.USD_PER_YEAR)} · "
            f"IT peak {f.number_text(t.it_power_max_w, f.KW_FROM_W)}")


def _buy(plan: Plan, cap: int) -> str:
    order = sorted(range(len(plan.servers)), key=lambda i: (-plan.servers[i].gpus, plan.servers[i].gpu))
    rows = [[Cell(plan.servers[i].gpu), f.fig(plan.servers[i].gpus, f.COUNT, f"servers[{i}].gpus"),
             Cell(plan.servers[i].server_model), f.fig(plan.servers[i].servers, f.COUNT, f"servers[{i}].servers")]
            for i in order]
    rows, note = _cut(rows, cap, "server types")
    return _block("What to buy", table(["GPU", "GPUs", "Server model", "Servers"], rows), note)


def _binding(plan: Plan, cap: int) -> str:
    rows = [constraint_row(i, c) for i, c in enumerate(plan.constraints) if c.binding]
    rows, note = _cut(rows, cap, "binding constraints")
    t = table(["Constraint", "Kind", "Planned", "Limit", "Share of limit", "Slack", "Binding"], rows,
              empty_text="No constraint is binding.")
    return _block("Binding limits", t, note)


def serving_note(plan: Plan, d: Deployment) -> str:
    """A deployment's serving decisions in a few words ("decode pool · eagle k=3 · 560 W cap"); "" when it
    runs aggregated, without speculation, at TDP."""
    role = getattr(d, "role", None)
    parts = [f"{role} pool"] if role in ("prefill", "decode") else []
    if d.speculative is not None:
        parts.append(f"{d.speculative.method} k={d.speculative.tokens_or_default}")
    if power_limited(plan, d) and d.power_limit_w is not None:
        parts.append(f"{d.power_limit_w:,.0f} W cap")
    return " · ".join(parts)


def _deployments(plan: Plan, cap: int) -> str:
    order = sorted(range(len(plan.deployments)),
                   key=lambda i: (-plan.deployments[i].gpus, plan.deployments[i].workload, plan.deployments[i].gpu))
    notes = [serving_note(plan, d) for d in plan.deployments]
    serving = any(notes)  # the column only when a deployment decides more than its configuration
    rows = [[Cell(d.workload), Cell(d.gpu), Cell(d.precision), f.fig(d.tp, f.COUNT, f"deployments[{i}].tp"),
             f.fig(d.replicas, f.COUNT, f"deployments[{i}].replicas"), f.fig(d.gpus, f.COUNT, f"deployments[{i}].gpus"),
             f.fig(d.utilization, f.PERCENT, f"deployments[{i}].utilization"),
             f.fig(d.power_max_w, f.KW_FROM_W, f"deployments[{i}].power_max_w"),
             *([Cell(notes[i])] if serving else [])]
            for i, d in ((i, plan.deployments[i]) for i in order)]
    rows, note = _cut(rows, cap, "deployments (smaller ones)")
    t = table(["Workload", "GPU", "Precision", "TP", "Replicas", "GPUs", "Utilization", "Peak IT power",
               *(["Serving"] if serving else [])], rows, empty_text="No deployments: nothing is served.")
    return _block("Deployments, largest first", t, note)


def watch_items(plan: Plan) -> list[str]:
    """What a reviewer should look at twice, most serious first (plain text, escaped on output)."""
    items: list[str] = []
    if plan.status != "optimal":
        items.append(f"the solver did not prove this plan optimal (status {plan.status}, "
                     f"MIP gap {f.number_text(plan.solver.mip_gap or 0.0, f.PERCENT)})")
    if plan.analysis.skipped:
        items.append(f"what-if values and alternative objectives were not computed: "
                     f"{plan.analysis.skipped_reason or 'skipped'}")
    liquid = [r.id for r in plan.racks if r.liquid_cooling_required]
    if liquid:
        items.append(f"{_count(len(liquid), 'rack')} need liquid cooling (above the air-cooling limit): "
                     + _names(liquid))
    full = [r.id for r in plan.racks if r.usable_cap_w and r.power_nameplate_w > RACK_WATCH * r.usable_cap_w]
    if full:
        items.append(f"{_count(len(full), 'rack')} at over {RACK_WATCH:.0%} of their usable power: " + _names(full))
    items += _deployment_items(plan)
    spare = plan.totals.gpus - sum(d.gpus for d in plan.deployments)
    if spare > 0:
        items.append(f"{_count(spare, 'GPU')} bought but serving nothing (whole servers; they draw idle power)")
    items += _what_if_items(plan)
    items += [a.value for a in plan.assumptions if a.name == "note"]
    return items


def _names(ids: list[str], cap: int = 8) -> str:
    shown = ", ".join(ids[:cap])
    return shown + (f" and {len(ids) - cap} more" if len(ids) > cap else "")


def _deployment_items(plan: Plan) -> list[str]:
    busy = [f"{d.workload}/{d.gpu}" for d in plan.deployments if d.utilization > UTILIZATION_WATCH]
    tight = [f"{d.workload}/{d.gpu}" for d in plan.deployments
             if (d.slo_ttft_p95_s and d.ttft_p95_s > SLO_WATCH * d.slo_ttft_p95_s)
             or (d.slo_itl_p95_s and d.itl_p95_s > SLO_WATCH * d.slo_itl_p95_s)]
    out = []
    if busy:
        out.append(f"{_count(len(busy), 'deployment')} above {UTILIZATION_WATCH:.0%} of their capacity at peak: "
                   + _names(busy))
    if tight:
        out.append(f"{_count(len(tight), 'deployment')} within {1 - SLO_WATCH:.0%} of a latency SLO: " + _names(tight))
    return out


def _what_if_items(plan: Plan) -> list[str]:
    """The relaxations worth most (the three largest improvements of the objective)."""
    gains = sorted((w for w in plan.what_if if w.objective_delta is not None and w.objective_delta < 0),
                   key=lambda w: (w.objective_delta or 0.0, w.constraint))[:3]
    return [f"what-if: {w.change} ({w.constraint}) would lower the objective by "
            f"{f.number_text(-(w.objective_delta or 0.0), _delta_unit(w.objective_unit))}" for w in gains]


def _delta_unit(unit: str) -> f.Unit:
    return f.unit_for_key(f"_{unit}") or f.Unit(1.0, 2, unit)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _watch(plan: Plan, cap: int) -> str:
    items = watch_items(plan)
    if not items:
        return "#### Worth a reviewer's eye\n\nNothing stands out: no skipped analysis, full rack or tight SLO."
    shown = [f"- {escape(item)}" for item in items[:cap]]
    more = [f"- _{len(items) - cap} more items in the full report._"] if len(items) > cap else []
    return "\n".join(["#### Worth a reviewer's eye", "", *shown, *more])


def _pointer(plan_file: str | None) -> str:
    if plan_file is None:
        return ("Full report: `report.md` and `report.html` next to `plan.json` "
                "(or `planner report plan.json --format html`).")
    folder = plan_file.rsplit("/", 1)[0] + "/" if "/" in plan_file else ""
    return (f"Full report: `{escape(folder)}report.md` and `{escape(folder)}report.html`, next to "
            f"`{escape(plan_file)}` (or `planner report {escape(plan_file)} --format html`).")


def _changes(changes: str | None) -> list[Callable[[], str]]:
    """The diff against the base plan (planner diff's Markdown, already capped), under its own heading."""
    if changes is None:
        return []
    text = changes.strip("\n")
    if text.startswith("### "):
        text = "#### Changes against the base: " + text[4:]
    return [lambda: text]


def _margin(plan: Plan) -> list[Callable[[], str]]:
    """One line on what sizing_confidence adds, under the headline, when a workload sets it."""
    text = sizing_margin_text(plan)
    return [lambda: escape(text[:1].upper() + text[1:])] if text else []


def _render(plan: Plan, plan_file: str | None, cap: int, changes: str | None = None) -> str:
    title = f"### Capacity plan: {escape(plan.scenario.name)}"
    description = escape(plan.scenario.description)
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[:MAX_DESCRIPTION_CHARS].rstrip("\\") + " …"
    sections: list[Callable[[], str]] = [
        lambda: _headline(plan), *_margin(plan), *_changes(changes), lambda: _buy(plan, cap),
        lambda: _block("Totals", key_figures_table(plan, site_facts(plan))),
        lambda: _binding(plan, cap), lambda: _watch(plan, cap), lambda: _deployments(plan, cap),
        lambda: _pointer(plan_file)]
    parts = [title, description] if description else [title]
    return "\n\n".join(parts + [s() for s in sections]) + "\n"


def render_comment(plan: Plan, plan_file: str | None = None, changes: str | None = None) -> str:
    """The PR-comment Markdown of ``plan``: under MAX_COMMENT_CHARS for any fleet (row caps halve
    until it fits; as a last resort the text is cut with a pointer to the full report). ``changes``:
    Markdown of the plan's diff against a base plan (``planner diff --format md``), shown after the headline."""
    cap = DEFAULT_ROWS
    while True:
        text = _render(plan, plan_file, cap, changes)
        if len(text) <= MAX_COMMENT_CHARS or cap == 1:
            break
        cap = max(1, cap // 2)
    if len(text) > MAX_COMMENT_CHARS:
        tail = "\n\n_The comment is cut here to fit; read the full report._\n\n" + _pointer(plan_file) + "\n"
        text = text[:MAX_COMMENT_CHARS - len(tail)] + tail
    return text
