"""Names of a plan's deployments in exported scripts and manifests: readable, unique, valid everywhere.

A name is a Kubernetes DNS-1123 label (lower-case letters, digits and '-', at most 63 characters,
starting and ending with a letter or digit), so the same name serves as a Deployment name, a label
value and a shell `case` word. User text (workload names) goes through it and nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from planner.schemas.plan import Deployment

MAX_NAME_CHARS = 63
"""Longest DNS-1123 label (Kubernetes object names used as labels and hostnames)."""
_SUFFIX_CHARS = 7  # '-' + 6 hex characters of a hash, when a name must be cut or told apart


def _label(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "deployment"


def _base(d: Deployment) -> str:
    role = getattr(d, "role", "aggregated") or "aggregated"
    parts = [d.workload, *([] if role == "aggregated" else [str(role)]), d.gpu, d.precision, f"tp{d.tp}"]
    if d.pp > 1:
        parts.append(f"pp{d.pp}")
    return _label("-".join(parts))


def _with_hash(name: str, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[: _SUFFIX_CHARS - 1]
    return f"{name[: MAX_NAME_CHARS - _SUFFIX_CHARS].rstrip('-')}-{digest}"


def _key(d: Deployment) -> str:
    return (f"{d.workload}\0{getattr(d, 'role', '')}\0{d.gpu}\0{d.precision}\0{d.tp}\0{d.pp}\0{d.batch_size}"
            f"\0{getattr(d, 'power_limit_w', None)}")


def deployment_names(deployments: Sequence[Deployment]) -> list[str]:
    """One name per deployment, in order: workload, role (when not aggregated), GPU, precision, TP (and PP);
    a hash of the deployment's key is added when the name is too long or two deployments would share it."""
    bases = [_base(d) for d in deployments]
    names = []
    for d, base in zip(deployments, bases, strict=True):
        clash = bases.count(base) > 1 or len(base) > MAX_NAME_CHARS
        names.append(_with_hash(base, _key(d)) if clash else base)
    return names
