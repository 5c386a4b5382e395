"""`planner diff` and `planner check`: review capacity plans the way `terraform plan` is reviewed.

Exit codes (terraform's -detailed-exitcode for diff): diff 0 no change, 2 changed, 1 error;
check 0 ok, 2 stale plan, 1 constraint violated or input error, 4 policy deny.
A plan file of schema 1.x is migrated on read; one note on stderr says so.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.errors import EXIT_CHANGED, EXIT_OK, InputError
from planner.gitops.render import FORMATS
from planner.schemas.plan import Plan

NO_PLAN = "/dev/null"
"""As BASE (or NEW), stands for "no plan": a new scenario diffs as all additions."""
SCENARIO_SUFFIXES = (".yaml", ".yml")


ROADMAP_FIX = ("diff and check compare single-period plans; solve the roadmap with `planner solve` and review "
               "its report (roadmap diff and check are not built yet)")


def refuse_roadmap(has_periods: bool, path: str, command: str) -> None:
    """diff and check read one period; a roadmap (``horizon`` / ``periods``) would be misread, so say so."""
    if has_periods:
        raise InputError(f"planner {command} does not handle roadmaps yet", file=path,
                         key_path="horizon" if Path(path).suffix.lower() in SCENARIO_SUFFIXES else "periods",
                         fix=ROADMAP_FIX)


def _solve(path: str, override: str | None, catalog_dirs: tuple[str, ...]) -> Plan:
    from planner.catalog import load_catalog
    from planner.optimize.solve import solve_loaded
    from planner.plan.io import normalize_plan
    from planner.scenario.load import load_scenario

    loaded = load_scenario(path, override)
    refuse_roadmap(loaded.scenario.horizon is not None, path, "diff")
    # diff compares deployments and totals: the what-if and objective-alternative re-solves would
    # only cost time (a 5-workload scenario took 37 s with them, 3 s without)
    plan = solve_loaded(loaded, load_catalog(list(catalog_dirs) or None), analysis=False)
    return normalize_plan(plan)  # compare as the plan file would read back


def load_plan_noting_migration(path: str) -> Plan:
    """The plan of a plan file; a 1.x plan is migrated on read and one note says so on stderr."""
    from planner.plan.io import read_plan

    read = read_plan(path)
    if (note := read.migration_note(path)) is not None:
        click.echo(f"Note: {note}", err=True)
    return read.plan


def load_side(path: str, *, override: str | None = None, catalog_dirs: tuple[str, ...] = ()) -> Plan | None:
    """A plan from a plan file, a scenario file (solved now) or /dev/null (None)."""
    if path == NO_PLAN:
        return None
    if Path(path).suffix.lower() in SCENARIO_SUFFIXES:
        return _solve(path, override, catalog_dirs)
    if override:
        raise InputError("--override applies to scenario files, not to plan files", file=path,
                         fix="pass the scenario YAML, or drop the override")
    plan = load_plan_noting_migration(path)
    refuse_roadmap(bool(plan.periods), path, "diff")
    return plan


_CATALOG = click.option("--catalog", "catalog_dirs", multiple=True, metavar="DIR",
                        help="Extra catalog folder (repeatable); also PLANNER_CATALOG_PATH.")


@click.command()
@click.argument("base")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="github-comment: Markdown with a hidden marker for a sticky PR comment.")
@click.option("--override", metavar="NAME", help="Named override applied to NEW when it is a scenario.")
@click.option("--base-override", metavar="NAME", help="Named override applied to BASE when it is a scenario.")
@_CATALOG
def diff(base: str, new: str, fmt: str, override: str | None, base_override: str | None,
         catalog_dirs: tuple[str, ...]) -> int:
    """Show what changes from BASE to NEW: deployments added (+), removed (-), changed (~), and
    the deltas of GPUs, servers, racks, kW, BTU/hr, cost and carbon.

    BASE and NEW are plan.json files, or scenario YAML files which are solved first; /dev/null
    stands for no plan. Exit code: 0 no change, 2 changed, 1 error.
    """
    from planner.gitops.diff import diff_plans, scenario_mismatch
    from planner.gitops.render import render

    old = load_side(base, override=base_override, catalog_dirs=catalog_dirs)
    cur = load_side(new, override=override, catalog_dirs=catalog_dirs)
    if old is None and cur is None:
        raise InputError("both sides are /dev/null: nothing to compare", fix="pass a plan or scenario file")
    if (warning := scenario_mismatch(old, cur)) is not None:
        click.echo(f"Warning: {warning}", err=True)
    result = diff_plans(old, cur, base_label=base, new_label=new)
    click.echo(render(result, fmt), nl=False)
    return EXIT_CHANGED if result.changed else EXIT_OK


@click.command()
@click.argument("scenario")
@click.option("--plan", "plan_path", required=True, metavar="PLAN", help="The committed plan.json.")
@click.option("--policy", "policy_path", metavar="FILE", help="Policy YAML (see policies/default.yaml).")
@click.option("--base", "base_path", metavar="PLAN",
              help="Base plan for rules over changes (capex_delta_pct, delta.totals.*).")
@click.option("--override", metavar="NAME",
              help="Override the plan must be solved with (default: the one it records).")
@click.option("--calibration", metavar="FILE", help="The --calibration the plan was solved with, if any.")
@_CATALOG
def check(scenario: str, plan_path: str, policy_path: str | None, base_path: str | None,
          override: str | None, calibration: str | None, catalog_dirs: tuple[str, ...]) -> int:
    """Check that PLAN is current for SCENARIO, satisfies its own constraints and the scenario's
    limits as they are now, and passes the policy.

    Exit code: 0 ok (warnings print), 2 stale plan, 1 constraint violated or input error,
    4 policy deny. Each failure prints one line saying why.
    """
    from planner.catalog import load_catalog
    from planner.gitops.check import (
        CheckReport,
        scenario_violations,
        stale_reasons,
        unchecked_slos,
        verified_summary,
        violations,
    )
    from planner.gitops.policy import evaluate_policy, load_policy
    from planner.problem.build import input_hashes_of
    from planner.scenario.load import load_scenario

    plan = load_plan_noting_migration(plan_path)
    refuse_roadmap(bool(plan.periods), plan_path, "check")
    policy = load_policy(policy_path) if policy_path else None
    base = load_side(base_path) if base_path else None
    wanted = override if override is not None else plan.scenario.override
    catalog = load_catalog(catalog_dirs)
    loaded = load_scenario(scenario, wanted)
    refuse_roadmap(loaded.scenario.horizon is not None, scenario, "check")
    current = input_hashes_of(loaded, catalog, calibration=calibration)
    note = unchecked_slos(loaded)
    report = CheckReport(stale=stale_reasons(plan, current, override=wanted, scenario_file=scenario),
                         violated=violations(plan) + scenario_violations(plan, loaded, catalog,
                                                                         calibration=calibration),
                         verified=verified_summary(plan, loaded), notes=[note] if note else [],
                         policy=evaluate_policy(policy, plan, base) if policy else [])
    for line in report.lines():
        click.echo(line)
    click.echo(report.verdict() + (_re_solve_hint(scenario, plan_path, wanted) if report.stale else ""))
    return report.exit_code


def _re_solve_hint(scenario: str, plan_path: str, override: str | None) -> str:
    option = f" --override {override}" if override else ""
    command = f"planner solve {scenario}{option} --out {Path(plan_path).parent}"
    return f" (re-run `{command}` and commit {plan_path})"
