"""`planner solve`, `planner validate`, `planner schema`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.scenario.load import LoadedScenario


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                   strict=True)))

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _summary(plan) -> str:  # type: ignore[no-untyped-def]
    from planner.report.sections.summary import sizing_margin_text

    t = plan.totals
    lines = [f"Plan for {plan.scenario.name}: {plan.status} ({plan.solver.name}, gap {plan.solver.mip_gap:.2%}, "
             f"{plan.objective.name} = {plan.objective.value:,.0f} {plan.objective.unit})", ""]
    headers = ["workload", "gpu", "prec", "tp", "pp", "batch", "replicas", "gpus", "capacity rps", "demand rps",
               "TTFT p95 ms", "ITL p95 ms", "avg kW"]
    rows = [[d.workload, d.gpu, d.precision, str(d.tp), str(d.pp), str(d.batch_size), str(d.replicas), str(d.gpus),
             f"{d.capacity_requests_per_s:.2f}", f"{d.demand_requests_per_s:.2f}",
             "-" if d.role == "decode" else f"{d.ttft_p95_s * 1e3:.0f}",  # a decode pool serves no first token
             "-" if d.role == "prefill" else f"{d.itl_p95_s * 1e3:.1f}",  # nor a prefill pool a next one
             f"{d.power_avg_w / 1e3:.1f}"] for d in plan.deployments]
    if any(d.dp is not None or d.ep is not None for d in plan.deployments):  # MoE replicas of data-parallel ranks
        at = headers.index("pp") + 1
        headers.insert(at, "dp/ep")
        rows = [[*row[:at], f"{d.dp or 1}/{d.ep or 1}", *row[at:]]
                for row, d in zip(rows, plan.deployments, strict=True)]
    if any(d.role not in (None, "aggregated") for d in plan.deployments):  # disaggregated pools say which
        headers.insert(1, "role")
        rows = [[row[0], d.role or "aggregated", *row[1:]] for row, d in zip(rows, plan.deployments, strict=True)]
    caps = _power_caps(plan)
    if any(caps):  # the column only when a deployment runs its GPUs below TDP
        headers.append("GPU W cap")
        rows = [[*row, cap or "TDP"] for row, cap in zip(rows, caps, strict=True)]
    lines += _table(headers, rows, right=set(range(headers.index("tp"), len(headers))))
    lines += ["", f"GPUs {t.gpus}, servers {t.servers}, racks {t.racks}; IT power avg {t.it_power_avg_w / 1e3:.1f} kW, "
              f"expected peak {t.it_power_max_w / 1e3:.1f} kW, nameplate {t.it_power_nameplate_w / 1e3:.1f} kW; "
              f"heat {t.heat_btu_per_hr:,.0f} BTU/hr",
              f"capex ${t.capex_usd:,.0f}; energy ${t.annual_energy_cost_usd:,.0f}/yr; TCO ${t.tco_usd:,.0f}; "
              f"{t.co2e_t_per_year:,.1f} tCO2e/yr; ${t.usd_per_million_tokens:.3f} per M tokens"]
    binding = [c.name for c in plan.constraints if c.binding]
    if binding:
        lines.append("binding: " + ", ".join(binding))
    margin = sizing_margin_text(plan)
    if margin:
        lines.append(margin)
    return "\n".join(lines)


def _power_caps(plan) -> list[str]:  # type: ignore[no-untyped-def]
    """Per deployment its GPU power limit in W when it runs below TDP (its servers record the limit), else ""."""
    from planner.report.sections.workloads import power_limited

    return [f"{d.power_limit_w:.0f}" if d.power_limit_w is not None and power_limited(plan, d) else ""
            for d in plan.deployments]


def _items(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {gpu}" for gpu, n in counts.items()) or "-"


def _of(value: float, cap: float | None) -> str:
    return f"{value:,.0f}" + ("" if cap is None else f" / {cap:,.0f}")


def _roadmap_summary(plan) -> str:  # type: ignore[no-untyped-def]
    """A roadmap as an order schedule: per period what to order, retire and rent, the fleet, power,
    racks and cost, then when site power and racks run out (the report's Roadmap section, in short)."""
    from planner.report.sections.roadmap import USD_PER_KUSD, headline, what_ifs
    from planner.units import W_PER_KW

    periods = plan.periods
    lines = [f"Roadmap for {plan.scenario.name}: {plan.status} ({plan.solver.name}, gap {plan.solver.mip_gap:.2%}, "
             f"{plan.objective.name} = {plan.objective.value:,.0f} {plan.objective.unit}), {len(periods)} periods", ""]
    headers = ["period", "order (servers)", "retire (servers)", "rent (instances)", "installed (servers)",
               "GPUs on site", "GPUs rented", "kW nameplate / cap", "racks / avail", "cost k$", "binding"]
    rows = [[p.label, _items(p.purchases), _items(p.retirements), _items(p.rentals), _items(p.installed),
             str(p.totals.gpus), str(p.totals.gpus_rented),
             _of(p.totals.it_power_nameplate_w / W_PER_KW,
                 None if p.totals.power_cap_w is None else p.totals.power_cap_w / W_PER_KW),
             _of(p.totals.racks, p.totals.racks_available), f"{p.totals.cost_usd / USD_PER_KUSD:,.0f}",
             ", ".join(p.totals.binding) or "-"] for p in periods]
    lines += [line.rstrip() for line in _table(headers, rows, right={5, 6, 7, 8, 9})]
    lines += ["", *headline(plan, periods)]
    lines += [f"What if: {line}." for line in what_ifs(plan)]
    lines.append(f"Orders serve after the lead time; cost per period undiscounted. plan.json and the report's sections "
                 f"after Roadmap describe the first period, {periods[0].label}, in full.")
    return "\n".join(lines)


OUTPUT_FILES = ("plan.json", "report.md", "report.html")


def default_folder(scenario_name: str, override: str | None) -> Path:
    """``plans/NAME[-OVERRIDE]``: always one folder directly inside ``plans``, whatever the names hold."""
    import re

    from planner.errors import InputError
    from planner.schemas.scenario import NAME_PATTERN

    name = scenario_name + (f"-{override}" if override else "")
    if not re.fullmatch(NAME_PATTERN, name) or Path(name).name != name:
        raise InputError(f"cannot make a folder name of {name[:80]!r}", key_path="name",
                         fix="use letters, digits, '_', '.' and '-' in scenario and override names, or pass --out")
    folder = Path("plans") / name
    if folder.exists() and folder.resolve().parent != Path("plans").resolve():  # a committed symbolic link
        raise InputError(f"leads outside plans/, to {folder.resolve()}", file=str(folder),
                         fix="remove the link, or choose the folder with --out")
    return folder


def _refuse_overwriting(folder: Path, loaded: LoadedScenario, calibration: str | None) -> None:
    """Refuse an output folder where plan.json or a report would replace the scenario or calibration."""
    from planner.io.files import refuse_overwriting_inputs
    from planner.problem.build import calibration_file

    inputs = [loaded.path, calibration_file(loaded, calibration)]
    refuse_overwriting_inputs([folder / name for name in OUTPUT_FILES], inputs)


def _render(plan, fmt: str) -> str:  # type: ignore[no-untyped-def]
    from planner.report import render_report

    return render_report(plan, fmt)


def _finite(seconds: float) -> float:
    """click's FloatRange lets nan through (every comparison with nan is false)."""
    if not math.isfinite(seconds):
        raise click.BadParameter(f"must be a finite number of seconds > 0, got {seconds}")
    return seconds


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for plan.json, report.md, report.html (default plans/<scenario name>/).")
@click.option("--override", default=None, help="Apply a named override from the scenario's `overrides`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text",
              help="What to print: a summary (text), plan.json, or a report.")
@click.option("--solver", type=click.Choice(["highs", "cbc"]), default="highs", show_default=True)
@click.option("--time-limit", "time_limit", type=click.FloatRange(min=0, min_open=True, max=1e7), default=60.0,
              callback=lambda _ctx, _param, value: _finite(value),
              show_default=True, help="Seconds.")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(file_okay=False),
              help="Extra catalog folder (repeatable).")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False), help="Calibration YAML.")
