"""The solver backend: run the integer program honestly.

HiGHS (through highspy) is the default solver, CBC the fallback. PuLP reports "Optimal" for
time-limited runs, so the status comes from ``sol_status`` and the MIP gap; a limit that stops the
solver before any plan raises SolverLimitError rather than claiming infeasibility. Ties among
equally good plans are then settled by the rule in planner.optimize.ties.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import pulp

from planner.errors import InputError, SolverLimitError
from planner.optimize.program import FleetModel
from planner.optimize.quiet import solver_output_silenced
from planner.optimize.ties import TIE_SCORE_GAP_ABS, break_ties, derive_the_rest

DEFAULT_TIME_LIMIT_S = 60.0
# Proven far inside the tie band (planner.optimize.ties): every solver version then finds the same
# set of tied plans. The plan reports the gap it reached.
MIP_REL_GAP = 1e-9


@dataclass(frozen=True)
class SolveResult:
    model: FleetModel
    status: str  # optimal | feasible
    solver_name: str
    solver_version: str
    solver_status: str
    mip_gap: float | None
    time_s: float
    time_limit_s: float
    ties: str = "broken by the rule"
    """How ties were settled: by the stated rule, or why not (planner.optimize.ties)."""


def _solver(name: str, time_limit_s: float, gap_rel: float = MIP_REL_GAP, gap_abs: float | None = None
            ) -> pulp.LpSolver:
    if name == "highs":
        solver = pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1,
                            random_seed=0)
        if solver.available():
            return solver
        name = "cbc"
    if name == "cbc":
        import warnings

        for cls in ("COIN_CMD", "PULP_CBC_CMD"):
            if not hasattr(pulp, cls):
                continue
            with warnings.catch_warnings():
                # PuLP 3.3 deprecates its bundled CBC (PuLP 4 drops it; COIN_CMD finds a `cbc` on
                # PATH or from pulp[cbc]); the bundled one is the fallback of last resort
                warnings.simplefilter("ignore", DeprecationWarning)
                s = getattr(pulp, cls)(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1)
                if s.available():
                    return s
    raise InputError(f"solver {name!r} is not available", fix="install highspy (default) or CBC")


_HIGHS_INFEASIBLE = ("kInfeasible", "kUnboundedOrInfeasible")


def _solve_once(m: FleetModel, solver: pulp.LpSolver) -> tuple[str, str, float | None]:
    """Solve; (status, solver's own status word, gap). status: optimal | feasible | infeasible |
    no_solution (a limit stopped the solver before any plan: not a proof of infeasibility)."""
    with solver_output_silenced():  # highspy >= 1.16 prints a banner on stdout whatever its options say
        m.prob.solve(solver)
    sol = m.prob.sol_status
    if isinstance(solver, pulp.HiGHS):
        raw = str(m.prob.solverModel.getModelStatus()).split(".")[-1]
        info = m.prob.solverModel.getInfo()
        gap: float | None = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
        proven_infeasible = raw in _HIGHS_INFEASIBLE
    else:
        raw = pulp.LpStatus[m.prob.status]
        gap = None
        proven_infeasible = m.prob.status == pulp.LpStatusInfeasible
    if sol == pulp.LpSolutionOptimal:
        return "optimal", raw, (gap if gap is not None else 0.0)
    if sol == pulp.LpSolutionIntegerFeasible:
        return "feasible", raw, gap
    return ("infeasible" if proven_infeasible else "no_solution"), raw, None


def _snap_integers(m: FleetModel) -> None:
    """Round integer variables to their integers so no solver noise (2.9999999999998) reaches a plan."""
    for v in m.prob.variables():
        if v.cat in (pulp.LpInteger, pulp.LpBinary) and v.varValue is not None:
            v.varValue = float(round(v.varValue))


def _solver_version(solver: pulp.LpSolver) -> str:
    package = "highspy" if isinstance(solver, pulp.HiGHS) else "pulp"
    v = _package_version(package)
    return f"highspy {v}" if package == "highspy" else f"CBC via PuLP {v}"


@functools.cache
def _package_version(package: str) -> str:
    """The installed version (read from its metadata once per process)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def run_solver(m: FleetModel, solver_name: str, time_limit_s: float, *, tie_break: bool = True) -> SolveResult:
    """Solve the program honestly: optimal only when proven, feasible with its gap when a limit
    stopped the search, infeasible only when proven; a limit with no plan raises SolverLimitError."""
    solver = _solver(solver_name, time_limit_s)
    start = time.perf_counter()
    status, raw, gap = _solve_once(m, solver)
    if status == "no_solution":
        raise SolverLimitError(f"the solver stopped ({raw}) before finding any plan, which is not a proof "
                               "that none exists", fix=f"raise --time-limit (now {time_limit_s:g} s)")
    ties = _settle_ties(m, status, solver_name, time_limit_s - (time.perf_counter() - start), tie_break)
    elapsed = time.perf_counter() - start
    name = "highs" if isinstance(solver, pulp.HiGHS) else "cbc"
    return SolveResult(m, status, name, _solver_version(solver), raw, gap if status != "infeasible" else 0.0,
                       elapsed, time_limit_s, ties)


def _settle_ties(m: FleetModel, status: str, solver_name: str, time_left_s: float, tie_break: bool) -> str:
    """Apply the tie rule (planner.optimize.ties) to a solution; say how ties were settled."""
    if status == "infeasible":
        return "no plan"
    ties = "broken by the rule"
    if status != "optimal":
        ties = "not broken among deployments: the first solve was not proven optimal"
    elif not tie_break:
        ties = "not broken among deployments: the tie-break solve was skipped (a large fleet)"
    else:
        solver = _solver(solver_name, max(time_left_s, 1.0), gap_rel=0.0, gap_abs=TIE_SCORE_GAP_ABS)
        status = break_ties(m, lambda model: _solve_once(model, solver)[0])
        if status != "optimal":
            ties = (f"not broken among deployments: the tie-break solve ended {status.replace('_', ' ')}, "
                    "not proven (raise --time-limit)")
    _snap_integers(m)
    derive_the_rest(m)
    return ties
