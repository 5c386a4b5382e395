"""`planner diff` of two roadmap plans: per period, what changes (orders, retirements, rentals, the
installed fleet, deployments, GPUs, power, racks and cost), rendered like the single-period diff
(planner.gitops.diff and planner.gitops.render: the same deployment keys and lines, the same units,
the same pull-request comment marker).

Periods are matched by label (a plan whose labels repeat is a PlanFileError naming the file and
periods[i].label); a period only one plan has is all additions or all removals. A missing
side (None, from /dev/null) is an empty roadmap. A roadmap against a single-period plan is refused
by the command (planner.cli.gitops_cmd), one clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.gitops.diff import DeploymentChange, TotalDelta, diff_deployments, inputs_changed, same
from planner.gitops.fmt import quantity, signed
from planner.gitops.render import COMMENT_MARKER, MAX_COMMENT_LINES, deployment_line, safe
from planner.gitops.serving import json_value
from planner.plan.io import PlanFileError, dump_json  # the plan reader's error (the import table: no planner.errors)
from planner.schemas.plan import Plan, RoadmapPeriod

JSON_FORMAT_VERSION = "1.0"
COUNTS = (("purchases", "order", "servers"), ("retirements", "retire", "servers"),
          ("rentals", "rent", "instances"), ("installed", "installed", "servers"))
"""The period's count maps: field, word in a line, unit."""
PERIOD_TOTALS: tuple[tuple[str, str], ...] = (
    ("gpus", "GPUs on site"), ("gpus_rented", "GPUs rented"), ("servers", "Servers"), ("racks", "Racks"),
    ("it_power_nameplate_w", "IT power, nameplate"), ("it_power_avg_w", "IT power, average"),
    ("capex_usd", "Capex"), ("running_usd", "Running"), ("rental_usd", "Rentals"), ("resale_usd", "Resale"),
    ("cost_usd", "Cost"))


@dataclass(frozen=True)
class CountChange:
    what: str
    """purchases, retirements, rentals or installed."""
    gpu: str
    before: int
    after: int


@dataclass(frozen=True)
class PeriodDiff:
    label: str
    counts: tuple[CountChange, ...]
    deployments: tuple[DeploymentChange, ...]
    totals: tuple[TotalDelta, ...]
    """Every period total (changed or not)."""
    binding_appeared: tuple[str, ...]
    binding_gone: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.counts or self.deployments or self.binding_appeared or self.binding_gone
                    or any(t.changed for t in self.totals))

    def total(self, field: str) -> TotalDelta:
        return next(t for t in self.totals if t.field == field)


@dataclass(frozen=True)
class RoadmapDiff:
    base_label: str
    new_label: str
    scenario: str
    periods: tuple[PeriodDiff, ...]
    objective: TotalDelta
    objective_unit: str
    status_before: str | None
    status_after: str | None
    inputs_changed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return (any(p.changed for p in self.periods) or self.objective.changed
                or self.status_before != self.status_after)

    @property
    def changed_periods(self) -> list[PeriodDiff]:
        return [p for p in self.periods if p.changed]

    def count(self, action: str) -> int:
        return sum(1 for p in self.periods for d in p.deployments if d.action == action)


def _by_label(plan: Plan | None, file: str) -> dict[str, RoadmapPeriod]:
    """The plan's periods by label; a label twice is an error (the second period would hide the first)."""
    out: dict[str, RoadmapPeriod] = {}
    for i, p in enumerate((plan.periods or []) if plan else []):
        if p.label in out:
            raise PlanFileError(f"period label {p.label[:80]!r} repeats an earlier period's: periods are compared "
                                "by label", file=file, key_path=f"periods[{i}].label",
                                fix="give each period its own label (re-solve the scenario to write the plan)")
        out[p.label] = p
    return out


def _labels(base: Plan | None, new: Plan | None) -> list[str]:
    """The base's periods in order, then the new plan's periods the base lacks."""
    out = [p.label for p in (base.periods or [])] if base else []
    return out + [p.label for p in ((new.periods or []) if new else []) if p.label not in out]


def _counts(before: RoadmapPeriod | None, after: RoadmapPeriod | None) -> tuple[CountChange, ...]:
    out = []
    for what, _, _ in COUNTS:
        old: dict[str, int] = getattr(before, what) if before else {}
        new: dict[str, int] = getattr(after, what) if after else {}
        out += [CountChange(what, g, old.get(g, 0), new.get(g, 0)) for g in sorted(old.keys() | new.keys())
                if old.get(g, 0) != new.get(g, 0)]
    return tuple(out)


