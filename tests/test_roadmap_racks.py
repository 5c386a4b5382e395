"""Racks in a roadmap are built just in time, whichever of the equal-cost optima the solver returns.

With no discount a rack built a period early costs the same, and a rack already standing costs nothing
to fill, so the solver may return either (HiGHS 1.7 built one a quarter early where the locked 1.16 does not, and
`planner check`, which recomputes capex just in time, then failed). The roadmap derives the fewest racks
each period's servers need and builds them in the first period that needs them, so the plan is the same
for every such optimum. The solver's choice is imitated here by moving a rack a period early in its
returned values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from roadmap_helpers import growing_fleet, roadmap

from planner.optimize import backend
from planner.optimize.program import int_value
from planner.roadmap.check import cost_lines
from planner.roadmap.program import RoadmapModel, initial_racks, racks_standing_just_in_time
from planner.roadmap.solve import solve_roadmap
from planner.schemas.plan import Plan

pytestmark = pytest.mark.integration

_doc = growing_fleet


def _rack_built_early(m: RoadmapModel, *, fill: bool) -> bool:
    """The solver's racks standing with the first rack built after the first period moved one period earlier
    (the same cost with no discount); ``fill``: that period's fleet also spreads over it (one more rack in a
    pool with servers to spare). False: no rack is built after the first period, so there is none to move."""
    used = [sum(int_value(v) for v in view.racks.values()) for view in m.onsite]
    standing = racks_standing_just_in_time(initial_racks(m.roadmap), used)
    early = next((t for t in range(len(standing) - 1) if standing[t + 1] > standing[t]), None)
    if early is None:
        return False
    for t, n in enumerate(standing):
        m.racks_built[t].varValue = float(n + (t == early))
    if fill:
        view = m.onsite[early]
        key = next(k for k, v in sorted(view.racks.items()) if int_value(view.servers[k]) > int_value(v) > 0)
        view.racks[key].varValue = float(int_value(view.racks[key]) + 1)
    return True


def _solve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, fill: bool | None) -> Plan:
    """The roadmap's plan; ``fill`` not None: the solver's values with a rack built a period early."""
    real: Callable[..., Any] = backend.solve_program
    moved: list[bool] = []

    def early(m: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(m, *args, **kwargs)
        moved.append(_rack_built_early(m, fill=bool(fill)))
        return result

    if fill is not None:
        monkeypatch.setattr(backend, "solve_program", early)
    plan = solve_roadmap(roadmap(tmp_path, _doc()))
    monkeypatch.undo()
    assert fill is None or moved == [True], "the scenario must build a rack after its first period"
    return plan


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    with pytest.MonkeyPatch.context() as mp:
        return _solve(tmp_path_factory.mktemp("plain"), mp, fill=None)


def test_racks_stand_from_the_first_period_that_needs_them() -> None:
    assert racks_standing_just_in_time(1, [1, 1, 2, 1, 4]) == [1, 1, 2, 2, 4]
    assert racks_standing_just_in_time(3, [0, 2]) == [3, 3]
    assert racks_standing_just_in_time(0, []) == []


@pytest.mark.parametrize("fill", [False, True], ids=["rack-standing-empty", "fleet-spread-over-it"])
def test_a_rack_built_early_at_equal_cost_gives_the_same_plan(plain: Plan, fill: bool, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    early = _solve(tmp_path, monkeypatch, fill=fill)
    assert early.periods == plain.periods
    assert early.objective.value == pytest.approx(plain.objective.value, rel=1e-9)


def test_check_recomputes_the_capex_the_plan_records(plain: Plan, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    periods = plain.periods or []
    racks = [p.totals.racks for p in periods]
    assert racks[-1] > racks[0]  # a rack is built within the horizon
    early = _solve(tmp_path, monkeypatch, fill=False)
    assert cost_lines(roadmap(tmp_path, _doc()), early.periods or []) == []
