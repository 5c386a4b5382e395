"""A roadmap solves over its periods: owned hardware first, retirement, lead times, rentals."""

from __future__ import annotations

from pathlib import Path

import pytest
from roadmap_helpers import roadmap, scenario

from planner.errors import InfeasibleError
from planner.roadmap.solve import solve_roadmap
from planner.schemas.plan import Plan

pytestmark = pytest.mark.integration

OWNED_H100 = {"gpu": "h100-sxm", "servers": 1, "remaining_life_periods": 3}


def _solve(tmp_path: Path, **changes: object) -> Plan:
    return solve_roadmap(roadmap(tmp_path, scenario(**changes)))


def test_owned_servers_serve_before_anything_is_bought(tmp_path: Path) -> None:
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm", "b200"], "owned": [OWNED_H100]})
    assert plan.status == "optimal"
    assert plan.periods is not None and len(plan.periods) == 3
    for period in plan.periods:
        assert period.purchases == {}
        assert period.installed == {"h100-sxm": 1}
        assert {d.gpu for d in period.deployments} == {"h100-sxm"}


def test_growth_beyond_the_owned_fleet_is_bought(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 9.0}}}
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]}, horizon=horizon)
    assert plan.periods is not None
    assert plan.periods[0].installed == {"h100-sxm": 1}  # the owned server alone serves the first quarter
    bought = sum(n for p in plan.periods for n in p.purchases.values())
    assert bought > 0
    assert plan.periods[-1].installed["h100-sxm"] == 1 + bought


def test_owned_servers_not_needed_are_retired_when_keeping_them_costs_more(tmp_path: Path) -> None:
    owned = {**OWNED_H100, "servers": 4, "resale_usd_per_server": 100_000}
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [owned]})
    assert plan.periods is not None
    first = plan.periods[0]
    kept = first.installed.get("h100-sxm", 0)
    assert 1 <= kept < 4
    assert first.retirements == {"h100-sxm": 4 - kept}
    assert first.totals.resale_usd == pytest.approx((4 - kept) * 100_000)


def test_owned_servers_are_kept_where_needed(tmp_path: Path) -> None:
    owned = {**OWNED_H100, "servers": 1, "resale_usd_per_server": 1000}
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [owned]})
    assert plan.periods is not None
    assert all(p.retirements == {} for p in plan.periods[:-1])


def test_a_lead_time_delays_service_and_rentals_bridge_it(tmp_path: Path) -> None:
    cloud = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "test price"}]
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "lead_time_periods": 1, "cloud": cloud})
    assert plan.periods is not None
    first, second = plan.periods[0], plan.periods[1]
    assert first.installed == {}
    assert first.rentals == {"h100-sxm.cloud": 1}
    assert {d.gpu for d in first.deployments} == {"h100-sxm.cloud"}
    assert first.purchases.get("h100-sxm", 0) >= 1  # ordered in the first quarter ...
    assert second.installed.get("h100-sxm", 0) >= 1  # ... serving from the second
    assert plan.periods[-1].purchases == {}  # an order in the last quarter would arrive too late


def test_a_lead_time_without_rentals_or_owned_hardware_is_infeasible(tmp_path: Path) -> None:
    with pytest.raises(InfeasibleError) as exc:
        _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "lead_time_periods": 1})
    lines = exc.value.explanation
    assert any(line.startswith("P1: serve 20 requests/s less of workload chat") for line in lines)
    assert not any(line.startswith("P2:") for line in lines)  # the order placed in P1 serves from P2


def test_an_infeasible_period_says_which_limit_to_relax(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "site": [{"from_period": 3, "power_cap_kw": 1}]}
    with pytest.raises(InfeasibleError) as exc:
        _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]}, horizon=horizon)
    assert any(line.startswith("P3: +") and "datacenter IT power" in line for line in exc.value.explanation)


def test_a_workload_launching_later_is_served_from_its_launch(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "traffic": {"chat": {"start_period": 2}}}
    workloads = [*scenario()["workloads"],
                 {"name": "steady", "model": "llama-3.1-8b",
                  "traffic": {"peak_requests_per_s": 5, "input_tokens": 500, "output_tokens": 200},
                  "precisions": ["fp8"]}]
    plan = _solve(tmp_path, workloads=workloads, horizon=horizon,
                  hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]})
    assert plan.periods is not None
    assert {d.workload for d in plan.periods[0].deployments} == {"steady"}
    assert {d.workload for d in plan.periods[1].deployments} == {"chat", "steady"}


