"""Load GPU and model catalogs (shipped + user folders) and look names up.

Lookup is case-insensitive and accepts aliases (Hugging Face repo ids); an unknown name raises
UnknownNameError with the closest matches. User catalogs come from ``--catalog DIR`` or the
``PLANNER_CATALOG_PATH`` environment variable (folders separated by ``os.pathsep``); a user entry
with the id of a shipped one replaces it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import InputError, UnknownNameError
from planner.io.files import read_yaml, validate_data
from planner.paths import catalogs_dir
from planner.schemas.catalog import GpuCatalogFile, GpuSpec, ModelCatalogFile, ModelSpec

ENV_VAR = "PLANNER_CATALOG_PATH"


def _norm(name: str) -> str:
    return name.strip().lower()


# Checkpoint-variant words that do not change the architecture (a fallback when the exact
# name or alias is unknown): "nvidia/Llama-3.1-405B-Instruct-FP8" -> "llama-3.1-405b".
_VARIANT_WORDS = ("instruct", "chat", "hf", "fp8", "fp4", "nvfp4", "mxfp4", "awq", "gptq", "int4", "int8",
                  "w4a16", "w8a8", "it", "base", "dynamic", "2507", "thinking", "turbo")


def _canonical(name: str) -> str:
    tail = _norm(name).split("/")[-1].replace("_", "-").replace(" ", "-")
    if tail.startswith("meta-llama-"):
        tail = tail[len("meta-"):]
    parts = tail.split("-")
    while len(parts) > 1 and parts[-1] in _VARIANT_WORDS:
        parts.pop()
    return "-".join(parts)


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, GpuSpec]
    models: dict[str, ModelSpec]
    files: tuple[Path, ...] = ()
    _gpu_index: dict[str, str] = field(default_factory=dict, repr=False)
    _model_index: dict[str, str] = field(default_factory=dict, repr=False)
    _gpu_canon: dict[str, str] = field(default_factory=dict, repr=False)
    _model_canon: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entries, index, canon in ((self.gpus, self._gpu_index, self._gpu_canon),
                                      (self.models, self._model_index, self._model_canon)):
            for ident in entries:
                index[_norm(ident)] = ident
                canon.setdefault(_canonical(ident), ident)
            for ident, spec in entries.items():
                for alias in spec.aliases:
                    index.setdefault(_norm(alias), ident)
                    canon.setdefault(_canonical(alias), ident)

    def gpu(self, name: str) -> GpuSpec:
        return self.gpus[self._resolve(name, self._gpu_index, self._gpu_canon, "GPU", "planner catalog gpus")]

    def model(self, name: str) -> ModelSpec:
        return self.models[self._resolve(name, self._model_index, self._model_canon, "model",
                                         "planner catalog models")]

    def has_gpu(self, name: str) -> bool:
        return _norm(name) in self._gpu_index or _canonical(name) in self._gpu_canon

    def has_model(self, name: str) -> bool:
        return _norm(name) in self._model_index or _canonical(name) in self._model_canon

    @staticmethod
    def _resolve(name: str, index: dict[str, str], canon: dict[str, str], kind: str, listing: str) -> str:
        key = _norm(name)
        if key in index:
            return index[key]
        if _canonical(name) in canon:
            return canon[_canonical(name)]
        close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.5)
        ids = list(dict.fromkeys(index[c] for c in close))
        hint = f"did you mean {', '.join(ids)}?" if ids else f"see `{listing}`"
        raise UnknownNameError(f"unknown {kind} {name!r}", fix=hint)

    def sha256(self) -> str:
        """Hash of every catalog file's bytes, in load order (for plan input hashes)."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        return h.hexdigest()


def _catalog_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError("catalog folder not found", file=str(folder), fix="pass an existing folder")
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _user_dirs(extra: Iterable[str | Path] | None) -> list[Path]:
    dirs = [Path(p) for p in (extra or [])]
    env = os.environ.get(ENV_VAR, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    return dirs


def load_catalog(extra_dirs: Iterable[str | Path] | None = None) -> Catalog:
    """Load the shipped catalogs, then every user folder (later entries replace earlier ids)."""
    gpus: dict[str, GpuSpec] = {}
    models: dict[str, ModelSpec] = {}
    files: list[Path] = []
    for folder in [catalogs_dir(), *_user_dirs(extra_dirs)]:
        for path in _catalog_files(folder):
            data = read_yaml(path)
            if not isinstance(data, dict):
                raise InputError("a catalog file must be a mapping with `gpus:` or `models:`", file=str(path))
            if "gpus" in data:
                for g in validate_data(GpuCatalogFile, data, str(path)).gpus:
                    gpus[g.id] = g
            elif "models" in data:
                for m in validate_data(ModelCatalogFile, data, str(path)).models:
                    models[m.id] = m
            else:
                continue  # other catalog kinds (servers, grids) have their own loaders
            files.append(path)
    return Catalog(gpus=dict(sorted(gpus.items())), models=dict(sorted(models.items())), files=tuple(files))
