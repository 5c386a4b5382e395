"""planner/candidates/cache.py: a solve that reuses cached operating points writes the same bytes as
one that generates them; the key holds every input the generation reads (checked on the source),
and it ignores only traffic, money and inventory."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planner.candidates import generate
from planner.candidates.cache import CACHE, MONEY_FIELDS, TRAFFIC_FIELDS, CandidateCache
from planner.catalog import load_catalog
from planner.optimize.solve import solve_problem
from planner.plan.io import dump_plan
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ROOT / "planner" / "candidates"
PROBLEM_READS = {"catalog", "calibration", "gpus", "gpu", "power_limited", "workloads", "candidate_pruning"}
"""Problem attributes the generation may read; one more needs a place in the cache key first."""
TRAFFIC_DERIVED = {"required_requests_per_s", "average_to_peak", "spare_requests_per_s", "capacity_after_spares",
                   "min_replicas", "serving_replicas", "replicas_bound"}


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def _problem(catalog, name: str = "chatbot"):  # type: ignore[no-untyped-def]
    return resolve_problem(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), catalog)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def _attributes_of(names: set[str]) -> set[str]:
    """Attributes read on variables called ``names`` anywhere in planner/candidates (but the cache)."""
    found = set()
    for path in CANDIDATES.glob("*.py"):
        if path.name == "cache.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
                found.add(node.attr)
    return found


def test_the_generation_reads_only_what_the_key_holds():
    assert _attributes_of({"p"}) <= PROBLEM_READS
    assert not _attributes_of({"w"}) & (set(TRAFFIC_FIELDS) | TRAFFIC_DERIVED)
    assert not _attributes_of({"g", "gpu", "option"}) & set(MONEY_FIELDS)
    source = "\n".join(path.read_text() for path in CANDIDATES.glob("*.py") if path.name != "cache.py")
    assert not any(field in source for field in (*MONEY_FIELDS, *TRAFFIC_FIELDS))


def test_a_cache_hit_writes_the_same_plan_bytes(catalog):
    CACHE.clear()
    CACHE.enabled = False
    try:
        fresh = dump_plan(solve_problem(_problem(catalog)))
    finally:
        CACHE.enabled = True
    first = dump_plan(solve_problem(_problem(catalog)))
    hits = CACHE.hits
    second = dump_plan(solve_problem(_problem(catalog)))
    assert CACHE.hits > hits  # the second solve reused the first one's operating points
    assert fresh == first == second


def test_traffic_and_prices_hit_shape_misses(catalog):
    cache = CandidateCache()
    p = _problem(catalog)
    w = p.workloads[0]
    calls = []

    def gen(p_, w_):  # type: ignore[no-untyped-def]
        calls.append(w_.name)
        return generate._workload_candidates(p_, w_)

    base = cache.get(p, w, gen)
    busier = dataclasses.replace(w, peak_requests_per_s=w.peak_requests_per_s * 3, redundancy=w.redundancy + 1)
    dearer = dataclasses.replace(p, gpus=tuple(dataclasses.replace(g, gpu_price_usd=g.gpu_price_usd * 2)
                                               for g in p.gpus))
    again = cache.get(dearer, busier, gen)
    assert len(calls) == 1 and cache.hits == 1
    assert all(_same(base[0][k], again[0][k]) for k in base[0])
    stricter = dataclasses.replace(w, slo=dataclasses.replace(w.slo, ttft_p95_s=(w.slo.ttft_p95_s or 1.0) / 2))
    hungrier = dataclasses.replace(p, gpus=tuple(dataclasses.replace(g, overhead_w_per_gpu=g.overhead_w_per_gpu + 1)
                                                 for g in p.gpus))
    renamed = dataclasses.replace(w, name=w.name + "-b")
    cache.get(p, stricter, gen)
    cache.get(hungrier, w, gen)
    cache.get(p, renamed, gen)
    assert len(calls) == 4 and cache.misses == 4


def test_callers_cannot_change_a_cached_table(catalog):
    cache = CandidateCache()
    p = _problem(catalog)
    cols, best, _ = cache.get(p, p.workloads[0], generate._workload_candidates)
    before = cols["capacity_rps"].copy()
    cols["capacity_rps"][:] = -1.0
    best.clear()
    cols2, best2, _ = cache.get(p, p.workloads[0], generate._workload_candidates)
    assert np.array_equal(cols2["capacity_rps"], before) and best2


def test_the_cache_drops_the_least_recently_used_beyond_its_rows(catalog):
    p = _problem(catalog, "multi-model-1mw")
    sizes = [len(generate._workload_candidates(p, w)[0]["workload"]) for w in p.workloads]
    cache = CandidateCache(max_rows=sum(sizes) - 1)
    for w in p.workloads:
        cache.get(p, w, generate._workload_candidates)
    assert len(cache) < len(p.workloads)
    cache.get(p, p.workloads[-1], generate._workload_candidates)
    assert cache.hits == 1


def test_threads_share_the_cache_safely(catalog):
    from concurrent.futures import ThreadPoolExecutor

    cache = CandidateCache()
    p = _problem(catalog, "multi-model-1mw")
    jobs = [w for w in p.workloads for _ in range(3)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda w: cache.get(p, w, generate._workload_candidates), jobs))
    assert len(cache) == len(p.workloads) and cache.hits + cache.misses == len(jobs)
    for w, (cols, _, _) in zip(jobs, results, strict=True):
        alone = generate._workload_candidates(p, w)[0]
        assert all(_same(cols[k], alone[k]) for k in alone)


def test_any_catalog_spec_is_in_the_key(catalog):
    """The core reads the catalog by id (the model, a speculative draft model, the GPUs): a catalog whose
    other model differs is another key, an equal copy of it the same key."""
    cache = CandidateCache()
    p = _problem(catalog)
    w = p.workloads[0]
    other = next(m for m in catalog.models if m != w.model_id)
    changed = dict(catalog.models)
    changed[other] = catalog.models[other].model_copy(update={"max_context_tokens": 1234})
    copy = dataclasses.replace(catalog, models=dict(catalog.models))
    assert cache.key(p, w) == cache.key(dataclasses.replace(p, catalog=copy), w)
    assert cache.key(p, w) != cache.key(dataclasses.replace(p, catalog=dataclasses.replace(catalog, models=changed)), w)


def _function_reads(path: Path, functions: set[str]) -> set[str]:
    """Attributes read inside the named functions of ``path``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            found |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    return found


