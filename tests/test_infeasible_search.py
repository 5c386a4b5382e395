"""Infeasibility answered in a handful of solves: one all-families elastic solve, per-family solves only
where it carries slack, rack and SLO factors by bisection, SLO relaxations by group testing."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError
from planner.optimize import backend
from planner.optimize.explain import RACK_FACTORS, SLO_FACTORS, smallest_feasible
from planner.optimize.solve import solve_scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.5, 10.0), min_size=0, max_size=9, unique=True), st.floats(0.0, 11.0))
def test_bisection_finds_the_smallest_feasible_factor(factors: list[float], threshold: float) -> None:
    factors = sorted(factors)
    calls: list[float] = []

    def feasible(x: float) -> bool:
        calls.append(x)
        return x >= threshold

    expected = next((x for x in factors if x >= threshold), None)
    assert smallest_feasible(factors, feasible) == expected
    assert len(calls) <= max(1, len(factors)).bit_length() + 1


def test_factor_lists_are_sorted_for_bisection() -> None:
    assert list(SLO_FACTORS) == sorted(SLO_FACTORS) and list(RACK_FACTORS) == sorted(RACK_FACTORS)


def counted_solves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]
    original = backend._solve_once

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, "_solve_once", counted)
    return count


def applied(doc: dict, line: str) -> dict:  # type: ignore[type-arg]
    """The scenario with one printed alternative applied (kW of site power, or an SLO)."""
    out = copy.deepcopy(doc)
    if m := re.search(r"\+([\d.]+) kW datacenter IT power", line):
        out["site"]["power_cap_kw"] += float(m.group(1)) + 0.05  # the line rounds to 0.1 kW
    elif m := re.search(r"power-capped \(hardware.power_limit_fractions: \[([\d., ]+)\]", line):
        out.setdefault("hardware", {})["power_limit_fractions"] = [float(x) for x in m.group(1).split(",")]
    elif m := re.search(r"(ITL|TTFT) p95 SLO of (\S+) [\d.]+ -> ([\d.]+) ms", line):
        w = next(w for w in out["workloads"] if w["name"] == m.group(2))
        w["slo"][f"{m.group(1).lower()}_p95_ms"] = float(m.group(3))
    else:
        raise AssertionError(f"no rule to apply {line!r}")
    return out


def answer_and_check(tmp_path: Path, doc: dict) -> list[str]:  # type: ignore[type-arg]
    """The infeasibility answer, each alternative verified to admit a plan when applied."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(path, analysis=False)
    lines = [line.removeprefix("needs ").removeprefix("or ") for line in exc.value.explanation
             if line.startswith(("needs ", "or "))]
    for line in lines:
        path.write_text(yaml.safe_dump(applied(doc, line)))
        assert solve_scenario(path, analysis=False).status == "optimal", line
    return lines


def test_the_power_cap_scenario_is_answered_in_a_handful_of_solves(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    doc = yaml.safe_load((ROOT / "scenarios" / "infeasible-power-cap.yaml").read_text())
    count = counted_solves(monkeypatch)
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(ROOT / "scenarios" / "infeasible-power-cap.yaml")
    # the solve (and its one-workload start), the all-families elastic solve, the power family alone,
    # one test with GPU power limits allowed, one SLO group test (the linear scan took 12)
    assert count[0] <= 7
    assert re.fullmatch(r"needs \+[\d.]+ kW datacenter IT power \(site.power_cap_kw\)", exc.value.explanation[0])
    monkeypatch.undo()
    assert answer_and_check(tmp_path, doc)


def test_every_printed_alternative_admits_a_plan(tmp_path: Path) -> None:
    """chatbot with a 30 ms ITL SLO under a site cap 30 % below what it needs: more power, or a looser
    SLO (the smallest factor that admits a plan, found by bisection); each one, applied, gives a plan."""
    doc = yaml.safe_load((ROOT / "scenarios" / "chatbot.yaml").read_text())
    doc["workloads"][0]["slo"]["itl_p95_ms"] = 30
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    need_kw = solve_scenario(path, analysis=False).totals.it_power_nameplate_w / 1e3
    doc["site"]["power_cap_kw"] = round(0.7 * need_kw, 1)
    lines = answer_and_check(tmp_path, doc)
    assert any("kW datacenter IT power" in line for line in lines)


def test_the_power_limited_table_is_generate_candidates_of_the_relaxed_problem() -> None:
    """The power-limit alternative reuses the scenario's TDP rows and generates only the limits below TDP:
    the same rows, every column the same, as generating the relaxed problem whole."""
    from planner.candidates.generate import generate_candidates
    from planner.catalog.loader import load_catalog
    from planner.optimize.explain import _power_limited, power_limited_candidates
    from planner.problem.build import resolve_problem
    from planner.scenario.load import load_scenario

    root = Path(__file__).resolve().parents[1]
    p = resolve_problem(load_scenario(root / "scenarios" / "infeasible-power-cap.yaml", None), load_catalog(),
                        calibration=None)
    relaxed = _power_limited(p)
    assert relaxed is not None
    merged, whole = power_limited_candidates(generate_candidates(p), relaxed), generate_candidates(relaxed)

    def rows(c):  # type: ignore[no-untyped-def]
        return sorted(tuple(repr(c.columns[k][i]) for k in sorted(c.columns)) for i in range(len(c)))

    assert sorted(merged.columns) == sorted(whole.columns)
    assert len(merged) > len(generate_candidates(p)) and rows(merged) == rows(whole)
