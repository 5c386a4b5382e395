"""Each planning rule and unit factor is written once (issue 10): a second copy anywhere in planner/
fails here, naming the file and line, so a new stage reads the rule from its home instead.

The homes: unit factors in planner/units.py; demand with headroom, N+k spare capacity, usable rack
power (derated breaker, air-cooling limit) and servers per rack in planner/problem/model.py. Text
that shows a rule to a reader (an f-string) does not count as a copy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PLANNER = Path(__file__).resolve().parents[2] / "planner"
UNIT_HOME = "units.py"
RULE_HOME = "problem/model.py"
FACTORS = {8760.0: "HOURS_PER_YEAR", 3.412142: "BTU_PER_HR_PER_W", 12_000.0: "BTU_PER_HR_PER_COOLING_TON",
           3.6e6: "J_PER_KWH", 730.0: "HOURS_PER_MONTH"}
"""Literal unit factors and the planner.units name to use instead."""
RULE_FIELDS = {"headroom": "WorkloadDemand.required_requests_per_s",
               "breaker_derating": "SiteLimits.derated_breaker_w / usable_rack_w",
               "redundancy": "WorkloadDemand.spare_requests_per_s / capacity_after_spares"}
"""Scenario fields whose arithmetic is a planning rule, and the rule's home."""
DEFINED_ONCE = ("usable_rack_w", "servers_per_rack", "required_requests_per_s", "spare_requests_per_s",
                "capacity_after_spares", "resolve_names", "annual_energy_kwh", "tco_usd", "deployment_figures")
"""Functions and properties that exist once in planner (a second definition would be a second rule)."""


def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(PLANNER)), ast.parse(p.read_text(encoding="utf-8")))
            for p in sorted(PLANNER.rglob("*.py"))]


def _outside_fstrings(tree: ast.AST) -> list[ast.AST]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside.update(id(n) for n in ast.walk(node))
    return [n for n in ast.walk(tree) if id(n) not in inside]


def test_unit_factors_are_literal_only_in_planner_units() -> None:
    copies = [f"planner/{name}:{n.lineno}: {n.value!r} (use planner.units.{FACTORS[float(n.value)]})"
              for name, tree in _modules() if name != UNIT_HOME for n in _outside_fstrings(tree)
              if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool)
              and float(n.value) in FACTORS]
    assert copies == []


def test_rule_arithmetic_on_scenario_fields_lives_in_the_problem() -> None:
    def field(node: ast.AST) -> str | None:
        return node.attr if isinstance(node, ast.Attribute) and node.attr in RULE_FIELDS else None

    copies = []
    for name, tree in _modules():
        if name == RULE_HOME:
            continue
        for n in _outside_fstrings(tree):
            if isinstance(n, ast.BinOp) and (f := field(n.left) or field(n.right)):
                copies.append(f"planner/{name}:{n.lineno}: arithmetic on .{f} (use {RULE_FIELDS[f]})")
    assert copies == []


def test_each_rule_function_is_defined_once() -> None:
    homes: dict[str, list[str]] = {}
    for name, tree in _modules():
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in DEFINED_ONCE:
                homes.setdefault(n.name, []).append(f"planner/{name}:{n.lineno}")
    assert {k: v for k, v in homes.items() if len(v) > 1} == {}
    assert set(homes) == set(DEFINED_ONCE)  # every rule still exists (the test would be vacuous otherwise)
