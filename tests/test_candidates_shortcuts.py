"""planner/candidates (issue 13): the shortcuts candidate generation takes give the tables it would give
without them, byte for byte: rows the heuristic pruning surely drops get no capacity, the estimate at one
sequence in flight is made once per configuration, an ITL what-if starts from the rows the pruning kept,
and Horner's sums make a run of factors at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planner.candidates import generate, special
from planner.candidates.cache import CACHE
from planner.problem.build import resolve_problem
from planner.scenario.load import load_scenario

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def _problem(catalog, name: str):  # type: ignore[no-untyped-def]
    return resolve_problem(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), catalog)


def _same_table(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return list(a) == list(b) and all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes()
                                      if a[k].dtype.kind != "O" else list(a[k]) == list(b[k]) for k in a)


def _passing(w, stage):  # type: ignore[no-untyped-def]
    """The stage rows (positions) meeting ``w``'s ITL SLOs."""
    failed = np.zeros(len(stage.rows), dtype=bool)
    for bad in generate._itl_failures(w, stage).values():
        failed |= bad
    return np.flatnonzero(~failed)


def _without_shortcut(p, w):  # type: ignore[no-untyped-def]
    """``w``'s pruned table with every row given a capacity (no dominance shortcut), on a fresh stage."""
    model = p.catalog.model(w.model_id)
    stage = generate._workload_stage(p, w)
    cols, _ = generate._apply_slo(p, w, model, stage, skip_dominated=False)
    keep = generate._prune(p.candidate_pruning, cols)
    return {k: v[keep] for k, v in cols.items()}, len(cols["workload"])


@pytest.mark.parametrize("scenario", ["chatbot", "multi-model-1mw", "power-limited", "one-70b-vs-four-8b"])
def test_skipping_surely_dominated_rows_prunes_to_the_same_bytes(catalog, scenario):
    """The pruned table is the same with and without the shortcut, at the workload's SLOs and at relaxed ITL
    SLOs (the what-if), and the shortcut leaves out rows (else it would only cost time)."""
    p = _problem(catalog, scenario)
    skipped = 0
    for w in p.workloads:
        s = w.slo
        variants = [w] + ([dataclasses.replace(w, slo=dataclasses.replace(s, itl_p95_s=s.itl_p95_s + 0.010))]
                          if s.itl_p95_s is not None else [])
        CACHE.clear()
        for v in variants:
            if v.disaggregated:
                continue
            fast = generate.workload_candidates(p, v)[0]
            model = p.catalog.model(v.model_id)
            stage = generate._workload_stage(p, v)
            given, _ = generate._feasible_columns(p, v, model, stage, _passing(v, stage), skip_dominated=True)
            slow, all_rows = _without_shortcut(p, v)
            assert _same_table(fast, slow)
            skipped += all_rows - len(given["workload"])
    assert skipped > 0


def test_an_itl_what_if_starts_from_the_rows_the_pruning_kept(catalog):
    """After a workload's table, the same workload at a relaxed ITL SLO evaluates the rows its pruning kept
    and the rows the relaxed SLO adds, not every passing row, and prunes to the table of every passing row."""
    p = _problem(catalog, "chatbot")
    w = p.workloads[0]
    relaxed = dataclasses.replace(w, slo=dataclasses.replace(w.slo, itl_p95_s=w.slo.itl_p95_s + 0.010))
    CACHE.clear()
    generate.workload_candidates(p, w)
    stage = CACHE.stage(p, relaxed, generate._workload_stage)
    passing = np.zeros(len(stage.rows), dtype=bool)
    passing[_passing(relaxed, stage)] = True
    reduced = generate._reduced_rows(stage, tuple(relaxed.slo.ttft_by_quantile()), passing)
    assert set(reduced.tolist()) < set(np.flatnonzero(passing).tolist())
    assert _same_table(generate.workload_candidates(p, relaxed)[0], _without_shortcut(p, relaxed)[0])


def test_the_exact_pruning_takes_no_shortcut(catalog):
    p = dataclasses.replace(_problem(catalog, "chatbot"), candidate_pruning="exact")
    w = p.workloads[0]
    CACHE.clear()
    fast = generate.workload_candidates(p, w)[0]
    slow, _ = _without_shortcut(p, w)
    assert _same_table(fast, slow)


def test_configurations_but_the_batch_are_numbered_as_a_partition(catalog):
    """Rows get the same number exactly when every grid column but the batch is equal."""
    p = _problem(catalog, "multi-model-1mw")
    w = p.workloads[0]
    model = p.catalog.model(w.model_id)
    grid = generate._with_parallel_axes(generate._grid(w, model, p.gpus), w, model, p.gpus)
    codes = {k: generate._few_value_codes(v) for k, v in grid.items() if k != "batch_size"}
    config = generate._batch_free_configs(codes)
    rows = [tuple(grid[k][i].item() for k in codes) for i in range(len(grid["gpu"]))]
    seen: dict[tuple[object, ...], int] = {}
    for row, c in zip(rows, config.tolist(), strict=True):
        assert seen.setdefault(row, c) == c
    assert len(set(seen.values())) == len(seen) == config.max() + 1


