"""Infeasibility answered in a handful of solves: one all-families elastic solve, per-family solves only
where it carries slack, rack and SLO factors by bisection, SLO relaxations by group testing."""

from __future__ import annotations

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


def test_the_power_cap_scenario_is_answered_in_a_handful_of_solves(monkeypatch: pytest.MonkeyPatch) -> None:
    count = counted_solves(monkeypatch)
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(ROOT / "scenarios" / "infeasible-power-cap.yaml")
    assert exc.value.explanation[0] == "needs +62.4 kW datacenter IT power (site.power_cap_kw)"
    # the solve, the all-families elastic solve, the power family alone, one SLO group test (was 12)
    assert count[0] <= 5


def test_a_slo_relaxation_is_offered_only_when_a_solve_finds_a_plan(tmp_path: Path) -> None:
    """chatbot with a 30 ms ITL SLO under a 20 kW cap: more power, or a looser ITL SLO (the smallest
    factor that admits a plan, found by bisection), and applying that SLO does give a plan."""
    doc = yaml.safe_load((ROOT / "scenarios" / "chatbot.yaml").read_text())
    doc["workloads"][0]["slo"]["itl_p95_ms"] = 30
    doc["site"]["power_cap_kw"] = 20
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InfeasibleError) as exc:
        solve_scenario(path, analysis=False)
    assert exc.value.explanation[:2] == ["needs +8.6 kW datacenter IT power (site.power_cap_kw)",
                                         "or ITL p95 SLO of chat 30 -> 37.5 ms"]
    doc["workloads"][0]["slo"]["itl_p95_ms"] = 37.5
    path.write_text(yaml.safe_dump(doc))
    assert solve_scenario(path, analysis=False).status == "optimal"
