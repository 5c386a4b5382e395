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
from typing import Any, Protocol

import numpy as np
import pulp

from planner.errors import InputError, SolverLimitError
from planner.optimize.program import FleetModel, program_rows, program_variables, value
from planner.optimize.quiet import solver_output_silenced
from planner.optimize.ties import (
    TIE_BAND_REL,
    TIE_SCORE_GAP_ABS,
    band_top,
    break_ties,
    derive_the_rest,
    lower_score_in_band,
)

DEFAULT_TIME_LIMIT_S = 60.0
# Proven far inside the tie band (planner.optimize.ties): every solver version then finds the same
# set of tied plans. The plan reports the gap it reached.
MIP_REL_GAP = 1e-9
# The deterministic work limit of a solve given none (branch-and-bound nodes: HiGHS offers no other
# deterministic limit, its time limit is wall-clock). A solve it stops stops at the same plan on every
# machine, and the plan's notes say so; the wall-clock --time-limit stays as the safety net. 10,000 is
# 80x the most any shipped scenario or bench fleet needs (<= 120 nodes, 2026-11-28), and at 5-100 ms a
# node it comes before a 60 s wall-clock limit on the fleets whose search is a long tree.
DEFAULT_NODE_LIMIT = 10_000
# The tie-break solve may explore this multiple of the first solve's nodes (at least the floor): a
# deterministic bound, so a fleet whose ties are hard to prove says so instead of running on.
TIE_NODE_FACTOR = 4
TIE_NODE_FLOOR = 1000
TIE_CHECK_RESTART_MIN_CANDIDATES = 1000
"""The tie check may restart after root presolve on programs of at least this many candidates (speed only)."""


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
    nodes: int = 0
    """Branch-and-bound nodes of the first solve (deterministic with one thread and a fixed seed)."""
    stopped_by: str | None = None
    """The limit that stopped the first solve before it proved its gap (``node limit 400``,
    ``time limit 60 s``); None when it finished."""
    dual_bound: float | None = None
    """The first solve's proven lower bound on the objective, less the objective's constant term
    (PuLP hands the solver no constant); None when the solver does not report one."""
    node_limit: int | None = None
    """The deterministic work limit the first solve ran under (branch-and-bound nodes; None: none)."""


class Program(Protocol):
    """What the solve helpers read of a program: its one PuLP problem (a FleetModel, a roadmap's model)."""
    prob: pulp.LpProblem


