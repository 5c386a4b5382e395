"""Small roadmap scenarios for tests/test_roadmap*.py: one 8B workload, a few periods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.catalog.loader import Catalog, load_catalog
from planner.roadmap.problem import Roadmap, resolve_roadmap
from planner.scenario.load import load_scenario

_CATALOG: list[Catalog] = []


def catalog() -> Catalog:
    if not _CATALOG:
        _CATALOG.append(load_catalog(None))
    return _CATALOG[0]


def scenario(**changes: Any) -> dict[str, Any]:
    """A roadmap scenario: three quarters of one 8B chat workload; ``changes`` replace top-level keys."""
    base: dict[str, Any] = {
        "name": "roadmap-test",
        "workloads": [{"name": "chat", "model": "llama-3.1-8b",
                       "traffic": {"peak_requests_per_s": 20, "input_tokens": 500, "output_tokens": 200},
                       "slo": {"itl_p95_ms": 50}, "precisions": ["fp8"]}],
        "hardware": {"gpus": ["h100-sxm"]},
        "site": {"power_cap_kw": 200, "racks": 10, "rack_power_cap_kw": 50, "cooling": "liquid"},
        "finance": {"amortization_years": 4, "colocation_usd_per_kw_month": 150},
        "horizon": {"period": "quarter", "count": 3},
    }
    return {**base, **changes}


CLOUD = [{"gpu": "h100-sxm", "gpus_per_instance": 8, "on_demand_usd_per_hour": 50.0, "source": "test price"}]
OWNED = [{"gpu": "h100-sxm", "servers": 1, "remaining_life_periods": 3, "resale_usd_per_server": 1000}]


def growing_fleet() -> dict[str, Any]:
    """Traffic doubling each quarter beyond one owned H100 server from the start, a one-quarter lead time
    bridged by rentals: every part of a period is exercised, and the fleet needs a second rack in the
    last quarter."""
    doc = scenario(hardware={"gpus": ["h100-sxm"], "lead_time_periods": 1, "cloud": CLOUD, "owned": OWNED},
                   horizon={"period": "quarter", "count": 3, "traffic": {"chat": {"growth_per_period": 1.0}}})
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = 400
    return doc


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "roadmap-test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def roadmap(tmp_path: Path, doc: dict[str, Any]) -> Roadmap:
    return resolve_roadmap(load_scenario(write(tmp_path, doc)), catalog())
