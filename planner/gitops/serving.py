"""How `planner diff` words a change of a deployment's serving decisions: its speculative decoding
("speculative eagle k=4 -> k=3"), its launch command ("launch: --max-num-seqs 128 -> 96") and its role.

Pure text from plan values; render.py puts these beside the other changed fields of a deployment line.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from planner.schemas.plan import Launch
from planner.schemas.speculative import Speculative

MAX_LAUNCH_ARGS = 4
"""Launch arguments a diff line names at most; the rest are counted ("and 2 more")."""
MAX_VALUE_CHARS = 40
"""An argument's value longer than this is cut in a diff line (the speculative setting is worded separately)."""
DIFF_CONTEXT_CHARS = 24
"""Characters shown before the first difference of two long values."""
SERVING_FIELDS = frozenset({"speculative", "launch", "role"})
"""Deployment fields whose change render.py words with this module."""


def speculative_parts(spec: Speculative | None) -> list[str]:
    """``["eagle", "k=3", "a=0.75"]`` (a draft model last); ``["off"]`` when the deployment does not speculate."""
    if spec is None:
        return ["off"]
    parts = [spec.method, f"k={spec.tokens_or_default}", f"a={spec.acceptance_or_default:g}"]
    return parts + ([f"draft {spec.draft_model}"] if spec.draft_model else [])


def speculative_change(before: Speculative | None, after: Speculative | None) -> str:
    """``speculative eagle k=4 -> k=3``: the method, then only the settings that change; the whole
    setting when the method changes or speculation is turned on or off."""
    old, new = speculative_parts(before), speculative_parts(after)
    if before is None or after is None or before.method != after.method:
        return f"speculative {' '.join(old)} -> {' '.join(new)}"
    pairs = [(a, b) for a, b in zip(old[1:], new[1:], strict=True) if a != b]  # one method: the same parts
    return f"speculative {before.method} {' '.join(a for a, _ in pairs)} -> {' '.join(b for _, b in pairs)}"


def argument_pairs(argv: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of a command (a flag without a value maps to ""; the program and the model,
    the words before the first flag, map to "" under their own words)."""
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        has_value = word.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("--")
        out[word] = argv[i + 1] if has_value else out.get(word, "")
        i += 2 if has_value else 1
    return out


def _short(value: str) -> str:
    """An argument's value cut to MAX_VALUE_CHARS (a JSON config is long; its meaning is on its own line)."""
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS - 1] + "…"


def _differing(old: str, new: str) -> tuple[str, str]:
    """Two long values shown from a little before where they first differ (a JSON config's changed key)."""
    if max(len(old), len(new)) <= MAX_VALUE_CHARS:
        return old, new
    same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    start = max(0, same - DIFF_CONTEXT_CHARS)
    cut = "…" if start else ""
    return _short(cut + old[start:]), _short(cut + new[start:])


def _argument_changes(before: list[str], after: list[str]) -> list[str]:
    old, new = argument_pairs(before), argument_pairs(after)
    out = []
    for flag in [*old, *(f for f in new if f not in old)]:
        if flag not in new:
            out.append(f"- {flag} {_short(old[flag])}".rstrip())
        elif flag not in old:
            out.append(f"+ {flag} {_short(new[flag])}".rstrip())
        elif old[flag] != new[flag]:
            out.append(f"{flag} {' -> '.join(_differing(old[flag], new[flag]))}")
    return out


def _watts(limit_w: float | None) -> str:
    return "TDP" if limit_w is None else f"{limit_w:g} W"


def launch_changes(before: Launch, after: Launch) -> list[str]:
    """What differs between two launch specs, most telling first: the engine, the checkpoint, each argument
    of the command, then the power-limit command, environment, config files and server count."""
    if before.engine != after.engine:
        return [f"{before.engine} -> {after.engine}"]
    args = _argument_changes(before.argv, after.argv)
    out = []
    if before.model_id != after.model_id:  # the checkpoint's own words are one item, not two
        out.append(f"model {before.model_id} -> {after.model_id}")
        args = [c for c in args if before.model_id not in c and after.model_id not in c]
    out += args
    if before.power_limit_argv != after.power_limit_argv:
        out.append(f"power limit {_watts(before.power_limit_w)} -> {_watts(after.power_limit_w)}")
    out += [f"{what} changed" for what, a, b in (
        ("environment", before.env, after.env), ("config files", before.config_files, after.config_files),
        ("worker command", before.worker_argv, after.worker_argv),
        ("servers per replica", before.nodes_per_replica, after.nodes_per_replica)) if a != b]
    return out or ["notes changed"]


def launch_change(before: Launch | None, after: Launch | None) -> str:
    """``launch: --max-num-seqs 128 -> 96, + --kv-cache-dtype fp8`` (at most MAX_LAUNCH_ARGS items)."""
    if before is None or after is None:
        return "launch: " + ("added" if before is None else "removed")
    items = launch_changes(before, after)
    more = len(items) - MAX_LAUNCH_ARGS
    return "launch: " + ", ".join(items[:MAX_LAUNCH_ARGS]) + (f" and {more} more" if more > 0 else "")


def serving_change(field: str, before: Any, after: Any) -> str:
    """The text of a changed serving field (one of SERVING_FIELDS)."""
    if field == "speculative":
        return speculative_change(before, after)
    if field == "launch":
        return launch_change(before, after)
    return f"role {before or 'aggregated'} -> {after or 'aggregated'}"


PARALLEL_FIELDS = ("dp", "ep")
"""Deployment fields of a MoE replica's layout, worded together in this order ("dp 1 -> 4, ep 4 -> 8")."""


def parallel_change(changes: dict[str, tuple[Any, Any]]) -> str:
    """``dp 1 -> 4, ep 4 -> 8`` from (before, after) of each changed PARALLEL_FIELDS field (none recorded: 1)."""
    def one(v: Any) -> Any:
        return 1 if v is None else v
    return ", ".join(f"{k} {one(changes[k][0])} -> {one(changes[k][1])}" for k in PARALLEL_FIELDS if k in changes)


def json_value(value: Any) -> Any:
    """A plan value as JSON data (a nested section, such as a launch spec, as its dict)."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value
