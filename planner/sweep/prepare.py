"""A sweep file -> checked variants, ready to solve: every problem is found here, before any solve.

Checks, each reported as one InputError naming the sweep file, the key path and the fix: the sweep
file's schema, the scenario and its override, every key path against the scenario schema (and
workload names against the scenario), every variant's document against the scenario schema, and the
names and calibration of every distinct non-numeric combination of values (by resolving its problem).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner import __version__
from planner.catalog.loader import Catalog
from planner.errors import InputError
from planner.io.files import MAX_PROBLEMS_SHOWN, describe_errors, read_yaml, validate_data
from planner.plan.hashing import canonical_json, combined_hash, scenario_sha256
from planner.problem.build import resolve_problem
from planner.scenario.load import LoadedScenario, load_scenario, override_names
from planner.schemas.scenario import Scenario
from planner.sweep.keys import key_path_problem, merge, overlapping, patch_of
from planner.sweep.spec import SweepSpec
from planner.sweep.variants import Variant, expand


@dataclass(frozen=True)
class SolveOptions:
    """What every variant is solved with (part of each variant's input hash)."""

    solver: str = "highs"
    time_limit_s: float = 60.0
    analysis: bool = False


DEFAULT_OPTIONS = SolveOptions()


@dataclass(frozen=True)
class Context:
    """What a worker needs besides the variant: sent with each task (a few hundred bytes)."""

    scenario_path: str
    """Absolute: a worker resolves the scenario's relative ``calibration:`` from it."""
    override: str | None
    catalog_dirs: tuple[str, ...]
    calibration: str | None
    options: SolveOptions


@dataclass(frozen=True)
class Task:
    index: int
    doc: dict[str, Any]
    """The variant's whole scenario document (override and values applied)."""
    input_sha256: str
    """Hash of everything the variant's plan depends on: a completed variant with the same hash is kept."""


@dataclass(frozen=True)
class Prepared:
    spec: SweepSpec
    sweep_file: Path
    variants: list[Variant]
    tasks: list[Task]
    context: Context


def load_spec(path: Path) -> SweepSpec:
    doc = read_yaml(path)
    if doc is not None and not isinstance(doc, dict):
        raise InputError("a sweep file must be a mapping (scenario:, grid:, sample:)", file=str(path))
    return validate_data(SweepSpec, doc, str(path))


def _section(spec: SweepSpec, path: str) -> str:
    shown = path if len(path) <= 120 else path[:120] + "..."  # a key path is the user's text: keep the line short
    return f"grid.{shown}" if path in spec.grid else f"sample.vary.{shown}"


def check_key_paths(spec: SweepSpec, doc: dict[str, Any], file: str) -> None:
    problems = [(p, key_path_problem(p, doc)) for p in spec.key_paths]
    lines = [f"{file}: {_section(spec, p)}: {text}" for p, text in problems if text]
    pair = overlapping(spec.key_paths)
    if pair:
        lines.append(f"{file}: {_section(spec, pair[1])}: is inside {pair[0]!r}, which is varied too (vary one of "
                     "the two)")
    if lines:
        raise InputError("\n".join(lines) + "\n(key paths address the scenario as overrides do, e.g. site.pue, "
                         "workloads.<workload name>.traffic.peak_requests_per_s, finance.gpu_prices_usd.<gpu>)")


def _base_document(spec: SweepSpec, scenario_path: Path, file: str) -> tuple[LoadedScenario, dict[str, Any]]:
    """The scenario (checked, override applied) and its document."""
    names = override_names(scenario_path)
    if spec.override is not None and spec.override not in names:
        raise InputError(f"the scenario has no override {spec.override!r}", file=file, key_path="override",
                         fix=f"use one of: {', '.join(names)}" if names else "remove `override:`")
    loaded = load_scenario(scenario_path, spec.override)
    if loaded.is_roadmap:
        raise InputError("planner sweep solves single-period scenarios; this one has `horizon` (a roadmap)",
                         file=str(scenario_path), key_path="horizon",
                         fix="sweep a scenario without `horizon`, or solve the roadmap with `planner solve`")
    doc = read_yaml(scenario_path)
    if spec.override is not None:
        doc = merge(doc, doc["overrides"][spec.override])
    return loaded, doc


def _shown(values: tuple[tuple[str, Any], ...]) -> str:
    text = ", ".join(f"{k}={f'{v:.6g}' if isinstance(v, float) else canonical_json(v)}" for k, v in values)
    return text if len(text) <= 200 else text[:200] + "..."


def _named_path(loc: tuple[Any, ...], doc: dict[str, Any]) -> str:
    """A pydantic location as a key path with workloads by name (``workloads.chat.traffic``)."""
    parts: list[str] = []
    node: Any = doc
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            parts.append(str(node.get("name", part)) if isinstance(node, dict) else str(part))
        elif isinstance(part, str):
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(part)
    return ".".join(parts)


def _culprit(spec: SweepSpec, loc: tuple[Any, ...], doc: dict[str, Any]) -> str:
    """The sweep key path behind a validation error at ``loc`` (``grid.site.pue``), or the section."""
    where = _named_path(loc, doc)
    for k in spec.key_paths:
        if k == where or k.startswith(where + ".") or where.startswith(k + "."):
            return _section(spec, k)
    return "grid" if spec.grid and not spec.sample else "sample.vary" if not spec.grid else "grid/sample.vary"


def _validation_lines(exc: ValidationError, spec: SweepSpec, variant: Variant, doc: dict[str, Any],
                      file: str) -> list[tuple[str, str]]:
    """(which problem: the key and the kind, not the value, so one bad distribution is one line; the whole
    line) per problem of one variant."""
    out = []
    for err in exc.errors(include_url=False):
        what = describe_errors([err], None, Scenario)[0]
        culprit = _culprit(spec, tuple(err["loc"]), doc)
        out.append((f"{culprit}: {err['type']} at {err['loc']}",
                    f"{file}: {culprit}: variant {variant.index} ({_shown(variant.values)}) "
                                          f"makes the scenario invalid: {what}"))
    return out


def _documents(spec: SweepSpec, variants: list[Variant], base: dict[str, Any], file: str) -> list[dict[str, Any]]:
    """Each variant's scenario document, each validated; all problems (once each) in one InputError."""
    docs: list[dict[str, Any]] = []
    lines: list[str] = []
    seen: set[str] = set()
    for v in variants:
        doc = merge(base, patch_of(v.as_dict))
        try:
            Scenario.model_validate(doc)
        except ValidationError as exc:
            for what, line in _validation_lines(exc, spec, v, doc, file):
                if what not in seen and len(lines) < MAX_PROBLEMS_SHOWN:
                    seen.add(what)
                    lines.append(line)
        docs.append(doc)
    if lines:
        raise InputError("\n".join(lines) + "\n(change the grid values or the distribution so every value is "
                         "allowed; `planner schema scenario` gives each key's range)")
    return docs


def _shape(v: Variant) -> str:
    """The variant's non-numeric values: variants of one shape resolve names and calibration alike."""
    return canonical_json([(k, x) for k, x in v.values if isinstance(x, bool) or not isinstance(x, int | float)])


def _resolve_shapes(variants: list[Variant], docs: list[dict[str, Any]], loaded: LoadedScenario, catalog: Catalog,
                    ctx: Context, file: str) -> dict[str, tuple[str, str]]:
    """Shape -> (catalog hash, calibration hash), resolving the problem of one variant per shape."""
    out: dict[str, tuple[str, str]] = {}
    for v, doc in zip(variants, docs, strict=True):
        shape = _shape(v)
        if shape in out:
            continue
        try:
            p = resolve_problem(variant_loaded(doc, loaded.path, ctx.override), catalog, calibration=ctx.calibration)
        except InputError as exc:
            raise InputError(f"{file}: variant {v.index} ({_shown(v.values)}): {exc.render()}") from None
        out[shape] = (p.hashes.catalog, p.hashes.calibration)
    return out


def variant_loaded(doc: dict[str, Any], scenario_path: Path, override: str | None) -> LoadedScenario:
    """A variant as a loaded scenario: its document stands for the file's bytes (the plan's hash is of it)."""
    return LoadedScenario(scenario=Scenario.model_validate(doc), path=scenario_path, override=override,
                          raw_bytes=canonical_json(doc).encode("utf-8"))


def input_sha256(doc: dict[str, Any], hashes: tuple[str, str], ctx: Context) -> str:
    combined = combined_hash(scenario_sha256(doc), hashes[0], hashes[1], ctx.override, __version__)
    o = ctx.options
    text = f"{combined}\nsolver={o.solver}\ntime_limit_s={o.time_limit_s!r}\nanalysis={o.analysis}\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _scenario_path(sweep_file: Path, scenario: str, file: str) -> Path:
    """The sweep's scenario file, relative to the sweep file; a name no file system takes (too long, a NUL
    byte) is the same error as a missing file."""
    try:
        scenario_path = (sweep_file.parent / scenario).resolve()
        found = scenario_path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        shown = scenario if len(scenario) <= 80 else scenario[:80] + "..."
        raise InputError(f"scenario {shown!r} not found next to the sweep file", file=file,
                         key_path="scenario", fix="give the scenario's path relative to the sweep file")
    return scenario_path


def prepare(sweep_file: str | Path, catalog: Catalog, *, catalog_dirs: tuple[str, ...] = (),
            calibration: str | None = None, options: SolveOptions = DEFAULT_OPTIONS) -> Prepared:
    """The sweep's variants, each checked and hashed (raises InputError before any solve)."""
    path = Path(sweep_file)
    file = str(path)
    spec = load_spec(path)
    scenario_path = _scenario_path(path, spec.scenario, file)
    loaded, base = _base_document(spec, scenario_path, file)
    check_key_paths(spec, base, file)
    try:
        variants = expand(spec)
    except InputError as exc:
        raise InputError(exc.message, file=file, key_path=exc.key_path, fix=exc.fix) from None
    docs = _documents(spec, variants, base, file)
    ctx = Context(scenario_path=str(scenario_path), override=spec.override, catalog_dirs=catalog_dirs,
                  calibration=calibration, options=options)
    shapes = _resolve_shapes(variants, docs, loaded, catalog, ctx, file)
    tasks = [Task(v.index, doc, input_sha256(doc, shapes[_shape(v)], ctx)) for v, doc in zip(variants, docs,
                                                                                               strict=True)]
    return Prepared(spec=spec, sweep_file=path, variants=variants, tasks=tasks, context=ctx)