def test_a_site_limit_that_binds_is_reported_with_its_first_period(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 3.0}},
               "site": [{"from_period": 2, "racks": 1}]}
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]}, horizon=horizon)
    assert plan.periods is not None
    assert "racks_total" in plan.periods[1].totals.binding
    assert any(a.value == "racks_total first binds in P2" for a in plan.assumptions)


def test_the_same_roadmap_gives_the_same_plan(tmp_path: Path) -> None:
    from planner.plan.io import dump_plan

    doc = {"hardware": {"gpus": ["h100-sxm", "b200"], "owned": [OWNED_H100]}}
    assert dump_plan(_solve(tmp_path, **doc)) == dump_plan(_solve(tmp_path, **doc))


@pytest.mark.parametrize("objective", ["min_power", "min_gpus"])
def test_other_objectives_are_summed_over_periods_without_rentals(tmp_path: Path, objective: str) -> None:
    cloud = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 1.0, "source": "test price"}]
    plan = _solve(tmp_path, objective=objective, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100], "cloud": cloud})
    assert plan.periods is not None
    assert all(p.rentals == {} for p in plan.periods)
    assert plan.objective.unit.endswith("(summed)")


def test_a_roadmap_plan_reads_back_byte_for_byte(tmp_path: Path) -> None:
    from planner.plan.io import dump_plan, parse_plan

    text = dump_plan(_solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]}))
    assert '"periods"' in text
    assert dump_plan(parse_plan(text, "plan.json")) == text


GROWTH = {"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 9.0}}}


def test_inventory_bounds_the_gpus_bought_over_the_horizon(tmp_path: Path) -> None:
    # B200 at a price that makes the H100 the cheaper buy, whatever the calibration says of their speeds
    finance = {"amortization_years": 4, "colocation_usd_per_kw_month": 150, "gpu_prices_usd": {"b200": 200000}}
    free = _solve(tmp_path, hardware={"gpus": ["h100-sxm", "b200"], "owned": [OWNED_H100]}, horizon=GROWTH,
                  finance=finance)
    assert free.periods is not None
    h100_free = sum(p.purchases.get("h100-sxm", 0) for p in free.periods)
    assert h100_free >= 2  # without inventory the cheapest roadmap buys more than one H100 server ...
    plan = _solve(tmp_path, hardware={"gpus": ["h100-sxm", "b200"], "owned": [OWNED_H100],
                                      "inventory": {"h100-sxm": 8}}, horizon=GROWTH, finance=finance)
    assert plan.periods is not None
    assert sum(p.purchases.get("h100-sxm", 0) for p in plan.periods) * 8 <= 8  # ... with it, one server at most
    assert sum(p.purchases.get("b200", 0) for p in plan.periods) > 0  # the rest is another GPU type
    assert any(a.value.startswith("hardware.inventory.h100-sxm: ") and "over the horizon" in a.value
               for a in plan.assumptions)


def test_an_inventory_too_small_for_the_horizon_says_how_much_more(tmp_path: Path) -> None:
    with pytest.raises(InfeasibleError) as exc:
        _solve(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100], "inventory": {"h100-sxm": 8}},
               horizon=GROWTH)
    assert any(line.startswith("over the horizon: +") and "hardware.inventory" in line
               for line in exc.value.explanation)


def test_a_budget_bounds_the_capex_of_the_horizon_and_rentals_fill_in(tmp_path: Path) -> None:
    cloud = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "test price"}]
    hardware = {"gpus": ["h100-sxm"], "owned": [OWNED_H100], "cloud": cloud}
    free = _solve(tmp_path, hardware=hardware, horizon=GROWTH)
    assert free.periods is not None
    spent = sum(p.totals.capex_usd for p in free.periods)
    assert spent > 0
    finance = {**scenario()["finance"], "budget_usd": spent / 2}
    plan = _solve(tmp_path, hardware=hardware, horizon=GROWTH, finance=finance)
    assert plan.periods is not None
    assert sum(p.totals.capex_usd for p in plan.periods) <= spent / 2 * (1 + 1e-9)
    assert sum(p.totals.rental_usd for p in plan.periods) > sum(p.totals.rental_usd for p in free.periods)


