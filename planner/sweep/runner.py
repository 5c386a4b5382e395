"""Run a sweep's variants: serially in this process, in local worker processes, or on a Dask cluster.

Whatever runs them, each variant's outcome is the same bytes (a plan depends only on its inputs), and
the table is assembled in variant order, so the output does not depend on the runner or on the order
in which variants finish. Outcomes are saved as they arrive (planner.sweep.store): an interrupted
sweep resumes with the variants not yet on disk.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import InputError
from planner.sweep.prepare import Context, Prepared, Task
from planner.sweep.store import Record, Store
from planner.sweep.worker import Outcome, init_worker, solve_task

IN_FLIGHT_PER_WORKER = 4
"""Variants submitted ahead per worker: keeps every worker busy without queueing the whole sweep."""
DASK_EXTRA_FIX = 'install the extra: pip install "planner[dask]"'

Progress = Callable[[int, int, int], None]
"""Called with (variants done, variants in all, infeasible so far) after each variant."""


def default_workers() -> int:
    return os.cpu_count() or 1


def _serial(ctx: Context, tasks: list[Task]) -> Iterator[Outcome]:
    init_worker(ctx.catalog_dirs)
    for t in tasks:
        yield solve_task(ctx, t)


def _windowed(submit: Callable[[Task], cf.Future[Outcome]], tasks: list[Task], window: int) -> Iterator[Outcome]:
    """Submit at most ``window`` tasks ahead; yield outcomes as they finish."""
    pending: set[cf.Future[Outcome]] = set()
    queue = iter(tasks)
    for t in queue:
        pending.add(submit(t))
        if len(pending) >= window:
            break
    while pending:
        done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in sorted(done, key=lambda f: f.result().index):
            yield future.result()
            nxt = next(queue, None)
            if nxt is not None:
                pending.add(submit(nxt))


def _local(ctx: Context, tasks: list[Task], workers: int) -> Iterator[Outcome]:
    # spawn: workers start from a clean interpreter (no state forked from the caller, same on every OS)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=init_worker, initargs=(ctx.catalog_dirs,))
    try:
        yield from _windowed(lambda t: pool.submit(solve_task, ctx, t), tasks, workers * IN_FLIGHT_PER_WORKER)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(ctx: Context, tasks: list[Task], scheduler: str) -> Iterator[Outcome]:
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed, which is not installed", fix=DASK_EXTRA_FIX) from None
    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                         fix="start one with `dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`, "
                             "or check the address") from None
    try:
        window = (sum(client.nthreads().values()) or 1) * IN_FLIGHT_PER_WORKER
        yield from _dask_windowed(client, ctx, tasks, window)
    finally:
        client.close()


def _dask_windowed(client: Any, ctx: Context, tasks: list[Task], window: int) -> Iterator[Outcome]:
    from distributed import as_completed

    def submit(t: Task) -> Any:
        return client.submit(solve_task, ctx, t, pure=False, key=f"planner-sweep-{t.index}-{t.input_sha256[:12]}")

    queue = iter(tasks)
    running = as_completed([submit(t) for t in itertools.islice(queue, window)], loop=client.loop)
    for future in running:
        yield future.result()
        nxt = next(queue, None)
        if nxt is not None:
            running.add(submit(nxt))


def outcomes(ctx: Context, tasks: list[Task], *, workers: int, scheduler: str | None) -> Iterator[Outcome]:
    if not tasks:
        return iter(())
    if scheduler:
        return _dask(ctx, tasks, scheduler)
    if workers <= 1 or len(tasks) == 1:
        return _serial(ctx, tasks)
    return _local(ctx, tasks, min(workers, len(tasks)))


def _check_same_planner(o: Outcome, catalog_sha256: str) -> None:
    """A worker with another planner or catalog would give other plans: refuse its results."""
    if o.tool_version != __version__ or o.catalog_sha256 != catalog_sha256:
        raise InputError(f"a worker runs planner {o.tool_version} with catalog {o.catalog_sha256[:12]}, this process "
                         f"planner {__version__} with catalog {catalog_sha256[:12]}",
                         fix="install the same planner version and catalog folders on every worker")


def run(prep: Prepared, out_dir: Path, catalog_sha256: str, *, workers: int, scheduler: str | None = None,
        progress: Progress | None = None, fresh: bool = False) -> list[Record]:
    """Every variant's record, in variant order: those on disk with the same inputs (unless ``fresh``), the
    rest solved now."""
    store = Store(out_dir)
    done = {} if fresh else store.completed(prep.tasks, prep.variants)
    todo = [t for t in prep.tasks if t.index not in done]
    infeasible = sum(1 for r in done.values() if r["status"] == "infeasible")
    total = len(prep.tasks)
    if progress is not None and todo:
        progress(len(done), total, infeasible)  # shown while the workers start
    for o in outcomes(prep.context, todo, workers=workers, scheduler=scheduler):
        _check_same_planner(o, catalog_sha256)
        done[o.index] = store.save(prep.variants[o.index], o)
        infeasible += o.status == "infeasible"
        if progress is not None:
            progress(len(done), total, infeasible)
    return [done[t.index] for t in prep.tasks]
