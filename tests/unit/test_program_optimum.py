"""The integer program on hand-made candidate tables, without the estimation core: each case's
optimum is worked out by hand in its docstring (one GPU per server unless said otherwise, so GPUs
bought equal GPUs used)."""

from __future__ import annotations

import pytest

from planner.optimize.program import ALL_FAMILIES, int_value, value

pytestmark = pytest.mark.unit


def replicas(m) -> list[int]:
    return [int_value(m.replicas[i]) for i in sorted(m.replicas)]


def servers(m) -> dict[str, int]:
    return {g: int_value(v) for g, v in sorted(m.servers.items())}


def one_gpu_per_server(tiny, gpu_id: str = "g1", **kw):
    return tiny.gpu(gpu_id, gpus_per_server=1, **kw)


def test_replicas_of_two_sizes_mix_when_that_is_fewest_gpus(tiny):
    """Need 10 rps from A (1 GPU, 3 rps) and B (2 GPUs, 7 rps): 4 A = 4 GPUs, 2 B = 4 GPUs,
    1 A + 1 B = 3 GPUs for 10 rps: the optimum."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=10.0)], [one_gpu_per_server(tiny)])
    status, m = tiny.solve(p, tiny.candidates([tiny.Point("chat", "g1", 1, 3.0), tiny.Point("chat", "g1", 2, 7.0)]))
    assert status == "optimal"
    assert replicas(m) == [1, 1] and value(m.expr["gpus"]) == 3.0


def test_headroom_raises_the_capacity_needed(tiny):
    """Peak 7 rps: one B (2 GPUs, 7 rps) serves it. With 25 % headroom the fleet must hold 8.75 rps,
    which no 2 GPUs hold (2 A: 6 rps, 1 B: 7 rps): 3 GPUs (3 A: 9 rps, or 1 A + 1 B: 10 rps)."""
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 3.0), tiny.Point("chat", "g1", 2, 7.0)])
    gpus = [one_gpu_per_server(tiny)]
    status, m = tiny.solve(tiny.problem([tiny.workload(peak_requests_per_s=7.0)], gpus), cand)
    assert status == "optimal" and replicas(m) == [0, 1] and value(m.expr["gpus"]) == 2.0
    status, m = tiny.solve(tiny.problem([tiny.workload(peak_requests_per_s=7.0, headroom=0.25)], gpus), cand)
    assert status == "optimal" and value(m.expr["gpus"]) == 3.0
    assert 3.0 * replicas(m)[0] + 7.0 * replicas(m)[1] >= 8.75


def test_n_plus_one_runs_one_pool_with_a_spare(tiny):
    """N+1 over 10 rps, one configuration: A needs 3 (n - 1) >= 10, n = 5 (5 GPUs); B needs
    7 (n - 1) >= 10, n = 3 (6 GPUs). The optimum is 5 A, and no B (pools do not mix)."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=10.0, redundancy=1)], [one_gpu_per_server(tiny)])
    status, m = tiny.solve(p, tiny.candidates([tiny.Point("chat", "g1", 1, 3.0), tiny.Point("chat", "g1", 2, 7.0)]))
    assert status == "optimal"
    assert replicas(m) == [5, 0] and value(m.expr["gpus"]) == 5.0


def test_workloads_share_whole_servers(tiny):
    """Two workloads on 4-GPU servers: 3 GPUs (6 rps at 2 rps each) + 1 GPU (2 rps) fill one server."""
    p = tiny.problem([tiny.workload("a", peak_requests_per_s=6.0), tiny.workload("b", peak_requests_per_s=2.0)],
                     [tiny.gpu("g1", gpus_per_server=4)])
    status, m = tiny.solve(p, tiny.candidates([tiny.Point("a", "g1", 1, 2.0), tiny.Point("b", "g1", 1, 2.0)]))
    assert status == "optimal"
    assert replicas(m) == [3, 1] and servers(m) == {"g1": 1} and value(m.expr["gpus"]) == 4.0


def test_site_power_decides_the_gpu_type(tiny):
    """12 rps from g1 (10 rps per GPU, 3 kW server) or g2 (4 rps per GPU, 1 kW server): with 4 kW,
    1 g1 + 1 g2 (14 rps, 4 kW) is 2 GPUs; with 3.5 kW that no longer fits and 3 g2 (3 kW) is the
    fewest GPUs."""
    gpus = [one_gpu_per_server(tiny, "g1", server_max_power_w=3000.0),
            one_gpu_per_server(tiny, "g2", server_max_power_w=1000.0)]
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 10.0), tiny.Point("chat", "g2", 1, 4.0)])
    wl = [tiny.workload(peak_requests_per_s=12.0)]
    status, m = tiny.solve(tiny.problem(wl, gpus, power_cap_w=4000.0), cand)
    assert status == "optimal" and servers(m) == {"g1": 1, "g2": 1}
    status, m = tiny.solve(tiny.problem(wl, gpus, power_cap_w=3500.0), cand)
    assert status == "optimal" and servers(m) == {"g1": 0, "g2": 3}
    assert value(m.expr["it_power_nameplate_w"]) == 3000.0