def test_horner_runs_equal_one_step_at_a_time():
    """`special._horner` makes a run of factors in one call; the sums are those of one step at a time."""
    rng = np.random.default_rng(13)
    c = rng.choice(np.array([1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0]), size=500)
    inv_p, r = 1.0 / rng.uniform(0.01, 0.99, size=500), rng.uniform(1.0, 300.0, size=500)
    got = special._horner(c, (inv_p, r), lambda k, ip, r_: (k + 1.0) * ip / (k + r_))
    want = np.zeros(500)
    for i in range(500):
        acc = 0.0
        for k in range(int(c[i])):
            acc = (acc + 1.0) * ((k + 1.0) * inv_p[i] / (k + r[i]))
        want[i] = acc
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("scenario", ["chatbot", "multi-model-1mw"])
def test_the_estimate_at_one_sequence_is_the_cores_row_by_row(catalog, scenario):
    """`generate._at_one` (one evaluation per configuration, batch-1 stage rows reused) gives, for every
    stage row, the bytes the core gives that row at batch 1."""
    p = _problem(catalog, scenario)
    for w in p.workloads:
        if w.disaggregated:
            continue
        model = p.catalog.model(w.model_id)
        stage = generate._workload_stage(p, w)
        rows = np.arange(len(stage.rows))
        got = generate._at_one(p, w, model, stage, rows)
        one = {**generate._subset(stage.grid, rows), "batch_size": np.ones(len(rows))}
        _, want, _ = generate._evaluate(p, one, model.id, w.input_tokens.mean, w.output_tokens.mean, w.engine,
                                        w.prefix_cache_hit_rate, w.speculative)
        for k in generate.ONE_COLUMNS:
            assert got[k].tobytes() == np.asarray(want[k], dtype=float).tobytes(), (w.name, k)


def _fraction_one_step_at_a_time(a: float, b: float, x: float) -> float:
    """`special._beta_fraction` of one element, one step at a time (modified Lentz, the same guards)."""
    def away(v: float) -> float:
        return special._TINY if abs(v) < special._TINY else v

    d = 1.0 / away(1.0 - (a + b) * x / (a + 1.0))
    c, h = 1.0, d
    for m in range(1, special._MAX_TERMS):
        a2m = a + 2 * m
        for coef in (m * (b - m) * x / ((a2m - 1.0) * a2m), -(a + m) * (a + b + m) * x / (a2m * (a2m + 1.0))):
            d = 1.0 / away(1.0 + coef * d)
            c = away(1.0 + coef / c)
            step = d * c
            h *= step
        if abs(step - 1.0) <= special._EPS:
            break
    return h


def test_the_beta_fraction_in_blocks_equals_one_step_at_a_time():
    rng = np.random.default_rng(31)
    a, b = rng.uniform(1.0, 1500.0, size=60), rng.uniform(1.0, 1500.0, size=60)
    x = rng.uniform(0.0, 1.0, size=60) * (a + 1.0) / (a + b + 2.0)
    got = special._beta_fraction(a, b, x)
    want = np.array([_fraction_one_step_at_a_time(*v) for v in zip(a.tolist(), b.tolist(), x.tolist(), strict=True)])
    assert got.tobytes() == want.tobytes()


def test_nan_is_one_value_when_columns_are_numbered() -> None:
    """A NaN equals nothing, itself included: numbering a column's values one comparison at a time never
    cleared it and looped for ever (evaluate_configurations with a NaN power limit hung)."""
    code, first = generate._few_value_codes(np.array([700.0, np.nan, 700.0, np.nan, 500.0]))
    assert code.tolist() == [0, 1, 0, 1, 2] and first.tolist() == [0, 1, 4]


def test_a_nan_in_a_configuration_column_is_answered(catalog) -> None:
    p = _problem(catalog, "chatbot")
    w, gpu = p.workloads[0], p.gpus[0].id
    two = np.ones(2)
    cfg = {"gpu": np.array([gpu, gpu]), "precision": np.array(["fp8", "fp8"]), "tp": 2 * two, "pp": two,
           "batch_size": np.array([16.0, 32.0]), "prefill_chunk_tokens": 2048 * two,
           "power_limit_w": np.full(2, np.nan)}
    e = generate.evaluate_configurations(p, w, cfg)
    assert len(e.why) == 2
