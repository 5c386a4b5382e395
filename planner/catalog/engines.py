"""Serving-engine profiles (catalogs/engines.yaml): overhead priors, KV-cache dtype and scheduler defaults
per engine, each with its source. Read once per process; the core takes the figures as values."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from planner.errors import InputError
from planner.io.files import read_yaml_and_bytes, validate_data
from planner.paths import catalogs_dir
from planner.schemas.engine import EngineCatalogFile, EngineProfile, tier_value

ENGINES_FILE = "engines.yaml"


def engines_path() -> Path:
    return catalogs_dir() / ENGINES_FILE


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, EngineProfile]:
    data, _ = read_yaml_and_bytes(path)
    return {e.id: e for e in validate_data(EngineCatalogFile, data, path).engines}


def load_engines(path: str | Path | None = None) -> dict[str, EngineProfile]:
    """Engine id -> profile (the shipped catalogs/engines.yaml when ``path`` is None)."""
    return _load(str(path if path is not None else engines_path()))


def engine_profile(engine: str, path: str | Path | None = None) -> EngineProfile:
    """The profile of a canonical engine id (vllm, sglang, trt-llm)."""
    profiles = load_engines(path)
    if engine not in profiles:
        raise InputError(f"no engine profile for {engine!r}", file=str(path or engines_path()),
                         fix=f"use one of {', '.join(profiles)} or add its profile")
    return profiles[engine]


def scheduler_defaults(profile: EngineProfile, memory_gib: float, architecture: str) -> dict[str, int | bool | None]:
    """The engine's default step token budget, sequence cap and chunked prefill on one GPU."""
    s = profile.scheduler
    return {"max_batched_tokens": tier_value(s.max_batched_tokens, memory_gib, architecture),
            "max_sequences": tier_value(s.max_sequences, memory_gib, architecture),
            "chunked_prefill": s.chunked_prefill}
