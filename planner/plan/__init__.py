"""Plan files: deterministic ``plan.json`` writing, versioned reading, input hashes."""

from planner.plan.hashing import input_hashes, scenario_input_hashes, sha256_file
from planner.plan.io import dump_plan, load_plan, normalize_plan, parse_plan, write_plan

__all__ = [
    "dump_plan",
    "input_hashes",
    "load_plan",
    "normalize_plan",
    "parse_plan",
    "scenario_input_hashes",
    "sha256_file",
    "write_plan",
]
