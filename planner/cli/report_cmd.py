"""`planner report PLAN.json --format md|html|json|comment [--base BASE.json] [--out FILE]`: re-render a committed plan.

The plan is read and validated (schema version checked; a 1.x plan is migrated on read, with one
note on stderr); the report is rendered from it alone, without solving. Without ``--out`` the
report goes to stdout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from planner.report.render import FORMATS

if TYPE_CHECKING:
    from planner.schemas.plan import Plan


@click.command("report")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="md: full Markdown report; html: self-contained page; json: deployment specs; "
                   "comment: pull-request comment under 60,000 characters, pointing to the full report.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file (atomically) instead of stdout.")
@click.option("--base", "base_file", metavar="BASE.json", type=click.Path(dir_okay=False), default=None,
              help="With --format comment: add what changed against this plan (as `planner diff --format md`).")
def report(plan_file: str, fmt: str, out_file: str | None, base_file: str | None) -> None:
    """Render the report of a plan file (Markdown, HTML, JSON deployment specs or a PR comment)."""
    from planner.io.files import refuse_overwriting_inputs, write_atomic
    from planner.report import render_report

    if base_file is not None and fmt != "comment":
        raise click.UsageError("--base is for --format comment (use `planner diff` to compare plans)")
    if out_file is not None:
        refuse_overwriting_inputs([out_file], [plan_file, *([base_file] if base_file else [])])
    plan = _read(plan_file)
    changes = None if base_file is None else _changes(_read(base_file), plan, base_file, plan_file)
    text = render_report(plan, fmt, plan_file=plan_file, changes=changes)
    if out_file is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out_file, text)
        click.echo(f"wrote {out_file} ({fmt})", err=True)


def _read(path: str) -> Plan:
    from planner.plan import read_plan

    read = read_plan(path)
    if (note := read.migration_note(path)) is not None:
        click.echo(f"Note: {note}", err=True)
    return read.plan


def _changes(base: Plan, plan: Plan, base_file: str, plan_file: str) -> str:
    from planner.gitops import diff_plans, render

    return render(diff_plans(base, plan, base_label=base_file, new_label=plan_file), "md")
