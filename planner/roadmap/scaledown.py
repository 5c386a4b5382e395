"""Idle replicas suspended in quiet hours (``horizon.scale_down_idle``, for workloads with a daily shape).

A replica runs at least its lone-request draw (the candidate's ``power_base_w``) while it is up. When
the scenario allows it, the replicas a workload's hourly traffic does not need are suspended: their
GPUs then draw what a GPU serving nothing draws (GpuOption.spare_gpu_w: idle plus its share of the
server). The replicas up in hour h are whole: ``ceil(f_h x routed / capacity)`` plus the workload's
N+k spares, which stay up. That is at most ``f_h x routed / capacity + 1 + k``, so at most
``mean(f) x routed / capacity + 1 + k`` over the day (the mean factor is the workload's
average-to-peak ratio, planner.roadmap.problem.average_share): the saving counted is what the
replicas beyond that bound draw, a lower bound of the true saving, and linear in the program's
variables (one continuous variable per operating point, none per hour). A pool of one replica
saves nothing: its replica is up whenever any traffic comes.

Applied to the average power of each period's on-site fleet, and so to its energy, energy cost and
carbon (planner.economics, as planner.optimize.program derives them), for the objectives that count
energy (planner.roadmap.problem.ENERGY_OBJECTIVES; with the others the saving would be left to the
solver's whim). Peak power, nameplate power, racks and capex are unchanged: every replica is
installed and serves the peak hour.
"""

from __future__ import annotations

from typing import Any

import pulp

from planner.optimize.program import FleetModel, new_var
from planner.problem import economics


def saved_w(view: FleetModel, shaped: frozenset[str]) -> Any:
    """Average power saved by suspending the replicas each hour does not need (workloads in ``shaped``):
    per operating point, ``suspended_w x max(0, replicas - up - 1)`` with ``up`` the bound in the module
    docstring, written with one binary (``on``: the point runs at least one replica) so a pool of one
    replica saves nothing and an unused point is free; the objective, which counts energy, takes the
    saving to its bound."""
    c, p = view.cand.columns, view.problem
    terms = []
    for i in range(len(view.cand)):
        w = p.workload(str(c["workload"][i]))
        suspended_w = float(c["power_base_w"][i]) - int(c["num_gpus"][i]) * p.gpu(str(c["gpu"][i])).spare_gpu_w
        if w.name not in shaped or suspended_w <= 0:
            continue
        replicas = view.replicas[i]
        up = w.average_to_peak / float(c["capacity_rps"][i]) * view.routed[i] + w.spare_replicas(view.used.get(i, 0))
        on = new_var(view.prob, f"runs_{i:05d}", 0, 1, "Binary")  # type: ignore[arg-type]
        saving = new_var(view.prob, f"suspended_w_{i:05d}", 0, None)  # type: ignore[arg-type]
        view.prob += (saving <= suspended_w * (replicas - up - on), f"suspended_w_{i:05d}")
        view.prob += (saving <= suspended_w * (replicas.upBound or 0) * on, f"suspended_w_on_{i:05d}")
        terms.append(saving)
    return pulp.lpSum(terms)


def apply_scale_down(view: FleetModel, shaped: frozenset[str]) -> None:
    """The view's average power, energy, energy cost, TCO and carbon with the idle replicas suspended."""
    e, p = view.expr, view.problem
    e["it_power_avg_w"] = e["it_power_avg_w"] - saved_w(view, shaped)
    kwh = economics.annual_energy_kwh(e["it_power_avg_w"])
    e["annual_energy_kwh"] = kwh
    e["annual_energy_cost_usd"] = economics.annual_energy_cost_usd(p, kwh)
    running = e["annual_colocation_usd"] + e["annual_support_usd"]
    e["tco_usd"] = economics.tco_usd(p, e["capex_usd"], e["annual_energy_cost_usd"], running)
    e["tco_per_year_usd"] = economics.tco_per_year_usd(p, e["capex_usd"], e["annual_energy_cost_usd"], running)
    e["co2e_t_per_year"] = economics.co2e_t_per_year(p, kwh)