def _total(p: RoadmapPeriod | None, field: str) -> float:
    return float(getattr(p.totals, field)) if p else 0.0


def _view(plan: Plan | None, p: RoadmapPeriod | None) -> Plan | None:
    """``plan`` holding period ``p``'s deployments (what diff_deployments reads), None without the period."""
    return plan.model_copy(update={"deployments": p.deployments}) if plan is not None and p is not None else None


def period_diff(label: str, before: RoadmapPeriod | None, after: RoadmapPeriod | None,
                base: Plan | None, new: Plan | None) -> PeriodDiff:
    """Period ``label`` of roadmap ``base`` (``before``) against that of roadmap ``new`` (``after``)."""
    old_binding = set(before.totals.binding) if before else set()
    new_binding = set(after.totals.binding) if after else set()
    return PeriodDiff(label=label, counts=_counts(before, after),
                      deployments=diff_deployments(_view(base, before), _view(new, after)),
                      totals=tuple(TotalDelta(f, _total(before, f), _total(after, f)) for f, _ in PERIOD_TOTALS),
                      binding_appeared=tuple(sorted(new_binding - old_binding)),
                      binding_gone=tuple(sorted(old_binding - new_binding)))


def diff_roadmaps(base: Plan | None, new: Plan | None, *, base_label: str = "base",
                  new_label: str = "new") -> RoadmapDiff:
    """What changes from roadmap ``base`` to roadmap ``new``, period by period; either may be None."""
    old, cur = _by_label(base, base_label), _by_label(new, new_label)
    plan = new or base
    return RoadmapDiff(
        base_label=base_label, new_label=new_label, scenario=plan.scenario.name if plan else "",
        periods=tuple(period_diff(label, old.get(label), cur.get(label), base, new) for label in _labels(base, new)),
        objective=TotalDelta("objective", base.objective.value if base else 0.0, new.objective.value if new else 0.0),
        objective_unit=plan.objective.unit if plan else "",
        status_before=base.status if base else None, status_after=new.status if new else None,
        inputs_changed=inputs_changed(base, new))


# -- rendering --------------------------------------------------------------------------------------

def _unit(what: str) -> str:
    return next(unit for name, _, unit in COUNTS if name == what)


def count_line(c: CountChange) -> str:
    """``~ order b200: 8 -> 10 servers (+2)`` (``+`` from none, ``-`` to none)."""
    word = next(w for name, w, _ in COUNTS if name == c.what)
    mark = "+" if c.before == 0 else "-" if c.after == 0 else "~"
    return f"{mark} {word} {safe(c.gpu)}: {c.before} -> {c.after} {_unit(c.what)} ({c.after - c.before:+d})"


def _objective_text(d: RoadmapDiff) -> str:
    o = d.objective
    return f"{o.before:,.0f} -> {o.after:,.0f} {safe(d.objective_unit)} ({o.delta:+,.0f})"


def _period_lines(p: PeriodDiff) -> list[str]:
    lines = [count_line(c) for c in p.counts] + [deployment_line(c) for c in p.deployments]
    totals = [f"{label} {quantity(f, t.before)} -> {quantity(f, t.after)} ({signed(f, t.delta)})"
              for f, label in PERIOD_TOTALS if (t := p.total(f)).changed]
    lines += ["  " + "; ".join(totals)] if totals else []
    lines += [f"  now binding: {', '.join(p.binding_appeared)}"] if p.binding_appeared else []
    lines += [f"  no longer binding: {', '.join(p.binding_gone)}"] if p.binding_gone else []
    return lines


def summary_line(d: RoadmapDiff) -> str:
    return (f"{len(d.changed_periods)} of {len(d.periods)} periods change; deployments: {d.count('add')} to add, "
            f"{d.count('change')} to change, {d.count('remove')} to remove")


def _context(d: RoadmapDiff) -> list[tuple[str, str]]:
    out = []
    if d.status_before != d.status_after:
        out.append(("Status", f"{d.status_before or 'none'} -> {d.status_after or 'none'}"))
    if d.inputs_changed:
        out.append(("Inputs changed", ", ".join(safe(i) for i in d.inputs_changed)))
    return out