class _HiGHS(pulp.HiGHS):  # type: ignore[misc]
    """PuLP's highspy interface, plus a MIP start and the statuses PuLP 3.3 does not map.

    PuLP 3.3's HiGHS class accepts no warm start (its ``warmStart`` reaches only the command-line
    HiGHS_CMD): the start is handed to highspy's ``setSolution`` after the model is built. A node limit
    ends with ``kSolutionLimit``, which PuLP's status table lacks."""

    def __init__(self, start: dict[str, float] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start = start

    def actualSolve(self, lp: pulp.LpProblem) -> int:
        """PuLP's solve, with the problem's variables listed once: PuLP lists them (a pass over every
        constraint and a sort) five times per solve, and the program does not change while it solves."""
        variables = lp.variables()
        lp.variables = lambda: variables
        try:
            return super().actualSolve(lp)  # type: ignore[no-any-return]
        finally:
            del lp.variables

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        """PuLP's model, handed to highspy in three calls instead of one per column and per row: the same
        columns, rows, coefficients and order, so the same model and the same solve."""
        import highspy

        model, inf, variables = lp.solverModel, highspy.kHighsInf, lp.variables()
        if not all(hasattr(model, f) for f in ("addCols", "addRows", "changeColsIntegrality")):
            super().buildSolverModel(lp)  # an older highspy
            return
        sign = -1 if lp.sense == pulp.LpMaximize else 1
        cost = np.array([sign * lp.objective.get(v, 0.0) for v in variables], dtype=np.float64)
        lower = np.array([-inf if v.lowBound is None else v.lowBound for v in variables], dtype=np.float64)
        upper = np.array([inf if v.upBound is None else v.upBound for v in variables], dtype=np.float64)
        model.addCols(len(variables), cost, lower, upper, 0, np.zeros(len(variables), dtype=np.int32),
                      np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float64))
        for i, v in enumerate(variables):
            v.index = i
        integer = np.array([i for i, v in enumerate(variables) if v.cat == pulp.LpInteger and self.mip], dtype=np.int32)
        if len(integer):
            model.changeColsIntegrality(len(integer), integer,
                                        np.full(len(integer), int(highspy.HighsVarType.kInteger), dtype=np.uint8))
        starts: list[int] = []
        index: list[int] = []
        coef: list[float] = []
        row_lower: list[float] = []
        row_upper: list[float] = []
        for i, constraint in enumerate(program_rows(lp).values()):
            starts.append(len(index))
            for v, a in constraint.items():
                if a != 0:
                    index.append(v.index)
                    coef.append(a)
            constraint.index = i
            lb, ub = constraint.getLb(), constraint.getUb()
            row_lower.append(-inf if lb is None else lb)
            row_upper.append(inf if ub is None else ub)
        if starts:
            model.addRows(len(starts), np.array(row_lower, dtype=np.float64), np.array(row_upper, dtype=np.float64),
                          len(index), np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                          np.array(coef, dtype=np.float64))

    def callSolver(self, lp: pulp.LpProblem) -> None:
        if self.start:
            variables = lp.variables()
            values = np.array([self.start.get(v.name, 0.0) for v in variables], dtype=np.float64)
            try:
                lp.solverModel.setSolution(len(variables), np.arange(len(variables), dtype=np.int32), values)
            except TypeError:  # highspy < 1.8 takes only a whole HighsSolution
                import highspy

                solution = highspy.HighsSolution()
                solution.col_value = values.tolist()
                solution.value_valid = True
                lp.solverModel.setSolution(solution)
        lp.solverModel.run()

    def findSolutionValues(self, lp: pulp.LpProblem) -> tuple[int, int]:
        import highspy

        status = lp.solverModel.getModelStatus()
        # statuses PuLP 3.3 cannot map; kHighsInterrupt is newer than highspy 1.7 (our floor)
        names = ("kSolutionLimit", "kMemoryLimit", "kHighsInterrupt")
        unmapped = tuple(getattr(highspy.HighsModelStatus, n) for n in names if hasattr(highspy.HighsModelStatus, n))
        if status not in unmapped:
            return super().findSolutionValues(lp)  # type: ignore[no-any-return]
        has_plan = math.isfinite(lp.solverModel.getInfo().objective_function_value) and \
            lp.solverModel.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
        if has_plan:
            values = list(lp.solverModel.getSolution().col_value)
            for v in lp.variables():
                v.varValue = values[v.index]
            proven = self._gap_closed(lp.solverModel.getInfo())
            return pulp.LpStatusOptimal, (pulp.LpSolutionOptimal if proven else pulp.LpSolutionIntegerFeasible)
        return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound

    def _gap_closed(self, info: Any) -> bool:
        """A limit reached just as the bounds met: the plan is proven within the gap all the same."""
        primal, dual = float(info.objective_function_value), float(info.mip_dual_bound)
        gap = abs(primal - dual)
        return gap <= (self.gapRel or 0.0) * max(abs(primal), 1e-9) or gap <= (self.gapAbs or 0.0)


# With a start that is already near the optimum (an analysis re-solve from the plan, the tie-break
# solve from the first solution) the solve is mostly a proof: the primal heuristics would re-find the
# start, and restarts after root presolve redo the root's cuts. Without both, the re-solves of the
# 20-workload bench fleet take 40 % less time (3.6 s against 6.2 s), with the same proven answers.
REPROVE_OPTIONS = {"mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False,
                   "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
                   "mip_heuristic_run_root_reduced_cost": False, "mip_heuristic_run_zi_round": False,
                   "mip_heuristic_run_shifting": False, "mip_allow_restart": False}


# An elastic program (planner.optimize.program.ELASTIC_PENALTY: 1e7 per unit of normalized slack) has
# objective coefficients up to 1e9, 1e16 times HiGHS's dual feasibility tolerance; HiGHS itself warns and
# suggests scaling the objective by 2^-10 (user_objective_scale; a power of two, so no coefficient is
# rounded, and the gaps are relative). HiGHS 1.7 has no such option: it refuses it, and PuLP goes on.
# The elastic solve of the infeasible bench fleets (12-50 workloads): 1.4-1.8 s -> 1.1-1.6 s, the same
# answers; heuristics off as well (REPROVE_OPTIONS) helps the 20-workload one and slows the others.
ELASTIC_OBJECTIVE_SCALE: int | None = -10


