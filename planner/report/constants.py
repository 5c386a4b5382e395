"""Engineering constants only the reports use (circuits, breakers, PSUs), each with its source.

The plan holds every planned figure; these only turn plan figures into the units facilities and
procurement read (amps, breaker sizes, PSU load share). Unit factors shared with the planner
(BTU/hr per W, BTU/hr per cooling ton, hours per year) live in planner.units. Full precision lives
here; text shows rounded values.
"""

from __future__ import annotations

NEC_CONTINUOUS_LOAD_FACTOR = 0.8
"""Plan at most 80 % of a breaker for continuous loads (NEC 210.19(A)(1), 210.20(A), 215.2/215.3)."""

NEC_STANDARD_BREAKER_A: tuple[int, ...] = (
    15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100, 110, 125, 150, 175, 200, 225, 250,
    300, 350, 400, 450, 500, 600, 700, 800, 1000, 1200,
)
"""Standard ampere ratings of fuses and inverse-time breakers (NEC 240.6(A))."""

DEFAULT_CIRCUIT_VOLTAGE_V = 415.0
"""Line-to-line voltage of a rack circuit when the plan's site does not state one
(415/240 V three-phase, the usual high-density rack feed in North America)."""

DEFAULT_CIRCUIT_PHASES = 3
"""Phases of a rack circuit when the plan's site does not state them."""

DEFAULT_POWER_FACTOR = 0.95
"""Server power factor when the plan's site does not state one (80 PLUS Titanium requires
PF >= 0.95 at 20-100 % load; a conservative floor for active-PFC server PSUs)."""

SQRT3 = 3 ** 0.5
"""Three-phase power: P = sqrt(3) x V_LL x I x PF (NEC Annex D, IEEE 141)."""