def test_budget_trades_power_for_price(tiny):
    """min_power over 10 rps: g1 draws 300 W for $50k, g2 800 W for $20k (one GPU, one replica each).
    Unbounded: g1 (300 W). With a $30k budget: g2 (800 W)."""
    gpus = [one_gpu_per_server(tiny, "g1", gpu_price_usd=40_000.0, server_price_usd=10_000.0),
            one_gpu_per_server(tiny, "g2", gpu_price_usd=10_000.0, server_price_usd=10_000.0)]
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 10.0, 300.0), tiny.Point("chat", "g2", 1, 10.0, 800.0)])
    wl = [tiny.workload(peak_requests_per_s=10.0)]
    status, m = tiny.solve(tiny.problem(wl, gpus, objective="min_power"), cand)
    assert status == "optimal" and replicas(m) == [1, 0] and value(m.expr["it_power_max_w"]) == 300.0
    status, m = tiny.solve(tiny.problem(wl, gpus, objective="min_power", budget_usd=30_000.0), cand)
    assert status == "optimal" and replicas(m) == [0, 1] and value(m.expr["capex_usd"]) == 20_000.0


def test_routed_power_follows_the_load(tiny):
    """min_power with a load-dependent draw: 100 W + 50 W per rps on a 10 rps replica. Peak 6 rps:
    one replica, 100 + 50 x 6 = 400 W at peak; the average (3 rps) draws 250 W."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=6.0, average_requests_per_s=3.0)], [one_gpu_per_server(tiny)],
                     objective="min_power")
    status, m = tiny.solve(p, tiny.candidates([tiny.Point("chat", "g1", 1, 10.0, 100.0, 50.0)]))
    assert status == "optimal" and replicas(m) == [1]
    assert value(m.expr["it_power_max_w"]) == pytest.approx(400.0)
    assert value(m.expr["it_power_avg_w"]) == pytest.approx(250.0)


def test_inventory_sends_the_rest_to_another_gpu(tiny):
    """20 rps, fewest GPUs: 2 g1 (10 rps each); with only 1 g1 in inventory, 1 g1 + 3 g2 (4 rps each)."""
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 10.0), tiny.Point("chat", "g2", 1, 4.0)])
    wl = [tiny.workload(peak_requests_per_s=20.0)]
    status, m = tiny.solve(tiny.problem(wl, [one_gpu_per_server(tiny, "g1"), one_gpu_per_server(tiny, "g2")]), cand)
    assert status == "optimal" and servers(m) == {"g1": 2, "g2": 0}
    limited = [one_gpu_per_server(tiny, "g1", inventory_gpus=1), one_gpu_per_server(tiny, "g2")]
    status, m = tiny.solve(tiny.problem(wl, limited), cand)
    assert status == "optimal" and servers(m) == {"g1": 1, "g2": 3}


def test_racks_hold_servers_by_power_and_too_few_racks_is_infeasible(tiny):
    """3 kW servers under a 10 kW breaker derated to 8 kW: 2 per rack. 30 rps at 10 rps per server
    needs 3 servers, so 2 racks; with 1 rack the program is infeasible, and elastic it asks for
    exactly 1 more rack."""
    gpus = [one_gpu_per_server(tiny, server_max_power_w=3000.0)]
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 10.0)])
    wl = [tiny.workload(peak_requests_per_s=30.0)]
    status, m = tiny.solve(tiny.problem(wl, gpus, racks=2), cand)
    assert status == "optimal" and servers(m) == {"g1": 3} and int_value(m.racks["g1"]) == 2
    status, _ = tiny.solve(tiny.problem(wl, gpus, racks=1), cand)
    assert status == "infeasible"
    status, m = tiny.solve(tiny.problem(wl, gpus, racks=1), cand, elastic=ALL_FAMILIES)
    assert status == "optimal" and value(m.slacks["racks_total"][0]) == pytest.approx(1.0)
    assert servers(m) == {"g1": 3}  # demand is kept: relaxing a cap is preferred to dropping traffic


def test_elastic_site_power_names_the_shortfall_in_kw(tiny):
    """12 rps on 1 kW servers of 4 rps: 3 servers, 3 kW; under a 2 kW cap the slack is 1 kW."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=12.0)],
                     [one_gpu_per_server(tiny, server_max_power_w=1000.0)], power_cap_w=2000.0)
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 4.0)])
    assert tiny.solve(p, cand)[0] == "infeasible"
    status, m = tiny.solve(p, cand, elastic=ALL_FAMILIES)
    assert status == "optimal" and value(m.slacks["site_power"][0]) == pytest.approx(1.0)


def test_the_objective_decides_between_fewer_gpus_and_less_power(tiny):
    """10 rps from A (1 GPU, 900 W) or B (2 GPUs, 400 W): min_gpus takes A, min_power takes B."""
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 10.0, 900.0), tiny.Point("chat", "g1", 2, 10.0, 400.0)])
    wl, gpus = [tiny.workload(peak_requests_per_s=10.0)], [one_gpu_per_server(tiny)]
    assert replicas(tiny.solve(tiny.problem(wl, gpus, objective="min_gpus"), cand)[1]) == [1, 0]
    assert replicas(tiny.solve(tiny.problem(wl, gpus, objective="min_power"), cand)[1]) == [0, 1]


def test_idle_gpus_of_a_part_full_server_draw_power(tiny):
    """One 1-GPU replica (500 W) on a 4-GPU server: the 3 idle GPUs draw idle 50 W + 100 W overhead
    each, 450 W, so the fleet's peak power is 950 W."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=5.0)], [tiny.gpu("g1", gpus_per_server=4)],
                     objective="min_power")
    status, m = tiny.solve(p, tiny.candidates([tiny.Point("chat", "g1", 1, 10.0, 500.0)]))
    assert status == "optimal" and value(m.expr["it_power_max_w"]) == pytest.approx(950.0)