def _solver(name: str, time_limit_s: float, gap_rel: float = MIP_REL_GAP, gap_abs: float | None = None,
            node_limit: int | None = None, start: dict[str, float] | None = None, reprove: bool = False,
            first_plan: bool = False, objective_target: float | None = None,
            objective_bound: float | None = None, restart: bool = False,
            objective_scale: int | None = None) -> pulp.LpSolver:
    if name == "highs":
        options: dict[str, object] = {} if node_limit is None else {"mip_max_nodes": int(node_limit)}
        if objective_scale is not None:
            options["user_objective_scale"] = int(objective_scale)
        if first_plan:
            options["mip_max_improving_sols"] = 1
        if objective_target is not None:
            options["objective_target"] = float(objective_target)
        if objective_bound is not None:
            options["objective_bound"] = float(objective_bound)
        if reprove:
            options.update(REPROVE_OPTIONS)
        if restart:
            options["mip_allow_restart"] = True
        solver = _HiGHS(start=start, msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1,
                        random_seed=0, **options)
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
                # CBC takes no start here: it begins cold; PuLP < 3 has no maxNodes (its node limit is an option)
                limit: dict[str, Any] = ({"maxNodes": node_limit} if node_limit is not None and _takes_max_nodes(cls)
                                         else {})
                if node_limit is not None and not limit:
                    limit = {"options": [f"maxNodes {node_limit}"]}
                s = getattr(pulp, cls)(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, gapAbs=gap_abs, threads=1,
                                       **limit)
                if s.available():
                    return s
    raise InputError(f"solver {name!r} is not available", fix="install highspy (default) or CBC")


def _takes_max_nodes(cls: str) -> bool:
    import inspect

    return "maxNodes" in inspect.signature(getattr(pulp, cls).__init__).parameters


_HIGHS_INFEASIBLE = ("kInfeasible", "kUnboundedOrInfeasible")


def _solve_once(m: Program, solver: pulp.LpSolver) -> tuple[str, str, float | None]:
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


SOLUTION_OBJECTIVE_REL_TOL = 1e-7
"""How far the objective of the returned values may sit from the one the solver reports (relative)."""


def _solution_disagrees(m: Program, solver: pulp.LpSolver) -> bool:
    """The values the solver returned do not give the objective it reports (HiGHS only; the solver is
    handed no constant term, so it is left out of the comparison)."""
    if not isinstance(solver, pulp.HiGHS):
        return False
    reported = float(m.prob.solverModel.getInfo().objective_function_value)
    objective = m.prob.objective
    returned = float(objective.value() or 0.0) - float(objective.constant)
    return abs(returned - reported) > SOLUTION_OBJECTIVE_REL_TOL * max(abs(reported), 1.0)


def _snap_integers(m: Program) -> None:
    """Round integer variables to their integers so no solver noise (2.9999999999998) reaches a plan."""
    for v in program_variables(m):
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


def _dual_bound(m: FleetModel, solver: pulp.LpSolver, status: str) -> float | None:
    if not isinstance(solver, pulp.HiGHS) or status not in ("optimal", "feasible"):
        return None
    bound = float(m.prob.solverModel.getInfo().mip_dual_bound)
    return bound if math.isfinite(bound) else None


def _nodes(m: Program, solver: pulp.LpSolver) -> int:
    return int(m.prob.solverModel.getInfo().mip_node_count) if isinstance(solver, pulp.HiGHS) else 0


@dataclass(frozen=True)
class ProgramSolve:
    """How one solve of a program ended (the values are left in the program's variables)."""
    status: str  # optimal | feasible | infeasible | no_solution
    solver_status: str
    mip_gap: float | None
    nodes: int
    solver_name: str
    solver_version: str


