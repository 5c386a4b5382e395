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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from planner.catalog.parsed_cache import parsed_yaml_cache
from planner.errors import InputError, UnknownNameError
from planner.io.files import read_yaml_and_bytes, validate_data
from planner.paths import catalogs_dir
from planner.schemas.catalog import GpuCatalogFile, GpuSpec, ModelCatalogFile, ModelSpec
from planner.schemas.engine import EngineCatalogFile, EngineProfile

ENV_VAR = "PLANNER_CATALOG_PATH"
MAX_NAME_CHARS = 200  # longer names are not searched for close matches, and are cut in messages


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


_GPU_NOISE = {"nvidia", "amd", "instinct", "tesla", "geforce", "radeon", "gpu", "hbm2", "hbm2e", "hbm3", "hbm3e",
              "gddr6", "gddr6x"}


def _gpu_canonical(name: str, keep_size: bool = True) -> str:
    """Vendor and memory-type words dropped ("NVIDIA H200 141GB HBM3e" -> "h200-141gb"); with
    ``keep_size`` False the memory size goes too ("h200")."""
    tokens = _norm(name).replace("_", " ").replace("-", " ").split()
    kept = [t for t in tokens if t not in _GPU_NOISE and (keep_size or not re.fullmatch(r"\d+gb", t))]
    return "-".join(kept)


def _gpu_keys(name: str) -> list[str]:
    """Canonical forms to try, most specific first: with the memory size (A100 40GB vs 80GB), then
    without it, then without a trailing SXM form-factor word."""
    keys = [_gpu_canonical(name), _gpu_canonical(name, keep_size=False)]
    parts = keys[-1].split("-")
    if len(parts) > 1 and re.fullmatch(r"sxm\d*", parts[-1]):
        keys.append("-".join(parts[:-1]))
    return list(dict.fromkeys(keys))


def _model_keys(name: str) -> list[str]:
    return [_canonical(name)]


@dataclass(frozen=True)
class Catalog:
    gpus: dict[str, GpuSpec]
    models: dict[str, ModelSpec]
    files: tuple[Path, ...] = ()
    _gpu_index: dict[str, str] = field(default_factory=dict, repr=False)
    _model_index: dict[str, str] = field(default_factory=dict, repr=False)
    _gpu_canon: dict[str, str] = field(default_factory=dict, repr=False)
    _model_canon: dict[str, str] = field(default_factory=dict, repr=False)
    digest: str = field(default="", repr=False)
    """sha256 of the files' names and bytes as they were parsed (empty: computed from ``files``)."""
    engines: dict[str, EngineProfile] = field(default_factory=dict)
    """Serving-engine profiles (catalogs/engines.yaml: scheduler defaults, overhead priors) by engine id;
    the estimates take each row's engine defaults from them, so they are part of the digest."""

    def __post_init__(self) -> None:
        for entries, index, canon, keys in ((self.gpus, self._gpu_index, self._gpu_canon, _gpu_keys),
                                            (self.models, self._model_index, self._model_canon, _model_keys)):
            names = [(ident, ident) for ident in entries]
            names += [(ident, alias) for ident, spec in entries.items() for alias in spec.aliases]
            for ident, name in names:
                index.setdefault(_norm(name), ident)
            # specific forms of every name first, so a size-less form never shadows a sized one
            forms_of = [(ident, keys(name)) for ident, name in names]  # each name's forms worked out once
            depth = max((len(forms) for _, forms in forms_of), default=0)
            for level in range(depth):
                for ident, forms in forms_of:
                    if level < len(forms):
                        canon.setdefault(forms[level], ident)

    def gpu(self, name: str) -> GpuSpec:
        try:
            return self.gpus[self._resolve(name, self._gpu_index, self._gpu_canon, _gpu_keys, "GPU",
                                           "planner catalog gpus")]
        except UnknownNameError as exc:
            raise self._by_spec(exc, name) from None

    def _by_spec(self, exc: UnknownNameError, name: str) -> UnknownNameError:
        """``exc`` with the GPUs nearest in specification when the name is a well-known GPU the
        catalog lacks (then the close names, another GPU, would mislead: A6000 is no A100)."""
        from planner.catalog.suggest import spec_hint

        hint = spec_hint(name, self, _gpu_keys) if len(name) <= MAX_NAME_CHARS else None
        return exc if hint is None else UnknownNameError(exc.message, fix=hint)

    def model(self, name: str) -> ModelSpec:
        return self.models[self._resolve(name, self._model_index, self._model_canon, _model_keys, "model",
                                         "planner catalog models")]

    def has_gpu(self, name: str) -> bool:
        return _norm(name) in self._gpu_index or any(k in self._gpu_canon for k in _gpu_keys(name))

    def has_model(self, name: str) -> bool:
        return _norm(name) in self._model_index or _canonical(name) in self._model_canon

    @staticmethod
    def _resolve(name: str, index: dict[str, str], canon: dict[str, str], keys: Callable[[str], list[str]],
                 kind: str, listing: str) -> str:
        key = _norm(name)
        if key in index:
            return index[key]
        for k in keys(name):
            if k in canon:
                return canon[k]
        close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.5) if len(key) <= MAX_NAME_CHARS else []
        ids = list(dict.fromkeys(index[c] for c in close))
        hint = f"did you mean {', '.join(ids)}?" if ids else f"see `{listing}`"
        shown = name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS] + "..."
        raise UnknownNameError(f"unknown {kind} {shown!r}", fix=hint)

    def sha256(self) -> str:
        """Hash of every catalog file's bytes, in load order (for plan input hashes): the bytes the
        catalog was parsed from, so a file edited after loading cannot be hashed in its place."""
        if self.digest:
            return self.digest
        return catalog_digest((f.name, f.read_bytes()) for f in self.files)


