"""Key paths (``site.pue``, ``workloads.chat.traffic.peak_requests_per_s``) checked against the scenario
schema, turned into override patches and merged into the scenario document as overrides are."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from planner.scenario.load import ROADMAP_ONLY_KEYS, merge_override
from planner.schemas.scenario import Scenario

REFUSED_ROOTS = {"overrides": "a sweep cannot vary `overrides` (name one override with the sweep's `override:` key)",
                 "horizon": "a sweep cannot vary `horizon`: it solves single-period scenarios (a variant with a "
                            "horizon would be a roadmap, solved as one period; solve a roadmap with `planner solve`)"}
"""Top-level keys a sweep may not vary, and why (the sweep's own ``override:`` picks an override)."""


def _unwrap(annotation: Any) -> Any:
    """``X`` of ``X | None`` (and of Annotated[X, ...])."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unknown_key(seg: str, where: str, model: type[BaseModel]) -> str:
    fields = list(model.model_fields)
    close = difflib.get_close_matches(seg, fields, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"{where or 'the scenario'} has no key {seg!r} ({hint}keys: {', '.join(fields)})"


def _named_item(seg: str, where: str, names: list[str]) -> str | None:
    if seg in names:
        return None
    close = difflib.get_close_matches(seg, names, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"no workload named {seg!r} in the scenario ({hint}workloads: {', '.join(names)})"


def key_path_problem(path: str, doc: dict[str, Any]) -> str | None:
    """Why ``path`` addresses no key of the scenario (None when it does). ``doc`` is the scenario
    document (with the sweep's override applied): a workload is addressed by a name it holds."""
    segs = path.split(".")
    if any(not s for s in segs):
        return "empty segment in the key path (write keys joined by single dots, e.g. site.pue)"
    if segs[0] in REFUSED_ROOTS:
        return REFUSED_ROOTS[segs[0]]
    roadmap_key = next((k for k in ROADMAP_ONLY_KEYS if path == k or path.startswith(k + ".")), None)
    if roadmap_key is not None:
        return (f"a sweep cannot vary `{roadmap_key}`: only a roadmap (a scenario with `horizon`) reads it, and a "
                "sweep solves single-period scenarios")
    annotation: Any = Scenario
    where = ""
    i = 0
    while i < len(segs):
        seg, t = segs[i], _unwrap(annotation)
        model = _model(t)
        origin, args = typing.get_origin(t), typing.get_args(t)
        if model is not None:
            if seg not in model.model_fields:
                return _unknown_key(seg, where, model)
            annotation = model.model_fields[seg].annotation
        elif origin is list and args and _model(_unwrap(args[0])) is not None and "name" in _model(
                _unwrap(args[0])).model_fields:  # type: ignore[union-attr]
            problem = _named_item(seg, where, _names(doc, where))
            if problem:
                return problem
            annotation = args[0]
        elif origin is dict and args:
            annotation = args[1]  # any key: a GPU name is checked when the variant's names are resolved
        else:
            return f"{where} is a value, not a mapping: {'.'.join(segs[i:])!r} cannot be under it"
        where = f"{where}.{seg}" if where else seg
        i += 1
    return None


def _names(doc: dict[str, Any], where: str) -> list[str]:
    items: Any = doc
    for seg in where.split("."):
        items = items.get(seg) if isinstance(items, dict) else None
    return [str(i.get("name")) for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def overlapping(paths: list[str]) -> tuple[str, str] | None:
    """Two key paths one of which holds the other (``site`` and ``site.pue``), or None."""
    for a in paths:
        for b in paths:
            if a != b and b.startswith(a + "."):
                return a, b
    return None


def patch_of(values: dict[str, Any]) -> dict[str, Any]:
    """The override patch setting each key path to its value (``{"site": {"pue": 1.2}}``)."""
    patch: dict[str, Any] = {}
    for path, value in values.items():
        node = patch
        *parents, last = path.split(".")
        for seg in parents:
            node = node.setdefault(seg, {})
        node[last] = value
    return patch


def merge(base: Any, patch: Any) -> Any:
    """``patch`` merged into the scenario document as an override is (planner.scenario.load). Unknown
    names are refused up front by key_path_problem, so none reaches this merge."""
    return merge_override(base, patch, where="sweep")