def test_the_stage_reads_no_slo():
    """The stage is cached without the SLO (cache.SLO_FIELDS), so the functions that make it must not read it."""
    reads = _function_reads(CANDIDATES / "generate.py", {"_stage", "_workload_stage", "_with_parallel_axes", "_grid",
                                                         "_evaluate", "_replica_load", "_at_one"})
    assert reads and not reads & {"slo", "ttft_by_quantile", *(f"{k}_s" for k in ("itl_p50", "itl_p95", "itl_p99"))}


def _relaxed(w):  # type: ignore[no-untyped-def]
    """``w`` and the SLO relaxations the what-if analysis and the infeasibility search try."""
    s, out = w.slo, [w]
    if s.itl_p95_s is not None:
        out.append(dataclasses.replace(w, slo=dataclasses.replace(s, itl_p95_s=s.itl_p95_s + 0.010)))
    if s.ttft_p95_s is not None:
        out += [dataclasses.replace(w, slo=dataclasses.replace(s, ttft_p95_s=s.ttft_p95_s * f)) for f in (2.0, 0.5)]
    if s.itl_p95_s is not None and s.ttft_p95_s is not None:
        out.append(dataclasses.replace(w, slo=dataclasses.replace(s, itl_p95_s=s.itl_p95_s * 1.5)))
    return out


@pytest.mark.parametrize("scenario", sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")))
def test_relaxed_slos_reuse_the_stage_byte_for_byte(catalog, scenario):
    """Every workload of every shipped scenario at its SLOs and relaxed ones, one cache for them all (the
    relaxations reuse the stage and the capacities of rows already computed): the same columns, bytes and
    dtypes, as each generated with the cache off."""
    p = _problem(catalog, scenario)
    cache = generate.CACHE
    cache.clear()
    for w in p.workloads:
        variants = _relaxed(w)
        cached = [generate.workload_candidates(p, v) for v in variants]
        cache.enabled = False
        try:
            fresh = [generate.workload_candidates(p, v) for v in variants]
        finally:
            cache.enabled = True
        for (cols, best, n), (cols0, best0, n0) in zip(cached, fresh, strict=True):
            assert cols.keys() == cols0.keys() and best == best0 and n == n0
            assert all(cols[k].dtype == cols0[k].dtype and cols[k].tobytes() == cols0[k].tobytes()
                       for k in cols if cols[k].dtype.kind != "O")
            assert all(cols[k].tolist() == cols0[k].tolist() for k in cols if cols[k].dtype.kind == "O")
    if any(not w.disaggregated and len(_relaxed(w)) > 1 for w in p.workloads):
        assert cache.stage_hits > 0


def test_stages_are_read_only_and_bounded(catalog):
    p = _problem(catalog, "multi-model-1mw")
    cache = CandidateCache()
    stages = [cache.stage(p, w, generate._workload_stage) for w in p.workloads]
    assert not stages[0].mean["itl_s"].flags.writeable and not stages[0].grid["gpu"].flags.writeable
    assert cache.stage(p, p.workloads[0], generate._workload_stage) is stages[0]
    sizes = [s.nbytes for s in stages]
    small = CandidateCache()
    small.max_stage_bytes = sum(sizes) - 1  # not all fit: the least recently used is dropped
    for w in p.workloads:
        small.stage(p, w, generate._workload_stage)
    assert small._stage_bytes <= small.max_stage_bytes and len(small._stages) < len(p.workloads)
    small.stage(p, p.workloads[-1], generate._workload_stage)
    assert small.stage_hits == 1
