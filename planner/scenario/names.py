"""Every GPU- or model-keyed name of a scenario, resolved once through the catalog lookup.

``resolve_names`` is the one place where a name a user wrote (an id, an alias, any case, a vendor
spelling such as "NVIDIA H100 80GB") becomes a catalog id. validate, solve, check and the report all
read its answer, so a mapping keyed by any name the catalog resolves has the same effect everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from planner.errors import InputError, UnknownNameError
from planner.schemas.scenario import Scenario

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.scenario.load import LoadedScenario  # names is the lower module: load imports it


@dataclass(frozen=True)
class ResolvedNames:
    """A scenario's names as catalog ids; every mapping is keyed by GPU id (or workload name)."""

    gpu_ids: tuple[str, ...] | None
    """``hardware.gpus`` resolved to catalog ids, in the user's order without repeats (None: not given)."""
    inventory_gpus: Mapping[str, int]
    """GPU id -> GPUs available (``hardware.inventory``)."""
    servers: Mapping[str, Any]
    """GPU id -> server override (``hardware.servers`` values)."""
    gpu_prices_usd: Mapping[str, float]
    """GPU id -> USD per GPU (``finance.gpu_prices_usd``)."""
    server_prices_usd: Mapping[str, float]
    """GPU id -> USD per server (``finance.server_prices_usd``)."""
    models: Mapping[str, str]
    """Workload name -> catalog model id (``workloads[].model``)."""
    draft_models: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Workload name -> catalog id of its speculative draft model (``workloads[].speculative.draft_model``)."""


def override_label(override: str | None) -> str:
    """Key-path prefix of a problem an override brings in: ``overrides.NAME -> ``."""
    return f"overrides.{override} -> " if override is not None else ""


def _frozen(d: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(sorted(d.items())))


def _unknown(exc: UnknownNameError) -> str:
    return exc.message + (f" ({exc.fix})" if exc.fix else "")


def _gpu_mappings(scenario: Scenario) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping keyed by GPU id or alias, with its key path."""
    yield "hardware.inventory", scenario.hardware.inventory
    yield "hardware.servers", scenario.hardware.servers
    yield "finance.gpu_prices_usd", scenario.finance.gpu_prices_usd
    yield "finance.server_prices_usd", scenario.finance.server_prices_usd


Problems = list[tuple[str, str]]


def _gpu_list(gpus: list[str] | None, catalog: Catalog, problems: Problems) -> tuple[str, ...] | None:
    if gpus is None:
        return None
    if not gpus:
        problems.append(("hardware.gpus", "an empty list allows no GPU (list the candidate GPUs, e.g. [h100-sxm], "
                                          "or remove the key to consider every GPU in the catalog)"))
    ids = []
    for i, name in enumerate(gpus):
        try:
            ids.append(catalog.gpu(name).id)
        except UnknownNameError as exc:
            problems.append((f"hardware.gpus[{i}]", _unknown(exc)))
    return tuple(dict.fromkeys(ids))


def _gpu_keyed(where: str, mapping: Mapping[str, Any], catalog: Catalog, problems: Problems) -> dict[str, Any]:
    """``mapping`` re-keyed by GPU id; an unknown key or a second key for one GPU is a problem."""
    out: dict[str, Any] = {}
    first_key: dict[str, str] = {}
    for key, v in mapping.items():
        try:
            gpu_id = catalog.gpu(key).id
        except UnknownNameError as exc:
            problems.append((f"{where}.{key}", _unknown(exc)))
            continue
        if gpu_id in first_key:
            problems.append((f"{where}.{key}", f"names GPU {gpu_id}, as does key {first_key[gpu_id]!r} "
                                               "(keep one of the two keys)"))
        else:
            first_key[gpu_id], out[gpu_id] = key, v
    return out


def _models(scenario: Scenario, catalog: Catalog, problems: Problems) -> dict[str, str]:
    out = {}
    for i, w in enumerate(scenario.workloads):
        try:
            out[w.name] = catalog.model(w.model).id
        except UnknownNameError as exc:
            problems.append((f"workloads[{i}].model", _unknown(exc)))
    return out


def _draft_models(scenario: Scenario, catalog: Catalog, models: Mapping[str, str],
                  problems: Problems) -> dict[str, str]:
    """Workload name -> draft model id, for workloads with speculative decoding; a draft that cannot
    serve the workload's model (unknown, not smaller, another tokenizer) or mtp on a model without an
    MTP module is a problem at ``workloads[i].speculative``."""
    from planner.schemas.speculative import speculative_problems

    out: dict[str, str] = {}
    for i, w in enumerate(scenario.workloads):
        spec = w.speculative
        if spec is None or w.name not in models:
            continue
        draft = None
        if spec.draft_model is not None:
            try:
                draft = catalog.model(spec.draft_model)
                out[w.name] = draft.id
            except UnknownNameError as exc:
                problems.append((f"workloads[{i}].speculative.draft_model", _unknown(exc)))
                continue
        problems.extend((f"workloads[{i}].speculative", text)
                        for text in speculative_problems(spec, catalog.model(models[w.name]), draft))
    return out


def _resolve(scenario: Scenario, catalog: Catalog) -> tuple[ResolvedNames, Problems]:
    """The resolution and the (key path, message with its fix) of every name it could not resolve."""
    problems: Problems = []
    models = _models(scenario, catalog, problems)
    draft_models = _draft_models(scenario, catalog, models, problems)
    gpu_ids = _gpu_list(scenario.hardware.gpus, catalog, problems)
    keyed = {where: _gpu_keyed(where, mapping, catalog, problems) for where, mapping in _gpu_mappings(scenario)}
    names = ResolvedNames(
        gpu_ids=gpu_ids, models=_frozen(models),
        inventory_gpus=_frozen({k: int(v) for k, v in keyed["hardware.inventory"].items()}),
        servers=_frozen(keyed["hardware.servers"]),
        gpu_prices_usd=_frozen({k: float(v) for k, v in keyed["finance.gpu_prices_usd"].items()}),
        server_prices_usd=_frozen({k: float(v) for k, v in keyed["finance.server_prices_usd"].items()}),
        draft_models=_frozen(draft_models))
    return names, problems


def resolve_names(scenario: Scenario, catalog: Catalog, *, file: str | None = None) -> ResolvedNames:
    """Every GPU- or model-keyed name through the catalog lookup; raises one InputError listing every
    problem (an unknown name, two keys for one GPU, an empty ``hardware.gpus``), one per line."""
    names, problems = _resolve(scenario, catalog)
    if problems:
        prefix = f"{file}: " if file else ""
        raise InputError("\n".join(f"{prefix}{where}: {text}" for where, text in problems))
    return names


def name_problems(scenario: Scenario, catalog: Catalog) -> list[tuple[str, str]]:
    """(key path, message with its fix) of every model or GPU name the catalog does not resolve,
    of GPU-keyed mappings with two keys for one GPU, and of an empty ``hardware.gpus``."""
    return _resolve(scenario, catalog)[1]


def check_names(loaded: LoadedScenario, catalog: Catalog) -> ResolvedNames:
    """The loaded scenario's names resolved; else one InputError listing, one per line, every problem.

    With an override, a problem the base scenario does not have is labelled ``overrides.NAME -> ``.
    """
    names, problems = _resolve(loaded.scenario, catalog)
    if not problems:
        return names
    in_base = set(name_problems(loaded.base, catalog)) if loaded.base is not None else set()
    label = override_label(loaded.override)
    lines = [f"{loaded.path}: {'' if (where, text) in in_base else label}{where}: {text}"
             for where, text in problems]
    raise InputError("\n".join(lines))