def test_a_binding_limit_gets_a_what_if_from_the_period_it_first_binds_in(tmp_path: Path) -> None:
    horizon = {"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 3.0}},
               "site": [{"from_period": 2, "racks": 1}]}
    doc = scenario(hardware={"gpus": ["h100-sxm"], "owned": [OWNED_H100]}, horizon=horizon)
    base = solve_roadmap(roadmap(tmp_path, doc))
    assert base.roadmap_what_if is None  # only when analysis is asked for
    assert "roadmap_what_if" not in base.model_dump(mode="json")
    plan = solve_roadmap(roadmap(tmp_path, doc), analysis=True)
    assert plan.roadmap_what_if is not None and len(plan.roadmap_what_if) == 1
    w = plan.roadmap_what_if[0]
    assert (w.limit, w.from_period, w.change) == ("racks_total", "P2", "+1 racks from P2 (from 1 to 2)")
    assert w.answer.startswith(w.change + ": the racks limit ")
    assert w.objective_delta is not None and w.objective_delta <= 1e-6  # one more rack never costs more
    assert w.first_binds in (None, "P2", "P3") and w.objective_unit == "USD (discounted)"
    assert not [a for a in plan.assumptions if a.name == "roadmap what-if"]  # typed, not assumption rows
    assert any("what-if per period: each re-solve starts from the roadmap" in a.value for a in plan.assumptions)
    assert plan.periods == base.periods  # the what-if re-solve leaves the roadmap itself alone


NIGHT_AND_DAY = [0.1] * 8 + [1.0] * 8 + [0.4] * 8


def test_suspending_idle_replicas_in_quiet_hours_lowers_average_power_and_running_cost(tmp_path: Path) -> None:
    hardware = {"gpus": ["h100-sxm"], "owned": [{**OWNED_H100, "servers": 2}]}
    traffic = {"chat": {"growth_per_period": 3.0, "daily_shape": NIGHT_AND_DAY}}
    kept_up = _solve(tmp_path, hardware=hardware, horizon={"count": 3, "traffic": traffic})
    suspended = _solve(tmp_path, hardware=hardware, horizon={"count": 3, "traffic": traffic, "scale_down_idle": True})
    assert kept_up.periods is not None and suspended.periods is not None
    first_up, first_down = kept_up.periods[0], suspended.periods[0]
    assert [d.replicas for d in first_down.deployments] == [1]  # a pool of one replica saves nothing ...
    assert first_down.totals.it_power_avg_w == pytest.approx(first_up.totals.it_power_avg_w)
    for up, down in zip(kept_up.periods[1:], suspended.periods[1:], strict=True):  # ... larger pools do
        assert down.totals.it_power_avg_w < up.totals.it_power_avg_w
        assert down.totals.running_usd < up.totals.running_usd
        assert down.totals.it_power_nameplate_w == up.totals.it_power_nameplate_w  # every replica serves the peak
    assert suspended.objective.value < kept_up.objective.value
    assert any("horizon.scale_down_idle" in a.value for a in suspended.assumptions)


def test_scale_down_without_a_daily_shape_or_an_energy_objective_names_the_key_path(tmp_path: Path) -> None:
    from planner.errors import InputError

    with pytest.raises(InputError) as exc:
        roadmap(tmp_path, scenario(horizon={"count": 2, "scale_down_idle": True}))
    assert "horizon.scale_down_idle: no workload has a daily shape" in exc.value.render()
    shaped = {"count": 2, "scale_down_idle": True, "traffic": {"chat": {"daily_shape": NIGHT_AND_DAY}}}
    with pytest.raises(InputError) as exc:
        roadmap(tmp_path, scenario(objective="min_gpus", horizon=shaped))
    assert "horizon.scale_down_idle: objective min_gpus does not count energy" in exc.value.render()


def test_two_solves_of_a_roadmap_with_near_ties_write_the_same_bytes(tmp_path: Path) -> None:
    """Ties are left as the solver's first optimum (planner.roadmap.plan.TIES_WHY): the same inputs still give
    the same plan.json, what-ifs included. Owned H100s, buyable H100s and B200s and a rented H100 offer
    growing over four quarters leave the solver many near-equal roadmaps to choose from."""
    from planner.plan.io import dump_plan

    cloud = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "test price"}]
    hardware = {"gpus": ["h100-sxm", "b200"], "owned": [{**OWNED_H100, "servers": 2}], "cloud": cloud}
    horizon = {"period": "quarter", "count": 4, "traffic": {"chat": {"growth_per_period": 2.0}},
               "site": [{"from_period": 3, "racks": 2}]}
    doc = scenario(hardware=hardware, horizon=horizon)
    first, second = (dump_plan(solve_roadmap(roadmap(tmp_path, doc), analysis=True)) for _ in range(2))
    assert '"periods"' in first and '"roadmap_what_if"' in first
    assert first == second
    tie_row = next(a for a in solve_roadmap(roadmap(tmp_path, doc)).assumptions if a.name == "tie-break rule")
    assert tie_row.value == "ties not broken: the solver's first optimum is kept"
    assert tie_row.source.startswith("a roadmap keeps the solver's first optimum")  # not the single-period rule