@click.option("--no-write", is_flag=True, help="Print only; write no files.")
@click.option("--analysis/--no-analysis", default=True, show_default=True,
              help="Re-solve for what-if values and other objectives (each re-solve warm-started and node-limited).")
@click.option("--exact", is_flag=True,
              help="Keep every operating point that could lower the objective (slower; default: a pruning "
                   "heuristic that can miss a cheaper plan by up to one replica per pool).")
def solve(scenario: str, out_dir: str | None, override: str | None, fmt: str, solver: str, time_limit: float,
          catalogs: tuple[str, ...], calibration: str | None, no_write: bool, analysis: bool, exact: bool) -> int:
    """Solve SCENARIO: the cheapest fleet (or per the objective) meeting traffic, SLOs and power caps.

    Exit 0 with a plan, 1 on bad input, 3 when infeasible (the reasons are printed).
    """
    from planner.catalog.loader import load_catalog
    from planner.io.files import write_together
    from planner.optimize.solve import solve_problem
    from planner.plan.io import dump_plan, parse_plan
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    loaded = load_scenario(scenario, override)
    if out_dir is not None and not no_write:
        _refuse_overwriting(Path(out_dir), loaded, calibration)
    pruning: Literal["heuristic", "exact"] = "exact" if exact else "heuristic"
    if loaded.is_roadmap:  # one program over its periods (planner.roadmap, imported only then)
        from planner.roadmap.solve import solve_roadmap_loaded

        solved = solve_roadmap_loaded(loaded, load_catalog(list(catalogs)), solver=solver, time_limit_s=time_limit,
                                      calibration=calibration, candidate_pruning=pruning, analysis=analysis)
    else:
        problem = resolve_problem(loaded, load_catalog(list(catalogs)), calibration=calibration,
                                  candidate_pruning=pruning)
        solved = solve_problem(problem, solver=solver, time_limit_s=time_limit, analysis=analysis)
    text = dump_plan(solved)
    # Render what the file holds (rounded, ordered), so `planner report plan.json` gives the same bytes:
    # normalize_plan(solved), read from the text already dumped rather than dumping the plan again
    plan = parse_plan(text, "<plan>")
    if not no_write:
        folder = Path(out_dir) if out_dir else default_folder(plan.scenario.name, override)
        _refuse_overwriting(folder, loaded, calibration)
        # rendered first and written as one set: a failure leaves the previous three files together
        write_together({folder / "plan.json": text, folder / "report.md": _render(plan, "md"),
                        folder / "report.html": _render(plan, "html")})
    if fmt == "json":
        click.echo(text, nl=False)
    elif fmt in ("md", "html"):
        click.echo(_render(plan, fmt), nl=False)
    else:
        click.echo(_roadmap_summary(plan) if plan.periods else _summary(plan))
        click.echo(f"solved in {solved.solver.time_s:.2g} s (the solver; candidates and the analysis come on top)")
        if not no_write:
            click.echo(f"wrote {folder}/plan.json, report.md, report.html")
    return 0