def solve_program(m: Program, solver_name: str, time_limit_s: float, *, gap_rel: float = MIP_REL_GAP,
                  node_limit: int | None = None, start: dict[str, float] | None = None) -> ProgramSolve:
    """Solve any program built on one PuLP problem (a roadmap's, which has no single-period tie step):
    a start the solver hands back in place of its own solution is solved again without it, and integer
    values are snapped. ``node_limit`` None: no node limit."""
    solver = _solver(solver_name, time_limit_s, gap_rel=gap_rel, node_limit=node_limit, start=start)
    status, raw, gap = _solve_once(m, solver)
    if start and status in ("optimal", "feasible") and _solution_disagrees(m, solver):
        solver = _solver(solver_name, time_limit_s, gap_rel=gap_rel, node_limit=node_limit)
        status, raw, gap = _solve_once(m, solver)
    if status in ("optimal", "feasible"):
        _snap_integers(m)
    return ProgramSolve(status, raw, gap, _nodes(m, solver), "highs" if isinstance(solver, pulp.HiGHS) else "cbc",
                        _solver_version(solver))


# the limit that stopped a solve, in the plan's words (kSolutionLimit: a node limit, or first_plan)
_STOPPED_BY = {"kSolutionLimit": "node limit {nodes}", "kTimeLimit": "time limit {time:g} s",
               "kObjectiveTarget": "objective target (its gap over the lower bound)",
               "kIterationLimit": "iteration limit", "kMemoryLimit": "memory limit", "Not Solved": "a limit"}


def run_solver(m: FleetModel, solver_name: str, time_limit_s: float, *, tie_break: bool = True,
               gap_rel: float = MIP_REL_GAP, node_limit: int | None = None,
               start: dict[str, float] | None = None, reprove: bool = False,
               gap_abs: float | None = None, first_plan: bool = False,
               lower_bound: float | None = None) -> SolveResult:
    """Solve the program honestly: optimal only when proven, feasible with its gap when a limit
    stopped the search, infeasible only when proven; a limit with no plan raises SolverLimitError.

    ``gap_rel``: the relative gap that counts as proven (the plan says which; ``gap_abs`` an absolute
    one, for a whole-number objective); ``node_limit``: a
    deterministic work limit (branch-and-bound nodes; DEFAULT_NODE_LIMIT when None) under the time
    limit; ``start``: a MIP start
    (variable name -> value), e.g. a plan known to be feasible; ``reprove`` when the start is already
    near the optimum (REPROVE_OPTIONS); ``first_plan`` stops at the first
    plan found (a feasibility check: its status is then "feasible"); ``lower_bound``, a proven bound
    on the optimum found elsewhere (planner.optimize.warm.separable), stops the solve as soon as a
    plan is within ``gap_rel`` of it, and the gap reported is the better of the two proofs. Without
    ``tie_break`` the first solution is kept as it is (for callers that use only its objective value)."""
    target = None if lower_bound is None else lower_bound + gap_rel * abs(lower_bound)
    node_limit = DEFAULT_NODE_LIMIT if node_limit is None else node_limit
    # an elastic program's penalties dwarf its costs: its objective is scaled (ELASTIC_OBJECTIVE_SCALE)
    scale = ELASTIC_OBJECTIVE_SCALE if getattr(m, "slacks", None) else None
    solver = _solver(solver_name, time_limit_s, gap_rel=gap_rel, gap_abs=gap_abs, node_limit=node_limit,
                     start=start, reprove=reprove, first_plan=first_plan, objective_target=target,
                     objective_scale=scale)
    start_s = time.perf_counter()
    status, raw, gap = _solve_once(m, solver)
    if start and status in ("optimal", "feasible") and _solution_disagrees(m, solver):
        # HiGHS 1.16 can prove a better objective than the MIP start and still hand back the start as
        # its solution (seen on an analysis re-solve: objective 36,050,611 reported, the start's
        # 36,052,447 returned). A solution that does not have the objective the solver reports is not
        # trusted: the program is solved again without the start.
        solver = _solver(solver_name, time_limit_s, gap_rel=gap_rel, gap_abs=gap_abs, node_limit=node_limit,
                         first_plan=first_plan, objective_target=target, objective_scale=scale)
        status, raw, gap = _solve_once(m, solver)
    if lower_bound is not None and status in ("optimal", "feasible"):
        status, gap = _with_bound(m, status, gap, lower_bound, gap_rel)
    nodes = _nodes(m, solver)
    dual_bound = _dual_bound(m, solver, status)
    stopped_by = None
    if status in ("feasible", "no_solution"):
        stopped_by = _STOPPED_BY.get(raw, raw).format(nodes=node_limit, time=time_limit_s)
    if status == "no_solution":
        raise SolverLimitError(f"the solver stopped by its {stopped_by} ({raw}) before finding any plan, which is "
                               "not a proof that none exists",
                               fix=(f"raise --time-limit (now {time_limit_s:g} s)" if raw == "kTimeLimit" else
                                    "the node limit is planner's deterministic work limit: a smaller program "
                                    "fits it (fewer GPU types or precisions, or the fleet split in parts)"
                                    if raw == "kSolutionLimit" else f"raise --time-limit (now {time_limit_s:g} s)"))
    if tie_break and status == "optimal" and gap_rel > TIE_BAND_REL:
        tie_break, status_note = False, f"the plan is proven within a gap of {gap_rel:g}, wider than the tie band"
    else:
        status_note = "the tie-break solve was skipped"
    ties = _settle_ties(m, status, solver_name, time_limit_s - (time.perf_counter() - start_s), tie_break,
                        tie_node_limit(nodes), status_note)
    elapsed = time.perf_counter() - start_s
    name = "highs" if isinstance(solver, pulp.HiGHS) else "cbc"
    return SolveResult(m, status, name, _solver_version(solver), raw, gap if status != "infeasible" else 0.0,
                       elapsed, time_limit_s, ties, nodes, stopped_by, dual_bound, node_limit)


