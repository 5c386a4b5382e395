"""Load a scenario YAML, apply a named override, validate it into the strict schema.

Every problem names the file and the key path; a problem an override brings in is reported as
``file: overrides.NAME -> key.path: ...`` so that the user edits the override, not the base.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import InputError
from planner.io.files import describe_validation_error, read_yaml, read_yaml_and_bytes, validate_data
from planner.scenario.names import check_names, name_problems, override_label
from planner.schemas.scenario import Scenario

__all__ = ["ROADMAP_ONLY_KEYS", "LoadedScenario", "check_names", "load_scenario", "name_problems", "override_label",
           "override_names", "roadmap_only_key"]

ROADMAP_ONLY_KEYS = ("hardware.owned", "hardware.cloud", "hardware.lead_time_periods", "finance.discount_rate_per_year")
"""Keys only a roadmap (a scenario with ``horizon``) reads; a single-period solve would ignore them silently."""


def roadmap_only_key(s: Scenario) -> str | None:
    """The first roadmap-only key a scenario without ``horizon`` sets (None when it sets none, or has a horizon)."""
    if s.horizon is not None:
        return None
    given = {"hardware.owned": bool(s.hardware.owned), "hardware.cloud": bool(s.hardware.cloud),
             "hardware.lead_time_periods": s.hardware.lead_time_periods != 0,
             "finance.discount_rate_per_year": bool(s.finance.discount_rate_per_year)}
    return next((k for k in ROADMAP_ONLY_KEYS if given[k]), None)


def _no_roadmap_keys(loaded: LoadedScenario) -> LoadedScenario:
    key = roadmap_only_key(loaded.scenario)
    if key is not None:
        raise InputError("is a roadmap key: a scenario without `horizon` is one period and would ignore it",
                         file=str(loaded.path), key_path=key,
                         fix="add `horizon:` to plan several periods (docs/roadmap.md), or remove the key")
    return loaded


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
    def is_roadmap(self) -> bool:
        """The scenario plans several periods (``horizon``): planner.roadmap solves and checks it."""
        return self.scenario.horizon is not None

    @property
    def calibration_path(self) -> Path | None:
        c = self.scenario.calibration
        return (self.path.parent / c) if c else None


def _merge(base: Any, patch: Any, where: str, file: str) -> Any:
    """Deep-merge ``patch`` into ``base``; lists of named mappings (workloads) merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base[k], v, f"{where}.{k}", file) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, dict) and all(isinstance(i, dict) and "name" in i for i in base):
        _check_names_are_strings(base, where, file)
        by_name = {i["name"]: idx for idx, i in enumerate(base)}
        out_list = list(base)
        for name, item_patch in patch.items():
            if name not in by_name:
                raise InputError(f"override patches unknown workload {name!r}", file=file, key_path=f"{where}.{name}",
                                 fix=f"use one of {', '.join(map(str, by_name))}")
            out_list[by_name[name]] = _merge(base[by_name[name]], item_patch, f"{where}.{name}", file)
        return out_list
    return copy.deepcopy(patch)


def _check_names_are_strings(items: list[dict[str, Any]], where: str, file: str) -> None:
    """An override patches workloads by name, so each name must be a string (not `name: {}`)."""
    for i, item in enumerate(items):
        if not isinstance(item["name"], str):
            kinds: dict[type, str] = {dict: "a mapping", list: "a list"}
            kind = kinds.get(type(item["name"]), type(item["name"]).__name__)
            section = where.rsplit(".", 1)[-1]
            raise InputError(f"the name is {kind}, so {where} cannot patch it by name", file=file,
                             key_path=f"{section}[{i}].name", fix="give each entry a plain name, e.g. `name: chat`")


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


def merge_override(base: dict[str, Any], patch: dict[str, Any], *, where: str = "overrides",
                   file: str = "<scenario>") -> dict[str, Any]:
    """``patch`` deep-merged into the scenario document ``base`` as an override is: mappings key by key,
    workloads by name (an unknown workload name is an InputError naming ``where``)."""
    merged: dict[str, Any] = _merge(base, patch, where, file)
    return merged


def loaded_from_document(doc: Any, raw_bytes: bytes, path: Path, override: str | None = None) -> LoadedScenario:
    """A parsed scenario document validated, with its override merged; ``raw_bytes`` are what its input
    hash is taken from and ``path`` names it in every message."""
    file = str(path)
    if doc is None:
        raise InputError("file is empty", file=file, fix="write the scenario or pick another file")
    if not isinstance(doc, dict):
        raise InputError("a scenario must be a mapping (name:, workloads:, site:, ...)", file=file)
    if override is None:
        return _no_roadmap_keys(LoadedScenario(scenario=validate_data(Scenario, doc, file), path=path, override=None,
                                               raw_bytes=raw_bytes))
    merged = merge_override(doc, _override_patch(doc, override, file), where=f"overrides.{override}", file=file)
    scenario, base = _validate_with_override(doc, merged, override, file)
    return _no_roadmap_keys(LoadedScenario(scenario=scenario, path=path, override=override, raw_bytes=raw_bytes,
                                           base=base))


def load_scenario(path: str | Path, override: str | None = None) -> LoadedScenario:
    """Read a scenario file once, validate it and apply the override."""
    p = Path(path)
    doc, raw = read_yaml_and_bytes(p)
    return loaded_from_document(doc, raw, p, override)
