"""The Python API of a solve: a scenario (a file or a dict) in, the typed plan out, no file written.

    plan = planner.solve("scenarios/chatbot.yaml")
    plan.totals.tco_usd
    plan.frames()["deployments"]          # pandas DataFrames: deployments, servers, racks, totals, constraints
    plan.frames()["deployments"][["workload", "role", "power_limit_w", "speculative_method", "launch_command"]]
    plan.frames()["deployments"][["workload", "tp", "pp", "dp", "ep", "gpus"]]   # a replica: tp x pp x dp GPUs

A dict is validated as a scenario file is: every problem is reported once, naming ``<dict>`` as the
file and the key path. Its input hash is the hash of its content (a canonical YAML dump), so the same
dict always gives the same plan, byte for byte. A ``calibration:`` path in a dict is relative to the
current directory (a file's is relative to the file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from planner.catalog.loader import load_catalog
from planner.errors import InputError
from planner.optimize.solve import solve_problem
from planner.problem.build import resolve_problem
from planner.scenario.load import LoadedScenario, load_scenario, loaded_from_document
from planner.schemas.plan import Plan

DICT_FILE = "<dict>"
"""How messages about a dict scenario name its file."""

__all__ = ["DICT_FILE", "loaded_from_dict", "solve"]


def canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """The dict as YAML with sorted keys: the bytes its input hash is taken from."""
    try:
        text = yaml.safe_dump(dict(doc), sort_keys=True, allow_unicode=True, default_flow_style=False)
    except yaml.YAMLError as exc:
        raise InputError(f"the scenario holds a value YAML cannot represent ({exc})", file=DICT_FILE,
                         fix="use only str, int, float, bool, None, lists and dicts") from None
    return text.encode()


def loaded_from_dict(doc: Mapping[str, Any], override: str | None = None) -> LoadedScenario:
    """A scenario dict validated (with its override merged) as planner.scenario.load does a file."""
    if not isinstance(doc, Mapping):
        raise InputError(f"a scenario must be a mapping (name:, workloads:, ...), got {type(doc).__name__}",
                         file=DICT_FILE)
    data = dict(doc)
    return loaded_from_document(data, canonical_bytes(data), Path(DICT_FILE), override)


def solve(scenario: str | Path | Mapping[str, Any], *, override: str | None = None,
          catalog_dirs: list[str] | None = None, calibration: str | Path | None = None,
          analysis: bool = True) -> Plan:
    """Solve a scenario (a YAML path or a dict) and return its typed plan; no file is written.

    ``override`` names one of the scenario's ``overrides:``; ``catalog_dirs`` adds user catalog
    folders; ``calibration`` replaces the scenario's calibration file; ``analysis`` False skips the
    what-if re-solves and objective alternatives (faster). A scenario with ``horizon`` is solved as a
    roadmap (planner.roadmap: one program over its periods; the plan's ``periods`` hold each one).
    Raises planner.errors.InputError for a bad scenario and InfeasibleError (with the relaxations
    that would help) when no fleet fits."""
    loaded = (load_scenario(scenario, override) if isinstance(scenario, str | Path)
              else loaded_from_dict(scenario, override))
    if loaded.is_roadmap:  # several periods: one program over the roadmap
        from planner.roadmap.solve import solve_roadmap_loaded
        return solve_roadmap_loaded(loaded, load_catalog(catalog_dirs), calibration=calibration, analysis=analysis)
    problem = resolve_problem(loaded, load_catalog(catalog_dirs), calibration=calibration)
    return solve_problem(problem, analysis=analysis)
