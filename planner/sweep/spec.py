"""The sweep file: which scenario, which key paths vary, over a grid and/or a seeded Monte-Carlo sample.

```yaml
scenario: chatbot.yaml          # relative to the sweep file
override: traffic_x2            # optional: one of the scenario's overrides, applied first
grid:                           # every combination, in the order written
  site.electricity_usd_per_kwh: [0.08, 0.12, 0.20]
sample:                         # sample.n draws for every grid combination
  n: 100
  seed: 7
  vary:
    finance.gpu_prices_usd.b200: {lognormal: {median: 38000, sigma: 0.15}}
```

Key paths address the scenario as overrides do: ``workloads.NAME.…`` patches a workload by its name.
The models are strict (unknown keys are errors) and check each distribution's own parameters; whether a
key path exists in the scenario, and whether every variant is a valid scenario, is checked by
planner.sweep.prepare before any solve.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from planner.schemas.base import StrictModel

MAX_VARIANTS = 100_000
"""Most variants one sweep file may ask for (grid combinations x sample.n)."""
MAX_SAMPLE_N = 100_000
KeyPath = str


class Uniform(StrictModel):
    """Every value in [low, high) equally likely."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high:g}) must be above low ({self.low:g})")
        return self


class Normal(StrictModel):
    """Gaussian with this mean and standard deviation."""

    mean: float
    sd: float = Field(gt=0)


class LogNormal(StrictModel):
    """exp(Normal(log(median), sigma)): positive, right-skewed (prices, traffic growth)."""

    median: float = Field(gt=0)
    sigma: float = Field(gt=0, le=10)


class Triangular(StrictModel):
    """Triangular on [low, high] with its peak at mode."""

    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(f"need low <= mode <= high and low < high, got {self.low:g}, {self.mode:g}, "
                             f"{self.high:g}")
        return self


class Choice(StrictModel):
    """One of ``values`` (any YAML value: a number, a name, a list of GPUs), with optional weights."""

    values: list[Any] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        w = self.weights
        if w is None:
            return self
        if len(w) != len(self.values):
            raise ValueError(f"{len(w)} weights for {len(self.values)} values (give one weight per value)")
        if any(x < 0 for x in w) or not sum(w) > 0:
            raise ValueError("weights must be >= 0 and not all 0")
        return self


class Distribution(StrictModel):
    """Exactly one of the distributions, e.g. ``{uniform: {low: 0.08, high: 0.2}}``."""

    uniform: Uniform | None = None
    normal: Normal | None = None
    lognormal: LogNormal | None = None
    triangular: Triangular | None = None
    choice: Choice | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, normal, lognormal, triangular, choice"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def params(self) -> Uniform | Normal | LogNormal | Triangular | Choice:
        return getattr(self, self.kind)  # type: ignore[no-any-return]


class Sample(StrictModel):
    """``n`` seeded draws of every ``vary`` key path, taken for each grid combination."""

    n: int = Field(ge=1, le=MAX_SAMPLE_N)
    seed: int = Field(ge=0, le=2**63 - 1)
    """The seed of numpy's PCG64 generator: the same seed gives the same draws."""
    vary: dict[KeyPath, Distribution] = Field(min_length=1)


class SweepSpec(StrictModel):
    """A sweep file."""

    scenario: str = Field(min_length=1)
    """The scenario file, relative to the sweep file."""
    override: str | None = None
    """One of the scenario's ``overrides``, applied before the sweep's values."""
    description: str = ""
    grid: dict[KeyPath, list[Any]] = {}
    """Key path -> its values; the variants are every combination, in the order written."""
    sample: Sample | None = None

    @model_validator(mode="after")
    def _something_varies(self) -> SweepSpec:
        if not self.grid and self.sample is None:
            raise ValueError("a sweep needs `grid:`, `sample:` or both (nothing varies)")
        empty = [k for k, values in self.grid.items() if not values]
        if empty:
            raise ValueError(f"grid key {empty[0]!r} has no values (list at least one)")
        both = sorted(set(self.grid) & set(self.sample.vary if self.sample else {}))
        if both:
            raise ValueError(f"{both[0]!r} is both in grid and in sample.vary (keep it in one)")
        if self.variant_count > MAX_VARIANTS:
            raise ValueError(f"{self.variant_count:,} variants, more than the {MAX_VARIANTS:,} a sweep may hold "
                             "(use fewer grid values or a smaller sample.n)")
        return self

    @property
    def grid_combinations(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    @property
    def variant_count(self) -> int:
        return self.grid_combinations * (self.sample.n if self.sample else 1)

    @property
    def key_paths(self) -> list[KeyPath]:
        """Grid key paths, then sampled ones, as written: the order of the table's input columns."""
        return [*self.grid, *(self.sample.vary if self.sample else {})]
