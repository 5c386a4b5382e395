"""Load a scenario YAML, apply a named override, validate it into the strict schema.

Every problem names the file and the key path; a problem an override brings in is reported as
``file: overrides.NAME -> key.path: ...`` so that the user edits the override, not the base.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from planner.errors import InputError, UnknownNameError
from planner.io.files import describe_validation_error, read_yaml, validate_data
from planner.schemas.scenario import Scenario

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    path: Path
    override: str | None
    raw_bytes: bytes
    base: Scenario | None = None
    """The scenario without the override (None without an override, or when only the override makes
    the document valid); lets checks tell the override's problems from the base's."""

    @property
    def calibration_path(self) -> Path | None:
        c = self.scenario.calibration
        return (self.path.parent / c) if c else None


def override_label(override: str | None) -> str:
    """Key-path prefix of a problem an override brings in: ``overrides.NAME -> ``."""
    return f"overrides.{override} -> " if override is not None else ""


def _merge(base: Any, patch: Any, where: str, file: str) -> Any:
    """Deep-merge ``patch`` into ``base``; lists of named mappings (workloads) merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base[k], v, f"{where}.{k}", file) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, dict) and all(isinstance(i, dict) and "name" in i for i in base):
        by_name = {i["name"]: idx for idx, i in enumerate(base)}
        out_list = list(base)
        for name, item_patch in patch.items():
            if name not in by_name:
                raise InputError(f"override patches unknown workload {name!r}", file=file, key_path=f"{where}.{name}",
                                 fix=f"use one of {', '.join(map(str, by_name))}")
            out_list[by_name[name]] = _merge(base[by_name[name]], item_patch, f"{where}.{name}", file)
        return out_list
    return copy.deepcopy(patch)


def override_names(path: str | Path) -> list[str]:
    """Names under ``overrides:`` of a scenario file, in file order ([] when there are none)."""
    doc = read_yaml(path)
    overrides = doc.get("overrides") if isinstance(doc, dict) else None
    return [str(k) for k in overrides] if isinstance(overrides, dict) else []


def _override_patch(doc: dict[str, Any], override: str, file: str) -> dict[str, Any]:
    overrides = doc.get("overrides") or {}
    if not isinstance(overrides, dict) or override not in overrides:
        names = ", ".join(sorted(map(str, overrides))) if isinstance(overrides, dict) and overrides else "none defined"
        raise InputError(f"unknown override {override!r}", file=file, key_path="overrides",
                         fix=f"available: {names}")
    patch = overrides[override]
    if not isinstance(patch, dict):
        raise InputError(f"an override must be a mapping of keys to patch, got {type(patch).__name__}", file=file,
                         key_path=f"overrides.{override}", fix="e.g. `workloads: {chat: {traffic: ...}}`")
    return patch


def _signature(err: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(err["loc"]), err["type"], err["msg"]


def _validate_with_override(doc: dict[str, Any], merged: dict[str, Any], override: str,
                            file: str) -> tuple[Scenario, Scenario | None]:
    """Validate base and merged documents; label the merged document's errors the base lacks."""
    base: Scenario | None = None
    base_errors: set[tuple[Any, ...]] = set()
    try:
        base = Scenario.model_validate(doc)
    except ValidationError as exc:
        base_errors = {_signature(e) for e in exc.errors(include_url=False)}
    try:
        return Scenario.model_validate(merged), base
    except ValidationError as exc:
        labels = ["" if _signature(e) in base_errors else override_label(override)
                  for e in exc.errors(include_url=False)]
        lines = describe_validation_error(exc, None, Scenario).splitlines()
        if len(lines) != len(labels):  # a message spanning lines: cannot pair them, label all alike
            labels = [max(labels)] * len(lines)
        text = "\n".join(f"{file}: {label}{line}" for label, line in zip(labels, lines, strict=True))
        raise InputError(text) from None


def load_scenario(path: str | Path, override: str | None = None) -> LoadedScenario:
    p = Path(path)
    file = str(p)
    doc = read_yaml(p)
    if not isinstance(doc, dict):
        raise InputError("a scenario must be a mapping (name:, workloads:, site:, ...)", file=file)
    if override is None:
        scenario = validate_data(Scenario, doc, file)
        return LoadedScenario(scenario=scenario, path=p, override=None, raw_bytes=p.read_bytes())
    merged = _merge(doc, _override_patch(doc, override, file), f"overrides.{override}", file)
    scenario, base = _validate_with_override(doc, merged, override, file)
    return LoadedScenario(scenario=scenario, path=p, override=override, raw_bytes=p.read_bytes(), base=base)


# ---- names against the catalog ------------------------------------------------------------------

def _unknown(exc: UnknownNameError) -> str:
    return exc.message + (f" ({exc.fix})" if exc.fix else "")


def _gpu_mappings(scenario: Scenario) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping keyed by GPU id or alias, with its key path."""
    yield "hardware.inventory", scenario.hardware.inventory
    yield "hardware.servers", scenario.hardware.servers
    yield "finance.gpu_prices_usd", scenario.finance.gpu_prices_usd
    yield "finance.server_prices_usd", scenario.finance.server_prices_usd


def _gpu_list_problems(gpus: list[str] | None, catalog: Catalog) -> list[tuple[str, str]]:
    if gpus is None:
        return []
    if not gpus:
        return [("hardware.gpus", "an empty list allows no GPU (list the candidate GPUs, e.g. [h100-sxm], "
                                  "or remove the key to consider every GPU in the catalog)")]
    out = []
    for i, name in enumerate(gpus):
        try:
            catalog.gpu(name)
        except UnknownNameError as exc:
            out.append((f"hardware.gpus[{i}]", _unknown(exc)))
    return out


def _gpu_key_problems(where: str, mapping: Mapping[str, Any], catalog: Catalog) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    first_key: dict[str, str] = {}
    for key in mapping:
        try:
            gpu_id = catalog.gpu(key).id
        except UnknownNameError as exc:
            out.append((f"{where}.{key}", _unknown(exc)))
            continue
        if gpu_id in first_key:
            out.append((f"{where}.{key}", f"names GPU {gpu_id}, as does key {first_key[gpu_id]!r} "
                                          "(keep one of the two keys)"))
        else:
            first_key[gpu_id] = key
    return out


def name_problems(scenario: Scenario, catalog: Catalog) -> list[tuple[str, str]]:
    """(key path, message with its fix) of every model or GPU name the catalog does not resolve,
    of GPU-keyed mappings with two keys for one GPU, and of an empty ``hardware.gpus``."""
    out = []
    for i, w in enumerate(scenario.workloads):
        try:
            catalog.model(w.model)
        except UnknownNameError as exc:
            out.append((f"workloads[{i}].model", _unknown(exc)))
    out += _gpu_list_problems(scenario.hardware.gpus, catalog)
    for where, mapping in _gpu_mappings(scenario):
        out += _gpu_key_problems(where, mapping, catalog)
    return out


def check_names(loaded: LoadedScenario, catalog: Catalog) -> None:
    """Raise one InputError listing, one per line, every name problem of a loaded scenario.

    With an override, a problem the base scenario does not have is labelled ``overrides.NAME -> ``.
    """
    problems = name_problems(loaded.scenario, catalog)
    if not problems:
        return
    in_base = set(name_problems(loaded.base, catalog)) if loaded.base is not None else set()
    label = override_label(loaded.override)
    lines = [f"{loaded.path}: {'' if (where, text) in in_base else label}{where}: {text}"
             for where, text in problems]
    raise InputError("\n".join(lines))
