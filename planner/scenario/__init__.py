"""Scenario files: reading, applying named overrides, validating."""

from planner.scenario.load import LoadedScenario, load_scenario

__all__ = ["LoadedScenario", "load_scenario"]
