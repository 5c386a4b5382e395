"""Server power supplies: 80 PLUS efficiency at the planned load and redundancy checks.

The plan gives each server group's PSU count, rating, redundancy and 80 PLUS tier, and the racks'
expected input power; this module derives the load share of each PSU and its efficiency there.
Redundant PSUs share the load, so each runs well below its rating (and below its best efficiency).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EIGHTY_PLUS_230V_INTERNAL_REDUNDANT: dict[str, tuple[tuple[float, float], ...]] = {
    "titanium": ((0.10, 0.90), (0.20, 0.94), (0.50, 0.96), (1.00, 0.91)),
    "platinum": ((0.20, 0.90), (0.50, 0.94), (1.00, 0.91)),
    "gold": ((0.20, 0.88), (0.50, 0.92), (1.00, 0.88)),
    "silver": ((0.20, 0.85), (0.50, 0.89), (1.00, 0.85)),
    "bronze": ((0.20, 0.81), (0.50, 0.85), (1.00, 0.81)),
}
"""Minimum efficiency (DC out / AC in) at a share of rated load, 80 PLUS "230 V internal
redundant" programme (CLEAResult; table reproduced by Wikipedia "80 Plus" and Tom's Hardware).
Between test points the report interpolates linearly; below the lowest it uses the lowest."""

_FIXED_POINT_ITERATIONS = 50


@dataclass(frozen=True)
class Redundancy:
    needed: int
    """PSUs that must work to carry the server (the N of N+k)."""
    spare: int


@dataclass(frozen=True)
class PsuLoad:
    load_share: float
    """DC output of one PSU / its rating, with every installed PSU sharing the load."""
    efficiency: float
    """80 PLUS minimum efficiency at that load share."""
    below_test_points: bool
    """True when the load is below the tier's lowest test point (efficiency not certified)."""


def parse_redundancy(text: str | None, count: int | None) -> Redundancy | None:
    """``"4+2"``, ``"N+1"``, ``"2N"``/``"N+N"`` -> PSUs needed and spares; None if unknown."""
    if text is None or count is None:
        return None
    spec = text.strip().upper().replace(" ", "")
    explicit = re.fullmatch(r"(\d+)\+(\d+)", spec)
    if explicit:
        return Redundancy(int(explicit.group(1)), int(explicit.group(2)))
    spare_match = re.fullmatch(r"N\+(\d+)", spec)
    if spare_match:
        spare = int(spare_match.group(1))
        return Redundancy(count - spare, spare)
    if spec in ("2N", "N+N"):
        return Redundancy(count // 2, count - count // 2)
    if spec == "N":
        return Redundancy(count, 0)
    return None


def efficiency_at(tier: str, load_share: float) -> tuple[float, bool]:
    """Interpolated 80 PLUS minimum efficiency at ``load_share``; flag when below the test points."""
    points = EIGHTY_PLUS_230V_INTERNAL_REDUNDANT[tier.lower()]
    if load_share <= points[0][0]:
        return points[0][1], load_share < points[0][0]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if load_share <= x1:
            return y0 + (y1 - y0) * (load_share - x0) / (x1 - x0), False
    return points[-1][1], False


def psu_load(input_power_w: float, psu_count: int, psu_rating_w: float, tier: str) -> PsuLoad:
    """Load share and efficiency of each PSU when a server draws ``input_power_w`` at the wall.

    Output = input x efficiency(load) and load = output / (count x rating): a fixed point, solved
    by iteration (it converges in a few steps because efficiency varies slowly with load).
    """
    efficiency, below = efficiency_at(tier, 0.5)
    share = 0.0
    for _ in range(_FIXED_POINT_ITERATIONS):
        share = input_power_w * efficiency / (psu_count * psu_rating_w)
        efficiency, below = efficiency_at(tier, share)
    return PsuLoad(load_share=share, efficiency=efficiency, below_test_points=below)


def carries_nameplate(redundancy: Redundancy | None, psu_rating_w: float | None,
                      server_max_power_w: float) -> bool | None:
    """Whether the PSUs left after losing every spare still carry the server's nameplate maximum."""
    if redundancy is None or psu_rating_w is None:
        return None
    return redundancy.needed * psu_rating_w >= server_max_power_w


def known_tier(tier: str | None) -> bool:
    return tier is not None and tier.lower() in EIGHTY_PLUS_230V_INTERNAL_REDUNDANT