def _problems(file: str, override: str | None, catalog: Catalog,
              base_lines: list[str]) -> tuple[LoadedScenario | None, list[str]]:
    """The loaded scenario (with one override applied) and its problem lines ([] when it is valid).

    A solver check's problem that the base scenario does not have is labelled with the override.
    """
    from planner.errors import InputError
    from planner.problem.build import allowed_gpus
    from planner.scenario.load import load_scenario
    from planner.scenario.names import check_names, override_label

    try:
        ls = load_scenario(file, override)
        names = check_names(ls, catalog)
    except InputError as exc:
        return None, exc.render().splitlines()
    try:
        allowed_gpus(names, catalog, file)
        if ls.is_roadmap:  # the roadmap's resolve-time checks (ms): what solve refuses before solving
            from planner.roadmap.problem import resolve_roadmap

            resolve_roadmap(ls, catalog)
    except InputError as exc:
        if override is not None and exc.render() not in base_lines:
            exc = InputError(exc.message, file=exc.file, key_path=override_label(override) + (exc.key_path or ""),
                             fix=exc.fix)
        return ls, exc.render().splitlines()
    return ls, []


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--override", default=None, help="Check only this override (default: every override of each file).")
def validate(files: tuple[str, ...], override: str | None) -> int:
    """Check scenario FILES and each of their overrides against the schema and the catalogs without solving.

    Every problem of every file is listed (file: key path: problem (fix)); exit 1 if there is any.
    """
    from planner.catalog.loader import load_catalog
    from planner.errors import InputError
    from planner.scenario.load import override_names

    catalog = load_catalog()
    problems: list[str] = []
    for f in files:
        loaded, base_lines = _problems(f, None, catalog, [])
        try:
            names = [override] if override is not None else override_names(f)
        except InputError:
            names = []  # the file could not be read: base_lines says why
        lines = list(base_lines)
        for name in names:
            lines += [line for line in _problems(f, name, catalog, base_lines)[1] if line not in lines]
        if lines or loaded is None:
            problems += lines
            continue
        checked = f"; overrides {', '.join(names)} ok" if names else ""
        click.echo(f"{f}: ok ({len(loaded.scenario.workloads)} workloads{checked})")
    if problems:
        raise InputError("\n".join(problems))
    return 0


@click.command()
@click.argument("kind", type=click.Choice(["scenario", "plan", "gpu-catalog", "model-catalog"]))
def schema(kind: str) -> int:
    """Print the JSON Schema of a file kind (for editor completion)."""
    from pydantic import BaseModel

    from planner.schemas.catalog import GpuCatalogFile, ModelCatalogFile
    from planner.schemas.docs import json_schema_with_docs
    from planner.schemas.plan import Plan
    from planner.schemas.scenario import Scenario

    kinds: dict[str, type[BaseModel]] = {"scenario": Scenario, "plan": Plan, "gpu-catalog": GpuCatalogFile,
                                         "model-catalog": ModelCatalogFile}
    model = kinds[kind]
    click.echo(json.dumps(json_schema_with_docs(model), indent=2, sort_keys=True))
    return 0
