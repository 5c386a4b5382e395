"""Ties broken by a stated rule, the same whatever the solver or its version.

Many plans can share the optimal objective (a spare server is free under min_gpus, traffic can be
split either way between two equally efficient pools, racks are free in every objective), and two
solvers, or two versions of one, return different ones. planner therefore fixes the answer itself:

1. Deployments: among plans whose objective is within ``TIE_BAND_REL`` of the optimum, the one with
   the smallest tie score, the sum over deployments of replicas x the configuration's rank
   (configurations ranked by workload, GPU id, precision, TP, PP, batch size; rank 1 first). The
   score is a whole number, so the solver proves its minimum exactly (absolute gap below 1). The score
   is a sum, so two plans can reach the same minimum (tests/test_tie_break.py's fleet under min_gpus:
   5 H100 + 16 H200 and 15 H100 + 8 H200 for one workload, both 117); between those the solver's
   answer is kept, and HiGHS 1.7 returns either depending on the order of the candidates. A second,
   lexicographic stage would settle it at the cost of one more solve per tie-break (not built).
2. Given the replicas, everything else is derived, not left to the solver: the fewest servers
   that hold the GPUs in use, the fewest racks that hold the servers, and peak traffic routed
   to the pools of lowest power per request first (then lowest rank). Each step is optimal for
   every objective, since no objective rewards an extra server, rack or watt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pulp

from planner.optimize.program import (
    FleetModel,
    gpus_in_use,
    int_value,
    power_limits_w,
    program_variables,
    roles,
    server_pools,
    terms,
    value,
)
from planner.problem.limits import DECODE_CAPACITY_PREFIX

TIE_BAND_REL = 1e-6  # plans within one part per million of the optimal objective count as tied
TIE_SCORE_GAP_ABS = 0.5  # the tie score is an integer: a gap below 1 proves its minimum
TIE_CONSTRAINT = "tie_break_primary_within_band"
TIE_CHECK_CONSTRAINT = "tie_break_score_below_first"

TIE_RULE = ("plans whose objective is within 1 ppm of the optimum count as equal; among them planner keeps the one "
            "with the smallest tie score, the sum over deployments of replicas x the configuration's rank "
            "(configurations sorted by workload, aggregated serving before prefill/decode pools, GPUs at full TDP "
            "before power-limited ones, then GPU id, precision, TP, PP, batch size, the higher power limit first; "
            "rank 1 first), proven by a "
            "second solve. Servers are then the fewest that hold the GPUs in use, racks the fewest that hold the "
            "servers, and each workload's peak traffic goes first to its pools of lowest power per request. So "
            "the plan does not depend on the solver or its version, except between plans of equal tie score (the "
            "score is a sum, so two plans can reach the same one): of those the solver's answer is kept")


def candidate_ranks(m: FleetModel) -> list[int]:
    """Rank (1 = first) of each candidate in (workload, GPU, precision, TP, PP, batch, table row) order;
    a configuration at a GPU power limit below TDP ranks after every one at full TDP of its workload
    (among tied plans the full limit is kept: a limit is set only where it lowers the objective), and a
    prefill or decode pool after every aggregated configuration (among tied plans aggregated serving is kept)."""
    if "ranks" not in m.memo:
        m.memo["ranks"] = _ranks(m)
    return list(m.memo["ranks"])


def _ranks(m: FleetModel) -> list[int]:
    c = m.cand.columns
    limited = [s != g for s, g in zip(server_pools(m.cand).tolist(), c["gpu"].tolist(), strict=True)]
    limit_w = np.nan_to_num(power_limits_w(m.cand), nan=0.0)
    split = [r != "aggregated" for r in roles(m.cand).tolist()]  # aggregated serving ranks first
    order = sorted(range(len(m.cand)), key=lambda i: (str(c["workload"][i]), split[i], limited[i], str(c["gpu"][i]),
                                                      str(c["precision"][i]), int(c["tp"][i]), int(c["pp"][i]),
                                                      int(c["batch_size"][i]), -float(limit_w[i]), i))
    ranks = [0] * len(m.cand)
    for r, i in enumerate(order):
        ranks[i] = r + 1
    return ranks


def tie_score(m: FleetModel) -> pulp.LpAffineExpression:
    ranks = candidate_ranks(m)
    return terms((m.replicas[i], ranks[i]) for i in range(len(m.cand)))


def break_ties(m: FleetModel, solve: Callable[[FleetModel], str]) -> str:
    """Re-solve for the smallest tie score among plans within the band of the optimum just found.

    ``solve`` runs the solver (with an absolute gap below 1) and returns its status, which this
    returns too: "optimal" when the minimum is proven; otherwise the first solution is put back.
    """
    first = {v.name: v.varValue for v in program_variables(m)}
    m.prob += (m.expr["objective"] <= band_top(m), TIE_CONSTRAINT)
    m.prob.setObjective(tie_score(m))
    try:
        status = solve(m)
    finally:  # the band constraint stays: every plan this model returns meets it
        m.prob.setObjective(m.expr["objective"])
    if status != "optimal":
        for v in program_variables(m):
            v.varValue = first.get(v.name)
    return status


def band_top(m: FleetModel) -> float:
    """The largest objective that still counts as tied with the solution in ``m`` (the optimum)."""
    z = value(m.expr["objective"])
    return z + max(TIE_BAND_REL * abs(z), 1e-9)


def lower_score_in_band(m: FleetModel, solve: Callable[[FleetModel], str]) -> str:
    """Whether a plan within the band scores below the solution in ``m``: "none" (proven: the solution
    already is the rule's plan), "found" (its values are left in ``m``) or "unknown" (a limit stopped
    the search).

    Usually the first optimal solution already has the smallest tie score and the tie-break solve only
    proves it; proving it this way (the objective, with the tie score capped one below the solution's
    and the band as the objective bound) is the primary's own problem with one more row, which the
    solver proves about three times faster than the tie score's minimum over the band.
    ``solve`` must stop at the band (the solver's objective bound) and returns the status."""
    first = {v.name: v.varValue for v in program_variables(m)}
    top = band_top(m)
    check = replace(m, prob=m.prob.copy())
    check.prob += (tie_score(m) <= round(value(tie_score(m))) - 1, TIE_CHECK_CONSTRAINT)
    status = solve(check)
    in_band = status in ("optimal", "feasible") and value(m.expr["objective"]) <= top
    if in_band:
        return "found"
    # proven: no plan under the bound at all, or the cheapest lower-scoring plan lies above the band
    verdict = "none" if status in ("infeasible", "optimal") else "unknown"
    for v in program_variables(m):
        v.varValue = first.get(v.name)
    return verdict


def derive_the_rest(m: FleetModel) -> None:
    """Servers, racks, pool use and routing as the rule derives them from the (integer) replicas."""
    c = m.cand.columns
    for i, v in m.used.items():
        v.varValue = 1.0 if int_value(m.replicas[i]) > 0 else 0.0
    for s in m.problem.pools:
        servers = math.ceil(round(value(gpus_in_use(m, s.key))) / s.gpu.gpus_per_server)
        m.servers[s.key].varValue = float(servers)
        m.racks[s.key].varValue = float(math.ceil(servers / m.problem.site.servers_per_rack(s.gpu, s.power_limit_w)))
    ranks = candidate_ranks(m)
    role = roles(m.cand)
    for w in m.problem.workloads:
        idx = m.rows_of(w.name)
        if not w.disaggregated:
            _route(m, w.name, sorted(idx, key=lambda i: (float(c["power_slope_w_per_rps"][i]), ranks[i])))
            continue
        # aggregated replicas first (a request there runs on one pool), then each disaggregated side
        agg = sorted((i for i in idx if role[i] == "aggregated"),
                     key=lambda i: (float(c["power_slope_w_per_rps"][i]), ranks[i]))
        for side, limit in (("prefill", f"capacity_{w.name}"), ("decode", f"{DECODE_CAPACITY_PREFIX}_{w.name}")):
            rest = sorted((i for i in idx if role[i] == side),
                          key=lambda i: (float(c["power_slope_w_per_rps"][i]), ranks[i]))
            _route(m, w.name, agg + rest, limit)


def _route(m: FleetModel, workload: str, order: list[int], limit: str | None = None) -> None:
    """Route the workload's peak (less any elastic shortfall of ``limit``, default its capacity limit)
    greedily, cheapest power per request first."""
    w = m.problem.workload(workload)
    peak = w.peak_requests_per_s
    short = m.slacks.get(limit or f"capacity_{workload}")
    left = peak
    if short is not None:
        left = max(peak - value(short[0]) * peak / w.required_requests_per_s, 0.0)
    for i in order:
        take = min(left, float(m.cand.columns["capacity_rps"][i]) * int_value(m.replicas[i]))
        m.routed[i].varValue = take
        left -= take
