"""Properties of the optimum on tiny random problems (hand-made candidate tables, no estimation
core): the objective never falls when demand rises, and never rises when a cap (site power, racks,
budget, inventory) loosens; a problem infeasible under the looser setting is infeasible under the
tighter one too. Every objective is tried."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from planner.optimize.program import OBJECTIVE_EXPR, value

pytestmark = pytest.mark.unit

FEW = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

gpu_spec = st.fixed_dictionaries({
    "gpus_per_server": st.sampled_from([1, 2, 4]),
    "server_max_power_w": st.sampled_from([1000.0, 2500.0, 4000.0]),
    "gpu_price_usd": st.sampled_from([5_000.0, 20_000.0]),
    "server_price_usd": st.sampled_from([0.0, 10_000.0]),
})
workload_spec = st.fixed_dictionaries({
    "peak_requests_per_s": st.sampled_from([1.0, 4.0, 9.5, 20.0]),
    "headroom": st.sampled_from([0.0, 0.25]),
    "redundancy": st.sampled_from([0, 0, 1]),
})
point_spec = st.tuples(st.integers(0, 1), st.sampled_from([1, 2]), st.sampled_from([1.5, 4.0, 7.0, 12.0]),
                       st.sampled_from([200.0, 600.0]), st.sampled_from([0.0, 25.0]))


@st.composite
def tiny_case(draw):
    """(gpus, workloads, points): 1-2 GPU types, 1-2 workloads, 1-3 operating points each."""
    gpus = draw(st.lists(gpu_spec, min_size=1, max_size=2))
    workloads = draw(st.lists(workload_spec, min_size=1, max_size=2))
    points = [(f"w{wi}", f"g{min(gi, len(gpus) - 1)}", n, cap, base, slope)
              for wi in range(len(workloads))
              for gi, n, cap, base, slope in draw(st.lists(point_spec, min_size=1, max_size=3))]
    return gpus, workloads, points, draw(st.sampled_from(sorted(OBJECTIVE_EXPR)))


def build(tiny, case, *, demand_factor: float = 1.0, gpu_changes: dict | None = None, **site_and_money):
    gpus, workloads, points, objective = case
    options = [tiny.gpu(f"g{i}", **g, **(gpu_changes or {}).get(f"g{i}", {})) for i, g in enumerate(gpus)]
    demands = []
    for i, w in enumerate(workloads):
        peak = w["peak_requests_per_s"] * demand_factor
        demands.append(tiny.workload(f"w{i}", peak_requests_per_s=peak, average_requests_per_s=peak / 2,
                                     headroom=w["headroom"], redundancy=w["redundancy"]))
    p = tiny.problem(demands, options, objective=objective, **site_and_money)
    return p, tiny.candidates([tiny.Point(*pt) for pt in points])


def optimum(tiny, p, cand) -> float | None:
    """The objective at the optimum, None when infeasible."""
    status, m = tiny.solve(p, cand)
    assert status in ("optimal", "infeasible")
    return value(m.expr["objective"]) if status == "optimal" else None


def assert_no_worse(tiny, tight, loose) -> None:
    """The looser problem's optimum is at most the tighter one's; infeasible loose => infeasible tight."""
    at_tight, at_loose = optimum(tiny, *tight), optimum(tiny, *loose)
    event("both infeasible" if at_loose is None else "tighter infeasible" if at_tight is None
          else "same optimum" if at_tight == at_loose else "looser is better")  # --hypothesis-show-statistics
    if at_loose is None:
        assert at_tight is None
    elif at_tight is not None:
        assert at_loose <= at_tight * (1 + 1e-7) + 1e-6


@FEW
@given(case=tiny_case(), factor=st.sampled_from([1.1, 1.5, 2.0, 3.0]))
def test_more_demand_never_lowers_the_optimum(tiny, case, factor):
    assert_no_worse(tiny, build(tiny, case, demand_factor=factor), build(tiny, case))


@FEW
@given(case=tiny_case(), caps=st.lists(st.sampled_from([2_000.0, 5_000.0, 9_000.0, 20_000.0]), min_size=2,
                                        max_size=2))
def test_more_site_power_never_raises_the_optimum(tiny, case, caps):
    lo, hi = sorted(caps)
    assert_no_worse(tiny, build(tiny, case, power_cap_w=lo), build(tiny, case, power_cap_w=hi))


@FEW
@given(case=tiny_case(), racks=st.lists(st.integers(1, 4), min_size=2, max_size=2),
       rack_power=st.sampled_from([5_000.0, 12_000.0]))
def test_more_racks_never_raise_the_optimum(tiny, case, racks, rack_power):
    lo, hi = sorted(racks)
    assert_no_worse(tiny, build(tiny, case, racks=lo, rack_power_cap_w=rack_power),
                    build(tiny, case, racks=hi, rack_power_cap_w=rack_power))


@FEW
@given(case=tiny_case(), budgets=st.lists(st.sampled_from([20_000.0, 60_000.0, 150_000.0, 400_000.0]),
                                           min_size=2, max_size=2))
def test_more_budget_never_raises_the_optimum(tiny, case, budgets):
    lo, hi = sorted(budgets)
    assert_no_worse(tiny, build(tiny, case, budget_usd=lo), build(tiny, case, budget_usd=hi))


@FEW
@given(case=tiny_case(), inventory=st.lists(st.integers(0, 12), min_size=2, max_size=2))
def test_more_inventory_never_raises_the_optimum(tiny, case, inventory):
    lo, hi = sorted(inventory)
    assert_no_worse(tiny, build(tiny, case, gpu_changes={"g0": {"inventory_gpus": lo}}),
                    build(tiny, case, gpu_changes={"g0": {"inventory_gpus": hi}}))


def test_a_cap_moves_the_optimum_from_infeasible_to_feasible_to_free(tiny):
    """One case by hand, the three outcomes the properties compare: 9.5 rps at 4 rps per 2.5 kW
    server needs 3 servers (7.5 kW): infeasible under 5 kW, 3 GPUs under 9 kW and without a cap.
    With a second type, 2 rps per 1 kW server, 5 kW holds 5 of those (10 rps) but no mix with a large
    one (1 large + 2 small: 8 rps; + 3 small: 5.5 kW): the cap costs two GPUs."""
    big = {"gpus_per_server": 1, "server_max_power_w": 2500.0, "gpu_price_usd": 5_000.0, "server_price_usd": 0.0}
    small = {**big, "server_max_power_w": 1000.0}
    one_type = ([big], [{"peak_requests_per_s": 9.5, "headroom": 0.0, "redundancy": 0}],
                [("w0", "g0", 1, 4.0, 200.0, 0.0)], "min_gpus")
    assert optimum(tiny, *build(tiny, one_type, power_cap_w=5_000.0)) is None
    assert optimum(tiny, *build(tiny, one_type, power_cap_w=9_000.0)) == 3.0
    assert optimum(tiny, *build(tiny, one_type)) == 3.0
    two_types = ([big, small], one_type[1], [*one_type[2], ("w0", "g1", 1, 2.0, 200.0, 0.0)], "min_gpus")
    assert optimum(tiny, *build(tiny, two_types, power_cap_w=5_000.0)) == 5.0
    assert optimum(tiny, *build(tiny, two_types)) == 3.0
