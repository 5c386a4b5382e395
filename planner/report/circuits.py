"""Rack feeds and circuits: each feed sized for the rack's nameplate load under the 80 % rule.

Under 2N (A/B feeds) each feed must carry the full rack load alone, so both are sized for 100 %
of the rack's nameplate maximum; under N one feed carries it. A rack circuit's rating is the
site's ``rack_power_cap_kw``; usable = rating x ``breaker_derating`` (NEC continuous-load rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.report.constants import NEC_STANDARD_BREAKER_A, SQRT3


@dataclass(frozen=True)
class CircuitSpec:
    rating_w: float
    """Breaker rating of one rack circuit, as power (site rack_power_cap_kw)."""
    derating: float
    voltage_v: float
    """Line-to-line voltage (three-phase) or line voltage (single-phase)."""
    phases: int
    power_factor: float

    @property
    def usable_w(self) -> float:
        return self.rating_w * self.derating


@dataclass(frozen=True)
class FeedSizing:
    feeds: int
    """Feeds per rack: 2 under 2N (A and B), 1 under N."""
    feed_load_w: float
    """Load each feed must carry alone: the rack's full nameplate maximum."""
    circuits_per_feed: int
    load_share_of_usable: float
    """Feed load / usable capacity of the feed's circuits."""
    current_a: float
    """Continuous current per feed at the circuit voltage and power factor."""
    breaker_min_a: int
    """Smallest NEC 240.6 standard breaker whose derated rating covers one circuit's current."""


def feeds_per_rack(feeds: str) -> int:
    return 2 if feeds.upper() == "2N" else 1


def line_current_a(power_w: float, spec: CircuitSpec) -> float:
    """Current per phase conductor: P / (sqrt(3) V_LL PF) three-phase, P / (V PF) single-phase."""
    volt_amperes_per_amp = spec.voltage_v * spec.power_factor * (SQRT3 if spec.phases == 3 else 1.0)
    return power_w / volt_amperes_per_amp


def standard_breaker_a(continuous_current_a: float, derating: float) -> int:
    """Smallest standard rating whose derated share (80 %) covers the current (NEC 210.20(A), 240.6)."""
    needed_a = continuous_current_a / derating
    for rating_a in NEC_STANDARD_BREAKER_A:
        if rating_a >= needed_a - 1e-9:
            return rating_a
    return NEC_STANDARD_BREAKER_A[-1]


def size_feed(rack_nameplate_w: float, feeds: str, spec: CircuitSpec) -> FeedSizing:
    """Circuits each feed needs for a rack, and the current and breaker per circuit."""
    circuits = max(1, math.ceil(rack_nameplate_w / spec.usable_w - 1e-9))
    current_a = line_current_a(rack_nameplate_w, spec)
    return FeedSizing(
        feeds=feeds_per_rack(feeds),
        feed_load_w=rack_nameplate_w,
        circuits_per_feed=circuits,
        load_share_of_usable=rack_nameplate_w / (circuits * spec.usable_w),
        current_a=current_a,
        breaker_min_a=standard_breaker_a(current_a / circuits, spec.derating),
    )
