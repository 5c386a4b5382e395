"""Operating points of a workload, kept for the life of the process and reused by the next solve.

A sweep, the what-if analysis, a notebook calling ``planner.solve`` in a loop and ``planner check``
solve problems whose workloads mostly have the same shape (model, engine, request lengths, SLOs,
allowed precisions and parallelism) on the same GPU options; only traffic, prices or limits
differ, and a workload's operating points do not depend on those. The key is every input the
generation reads, written out in full (no hash that could collide):

* the workload with its traffic fields blanked (peak and average rate, headroom, N+k redundancy:
  the program uses them, generation does not), its name included (it is a column);
* every GPU option with its money and inventory fields blanked (prices, network, storage,
  support, inventory), its catalog spec included;
* the catalog's spec of the model and of each GPU id (the core reads the catalog by id), and the
  calibration.

tests/unit/test_candidate_cache.py checks that the generation reads no other field of the
Problem, the workload or a GPU option, and that a hit gives byte-identical plans. The values are
copied in and out, so no caller can change a cached table. Nothing here reads or writes a file.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.problem.model import GpuOption, Problem, WorkloadDemand

Result = tuple[dict[str, np.ndarray], dict[str, float], int]
"""What planner.candidates.generate.workload_candidates returns: columns, best latencies, points evaluated."""

TRAFFIC_FIELDS = ("peak_requests_per_s", "average_requests_per_s", "headroom", "redundancy")
"""WorkloadDemand fields the generation does not read."""
MONEY_FIELDS = ("gpu_price_usd", "server_price_usd", "price_from_scenario", "network_usd_per_server",
                "storage_usd_per_server", "support_share_per_year", "inventory_gpus")
"""GpuOption fields the generation does not read."""
MAX_ROWS = 400_000
"""Cached operating points kept at most (about 150 MB at 45 columns), least recently used dropped first."""
_MAX_MEMO = 4096


class CandidateCache:
    """Least-recently-used results of `workload_candidates` by their exact inputs."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[Result, int]] = OrderedDict()
        self._rows = 0
        self._memo: dict[int, tuple[object, Any]] = {}
        self._lock = threading.Lock()  # solves in threads (a Dask worker's) share the process's cache

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._memo.clear()
            self._rows = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, p: Problem, w: WorkloadDemand, generate: Callable[[Problem, WorkloadDemand], Result]) -> Result:
        """``generate(p, w)``, or a copy of what it returned before for the same inputs."""
        if not self.enabled:
            return generate(p, w)
        with self._lock:
            key = self.key(p, w)
            found = self._entries.get(key)
            if found is not None:
                self.hits += 1
                self._entries.move_to_end(key)
                return _copy(found[0])
            self.misses += 1
        result = generate(p, w)  # outside the lock: two threads may both generate; either copy is the same
        rows = len(next(iter(result[0].values()), ()))
        with self._lock:
            if rows <= self.max_rows and key not in self._entries:
                self._entries[key] = (_copy(result), rows)
                self._rows += rows
                while self._rows > self.max_rows:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._rows -= dropped
        return result

    def key(self, p: Problem, w: WorkloadDemand) -> tuple[Any, ...]:
        shape = dataclasses.replace(w, **{f: _blank(getattr(w, f)) for f in TRAFFIC_FIELDS})
        gpus = self._remember(p.gpus, lambda: tuple(_gpu_key(g) for g in p.gpus))
        catalog_gpus = tuple(self._remember(p.catalog.gpu(g.id), lambda g=g: canonical(p.catalog.gpu(g.id)))
                             for g in p.gpus)
        model = p.catalog.model(w.model_id)
        return (canonical(shape), gpus, catalog_gpus, self._remember(model, lambda: canonical(model)),
                self._remember(p.calibration, lambda: canonical(p.calibration)))

    def _remember(self, obj: object, make: Callable[[], Any]) -> Any:
        """``make()`` once per immutable object (frozen pydantic models and tuples of frozen dataclasses),
        by identity: the memo holds the object, so its id is not reused while the entry lives."""
        found = self._memo.get(id(obj))
        if found is not None and found[0] is obj:
            return found[1]
        if len(self._memo) >= _MAX_MEMO:
            self._memo.clear()
        value = make()
        self._memo[id(obj)] = (obj, value)
        return value


def _blank(value: Any) -> Any:
    return type(value)(0) if isinstance(value, int | float) else None


def _gpu_key(g: GpuOption) -> Any:
    return canonical(dataclasses.replace(g, **{f: _blank(getattr(g, f)) for f in MONEY_FIELDS}))


def canonical(value: Any) -> Any:
    """A hashable, exact image of ``value``: dataclasses and pydantic models field by field, floats as
    their hex form (so -0.0 and 0.0 differ), arrays by dtype, shape and bytes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if hasattr(value, "model_dump") and hasattr(type(value), "model_fields"):
        return (type(value).__qualname__, canonical(value.model_dump()))
    if isinstance(value, float):
        return float.hex(value)
    if isinstance(value, dict):
        return ("dict", tuple((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return (type(value).__name__, tuple(canonical(v) for v in items))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return canonical(value.item())
    if value is None or isinstance(value, str | int | bool | bytes):
        return value
    return (type(value).__qualname__, repr(value))


def _copy(result: Result) -> Result:
    cols, best, n = result
    return {k: v.copy() for k, v in cols.items()}, dict(best), n


CACHE = CandidateCache()
"""The process's cache (planner.candidates.generate.workload_candidates goes through it)."""
