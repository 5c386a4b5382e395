"""Load a scenario YAML, apply a named override, validate it into the strict schema."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.io.files import read_yaml, validate_data
from planner.schemas.scenario import Scenario


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    path: Path
    override: str | None
    raw_bytes: bytes

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
        by_name = {i["name"]: idx for idx, i in enumerate(base)}
        out_list = list(base)
        for name, item_patch in patch.items():
            if name not in by_name:
                raise InputError(f"override patches unknown workload {name!r}", file=file, key_path=where,
                                 fix=f"use one of {', '.join(by_name)}")
            out_list[by_name[name]] = _merge(base[by_name[name]], item_patch, f"{where}.{name}", file)
        return out_list
    return copy.deepcopy(patch)


def load_scenario(path: str | Path, override: str | None = None) -> LoadedScenario:
    p = Path(path)
    doc = read_yaml(p)
    if not isinstance(doc, dict):
        raise InputError("a scenario must be a mapping (name:, workloads:, site:, ...)", file=str(p))
    if override is not None:
        overrides = doc.get("overrides") or {}
        if not isinstance(overrides, dict) or override not in overrides:
            names = ", ".join(sorted(overrides)) if isinstance(overrides, dict) and overrides else "none defined"
            raise InputError(f"unknown override {override!r}", file=str(p), key_path="overrides",
                             fix=f"available: {names}")
        patch = overrides[override]
        if not isinstance(patch, dict):
            raise InputError("an override must be a mapping of keys to patch", file=str(p),
                             key_path=f"overrides.{override}")
        doc = _merge(doc, patch, f"overrides.{override}", str(p))
    scenario = validate_data(Scenario, doc, str(p))
    return LoadedScenario(scenario=scenario, path=p, override=override, raw_bytes=p.read_bytes())
