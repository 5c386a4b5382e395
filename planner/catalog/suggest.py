""""Did you mean" by specification: for a well-known GPU the catalog lacks, the catalog GPUs nearest
in memory, memory bandwidth and board power, and how to add the GPU itself.

The figures of those GPUs (reference_gpus.yaml, each with its datasheet) serve suggestions only: a
GPU is estimated only from a catalog entry. Nearness is the distance of the three figures' logarithms
(a GPU with twice the memory is as far as one with half of it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from planner.io.files import load_yaml_as
from planner.schemas.base import StrictModel

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog

REFERENCE_FILE = Path(__file__).with_name("reference_gpus.yaml")
NEAREST = 3
"""Catalog GPUs a suggestion names."""


class ReferenceGpu(StrictModel):
    """A GPU known by its datasheet figures only (not estimable)."""

    name: str
    aliases: list[str] = []
    memory_gib: float = Field(gt=0, le=1024)
    memory_bandwidth_tb_per_s: float = Field(gt=0, le=50)
    tdp_w: float = Field(gt=0, le=3000)
    source: str = Field(min_length=1)


class ReferenceFile(StrictModel):
    schema_version: Literal[1] = 1
    reference_gpus: list[ReferenceGpu]


@functools.lru_cache(maxsize=1)
def reference_gpus() -> tuple[ReferenceGpu, ...]:
    return tuple(load_yaml_as(ReferenceFile, REFERENCE_FILE).reference_gpus)


def find_reference(name: str, keys: Callable[[str], list[str]]) -> ReferenceGpu | None:
    """The reference GPU ``name`` means (by its name or an alias), compared in the canonical forms
    ``keys`` gives (the catalog lookup's, so vendor spellings match as they do there)."""
    wanted = set(keys(name))
    for ref in reference_gpus():
        if any(wanted & set(keys(n)) for n in [ref.name, *ref.aliases]):
            return ref
    return None


def _distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return math.sqrt(sum(math.log(x / y) ** 2 for x, y in zip(a, b, strict=True)))


def nearest_by_spec(ref: ReferenceGpu, catalog: Catalog, n: int = NEAREST) -> list[str]:
    """Ids of the ``n`` catalog GPUs nearest ``ref`` in memory, bandwidth and power (ties by id)."""
    target = (ref.memory_gib, ref.memory_bandwidth_tb_per_s, ref.tdp_w)
    ranked = sorted(catalog.gpus.values(), key=lambda g: (
        _distance(target, (g.memory_gib, g.memory_bandwidth_tb_per_s, g.tdp_w)), g.id))
    return [g.id for g in ranked[:n]]


def _figures(memory_gib: float, bandwidth_tb_per_s: float, tdp_w: float) -> str:
    return f"{memory_gib:g} GiB, {bandwidth_tb_per_s:g} TB/s, {tdp_w:g} W"


def spec_hint(name: str, catalog: Catalog, keys: Callable[[str], list[str]]) -> str | None:
    """The suggestion for an unknown GPU name the reference table knows (None: it does not)."""
    ref = find_reference(name, keys)
    if ref is None:
        return None
    ids = nearest_by_spec(ref, catalog)
    near = ", ".join(f"{i} ({_figures(g.memory_gib, g.memory_bandwidth_tb_per_s, g.tdp_w)})"
                     for i, g in ((i, catalog.gpus[i]) for i in ids))
    return (f"{ref.name} ({_figures(ref.memory_gib, ref.memory_bandwidth_tb_per_s, ref.tdp_w)}) is not in the "
            f"catalog; nearest in specification: {near}. To estimate the {ref.name} itself, add an entry under "
            f"`gpus:` in a YAML file of your own folder and pass --catalog DIR (`planner catalog show {ids[0]}` "
            "prints one to start from; only planner solve needs its `server:` block)")
