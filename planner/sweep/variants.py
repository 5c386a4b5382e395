"""The variants of a sweep: every grid combination, each with ``sample.n`` seeded draws.

Order (the variant ids): grid combinations in the order written (the last grid key varies fastest),
and within each combination the draws 0..n-1. Every combination gets the same n draws (common
random numbers), so two grid points differ by their grid values, not by sampling noise. Each sampled
key path draws from its own stream, ``SeedSequence(seed, spawn_key=(position,))``, so adding a key
path keeps the draws of the ones before it. Drawn numbers are rounded to 6 significant digits (as a
plan writes its figures), so the value in the table is the value solved.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import InputError
from planner.plan.io import round_float
from planner.sweep.spec import Choice, Distribution, LogNormal, Normal, Sample, SweepSpec, Triangular, Uniform


@dataclass(frozen=True)
class Variant:
    index: int
    """Position in the sweep (0-based): the row and the file name under DIR/variants/."""
    values: tuple[tuple[str, Any], ...]
    """(key path, value) in the order of SweepSpec.key_paths."""

    @property
    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


def _draw(dist: Distribution, rng: np.random.Generator, n: int) -> list[Any]:
    p = dist.params
    if isinstance(p, Choice):
        weights = None if p.weights is None else np.asarray(p.weights, dtype=float) / sum(p.weights)
        picks = rng.choice(len(p.values), size=n, p=weights)
        return [p.values[int(i)] for i in picks]
    if isinstance(p, Uniform):
        finite = np.isfinite(p.high - p.low)  # numpy raises OverflowError itself on a range past the floats
        x = rng.uniform(p.low, p.high, n) if finite else np.array([np.inf])
    elif isinstance(p, Normal):
        x = rng.normal(p.mean, p.sd, n)
    elif isinstance(p, LogNormal):
        x = rng.lognormal(float(np.log(p.median)), p.sigma, n)
    elif isinstance(p, Triangular):
        x = rng.triangular(p.low, p.mode, p.high, n)
    else:  # pragma: no cover - Distribution admits only the kinds above
        raise TypeError(f"unknown distribution {type(p).__name__}")
    if not np.all(np.isfinite(x)):
        raise InputError(f"the {dist.kind} distribution draws numbers too large for a float (overflow to "
                         "infinity)", fix="give parameters of a plausible size (the scenario's bounds: "
                         "`planner schema scenario`)")
    return [round_float(float(v)) for v in x]


def draws(sample: Sample) -> dict[str, list[Any]]:
    """Key path -> its ``sample.n`` draws, each key path from its own seeded stream (an InputError names the
    key path of a distribution that draws a non-finite number)."""
    out = {}
    for position, (path, dist) in enumerate(sample.vary.items()):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(sample.seed, spawn_key=(position,))))
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, by key path
            try:
                out[path] = _draw(dist, rng, sample.n)
            except InputError as exc:
                raise InputError(exc.message, key_path=f"sample.vary.{path}", fix=exc.fix) from None
    return out


def expand(spec: SweepSpec) -> list[Variant]:
    """Every variant of the sweep, in the stable order described above."""
    combos = list(itertools.product(*spec.grid.values())) if spec.grid else [()]
    sampled = draws(spec.sample) if spec.sample else {}
    n = spec.sample.n if spec.sample else 1
    out: list[Variant] = []
    for combo in combos:
        grid_values = list(zip(spec.grid, combo, strict=True))
        for j in range(n):
            drawn = [(path, values[j]) for path, values in sampled.items()]
            out.append(Variant(index=len(out), values=tuple(grid_values + drawn)))
    return out
