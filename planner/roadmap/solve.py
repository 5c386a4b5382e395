"""Solve a roadmap: resolved periods -> candidates (each shape once) -> one program -> honest status -> plan."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from planner.candidates.generate import Candidates
from planner.catalog.loader import Catalog
from planner.errors import InfeasibleError, SolverLimitError
from planner.optimize import backend
from planner.optimize.backend import DEFAULT_TIME_LIMIT_S, MIP_REL_GAP, SolveResult
from planner.optimize.program import ALL_FAMILIES
from planner.optimize.solve import _no_candidate_lines
from planner.roadmap.candidates import CandidateCache, period_candidates
from planner.roadmap.plan import build_roadmap_plan
from planner.roadmap.problem import Roadmap, resolve_roadmap
from planner.roadmap.program import build_roadmap_program, shortfalls
from planner.roadmap.whatif import period_what_ifs
from planner.scenario.load import LoadedScenario
from planner.schemas.plan import Plan


def is_roadmap(loaded: LoadedScenario) -> bool:
    """The scenario plans several periods (it has ``horizon``)."""
    return loaded.scenario.horizon is not None


def _infeasible(roadmap: Roadmap, lines: list[str]) -> InfeasibleError:
    return InfeasibleError(f"roadmap {roadmap.base.name!r} is infeasible", explanation=lines + list(roadmap.base.notes))


def solve_roadmap(roadmap: Roadmap, *, solver: str = "highs", time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                  mip_rel_gap: float = MIP_REL_GAP, analysis: bool = False) -> Plan:
    """The plan of a roadmap (raises InfeasibleError with the periods and reasons); ``analysis``: the
    what-if per period of each site limit that binds (planner.roadmap.whatif: one re-solve each)."""
    cache = CandidateCache()
    cands = period_candidates(roadmap, cache)
    missing = [f"{period.label}: {line}" for period, cand in zip(roadmap.periods, cands, strict=True)
               for line in _no_candidate_lines(period.problem, cand)]
    if missing:
        raise _infeasible(roadmap, missing)
    rm = build_roadmap_program(roadmap, cands)
    chosen = backend._solver(solver, time_limit_s, gap_rel=mip_rel_gap)
    start = time.perf_counter()
    status, raw, gap = backend._solve_once(rm, chosen)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    if status == "infeasible":
        raise _infeasible(roadmap, _what_to_relax(roadmap, cands, solver, time_limit_s))
    if status == "no_solution":
        raise SolverLimitError(f"the solver stopped ({raw}) before finding any roadmap, which is not a proof that "
                               "none exists", fix=f"raise --time-limit (now {time_limit_s:g} s)")
    backend._snap_integers(rm)  # type: ignore[arg-type]
    solved = SolveResult(rm.fleets[0], status, "highs" if solver == "highs" else "cbc",
                         backend._solver_version(chosen), raw, gap, elapsed, time_limit_s,
                         ties="not broken: the solver's first optimum is kept")
    notes = [f"candidates generated for {cache.generated} (workload shape, GPU options) pairs over "
             f"{len(roadmap.periods)} periods"]
    if status != "optimal":
        notes.append(f"the solve was stopped by a limit at a proven gap of {gap or 0:.3g}")
    if mip_rel_gap != MIP_REL_GAP:
        notes.append(f"proven optimal means within a relative gap of {mip_rel_gap:g}")
    what_ifs = None
    if analysis and status == "optimal":
        unit = "USD (discounted)" if roadmap.base.objective == "min_tco" else rm_unit(roadmap)
        what_ifs = period_what_ifs(roadmap, cands, rm, lambda model, warm: backend._solve_once(  # type: ignore[arg-type]
            model, backend._solver(solver, time_limit_s, gap_rel=mip_rel_gap, start=warm))[0], unit)
    return build_roadmap_plan(rm, solved, notes, what_ifs)


def rm_unit(roadmap: Roadmap) -> str:
    from planner.optimize.plan_builder import OBJECTIVE_UNITS

    return f"{OBJECTIVE_UNITS[roadmap.base.objective]} (summed)"


def _what_to_relax(roadmap: Roadmap, cands: list[Candidates], solver: str, time_limit_s: float) -> list[str]:
    """The roadmap re-solved with every limit elastic: per period, what to relax and by how much."""
    rm = build_roadmap_program(roadmap, cands, elastic=ALL_FAMILIES)
    status, _, _ = backend._solve_once(rm, backend._solver(solver, time_limit_s))  # type: ignore[arg-type]
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
