"""Run a sweep file end to end: check, solve (resuming), and write the table and the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.catalog.loader import load_catalog
from planner.io.files import refuse_overwriting_inputs, write_together
from planner.sweep import report, table
from planner.sweep.prepare import DEFAULT_OPTIONS, Prepared, SolveOptions, prepare
from planner.sweep.runner import Progress, run
from planner.sweep.store import Record
from planner.sweep.worker import remember_catalog

OUTPUTS = ("sweep.csv", "sweep.parquet", "report.md", "report.html")


@dataclass(frozen=True)
class SweepResult:
    prepared: Prepared
    records: list[Record]
    written: list[Path]
    parquet_skipped: bool
    """True when pyarrow is not installed (sweep.parquet not written)."""


def run_sweep(sweep_file: str | Path, out_dir: str | Path, *, workers: int = 1, scheduler: str | None = None,
              catalog_dirs: tuple[str, ...] = (), calibration: str | None = None,
              options: SolveOptions = DEFAULT_OPTIONS, progress: Progress | None = None,
              fresh: bool = False) -> SweepResult:
    out = Path(out_dir)
    catalog = load_catalog(list(catalog_dirs))
    cal = str(Path(calibration).resolve()) if calibration else None
    prep = prepare(sweep_file, catalog, catalog_dirs=tuple(str(Path(d).resolve()) for d in catalog_dirs),
                   calibration=cal, options=options)
    remember_catalog(prep.context.catalog_dirs, catalog)
    inputs = [prep.sweep_file, Path(prep.context.scenario_path), calibration]
    refuse_overwriting_inputs([out / name for name in OUTPUTS], inputs)
    records = run(prep, out, catalog.sha256(), workers=workers, scheduler=scheduler, progress=progress,
                  fresh=fresh)
    return _write(prep, out, records)


def _write(prep: Prepared, out: Path, records: list[Record]) -> SweepResult:
    keys, name = prep.spec.key_paths, prep.sweep_file.name
    files: dict[Path, str | bytes] = {out / "sweep.csv": table.to_csv(keys, records)}
    parquet = table.to_parquet(keys, records)
    if parquet is not None:
        files[out / "sweep.parquet"] = parquet
    else:
        (out / "sweep.parquet").unlink(missing_ok=True)  # a stale table from an earlier run would mislead
    files[out / "report.md"] = report.render(prep.spec, name, records, "md")
    files[out / "report.html"] = report.render(prep.spec, name, records, "html")
    write_together(files)
    return SweepResult(prep, records, list(files), parquet is None)
