"""Plan files: deterministic ``plan.json`` writing, versioned reading (1.x migrated on read), input hashes."""

from planner.plan.hashing import input_hashes, sha256_file
from planner.plan.io import ReadPlan, dump_plan, load_plan, normalize_plan, parse_plan, read_plan, write_plan

__all__ = [
    "ReadPlan",
    "dump_plan",
    "input_hashes",
    "load_plan",
    "normalize_plan",
    "parse_plan",
    "read_plan",
    "sha256_file",
    "write_plan",
]
