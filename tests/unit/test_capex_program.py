"""Capex lines in the integer program and the plan's figures, on tiny hand-made problems: every server
brings its network and storage shares, every rack its PDUs, and support is a share of the hardware per
year; the budget bounds the whole capex, and the TCO adds support to the running costs."""

from __future__ import annotations

from dataclasses import replace

import pulp
import pytest

from planner.plan import figures
from planner.schemas.plan import ServerGroup

pytestmark = pytest.mark.unit

NETWORK, STORAGE, RACK, SUPPORT = 3_000.0, 1_000.0, 5_000.0, 0.1


def _problem(tiny, *, budget_usd=None, objective="min_tco", **infra):
    g1 = replace(tiny.gpu("g1"), **infra)  # 4 GPUs of $10k in a $20k server, 2 kW
    return tiny.problem([tiny.workload("chat", peak_requests_per_s=10.0)], [g1], objective=objective,
                        budget_usd=budget_usd), g1


def _cand(tiny):
    return tiny.candidates([tiny.Point("chat", "g1", 1, 4.0, 300.0, 20.0)])  # 3 replicas: 3 GPUs, 1 server


def _with_rack(p, rack_usd):
    return p.with_money(rack_usd=rack_usd)


def test_the_program_counts_every_capex_line_and_support(tiny):
    p, _ = _problem(tiny, network_usd_per_server=NETWORK, storage_usd_per_server=STORAGE,
                    support_share_per_year=SUPPORT)
    status, m = tiny.solve(_with_rack(p, RACK), _cand(tiny))
    assert status == "optimal"
    e = {k: pulp.value(v) for k, v in m.expr.items()}
    hardware = 4 * 10_000 + 20_000 + NETWORK + STORAGE  # one server
    assert e["capex_usd"] == pytest.approx(hardware + RACK)
    assert e["annual_support_usd"] == pytest.approx(SUPPORT * hardware)  # racks carry no support
    running = e["annual_energy_cost_usd"] + e["annual_colocation_usd"] + e["annual_support_usd"]
    assert e["tco_usd"] == pytest.approx(e["capex_usd"] + 4.0 * running)
    assert e["tco_per_year_usd"] == pytest.approx(e["capex_usd"] / 4.0 + running)


def test_without_the_new_figures_the_capex_is_gpus_and_servers(tiny):
    p, _ = _problem(tiny)
    status, m = tiny.solve(p, _cand(tiny))
    assert status == "optimal"
    assert pulp.value(m.expr["capex_usd"]) == pytest.approx(60_000.0)
    assert pulp.value(m.expr["annual_support_usd"]) == pytest.approx(0.0)


def test_the_budget_bounds_the_whole_capex(tiny):
    # one server with its shares and one rack cost 69k: a 68k budget no longer buys it
    infra = {"network_usd_per_server": NETWORK, "storage_usd_per_server": STORAGE}
    p, _ = _problem(tiny, budget_usd=69_000.0, **infra)
    assert tiny.solve(_with_rack(p, RACK), _cand(tiny))[0] == "optimal"
    p, _ = _problem(tiny, budget_usd=68_000.0, **infra)
    assert tiny.solve(_with_rack(p, RACK), _cand(tiny))[0] == "infeasible"


def test_per_server_costs_favour_fewer_servers(tiny):
    # the same 4 rps from one 4-GPU replica (1 server) or four 1-GPU replicas on a 1-GPU server type:
    # with no per-server costs the small servers are cheaper; a network share per server reverses it
    big = tiny.gpu("big", gpus_per_server=4, gpu_price_usd=10_000.0, server_price_usd=20_000.0)
    small = tiny.gpu("small", gpus_per_server=1, gpu_price_usd=10_000.0, server_price_usd=4_000.0)
    cand = tiny.candidates([tiny.Point("chat", "big", 4, 4.0, 300.0), tiny.Point("chat", "small", 1, 1.0, 75.0)])
    chosen = {}
    for share in (0.0, 4_000.0):
        gpus = [replace(g, network_usd_per_server=share) for g in (big, small)]
        p = tiny.problem([tiny.workload("chat", peak_requests_per_s=4.0)], gpus, objective="min_tco")
        status, m = tiny.solve(p, cand)
        assert status == "optimal"
        chosen[share] = {g: round(pulp.value(v)) for g, v in m.servers.items() if pulp.value(v) > 0.5}
    assert chosen[0.0] == {"small": 4} and chosen[4_000.0] == {"big": 1}


def test_plan_figures_match_the_program(tiny):
    p, g1 = _problem(tiny, network_usd_per_server=NETWORK, storage_usd_per_server=STORAGE,
                     support_share_per_year=SUPPORT)
    p = _with_rack(p, RACK)
    group = ServerGroup(gpu="g1", server_model="g1-server", servers=2, gpus=8, gpus_per_server=4,
                        server_max_power_w=2000.0, rack_units=2, psu_count=None, psu_rating_w=None,
                        psu_redundancy=None, psu_efficiency_tier=None, gpu_price_usd=10_000.0,
                        server_price_usd=20_000.0)
    lines = figures.capex_lines(p, [group], racks=1)
    assert lines == {"gpus": 80_000.0, "servers": 40_000.0, "network": 2 * NETWORK, "storage": 2 * STORAGE,
                     "racks": RACK}
    assert figures.annual_support_usd(p, [group]) == pytest.approx(SUPPORT * (120_000.0 + 2 * (NETWORK + STORAGE)))
    fleet = figures.totals(p, [], [group], 1, {"g1": g1.spare_gpu_w})
    assert fleet.capex_usd == pytest.approx(sum(lines.values()))
    assert (fleet.network_capex_usd, fleet.storage_capex_usd, fleet.rack_capex_usd) == (2 * NETWORK, 2 * STORAGE, RACK)
    assert fleet.tco_usd == pytest.approx(fleet.capex_usd + 4.0 * (fleet.annual_energy_cost_usd
                                                                   + fleet.annual_support_usd))


def test_a_server_group_the_problem_no_longer_allows_counts_no_shares(tiny):
    p, _ = _problem(tiny, network_usd_per_server=NETWORK)
    other = ServerGroup(gpu="gone", server_model="x", servers=1, gpus=4, gpus_per_server=4, server_max_power_w=1.0,
                        rack_units=1, psu_count=None, psu_rating_w=None, psu_redundancy=None,
                        psu_efficiency_tier=None, gpu_price_usd=1.0, server_price_usd=1.0)
    assert figures.capex_lines(p, [other], racks=0)["network"] == 0.0