def render_text(d: RoadmapDiff) -> str:
    head = f"planner diff: roadmap {safe(d.scenario)} ({safe(d.base_label)} -> {safe(d.new_label)})"
    context = [f"{label}: {text}" for label, text in _context(d)]
    if not d.changed:
        return "\n".join([head, "No changes: every period's orders, fleet, deployments and totals are the same.",
                          *context]) + "\n"
    lines = [head, ""]
    for p in d.changed_periods:
        lines += [f"{safe(p.label)}:"] + [f"  {line}" for line in _period_lines(p)] + [""]
    lines += [f"Periods: {summary_line(d)}.", f"Objective: {_objective_text(d)}.", *context]
    return "\n".join(lines) + "\n"


def _md_cell(p: PeriodDiff, field: str) -> str:
    t = p.total(field)
    if not t.changed:
        return quantity(field, t.after)
    return f"{quantity(field, t.before)} → **{quantity(field, t.after)}**"


def _md_counts(p: PeriodDiff, what: str) -> str:
    return ", ".join(f"{safe(c.gpu)} {c.before} → **{c.after}**" for c in p.counts if c.what == what) or "—"


def _md_table(d: RoadmapDiff) -> list[str]:
    rows = ["| Period | Order | Retire | Rent | GPUs on site | IT power, nameplate | Cost |",
            "|---|---|---|---|---:|---:|---:|"]
    rows += [f"| {safe(p.label)} | {_md_counts(p, 'purchases')} | {_md_counts(p, 'retirements')} | "
             f"{_md_counts(p, 'rentals')} | {_md_cell(p, 'gpus')} | {_md_cell(p, 'it_power_nameplate_w')} | "
             f"{_md_cell(p, 'cost_usd')} |" for p in d.changed_periods]
    return rows


def _md_lines(d: RoadmapDiff) -> list[str]:
    lines = []
    for p in d.changed_periods:
        lines += [f"# {safe(p.label)}"] + [line for line in _period_lines(p) if not line.startswith("  ")]
    if len(lines) > MAX_COMMENT_LINES:
        hidden = len(lines) - MAX_COMMENT_LINES
        lines = lines[:MAX_COMMENT_LINES] + [f"# ... and {hidden} more: run `planner diff` locally"]
    return ["```diff", *lines, "```"] if lines else []


def render_markdown(d: RoadmapDiff) -> str:
    title = f"### Capacity roadmap `{safe(d.scenario)}`: "
    where = f"Base `{safe(d.base_label)}` → new `{safe(d.new_label)}`"
    context = [f"- **{label}:** `{text}`" for label, text in _context(d)]
    if not d.changed:
        body = [title + "no changes", "", where + ": every period's orders, fleet, deployments and totals are "
                "the same."]
        return "\n".join(body + ([""] + context if context else [])) + "\n"
    body = [title + summary_line(d), "", where, "", f"Objective: {_objective_text(d)}.", "", *_md_table(d), ""]
    body += context + ([""] if context else []) + _md_lines(d)
    return "\n".join(body).rstrip("\n") + "\n"


def render_comment(d: RoadmapDiff) -> str:
    footer = "\n<sub>Posted by `planner diff --format github-comment`.</sub>\n"
    return COMMENT_MARKER + "\n" + render_markdown(d) + footer


def _period_json(p: PeriodDiff) -> dict[str, Any]:
    return {"label": p.label, "changed": p.changed,
            "counts": [{"what": c.what, "gpu": c.gpu, "before": c.before, "after": c.after} for c in p.counts],
            "deployments": [{"action": c.action, "key": c.key, "gpus_delta": c.gpus_delta,
                             "changes": {f.field: {"before": json_value(f.before), "after": json_value(f.after)}
                                         for f in c.fields}}
                            for c in p.deployments],
            "totals": {t.field: {"before": t.before, "after": t.after, "delta": t.delta} for t in p.totals
                       if not same(t.before, t.after)},
            "binding_constraints": {"appeared": list(p.binding_appeared), "gone": list(p.binding_gone)}}


def render_json(d: RoadmapDiff) -> str:
    return dump_json({"format_version": JSON_FORMAT_VERSION, "kind": "roadmap", "scenario": d.scenario,
                      "base": d.base_label, "new": d.new_label, "changed": d.changed,
                      "objective": {"before": d.objective.before, "after": d.objective.after,
                                    "delta": d.objective.delta, "unit": d.objective_unit},
                      "periods": [_period_json(p) for p in d.periods],
                      "status": {"before": d.status_before, "after": d.status_after},
                      "inputs_changed": list(d.inputs_changed)})


def render(d: RoadmapDiff, fmt: str) -> str:
    """The roadmap diff in one of planner.gitops.render.FORMATS, ending with a newline."""
    renderers = {"text": render_text, "md": render_markdown, "json": render_json, "github-comment": render_comment}
    return renderers[fmt](d)
