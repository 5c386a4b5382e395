"""Schema of catalogs/engines.yaml: each serving engine's overhead priors, KV-cache dtype and scheduler
defaults, every figure with its source (planner.catalog.engines loads it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schemas.base import StrictModel

EngineId = Literal["vllm", "sglang", "trt-llm"]


class SourcedFigure(StrictModel):
    """A prior with its plausible range and where it was read."""

    value: float = Field(ge=0)
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _in_range(self) -> SourcedFigure:
        if not self.low <= self.value <= self.high:
            raise ValueError(f"value {self.value:g} is outside its range {self.low:g}-{self.high:g}")
        return self


class Tier(StrictModel):
    """One GPU tier of a scheduler default: GPUs with less memory than ``below_gib`` or of one of
    ``architectures`` (none: every GPU left)."""

    below_gib: float | None = Field(None, gt=0)
    architectures: list[str] = []
    value: int | None = Field(ge=1)
    """The default on these GPUs; null: the engine sizes it from memory."""


class Scheduler(StrictModel):
    chunked_prefill: bool
    """Prompts split into chunks that share steps with decoding sequences, by default."""
    max_batched_tokens: list[Tier] = Field(min_length=1)
    """Tokens one step carries, decode tokens included (vLLM max_num_batched_tokens, SGLang
    chunked_prefill_size, TRT-LLM max_num_tokens)."""
    max_sequences: list[Tier] = Field(min_length=1)
    """Sequences in flight (vLLM max_num_seqs, SGLang max_running_requests, TRT-LLM max_batch_size)."""
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _last_tier_catches_all(self) -> Scheduler:
        for name, tiers in (("max_batched_tokens", self.max_batched_tokens), ("max_sequences", self.max_sequences)):
            last = tiers[-1]
            if last.below_gib is not None or last.architectures:
                raise ValueError(f"{name}: the last tier must hold every GPU left (no below_gib, no architectures)")
        return self


def tier_value(tiers: list[Tier], memory_gib: float, architecture: str) -> int | None:
    """The value of the first tier the GPU falls in."""
    for t in tiers:
        if (t.below_gib is None and not t.architectures) or architecture in t.architectures or \
                (t.below_gib is not None and memory_gib < t.below_gib):
            return t.value
    return tiers[-1].value


class EngineProfile(StrictModel):
    id: EngineId
    name: str
    version: str
    """The engine versions the figures were read from."""
    step_overhead_s: SourcedFigure
    seq_overhead_s: SourcedFigure
    kv_cache_dtype: Literal["auto", "fp8"]
    kv_fp8_with_fp8_weights: bool
    kv_cache_source: str = Field(min_length=1)
    scheduler: Scheduler


class EngineCatalogFile(StrictModel):
    schema_version: Literal[1] = 1
    engines: list[EngineProfile] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> EngineCatalogFile:
        ids = [e.id for e in self.engines]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"engine ids must be unique, repeated: {', '.join(dup)}")
        return self
