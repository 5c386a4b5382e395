"""PSU, circuit and heat derivations against hand calculations (tolerances stated per test)."""

from __future__ import annotations

import math

import pytest

from planner.report.circuits import CircuitSpec, line_current_a, size_feed, standard_breaker_a
from planner.report.psu import (
    Redundancy,
    carries_nameplate,
    efficiency_at,
    parse_redundancy,
    psu_load,
)
from planner.units import BTU_PER_HR_PER_COOLING_TON, BTU_PER_HR_PER_W


@pytest.mark.parametrize(("tier", "share", "expected", "below"), [
    ("titanium", 0.10, 0.90, False),
    ("titanium", 0.20, 0.94, False),
    ("titanium", 0.35, 0.95, False),   # halfway 20 % -> 50 %: (0.94 + 0.96) / 2
    ("titanium", 0.75, 0.935, False),  # halfway 50 % -> 100 %: (0.96 + 0.91) / 2
    ("titanium", 0.05, 0.90, True),
    ("platinum", 0.10, 0.90, True),
    ("gold", 0.50, 0.92, False),
    ("bronze", 1.00, 0.81, False),
    ("Titanium", 1.20, 0.91, False),
])
def test_eighty_plus_efficiency(tier: str, share: float, expected: float, below: bool) -> None:
    efficiency, flagged = efficiency_at(tier, share)
    assert efficiency == pytest.approx(expected, abs=1e-12)
    assert flagged is below


def test_dgx_h100_psu_load_at_expected_peak() -> None:
    # 7,080 W at the wall over 6 x 3,300 W titanium PSUs sharing the load. By hand: eta ~ 0.9493,
    # load = 7080 x 0.9493 / 19800 = 0.3394 (between the 20 % and 50 % test points).
    load = psu_load(7080.0, 6, 3300.0, "titanium")
    assert load.load_share == pytest.approx(0.3394, abs=1e-4)
    assert load.efficiency == pytest.approx(0.9493, abs=1e-4)
    assert load.load_share == pytest.approx(7080.0 * load.efficiency / 19800.0, rel=1e-12)
    assert load.efficiency == pytest.approx(efficiency_at("titanium", load.load_share)[0], rel=1e-12)
    assert not load.below_test_points


@pytest.mark.parametrize(("text", "count", "expected"), [
    ("4+2", 6, Redundancy(4, 2)),
    ("5+1", 6, Redundancy(5, 1)),
    ("N+1", 6, Redundancy(5, 1)),
    ("2N", 4, Redundancy(2, 2)),
    ("N+N", 6, Redundancy(3, 3)),
    ("N", 2, Redundancy(2, 0)),
    ("shared", 6, None),
    (None, 6, None),
    ("4+2", None, None),
])
def test_parse_redundancy(text: str | None, count: int | None, expected: Redundancy | None) -> None:
    assert parse_redundancy(text, count) == expected


def test_carries_nameplate_with_spares_failed() -> None:
    assert carries_nameplate(Redundancy(4, 2), 3300.0, 10200.0) is True   # 13.2 kW >= 10.2 kW (DGX H100)
    assert carries_nameplate(Redundancy(3, 3), 3000.0, 10200.0) is False  # 9.0 kW < 10.2 kW
    assert carries_nameplate(None, 3300.0, 10200.0) is None


def test_nec_example_208v_three_phase_30a() -> None:
    # planning.md section 4: 208 V 3-phase 30 A -> 10.8 kVA, 8.6 kW usable at 80 % (PF 1).
    rating_w = math.sqrt(3) * 208 * 30
    spec = CircuitSpec(rating_w=rating_w, derating=0.8, voltage_v=208, phases=3, power_factor=1.0)
    assert rating_w == pytest.approx(10_808, abs=1)
    assert spec.usable_w == pytest.approx(8_646, abs=1)
    assert line_current_a(spec.usable_w, spec) == pytest.approx(24.0, rel=1e-9)
    assert standard_breaker_a(24.0, 0.8) == 30


def test_three_rack_dgx_h100_feed_at_415v() -> None:
    # 3 x 10.2 kW = 30.6 kW per feed (2N: each feed alone), 415 V 3-phase, PF 0.95:
    # I = 30600 / (1.732 x 415 x 0.95) = 44.8 A; 44.8 / 0.8 = 56.0 A -> 60 A standard breaker.
    spec = CircuitSpec(rating_w=40_000, derating=0.8, voltage_v=415, phases=3, power_factor=0.95)
    sizing = size_feed(30_600, "2N", spec)
    assert sizing.feeds == 2
    assert sizing.feed_load_w == 30_600
    assert sizing.circuits_per_feed == 1
    assert sizing.load_share_of_usable == pytest.approx(30_600 / 32_000)
    assert sizing.current_a == pytest.approx(44.81, abs=0.01)
    assert sizing.breaker_min_a == 60


def test_feed_above_one_circuit_needs_two() -> None:
    spec = CircuitSpec(rating_w=40_000, derating=0.8, voltage_v=415, phases=3, power_factor=0.95)
    sizing = size_feed(40_800, "N", spec)
    assert (sizing.feeds, sizing.circuits_per_feed) == (1, 2)
    assert sizing.load_share_of_usable == pytest.approx(40_800 / 64_000)


def test_single_phase_current() -> None:
    spec = CircuitSpec(rating_w=5_000, derating=0.8, voltage_v=230, phases=1, power_factor=1.0)
    assert line_current_a(2_300, spec) == pytest.approx(10.0)


def test_heat_constants_match_nist() -> None:
    # International Table BTU = 1055.05585262 J (NIST SP 811), so 1 W = 3600 / 1055.05585262
    # = 3.4121416 BTU/h, which the plan convention rounds to 3.412142.
    assert math.isclose(BTU_PER_HR_PER_W, 3600 / 1055.05585262, abs_tol=5e-7)
    assert math.isclose(12_000 / BTU_PER_HR_PER_W, 3_516.85, abs_tol=0.01)  # one ton = 3.517 kW
    assert BTU_PER_HR_PER_COOLING_TON == 12_000
