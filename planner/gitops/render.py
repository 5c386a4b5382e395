"""Render a PlanDiff as text (terminal), Markdown, a GitHub pull-request comment, or JSON.

Markdown and the comment lead with the totals and cap the deployment lines so the comment stays
well under GitHub's 65,536-character limit. The comment starts with a hidden marker so a bot can
find and update its own comment.
"""

from __future__ import annotations

import re
from typing import Any

from planner.gitops.diff import DeploymentChange, FieldChange, PlanDiff, TotalDelta, parallelism
from planner.gitops.fmt import pct, quantity, signed
from planner.gitops.serving import PARALLEL_FIELDS, SERVING_FIELDS, json_value, parallel_change, serving_change
from planner.plan.io import dump_json

FORMATS = ("text", "md", "json", "github-comment")
COMMENT_MARKER = "<!-- planner-diff -->"
MAX_COMMENT_LINES = 40
JSON_FORMAT_VERSION = "1.0"

# ``*_max_w`` figures are the expected draw at peak traffic (the report's "expected peak"), not a
# ceiling; the ceiling is the servers' nameplate power (what circuits and the site cap are sized for).
DISPLAY_TOTALS: tuple[tuple[str, str], ...] = (
    ("gpus", "GPUs"),
    ("servers", "Servers"),
    ("racks", "Racks"),
    ("it_power_avg_w", "IT power, average"),
    ("it_power_max_w", "IT power, expected peak"),
    ("it_power_nameplate_w", "IT power, nameplate"),
    ("facility_power_avg_w", "Facility power, average"),
    ("facility_power_max_w", "Facility power, expected peak"),
    ("heat_btu_per_hr", "Heat at expected peak"),
    ("capex_usd", "Capex"),
    ("annual_energy_cost_usd", "Energy cost / year"),
    ("tco_usd", "TCO"),
    ("co2e_t_per_year", "Carbon"),
)
_SHOWN_FIELDS = {"model": "model", "replicas": "replicas", "batch_size": "batch",
                 "demand_requests_per_s": "demand", "power_max_w": "max power",
                 "ttft_p95_s": "TTFT p95", "itl_p95_s": "ITL p95", "power_limit_w": "power limit",
                 "role": "role", "speculative": "speculative", "launch": "launch", "ep": "ep", "dp": "dp"}
