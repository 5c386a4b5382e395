"""A workload's ``sizing_confidence`` resolved into per-GPU margin factors (docs/confidence.md).

Each catalog GPU gets the expected error of the workload's model on that GPU's architecture at the
confidence (planner.calibration.expected_error, the shipped leave-one-GPU-out table): TTFT and ITL are
multiplied by (1 + e) before the SLO tests, and the capacity divided by (1 + e) of throughput, so a
replica whose estimates err at that quantile still meets the SLOs. Read here, at the Problem's build,
so nothing later reads the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from planner.calibration.expected_error import ExpectedError, load_expected_error, lookup
from planner.problem.model import MarginFactors, SizingMargin, WorkloadDemand
from planner.schemas.catalog import GpuSpec, ModelSpec

MARGIN_METRICS = (("ttft", "TTFT"), ("itl", "ITL"), ("throughput", "throughput"))


def _factor(errors: dict[str, ExpectedError], metric: str, confidence: float) -> float:
    e = errors.get(metric)
    return 1.0 if e is None else 1.0 + e.error.pct_at(confidence) / 100.0


def margin_factors(model: ModelSpec, architecture: str, confidence: float) -> MarginFactors:
    """The factors of ``model`` on a GPU of ``architecture`` at ``confidence``."""
    errors = lookup(load_expected_error(), architecture, model)
    group = "; ".join(f"{label}: {errors[k].group}" if k in errors else f"{label}: no held-out data"
                      for k, label in MARGIN_METRICS)
    return MarginFactors(ttft=_factor(errors, "ttft", confidence), itl=_factor(errors, "itl", confidence),
                         throughput=_factor(errors, "throughput", confidence), group=group)


def with_sizing(w: WorkloadDemand, confidence: float | None, model: ModelSpec,
                gpus: Iterable[GpuSpec]) -> WorkloadDemand:
    """``w`` sized at ``confidence`` on every GPU of ``gpus`` (the catalog's: a roadmap period may offer GPUs
    the base problem does not); ``w`` itself when None."""
    if confidence is None:
        return w
    by_gpu = tuple((g.id, margin_factors(model, g.architecture, confidence)) for g in gpus)
    return replace(w, sizing=SizingMargin(confidence=confidence, by_gpu=by_gpu))
