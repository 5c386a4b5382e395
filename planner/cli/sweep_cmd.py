"""`planner sweep`: solve a scenario over a grid and a Monte-Carlo sample of its key paths."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click


class _ProgressLine:
    """``[ 120/1000]  12 % 8.1 s, 3 infeasible, about 59 s left`` on stderr, redrawn at most 5 times a second."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.last = 0.0
        self.first: int | None = None  # variants already on disk when the run started
        self.drawn = False
        self.width = 0

    def __call__(self, done: int, total: int, infeasible: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = done
        elif now - self.last < 0.2 and done < total:
            return
        self.last = now
        elapsed = now - self.start
        solved = done - self.first
        left = f"about {elapsed / solved * (total - done):.0f} s left" if solved else "starting"
        width = len(str(total))
        line = f"[{done:>{width}}/{total}] {100 * done // total:3d} % {elapsed:.1f} s, {infeasible} infeasible, {left}"
        click.echo("\r" + line.ljust(self.width), err=True, nl=False)  # spaces cover a longer line before
        self.width = max(self.width, len(line))
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            click.echo("", err=True)


@click.command()
@click.argument("sweep_file", metavar="SWEEP.yaml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for sweep.csv, sweep.parquet, report.md, report.html and variants/ (kept for resuming).")
@click.option("--workers", type=click.IntRange(min=1, max=1024), default=None,
              help="Local worker processes (default: every core; 1 solves in this process).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Run the variants on this Dask scheduler's workers (needs planner[dask]).")
@click.option("--solver", type=click.Choice(["highs", "cbc"]), default="highs", show_default=True)
@click.option("--time-limit", "time_limit", type=click.FloatRange(min=0, min_open=True, max=1e7), default=60.0,
              show_default=True, help="Seconds per variant.")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(file_okay=False),
              help="Extra catalog folder (repeatable; Dask workers must see it at the same path).")
@click.option("--calibration", default=None, type=click.Path(dir_okay=False), help="Calibration YAML.")
@click.option("--analysis", is_flag=True, help="Also compute each variant's what-if values and objective "
                                               "alternatives (slower; off by default).")
@click.option("--fresh", is_flag=True, help="Solve every variant again, even those kept under OUT/variants/.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no summary.")
def sweep(sweep_file: str, out_dir: str, workers: int | None, scheduler: str | None, solver: str, time_limit: float,
          catalogs: tuple[str, ...], calibration: str | None, analysis: bool, fresh: bool, quiet: bool) -> int:
    """Solve every variant of SWEEP.yaml (a grid and/or a seeded sample over scenario key paths) and write
    one table row per variant and a report of percentile bands and choices.

    Completed variants are kept under OUT/variants/: running the same command again resumes.
    Exit 0 when written (infeasible variants are rows), 1 on bad input.
    """
    from planner.sweep.prepare import SolveOptions
    from planner.sweep.runner import default_workers
    from planner.sweep.sweep import run_sweep

    if not math.isfinite(time_limit):  # click's FloatRange lets nan through
        raise click.BadParameter(f"must be a finite number of seconds > 0, got {time_limit}", param_hint="--time-limit")
    if scheduler and workers is not None:
        raise click.BadParameter("give --workers or --scheduler, not both", param_hint="--workers")
    progress = None if quiet or not sys.stderr.isatty() else _ProgressLine()
    started = time.monotonic()
    try:
        result = run_sweep(sweep_file, out_dir, workers=workers or default_workers(), scheduler=scheduler,
                           catalog_dirs=catalogs, calibration=calibration,
                           options=SolveOptions(solver=solver, time_limit_s=time_limit, analysis=analysis),
                           progress=progress, fresh=fresh)
    finally:
        if progress is not None:
            progress.close()
    if result.parquet_skipped:
        click.echo("sweep.parquet not written: pyarrow is not installed (pip install pyarrow)", err=True)
    if not quiet:
        statuses: dict[str, int] = {}
        for r in result.records:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        names = ", ".join(p.name for p in result.written)
        click.echo(f"{len(result.records)} variants ({counts}) in {time.monotonic() - started:.1f} s; "
                   f"wrote {Path(out_dir)}/{{{names}}}")
    return 0
