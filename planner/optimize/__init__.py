"""The fleet optimizer: integer program over candidates, honest status, infeasibility answers."""

from planner.optimize.solve import solve_scenario

__all__ = ["solve_scenario"]
