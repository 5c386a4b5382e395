"""Builders of tiny hand-made problems and candidate tables for the integer-program tests: no
catalog, no scenario file, no estimation core. Every figure is a round number a reader can follow
by hand (W, USD, requests/s, as the resolved problem holds them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from planner.candidates.generate import Candidates
from planner.optimize.backend import run_solver
from planner.optimize.program import NOT_ELASTIC, Elastic, FleetModel, build_program
from planner.problem.model import GpuOption, Money, Problem, SiteLimits, Slo, TokenLengths, WorkloadDemand
from planner.schemas.plan import InputHashes


def gpu(gpu_id: str = "g1", *, gpus_per_server: int = 4, server_max_power_w: float = 2000.0,
        server_rack_units: int = 2, gpu_price_usd: float = 10_000.0, server_price_usd: float = 20_000.0,
        inventory_gpus: int | None = None, idle_w: float = 50.0, overhead_w_per_gpu: float = 100.0) -> GpuOption:
    """A GPU type in its server; ``spec`` carries only what the program reads (idle power)."""
    spec: Any = SimpleNamespace(id=gpu_id, idle_w=idle_w, server=SimpleNamespace(psu=None))
    return GpuOption(id=gpu_id, spec=spec, gpus_per_server=gpus_per_server, server_model=f"{gpu_id}-server",
                     server_max_power_w=server_max_power_w, server_rack_units=server_rack_units,
                     gpu_price_usd=gpu_price_usd, server_price_usd=server_price_usd, inventory_gpus=inventory_gpus,
                     overhead_w_per_gpu=overhead_w_per_gpu)


def workload(name: str = "chat", *, peak_requests_per_s: float = 10.0, average_requests_per_s: float | None = None,
             headroom: float = 0.0, redundancy: int = 0) -> WorkloadDemand:
    avg = peak_requests_per_s / 2.0 if average_requests_per_s is None else average_requests_per_s
    lengths = TokenLengths(mean=100.0, p95=100.0)
    return WorkloadDemand(name=name, model_id="m", model_as_written="m", engine="vllm",
                          peak_requests_per_s=peak_requests_per_s, average_requests_per_s=avg, headroom=headroom,
                          redundancy=redundancy, input_tokens=lengths, output_tokens=lengths, slo=Slo(),
                          precisions=("bf16",), max_tp=None, max_pp=None)


def problem(workloads: list[WorkloadDemand], gpus: list[GpuOption], *, objective: str = "min_gpus",
            power_cap_w: float | None = None, racks: int | None = None, rack_power_cap_w: float = 10_000.0,
            breaker_derating: float = 0.8, rack_units: int = 42, cooling: str = "liquid",
            air_cooling_limit_w: float = 20_000.0, pue: float = 1.5, electricity_usd_per_kwh: float = 0.1,
            carbon_g_per_kwh: float = 400.0, amortization_years: float = 4.0,
            colocation_usd_per_w_year: float = 0.0, budget_usd: float | None = None) -> Problem:
    site = SiteLimits(power_cap_w=power_cap_w, racks=racks, rack_power_cap_w=rack_power_cap_w,
                      breaker_derating=breaker_derating, rack_units=rack_units, cooling=cooling,  # type: ignore[arg-type]
                      air_cooling_limit_w=air_cooling_limit_w, pue=pue, electricity_usd_per_kwh=electricity_usd_per_kwh,
                      carbon_g_per_kwh=carbon_g_per_kwh)
    hashes = InputHashes(scenario="0" * 64, catalog="0" * 64, calibration="none", combined="0" * 64)
    return Problem(name="tiny", description="", objective=objective, file_name="tiny.yaml", override=None,
                   workloads=tuple(workloads), gpus=tuple(sorted(gpus, key=lambda g: g.id)), site=site,
                   money=Money(amortization_years=amortization_years,
                               colocation_usd_per_w_year=colocation_usd_per_w_year, budget_usd=budget_usd),
                   calibration=None, calibration_file=None, calibration_origin="none", hashes=hashes,  # type: ignore[arg-type]
                   catalog=None, echo=None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Point:
    """One operating point: a replica of ``num_gpus`` GPUs serving ``capacity_rps``, drawing
    ``power_base_w`` plus ``power_slope_w_per_rps`` per request/s routed to it."""

    workload: str
    gpu: str
    num_gpus: int
    capacity_rps: float
    power_base_w: float = 500.0
    power_slope_w_per_rps: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def candidates(points: list[Point]) -> Candidates:
    """A candidate table with every column the program and the plan read; latencies are placeholders."""
    n = len(points)

    def col(values: list[Any], dtype: Any = float) -> np.ndarray:
        return np.array(values, dtype=dtype)

    cap = col([p.capacity_rps for p in points])
    base = col([p.power_base_w for p in points])
    slope = col([p.power_slope_w_per_rps for p in points])
    gpus = col([p.num_gpus for p in points], int)
    cols = {
        "workload": col([p.workload for p in points], str), "model": np.full(n, "m"),
        "gpu": col([p.gpu for p in points], str), "precision": np.full(n, "bf16"),
        "tp": gpus.copy(), "pp": np.ones(n, dtype=int), "batch_size": np.full(n, 8),
        "prefill_chunk_tokens": np.full(n, 2048), "num_gpus": gpus, "capacity_rps": cap,
        "saturated_rps": cap / 0.85, "ttft_p95_s": np.full(n, 0.5), "itl_p95_s": np.full(n, 0.05),
        "itl_s": np.full(n, 0.04), "ttft_solo_p95_s": np.full(n, 0.2), "hold_s": np.full(n, 1.0),
        "prefill_service_s": np.full(n, 0.01), "power_base_w": base, "power_slope_w_per_rps": slope,
        "power_at_capacity_w": base + slope * cap, "peak_power_w": base + slope * cap,
        "output_tokens_per_request": np.full(n, 100.0),
    }
    return Candidates(cols, {}, n)


def solve(p: Problem, cand: Candidates, *, elastic: Elastic = NOT_ELASTIC) -> tuple[str, FleetModel]:
    """Build and solve with HiGHS, no tie-break solve: (status, model with values)."""
    m = build_program(p, cand, elastic=elastic)
    return run_solver(m, "highs", 30.0, tie_break=False).status, m


@pytest.fixture(scope="session")
def tiny() -> SimpleNamespace:
    """The builders above (tests/unit/test_program_*.py take them through this fixture; stateless,
    so one for the session, which hypothesis tests may share between examples)."""
    return SimpleNamespace(gpu=gpu, workload=workload, problem=problem, Point=Point, candidates=candidates,
                           solve=solve)
