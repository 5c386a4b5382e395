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
* every spec of the catalog (the core reads it by id: the model, a draft model, the GPUs, the
  engine profiles' scheduler defaults), the calibration and the pruning rule.

Specs and the calibration are frozen models: each distinct content gets a small token once, so a
key is cheap to build and compare. What is kept is the workload's table after pruning (pruning
works within a workload and GPU pool, so the merged table prunes to the same points), a few
dozen rows a workload rather than thousands. tests/test_candidate_cache.py checks that the
generation reads no other field of the Problem, the workload or a GPU option, and that a hit gives
byte-identical plans. Tables are copied in and out, so no caller can change a cached one. Nothing
here reads or writes a file.

A second, byte-bounded cache (`CandidateCache.stage`) keeps each workload's SLO-independent stage
(planner.candidates.generate.Stage: the grid rows passing the memory tests, the core's estimates the SLO
steps read) under the same key with the SLO blanked too, so the what-if analysis (an ITL SLO + 10 ms) and
the infeasibility answer (scaled SLOs) apply only the SLO steps; its arrays are read-only, not copied.
"""

from __future__ import annotations

import dataclasses
import functools
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
MAX_ROWS = 200_000
"""Cached operating points kept at most (about 110 MB at 550 bytes a row), least recently used dropped
first; pruned tables hold some 30 rows a workload on 20 GPU types."""
STAGE_MAX_BYTES = 160 * 2**20
"""SLO-independent stages kept at most (planner.candidates.generate.Stage: the grid rows that pass the memory
tests with the estimates the SLO steps read and their memos, about 400 bytes a row: 1-4 MiB a workload on 8
GPU types, 3-13 MiB on every GPU type, 2026-11-28), least recently used dropped first: a what-if or an
infeasibility answer that relaxes one workload's SLO reuses its stage (the 20 x 8 infeasibility answer holds
120 MiB of them), while a 50- or 200-workload solve on every GPU type keeps only the last 12-50 (peak memory,
issue 13: a 200-workload solve under 1 GiB)."""
SLO_FIELDS = ("slo",)
"""WorkloadDemand fields the stage does not read (the SLO steps after it do)."""
_MAX_MEMO = 8192
_MAX_TOKENS = 100_000


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
        self._tokens: dict[Any, int] = {}
        self._lock = threading.Lock()  # solves in threads (a Dask worker's) share the process's cache
        self.max_stage_bytes = STAGE_MAX_BYTES
        self.stage_hits = 0
        self._stages: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._stage_bytes = 0

    def clear(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self._entries.clear()
        self._stages.clear()
        self._stage_bytes = 0
        self.stage_hits = 0
        self._memo.clear()
        self._tokens.clear()  # with the entries: a token number may then mean another content
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

    def stage(self, p: Problem, w: WorkloadDemand, make: Callable[[Problem, WorkloadDemand], Any]) -> Any:
        """``make(p, w)`` (a planner.candidates.generate.Stage, read-only arrays), or the one made before
        for the same inputs but the SLO; not copied (its arrays cannot be written)."""
        if not self.enabled:
            return make(p, w)
        with self._lock:
            key = self.key(p, w, TRAFFIC_FIELDS + SLO_FIELDS)
            found = self._stages.get(key)
            if found is not None:
                self.stage_hits += 1
                self._stages.move_to_end(key)
                return found[0]
        stage = make(p, w)
        _freeze(stage)
        size = stage.nbytes
        with self._lock:
            if size <= self.max_stage_bytes and key not in self._stages:
                self._stages[key] = (stage, size)
                self._stage_bytes += size
                while self._stage_bytes > self.max_stage_bytes:
                    _, (_, dropped) = self._stages.popitem(last=False)
                    self._stage_bytes -= dropped
        return stage

    def key(self, p: Problem, w: WorkloadDemand, blank: tuple[str, ...] = TRAFFIC_FIELDS) -> tuple[Any, ...]:
        if len(self._tokens) >= _MAX_TOKENS:  # before, never during, a key: its numbers share one numbering
            self._reset()
        shape = dataclasses.replace(w, **{f: _blank(getattr(w, f)) for f in blank})
        gpus = tuple(self._token(g, functools.partial(_gpu_key, g)) for g in p.gpus)
        catalog = tuple((kind, name, self._token(spec, functools.partial(canonical, spec)))
                        for kind, specs in (("gpu", p.catalog.gpus), ("model", p.catalog.models),
                                            ("engine", p.catalog.engines))
                        for name, spec in specs.items())
        calibration = self._intern(canonical(p.calibration))  # read afresh: its coefficient tables are dicts
        return canonical(shape), gpus, catalog, calibration, p.candidate_pruning

    def _token(self, obj: object, make: Callable[[], Any]) -> int:
        """A small number per distinct content of an immutable object (frozen pydantic models and
        dataclasses): ``make()`` (its canonical form) once per object, found by identity (the memo
        holds the object, so its id is not reused), then one number per distinct form."""
        found = self._memo.get(id(obj))
        if found is not None and found[0] is obj:
            return int(found[1])
        if len(self._memo) >= _MAX_MEMO:
            self._memo.clear()
        token = self._intern(make())
        self._memo[id(obj)] = (obj, token)
        return token

    def _intern(self, form: Any) -> int:
        """The number of a canonical form (a new one for a form not seen since the last reset)."""
        return self._tokens.setdefault(form, len(self._tokens))


def _blank(value: Any) -> Any:
    return type(value)(0) if isinstance(value, int | float) else None


def _freeze(value: Any) -> None:
    """Every numpy array in ``value`` (a dataclass, dict or array) made read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            _freeze(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _freeze(getattr(value, f.name))


def _gpu_key(g: GpuOption) -> Any:
    return canonical(dataclasses.replace(g, **{f: _blank(getattr(g, f)) for f in MONEY_FIELDS}))


def canonical(value: Any) -> Any:
    """A hashable, exact image of ``value``: dataclasses field by field, pydantic models as their JSON
    (written by pydantic's compiled serializer), floats as their hex form (so -0.0 and 0.0 differ),
    arrays by dtype, shape and bytes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if hasattr(value, "model_dump_json") and hasattr(type(value), "model_fields"):
        try:
            return (type(value).__qualname__, value.model_dump_json())  # every field; floats as shortest round trip
        except ValueError:  # a value JSON cannot hold (pydantic's serialization error is a ValueError)
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