_ACTION_MARK = {"add": "+", "remove": "-", "change": "~"}
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029`]")
"""Control characters (a newline could close the comment's ```diff fence or fake a heading, an
escape sequence could restyle a terminal), line separators and backticks (they end a code span)."""


def safe(text: object) -> str:
    """A name from a plan as one line of inert text: what a hand-edited plan.json holds cannot
    change the layout of the text, Markdown or pull-request comment around it."""
    return _UNSAFE.sub(lambda m: "'" if m.group() == "`" else " ", str(text))


def render(diff: PlanDiff, fmt: str) -> str:
    """The diff in one of FORMATS, ending with a newline."""
    renderers = {"text": render_text, "md": render_markdown, "json": render_json,
                 "github-comment": render_comment}
    return renderers[fmt](diff)


# -- one deployment line ------------------------------------------------------------------------

def _field_text(change: FieldChange, gpus_delta: int) -> str:
    if change.field in SERVING_FIELDS:
        return safe(serving_change(change.field, change.before, change.after))
    if not all(isinstance(v, int | float | str | None) for v in (change.before, change.after)):
        return f"{change.field} changed"  # a nested figure (the energy breakdown): see the JSON form
    label = _SHOWN_FIELDS.get(change.field, change.field)
    text = f"{label} {quantity(change.field, change.before)} -> {quantity(change.field, change.after)}"
    if change.field == "replicas":
        text += f" ({gpus_delta:+d} GPUs)"
    return text


def _describe(change: DeploymentChange) -> str:
    d = change.after or change.before
    assert d is not None
    role = f"{d.role} pool, " if d.role in ("prefill", "decode") else ""  # of disaggregated serving
    spec = d.speculative
    speculative = f", speculative {spec.method} k={spec.tokens_or_default}" if spec is not None else ""
    ep, dp = parallelism(d)
    layout = f", dp {dp}, ep {ep}" if (ep, dp) != (1, 1) else ""  # a MoE replica of dp ranks, experts over ep GPUs
    return (f"{safe(d.model)}, {role}{d.replicas} replicas ({d.gpus} GPUs){layout}, batch {d.batch_size}, "
            f"max power {quantity('power_max_w', d.power_max_w)}{speculative}")


def deployment_line(change: DeploymentChange) -> str:
    """``~ chat/h100-sxm/fp8/tp4: replicas 6 -> 8 (+8 GPUs), ...`` (terraform-style marks)."""
    if change.action != "change":
        return f"{_ACTION_MARK[change.action]} {safe(change.key)}: {_describe(change)}"
    shown = [f for f in change.fields if f.field in _SHOWN_FIELDS] or list(change.fields[:3])
    layout = {f.field: (f.before, f.after) for f in shown if f.field in PARALLEL_FIELDS}
    texts = []
    for f in shown:  # dp and ep as one item, where the first of them is
        if f.field not in PARALLEL_FIELDS:
            texts.append(_field_text(f, change.gpus_delta))
        elif layout:  # a new dp changes the replica's GPUs (said here when the replica count does not say it)
            moved = change.gpus_delta and "dp" in layout and not any(f.field == "replicas" for f in shown)
            texts.append(parallel_change(layout) + (f" ({change.gpus_delta:+d} GPUs)" if moved else ""))
            layout = {}
    return f"~ {safe(change.key)}: {', '.join(texts)}"


def summary_line(diff: PlanDiff) -> str:
    return (f"{diff.count('add')} to add, {diff.count('change')} to change, "
            f"{diff.count('remove')} to remove")


# -- totals -------------------------------------------------------------------------------------

def _total_label(field: str, label: str, pue: float | None) -> str:
    return f"{label} (PUE {pue:g})" if field.startswith("facility_") and pue else label


def _delta_text(total: TotalDelta) -> str:
    if not total.changed:
        return "no change"
    share = pct(total.delta_pct)
    return signed(total.field, total.delta) + (f" ({share})" if share else "")


def _display_totals(diff: PlanDiff) -> list[tuple[str, TotalDelta]]:
    return [(_total_label(f, label, diff.pue), diff.total(f)) for f, label in DISPLAY_TOTALS]


def _context(diff: PlanDiff) -> list[tuple[str, tuple[str, ...]]]:
    """(label, items) pairs shown under the totals; empty ones are left out."""
    status: tuple[str, ...] = ()
    if diff.status_before != diff.status_after:
        status = (f"{diff.status_before or 'none'} -> {diff.status_after or 'none'}",)
    pairs = [("Status", status), ("Now binding", diff.binding_appeared),
             ("No longer binding", diff.binding_gone), ("Inputs changed", diff.inputs_changed)]
    return [(label, tuple(safe(i) for i in items)) for label, items in pairs if items]


def _context_lines(diff: PlanDiff) -> list[str]:
    return [f"{label}: {', '.join(items)}" for label, items in _context(diff)]


# -- text ---------------------------------------------------------------------------------------

def render_text(diff: PlanDiff) -> str:
    head = f"planner diff: {safe(diff.scenario)} ({safe(diff.base_label)} -> {safe(diff.new_label)})"
    if not diff.changed:
        return "\n".join([head, "No changes: deployments and totals are the same.",
                          *_context_lines(diff)]) + "\n"
    totals = _display_totals(diff)
    width = max(len(label) for label, _ in totals)
    rows = [f"  {label:<{width}} {quantity(t.field, t.before):>16} {quantity(t.field, t.after):>16}  "
            f"{_delta_text(t)}" for label, t in totals]
    lines = [head, ""] + [f"  {deployment_line(c)}" for c in diff.deployments]
    lines += ["", f"Deployments: {summary_line(diff)}.", "",
              f"  {'Totals':<{width}} {'base':>16} {'new':>16}  change", *rows, ""]
    return "\n".join(lines + _context_lines(diff)).rstrip("\n") + "\n"


# -- Markdown and the pull-request comment -------------------------------------------------------

def _md_delta(total: TotalDelta) -> str:
    return "—" if not total.changed else f"**{_delta_text(total)}**"


def _md_totals(diff: PlanDiff) -> list[str]:
    rows = ["| | Base | New | Change |", "|---|---:|---:|---:|"]
    rows += [f"| {label} | {quantity(t.field, t.before)} | {quantity(t.field, t.after)} | {_md_delta(t)} |"
             for label, t in _display_totals(diff)]
    return rows


def _md_deployments(diff: PlanDiff) -> list[str]:
    lines = [deployment_line(c) for c in diff.deployments]
    if len(lines) > MAX_COMMENT_LINES:
        hidden = len(lines) - MAX_COMMENT_LINES
        lines = lines[:MAX_COMMENT_LINES] + [f"# ... and {hidden} more: run `planner diff` locally"]
    return ["```diff", *lines, "```"] if lines else []


def _md_context(diff: PlanDiff) -> list[str]:
    return [f"- **{label}:** " + ", ".join(f"`{item}`" for item in items) for label, items in _context(diff)]


def render_markdown(diff: PlanDiff) -> str:
    title = f"### Capacity plan `{safe(diff.scenario)}`: "
    where = f"Base `{safe(diff.base_label)}` → new `{safe(diff.new_label)}`"
    if not diff.changed:
        body = [title + "no changes", "", where + ": deployments and totals are the same."]
        return "\n".join(body + ([""] + _md_context(diff) if diff.inputs_changed else [])) + "\n"
    body = [title + summary_line(diff), "", where, "", *_md_totals(diff), ""]
    context = _md_context(diff)
    body += context + ([""] if context else []) + _md_deployments(diff)
    return "\n".join(body).rstrip("\n") + "\n"


def render_comment(diff: PlanDiff) -> str:
    footer = "\n<sub>Posted by `planner diff --format github-comment`.</sub>\n"
    return COMMENT_MARKER + "\n" + render_markdown(diff) + footer


# -- JSON ---------------------------------------------------------------------------------------

def _deployment_json(change: DeploymentChange) -> dict[str, Any]:
    return {
        "action": change.action, "key": change.key, "gpus_delta": change.gpus_delta,
        "changes": {f.field: {"before": json_value(f.before), "after": json_value(f.after)} for f in change.fields},
        "before": change.before.model_dump(mode="json") if change.before else None,
        "after": change.after.model_dump(mode="json") if change.after else None,
    }


def diff_to_dict(diff: PlanDiff) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "scenario": diff.scenario, "base": diff.base_label, "new": diff.new_label,
        "changed": diff.changed,
        "summary": {a: diff.count(a) for a in ("add", "change", "remove")},
        "deployments": [_deployment_json(c) for c in diff.deployments],
        "totals": {t.field: {"before": t.before, "after": t.after, "delta": t.delta,
                             "delta_pct": t.delta_pct} for t in diff.totals},
        "binding_constraints": {"appeared": list(diff.binding_appeared), "gone": list(diff.binding_gone)},
        "status": {"before": diff.status_before, "after": diff.status_after},
        "inputs_changed": list(diff.inputs_changed),
    }


def render_json(diff: PlanDiff) -> str:
    return dump_json(diff_to_dict(diff))
