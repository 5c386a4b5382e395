"""Server pools: a GPU type at one power limit is bought in its own servers and racks (a server runs
one limit), and the nameplate rule lives once on the Problem. Tiny hand-made problems (see conftest)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from planner.candidates.generate import Candidates
from planner.optimize.backend import run_solver
from planner.optimize.program import build_program, int_value

pytestmark = pytest.mark.unit

TDP_W = 700.0


def limited_gpu(tiny: SimpleNamespace, limits_w: tuple[float, ...] = (TDP_W, 490.0)) -> Any:
    """A GPU of 700 W TDP in servers of 8 (10.2 kW nameplate), offered at ``limits_w``."""
    g = tiny.gpu("g1", gpus_per_server=8, server_max_power_w=10_200.0)
    spec = SimpleNamespace(id="g1", idle_w=50.0, tdp_w=TDP_W, server=SimpleNamespace(psu=None))
    return replace(g, spec=spec, power_limits_w=limits_w)


def pooled(cand: Candidates, limits_w: list[float]) -> Candidates:
    """``cand`` with each row's power limit and server pool (as candidate generation writes them)."""
    c = dict(cand.columns)
    c["power_limit_w"] = np.array(limits_w, dtype=float)
    c["server_pool"] = np.array([str(g) if w == TDP_W else f"{g}-pl{w:.0f}w" for g, w in zip(c["gpu"], limits_w,
                                                                                              strict=True)])
    return Candidates(c, {}, len(limits_w))


def test_the_nameplate_rule_falls_by_tdp_minus_limit_per_gpu(tiny: SimpleNamespace) -> None:
    g = limited_gpu(tiny)
    assert g.server_max_power_at_w(490.0) == pytest.approx(10_200.0 - 8 * (TDP_W - 490.0))
    assert g.server_max_power_at_w(TDP_W) == g.server_max_power_at_w(None) == 10_200.0
    assert g.pool_key(TDP_W) == "g1" and g.pool_key(490.0) == "g1-pl490w"


def test_servers_per_rack_count_the_limited_nameplate(tiny: SimpleNamespace) -> None:
    p = tiny.problem([tiny.workload()], [limited_gpu(tiny)], rack_power_cap_w=30_000.0, breaker_derating=0.8)
    g = p.gpu("g1")  # 24 kW usable: two servers at 10.2 kW, two at 8.52 kW as well, three need 490 W or less
    assert p.site.servers_per_rack(g) == 2
    assert p.site.servers_per_rack(g, 490.0) == 2
    assert p.site.servers_per_rack(g, 350.0) == 3


@pytest.mark.parametrize(("limits_w", "servers"), [([TDP_W, TDP_W], 1), ([TDP_W, 490.0], 2)])
def test_a_server_runs_one_power_limit(tiny: SimpleNamespace, limits_w: list[float], servers: int) -> None:
    """Two replicas of 4 GPUs share one 8-GPU server only when they run the same limit."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=10.0)], [limited_gpu(tiny)], rack_power_cap_w=30_000.0)
    cand = pooled(tiny.candidates([tiny.Point("chat", "g1", 4, 5.0), tiny.Point("chat", "g1", 4, 5.0)]), limits_w)
    m = build_program(p, cand)
    for v in m.replicas.values():  # one replica of each
        v.lowBound = v.upBound = 1
    assert run_solver(m, "highs", 30.0, tie_break=False).status == "optimal"
    assert sum(int_value(v) for v in m.servers.values()) == servers
    assert set(m.servers) == {"g1", "g1-pl490w"}


def test_the_site_cap_counts_the_limited_nameplate(tiny: SimpleNamespace) -> None:
    """Under a 9 kW site cap only the 490 W pool's servers (8.52 kW) fit: the program picks them."""
    p = tiny.problem([tiny.workload(peak_requests_per_s=4.0)], [limited_gpu(tiny)], power_cap_w=9_000.0,
                     rack_power_cap_w=30_000.0)
    cand = pooled(tiny.candidates([tiny.Point("chat", "g1", 4, 5.0), tiny.Point("chat", "g1", 4, 4.0)]),
                  [TDP_W, 490.0])
    status, m = tiny.solve(p, cand)
    assert status == "optimal"
    assert int_value(m.servers["g1"]) == 0 and int_value(m.servers["g1-pl490w"]) == 1


def test_a_table_without_pools_builds_the_program_it_built_before(tiny: SimpleNamespace, tmp_path: Path) -> None:
    """Scenarios without power limits: pools keyed by the GPU id give the same LP as a table that does
    not carry the new columns (the program built before limits existed)."""
    p = tiny.problem([tiny.workload()], [tiny.gpu("g1"), tiny.gpu("g2")], power_cap_w=50_000.0)
    plain = tiny.candidates([tiny.Point("chat", "g1", 2, 3.0), tiny.Point("chat", "g2", 4, 7.0)])
    c = dict(plain.columns)
    c["server_pool"], c["power_limit_w"] = c["gpu"].copy(), np.full(2, TDP_W)
    texts = []
    for i, cand in enumerate((plain, Candidates(c, {}, 2))):
        path = tmp_path / f"{i}.lp"
        build_program(p, cand).prob.writeLP(str(path))
        texts.append(path.read_text())
    assert texts[0] == texts[1]
