"""Solve a roadmap: resolved periods -> candidates (each shape once) -> one program -> honest status -> plan."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from planner.candidates.generate import Candidates
from planner.catalog.loader import Catalog
from planner.errors import InfeasibleError, SolverLimitError
from planner.optimize import backend
from planner.optimize.analysis import ANALYSIS_NODE_FACTOR, ANALYSIS_NODE_FLOOR
from planner.optimize.backend import DEFAULT_TIME_LIMIT_S, MIP_REL_GAP, SolveResult
from planner.optimize.program import ALL_FAMILIES
from planner.optimize.solve import no_candidate_lines
from planner.roadmap.candidates import CandidateCache, period_candidates
from planner.roadmap.plan import TIES, build_roadmap_plan
from planner.roadmap.problem import Roadmap, resolve_roadmap
from planner.roadmap.program import RoadmapModel, build_roadmap_program, derive_racks, shortfalls
from planner.roadmap.whatif import Solve, period_what_ifs
from planner.scenario.load import LoadedScenario
from planner.schemas.plan import Plan


def _infeasible(roadmap: Roadmap, lines: list[str]) -> InfeasibleError:
    return InfeasibleError(f"roadmap {roadmap.base.name!r} is infeasible", explanation=lines + list(roadmap.base.notes))


def solve_roadmap(roadmap: Roadmap, *, solver: str = "highs", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                  mip_rel_gap: float = MIP_REL_GAP, analysis: bool = False) -> Plan:
    """The plan of a roadmap (raises InfeasibleError with the periods and reasons); ``analysis``: the
    what-if per period of each site limit that binds (planner.roadmap.whatif: one re-solve each)."""
    cache = CandidateCache()
    cands = period_candidates(roadmap, cache)
    missing = [f"{period.label}: {line}" for period, cand in zip(roadmap.periods, cands, strict=True)
               for line in no_candidate_lines(period.problem, cand)]
    if missing:
        raise _infeasible(roadmap, missing)
    rm = build_roadmap_program(roadmap, cands)
    start = time.perf_counter()
    first = backend.solve_program(rm, solver, time_limit_s, gap_rel=mip_rel_gap)
    status, raw, gap = first.status, first.solver_status, first.mip_gap
    elapsed = time.perf_counter() - start
    if status == "infeasible":
        raise _infeasible(roadmap, _what_to_relax(roadmap, cands, solver, time_limit_s))
    if status == "no_solution":
        raise SolverLimitError(f"the solver stopped ({raw}) before finding any roadmap, which is not a proof that "
                               "none exists", fix=f"raise --time-limit (now {time_limit_s:g} s)")
    derive_racks(rm)  # the fewest racks, built just in time: the plan does not depend on the solver's tie
    solved = SolveResult(rm.fleets[0], status, first.solver_name, first.solver_version, raw, gap, elapsed,
                         time_limit_s,
                         ties=TIES)
    notes = [f"candidates generated for {cache.generated} (workload shape, GPU options) pairs over "
             f"{len(roadmap.periods)} periods"]
    if status != "optimal":
        notes.append(f"the solve was stopped by a limit at a proven gap of {gap or 0:.3g}")
    if mip_rel_gap != MIP_REL_GAP:
        notes.append(f"proven optimal means within a relative gap of {mip_rel_gap:g}")
    what_ifs = None
    if analysis and status == "optimal":
        unit = "USD (discounted)" if roadmap.base.objective == "min_tco" else rm_unit(roadmap)
        node_limit = what_if_node_limit(first.nodes)
        what_ifs = period_what_ifs(roadmap, cands, rm, what_if_solver(solver, time_limit_s, mip_rel_gap, node_limit),
                                   unit)
        notes.append(f"what-if per period: each re-solve starts from the roadmap and may explore at most "
                     f"{node_limit} branch-and-bound nodes ({ANALYSIS_NODE_FACTOR} x the roadmap's own solve, at "
                     f"least {ANALYSIS_NODE_FLOOR}); a re-solve stopped by that limit gives no value")
    return build_roadmap_plan(rm, solved, notes, what_ifs)


def what_if_node_limit(first_nodes: int) -> int:
    """Nodes a what-if re-solve may explore: the single-period analysis's rule (planner.optimize.analysis)."""
    return max(ANALYSIS_NODE_FLOOR, ANALYSIS_NODE_FACTOR * first_nodes)


def what_if_solver(solver: str, time_limit_s: float, gap_rel: float, node_limit: int) -> Solve:
    """A what-if re-solve: from the roadmap as a MIP start, within ``node_limit`` nodes (deterministic), proven
    to the roadmap's gap. A solution whose objective differs from the one the solver reports (HiGHS can hand
    the start back) is solved again without the start, as planner.optimize.backend.run_solver does."""
    def solve(model: RoadmapModel, start: dict[str, float]) -> str:
        r = backend.solve_program(model, solver, time_limit_s, gap_rel=gap_rel, node_limit=node_limit, start=start)
        status, raw = r.status, r.solver_status
        if status == "optimal":
            return status
        if raw == "kSolutionLimit":
            return f"stopped by its limit of {node_limit} nodes"
        return raw if status == "feasible" else status.replace("_", " ")
    return solve


def rm_unit(roadmap: Roadmap) -> str:
    from planner.optimize.plan_builder import OBJECTIVE_UNITS

    return f"{OBJECTIVE_UNITS[roadmap.base.objective]} (summed)"


def _what_to_relax(roadmap: Roadmap, cands: list[Candidates], solver: str, time_limit_s: float) -> list[str]:
    """The roadmap re-solved with every limit elastic: per period, what to relax and by how much."""
    rm = build_roadmap_program(roadmap, cands, elastic=ALL_FAMILIES)
    status = backend.solve_program(rm, solver, time_limit_s).status
    head = ("no fleet serves every period within its limits, with the owned servers, the purchases the lead "
            "time (hardware.lead_time_periods) allows and the rentals offered (hardware.cloud)")
    lines = shortfalls(rm) if status in ("optimal", "feasible") else []
    return [head, *(lines or ["relax a period's site limits (horizon.site) or offer hardware.cloud instances"])]


def solve_roadmap_loaded(loaded: LoadedScenario, catalog: Catalog, *, solver: str = "highs",
                         time_limit_s: float = DEFAULT_TIME_LIMIT_S, calibration: str | Path | None = None,
                         candidate_pruning: Literal["heuristic", "exact"] = "heuristic",
                         analysis: bool = False) -> Plan:
    """Resolve and solve the roadmap of a loaded scenario with ``horizon``."""
    roadmap = resolve_roadmap(loaded, catalog, calibration=calibration, candidate_pruning=candidate_pruning)
    return solve_roadmap(roadmap, solver=solver, time_limit_s=time_limit_s, analysis=analysis)