def _with_bound(m: FleetModel, status: str, gap: float | None, lower_bound: float, gap_rel: float
                ) -> tuple[str, float | None]:
    """The status and gap with a lower bound proven outside the solver taken into account."""
    z = value(m.expr["objective"])
    proven = max(z - lower_bound, 0.0) / max(abs(z), 1e-9)
    gap = proven if gap is None else min(gap, proven)
    return ("optimal" if gap <= gap_rel else status), gap


def current_values(m: FleetModel) -> dict[str, float]:
    """The model's variable values (name -> value): a MIP start for the next solve of the same program."""
    return {v.name: float(v.varValue) for v in program_variables(m) if v.varValue is not None}


def tie_node_limit(first_nodes: int) -> int:
    """Nodes the tie-break solve may explore: a multiple of the first solve's (deterministic)."""
    return max(TIE_NODE_FLOOR, TIE_NODE_FACTOR * first_nodes)


def _break_ties(m: FleetModel, solver_name: str, time_limit_s: float, node_limit: int) -> str:
    """The tie rule's plan: first a check that no plan in the band scores lower (the usual case, and
    the cheaper proof); only when one does, or the check was stopped, the tie score's minimum."""
    # the check has no start to keep: on large programs restarts after root presolve, which the band's
    # cutoff shrinks a lot, pay (50 workloads x 21 GPU types: 1 node and 1.4 s against 113 nodes and
    # 3.2 s); on small ones the second root costs more than it saves (20 x 8: 0.2 s -> 0.65 s). Only the
    # speed of the proof depends on it, never the plan.
    check = _solver(solver_name, time_limit_s, reprove=True, node_limit=node_limit, objective_bound=band_top(m),
                    restart=len(m.cand) >= TIE_CHECK_RESTART_MIN_CANDIDATES)
    verdict = lower_score_in_band(m, lambda model: _solve_once(model, check)[0])
    if verdict == "none":
        return "optimal"
    # a plan in the band (the first, or a lower-scoring one the check found) starts the tie-break solve
    solver = _solver(solver_name, time_limit_s, gap_rel=0.0, gap_abs=TIE_SCORE_GAP_ABS, start=current_values(m),
                     reprove=True, node_limit=node_limit)
    return break_ties(m, lambda model: _solve_once(model, solver)[0])


def _settle_ties(m: FleetModel, status: str, solver_name: str, time_left_s: float, tie_break: bool,
                 node_limit: int, skipped: str = "the tie-break solve was skipped") -> str:
    """Apply the tie rule (planner.optimize.ties) to a solution; say how ties were settled."""
    if status == "infeasible":
        return "no plan"
    ties = "broken by the rule"
    if status != "optimal":
        ties = "not broken among deployments: the first solve was not proven optimal"
    elif not tie_break:
        ties = f"not broken among deployments: {skipped}"
    else:
        status = _break_ties(m, solver_name, max(time_left_s, 1.0), node_limit)
        if status != "optimal":
            ties = (f"not broken among deployments: the tie-break solve ended {status.replace('_', ' ')}, "
                    f"not proven within its {node_limit} nodes and the time limit")
    _snap_integers(m)
    derive_the_rest(m)
    return ties