def catalog_digest(named_bytes: Iterable[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, raw in named_bytes:
        h.update(name.encode())
        h.update(raw)
    return h.hexdigest()


def _catalog_files(folder: Path) -> list[Path]:
    if folder.is_file():
        raise InputError("is a file, expected a catalog folder", file=str(folder),
                         fix="pass the folder that holds it (--catalog DIR or PLANNER_CATALOG_PATH)")
    if not folder.is_dir():
        raise InputError("catalog folder not found", file=str(folder), fix="pass an existing folder")
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.is_dir())
    except OSError as exc:
        raise InputError(f"cannot list the catalog folder ({exc.strerror or exc.__class__.__name__})",
                         file=str(folder), fix="check its permissions") from None
    odd = next((p for p in files if not p.is_file()), None)
    if odd is not None:  # a device, pipe, socket or broken link: say so rather than skip it silently
        raise InputError("is not a regular file (a device, pipe, socket or broken link)", file=str(odd),
                         fix="replace it with the catalog file, or remove it from the folder")
    return files


def _user_dirs(extra: Iterable[str | Path] | None) -> list[Path]:
    dirs = [Path(p) for p in (extra or [])]
    env = os.environ.get(ENV_VAR, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    return dirs


def _refuse_misspelled_kind(data: dict, path: Path) -> None:
    """A file without `gpus:` or `models:` is skipped (other catalog kinds have their own loaders), unless
    one of its keys is a misspelling of them: `model:` would otherwise drop the whole file silently."""
    if "gpus" in data or "models" in data or "engines" in data:
        return
    for key in data:
        close = difflib.get_close_matches(str(key).strip().lower(), ["gpus", "models"], n=1, cutoff=0.7)
        if close:
            raise InputError(f"`{str(key)[:40]}` is not a catalog key, so the file would be skipped", file=str(path),
                             fix=f"did you mean `{close[0]}:`?")


def load_catalog(extra_dirs: Iterable[str | Path] | None = None) -> Catalog:
    """Load the shipped catalogs, then every user folder (later entries replace earlier ids)."""
    gpus: dict[str, GpuSpec] = {}
    models: dict[str, ModelSpec] = {}
    engines: dict[str, EngineProfile] = {}
    files: list[Path] = []
    contents: list[tuple[str, bytes]] = []
    cache = parsed_yaml_cache()  # the same files parsed by an earlier command are not parsed again
    for folder in [catalogs_dir(), *_user_dirs(extra_dirs)]:
        for path in _catalog_files(folder):
            data, raw = read_yaml_and_bytes(path, cache)
            if not isinstance(data, dict):
                raise InputError("a catalog file must be a mapping with `gpus:` or `models:`", file=str(path),
                                 fix="see catalogs/gpus.yaml and catalogs/models.yaml for the format")
            _refuse_misspelled_kind(data, path)
            if "gpus" in data:
                for g in validate_data(GpuCatalogFile, data, str(path)).gpus:
                    gpus[g.id] = g
            elif "models" in data:
                for m in validate_data(ModelCatalogFile, data, str(path)).models:
                    models[m.id] = m
            elif "engines" in data:
                for e in validate_data(EngineCatalogFile, data, str(path)).engines:
                    engines[e.id] = e
            else:
                continue  # other catalog kinds (servers, grids) have their own loaders
            files.append(path)
            contents.append((path.name, raw))
    return Catalog(gpus=dict(sorted(gpus.items())), models=dict(sorted(models.items())), files=tuple(files),
                   digest=catalog_digest(contents), engines=dict(sorted(engines.items())))
