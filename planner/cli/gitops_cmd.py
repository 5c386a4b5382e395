"""`planner diff` and `planner check`: review capacity plans the way `terraform plan` is reviewed.

Exit codes (terraform's -detailed-exitcode for diff): diff 0 no change, 2 changed, 1 error;
check 0 ok, 2 stale plan, 1 constraint violated or input error, 4 policy deny.
A plan file of schema 1.x is migrated on read; one note on stderr says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.errors import EXIT_CHANGED, EXIT_OK, InputError
from planner.gitops.render import FORMATS
from planner.schemas.plan import Plan

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.gitops.check import CheckReport
    from planner.gitops.policy import RuleResult
    from planner.scenario.load import LoadedScenario

NO_PLAN = "/dev/null"
"""As BASE (or NEW), stands for "no plan": a new scenario diffs as all additions."""
SCENARIO_SUFFIXES = (".yaml", ".yml")


def _is_roadmap(side: Plan | LoadedScenario) -> bool:
    return bool(side.periods) if isinstance(side, Plan) else side.is_roadmap


def refuse_mixed(old: Plan | LoadedScenario | None, cur: Plan | LoadedScenario | None, base: str, new: str) -> None:
    """A roadmap (plan with ``periods``, scenario with ``horizon``) is compared with a roadmap, a single-period
    plan with a single-period one; checked on the read scenarios, before solving either."""
    if old is None or cur is None or _is_roadmap(old) == _is_roadmap(cur):
        return
    roadmap, single = (base, new) if _is_roadmap(old) else (new, base)
    key = "periods" if isinstance(cur if _is_roadmap(old) else old, Plan) else "horizon"
    raise InputError(f"cannot compare a roadmap ({roadmap}, one plan per period) with a single-period plan "
                     f"({single})", file=single, key_path=key,
                     fix="diff two roadmaps (scenarios with horizon, or their plan.json), or two single-period plans")


def _solve(loaded: LoadedScenario, catalog_dirs: tuple[str, ...]) -> Plan:
    from planner.catalog import load_catalog
    from planner.optimize.solve import solve_loaded
    from planner.plan.io import normalize_plan
    from planner.roadmap.solve import solve_roadmap_loaded

    catalog = load_catalog(list(catalog_dirs) or None)
    if loaded.is_roadmap:  # one program over the periods (planner.roadmap); it runs no analysis re-solves
        return normalize_plan(solve_roadmap_loaded(loaded, catalog))
    # diff compares deployments and totals: the what-if and objective-alternative re-solves would
    # only cost time (a 5-workload scenario took 37 s with them, 3 s without)
    plan = solve_loaded(loaded, catalog, analysis=False)
    return normalize_plan(plan)  # compare as the plan file would read back


def load_plan_noting_migration(path: str) -> Plan:
    """The plan of a plan file; a 1.x plan is migrated on read and one note says so on stderr."""
    from planner.plan.io import read_plan

    read = read_plan(path)
    if (note := read.migration_note(path)) is not None:
        click.echo(f"Note: {note}", err=True)
    return read.plan


def read_side(path: str, *, override: str | None = None) -> Plan | LoadedScenario | None:
    """A plan file's plan, a scenario file read but not solved yet, or None for /dev/null."""
    from planner.scenario.load import load_scenario

    if path == NO_PLAN:
        return None
    if Path(path).suffix.lower() in SCENARIO_SUFFIXES:
        return load_scenario(path, override)
    if override:
        raise InputError("--override applies to scenario files, not to plan files", file=path,
                         fix="pass the scenario YAML, or drop the override")
    return load_plan_noting_migration(path)


def solved(side: Plan | LoadedScenario | None, catalog_dirs: tuple[str, ...] = ()) -> Plan | None:
    """The plan of a side read_side returned: a scenario is solved now."""
    return side if side is None or isinstance(side, Plan) else _solve(side, catalog_dirs)


def load_side(path: str, *, override: str | None = None, catalog_dirs: tuple[str, ...] = ()) -> Plan | None:
    """A plan from a plan file, a scenario file (solved now) or /dev/null (None)."""
    return solved(read_side(path, override=override), catalog_dirs)


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

    base_side, new_side = read_side(base, override=base_override), read_side(new, override=override)
    if base_side is None and new_side is None:
        raise InputError("both sides are /dev/null: nothing to compare", fix="pass a plan or scenario file")
    refuse_mixed(base_side, new_side, base, new)  # before solving: a roadmap takes seconds
    old, cur = solved(base_side, catalog_dirs), solved(new_side, catalog_dirs)
    if (warning := scenario_mismatch(old, cur)) is not None:
        click.echo(f"Warning: {warning}", err=True)
    if (old or cur) is not None and (old or cur).periods:  # type: ignore[union-attr]
        from planner.roadmap import diff as roadmap_diff

        changes = roadmap_diff.diff_roadmaps(old, cur, base_label=base, new_label=new)
        click.echo(roadmap_diff.render(changes, fmt), nl=False)
        return EXIT_CHANGED if changes.changed else EXIT_OK
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
    policy = load_policy(policy_path) if policy_path else None
    base = load_side(base_path) if base_path else None
    wanted = override if override is not None else plan.scenario.override
    catalog = load_catalog(catalog_dirs)
    loaded = load_scenario(scenario, wanted)
    rules = evaluate_policy(policy, plan, base) if policy else []
    if plan.periods or loaded.is_roadmap:  # a roadmap: every period (planner.roadmap.check)
        report = _check_roadmap(plan, loaded, catalog, scenario, plan_path, wanted, calibration, rules)
    else:
        current = input_hashes_of(loaded, catalog, calibration=calibration)
        note = unchecked_slos(loaded)
        report = CheckReport(stale=stale_reasons(plan, current, override=wanted, scenario_file=scenario),
                             violated=violations(plan) + scenario_violations(plan, loaded, catalog,
                                                                             calibration=calibration),
                             verified=verified_summary(plan, loaded), notes=[note] if note else [], policy=rules)
    for line in report.lines():
        click.echo(line)
    click.echo(report.verdict() + (_re_solve_hint(scenario, plan_path, wanted) if report.stale else ""))
    return report.exit_code


def _check_roadmap(plan: Plan, loaded: LoadedScenario, catalog: Catalog, scenario: str, plan_path: str,
                   override: str | None, calibration: str | None, rules: list[RuleResult]) -> CheckReport:
    """A roadmap plan checked against a roadmap scenario (one of each kind is one clear error)."""
    from dataclasses import replace

    from planner.roadmap.check import check_roadmap, kind_mismatch

    kind_mismatch(plan, loaded, plan_path)
    report = check_roadmap(plan, loaded, catalog, scenario_file=scenario, override=override, calibration=calibration)
    note = "policy rules read the plan's first-period sections (totals, deployments)" if rules else None
    return replace(report, policy=rules, notes=report.notes + ([note] if note else []))


def _re_solve_hint(scenario: str, plan_path: str, override: str | None) -> str:
    option = f" --override {override}" if override else ""
    command = f"planner solve {scenario}{option} --out {Path(plan_path).parent}"
    return f" (re-run `{command}` and commit {plan_path})"
