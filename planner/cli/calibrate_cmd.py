"""`planner calibrate` (refit, import measurements) and `planner accuracy` (error report).

The work is done in planner.calibration; this module only reads options, files and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planner.errors import CalibrationError

_CATALOG = click.option("--catalog", "catalog_dirs", multiple=True, metavar="DIR",
                        help="Extra catalog folder (repeatable); also PLANNER_CATALOG_PATH.")
_MEASUREMENTS = click.argument("measurements", metavar="MEASUREMENTS.csv",
                               type=click.Path(dir_okay=False, path_type=str))


def _plot_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a plot format we cannot write before any measurement is read or scored."""
    if value is None:
        return None
    from planner.calibration.plot import PLOT_FORMATS

    if Path(value).suffix.lower() not in PLOT_FORMATS:
        suffix = Path(value).suffix or "suffix-less"
        raise click.BadParameter(f"cannot write a {suffix} plot to {value!r} (name the file .svg or .png)",
                                 ctx=ctx, param=param)
    return value


def _catalog(dirs: tuple[str, ...]) -> Any:
    from planner.catalog import load_catalog

    return load_catalog(list(dirs) or None)


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``fit``:
    `planner calibrate data.csv --out cal.yaml` is `planner calibrate fit data.csv --out cal.yaml`."""

    default_command = "fit"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, subcommand_metavar="[fit] MEASUREMENTS.csv --out FILE.yaml | import ...")
def calibrate() -> None:
    """Refit the estimation core on your measurements, or import measurements.

    \b
      planner calibrate MEASUREMENTS.csv --out calibration.yaml [--per-gpu]
      planner calibrate import --vllm RESULT.json --power nvidia-smi.csv --gpu h100-sxm --tp 4 --out my.csv

    MEASUREMENTS.csv has one row per measured serving point (blank cell = not measured; rows are
    numbered from 1, the first data row, in every message):

    \b
      model, gpu            catalog names or aliases (Hugging Face repo ids work)       required
      num_gpus, tp, pp      GPUs of the run, tensor / pipeline parallelism               num_gpus, tp
      precision             bf16 fp16 fp8 int8 int4 fp4 (mxfp4, nvfp4 = fp4)            required
      engine                vLLM, TRT-LLM, SGLang (blank = vLLM)
      batch_or_concurrency  sequences in flight; blank = the engine's maximum (offline)
      achieved_batch        measured average batch (preferred when given)
      input_tokens          mean prompt length (blank = 256)
      output_tokens         mean generated length                                         required
      throughput_tok_s      output tokens/s of the whole run                              required
      ttft_ms, itl_ms       measured TTFT and inter-token latency
      avg_power_w           average power over the run (W)
      power_scope           summed (blank, total: GPU-only, all GPUs), per GPU, or wall
      energy_j_per_token    J per output token (blank = power / throughput)
      fit_weight            weight in the fit (blank = 1; 0 = score only; MLE2 rows = 0)
      source_id, notes      free text (provenance)
      scenario, total_params_b, active_params_b   descriptive, not read

    Any other column, or a column named twice, is an error (a misspelled avg_power_watts would
    otherwise read as "no power measured"); so is a number outside its column's plausible range
    (e.g. itl_ms below 0.001 ms: a unit mistake).
    """


@calibrate.command("fit", short_help="(default) Refit on MEASUREMENTS.csv and write a calibration file.")
@_MEASUREMENTS
@click.option("--out", "out", required=True, metavar="FILE.yaml", type=click.Path(dir_okay=False),
              help="Calibration file to write (atomically; replaced if present).")
@click.option("--per-gpu", is_flag=True,
              help="Also refit bandwidth, compute and power coefficients per GPU with enough fitted rows.")
@click.option("--allow-clamped", is_flag=True,
              help="Write the calibration even when the data pushes a coefficient past its plausible range "
                   "(it is held at the bound and named in the provenance).")
@_CATALOG
def fit(measurements: str, out: str, per_gpu: bool, allow_clamped: bool, catalog_dirs: tuple[str, ...]) -> None:
    """Refit the core's coefficients on MEASUREMENTS.csv and write them with provenance.

    Bounded least squares on log(predicted / measured) of throughput, ITL and GPU power: every
    coefficient stays inside its plausible range (planner.core.constants). Global coefficients,
    per-engine ones for an engine with enough rows, per-GPU ones with --per-gpu. The provenance
    records the data file's SHA-256, its row count and the date (SOURCE_DATE_EPOCH when set).
    """
    from planner.calibration.accuracy_render import describe_fit
    from planner.calibration.coefficients import calibration_yaml
    from planner.calibration.fit import fit_calibration
    from planner.calibration.measurements import load_measurements
    from planner.io.files import refuse_overwriting_inputs, write_atomic

    cat = _catalog(catalog_dirs)
    refuse_overwriting_inputs([out], [measurements, *cat.files])
    m = load_measurements(measurements, cat)
    command = f"planner calibrate {Path(measurements).name}" + (" --per-gpu" if per_gpu else "")
    result = fit_calibration(m, cat, per_gpu=per_gpu, command=command + (" --allow-clamped" if allow_clamped else ""))
    if result.clamped and not allow_clamped:
        from planner.errors import CalibrationError

        raise CalibrationError(
            f"refused: the measurements push {', '.join(result.clamped)} past the plausible range in "
            "planner/core/constants.py (the fit can only hold it at the bound)", file=measurements,
            fix="check the rows' units and power_scope, or pass --allow-clamped to keep the bound")
    write_atomic(out, calibration_yaml(result.calibration))
    click.echo(describe_fit(result, m, cat))
    click.echo(f"wrote {out}")


@calibrate.command("import", short_help="Turn vLLM results and nvidia-smi logs into measurement rows.")
@click.option("--vllm", "vllm_results", multiple=True, required=True, metavar="RESULT.json",
              type=click.Path(dir_okay=False),
              help="`vllm bench serve --save-result` JSON (repeatable: one row each).")
@click.option("--power", "power_log", metavar="LOG", type=click.Path(dir_okay=False),
              help="nvidia-smi --query-gpu CSV or nvidia-smi dmon log covering the runs.")
@click.option("--gpu", help="GPU of the run (catalog name); else the result's `gpu` metadata.")
@click.option("--model", help="Model (catalog name or HF id); else the result's model_id.")
@click.option("--tp", type=click.IntRange(min=1), help="Tensor parallelism (default 1).")
@click.option("--pp", type=click.IntRange(min=1), help="Pipeline parallelism (default 1).")
@click.option("--num-gpus", type=click.IntRange(min=1), help="GPUs of the run (default tp x pp).")
@click.option("--precision", help="bf16 (default), fp16, fp8, int8, int4, fp4.")
@click.option("--engine", help="Serving engine (default vLLM).")
@click.option("--gpus", "gpu_ids", metavar="0,1,...",
              help="GPU indices of the run in the power log (default: every GPU of the log).")
@click.option("--start", metavar="TIME", help="Window start, local time (default: the run's own window).")
@click.option("--end", metavar="TIME", help="Window end, local time, e.g. 2026-11-21T14:05:00.")
@click.option("--trim-s", type=click.FloatRange(min=0, max=86400), default=0.0, show_default=True,
              help="Seconds cut from both ends of each window (keep the steady state only).")
@click.option("--stat", type=click.Choice(["median", "mean"]), default="median", show_default=True,
              help="Which TTFT and ITL statistic of the result to record.")
@click.option("--source-id", default="vllm-bench", show_default=True, help="source_id of the rows.")
@click.option("--out", "out", metavar="FILE.csv", type=click.Path(dir_okay=False),
              help="Measurement CSV to append to (created if absent); default: print the rows.")
@_CATALOG
def import_(vllm_results: tuple[str, ...], power_log: str | None, gpu: str | None, model: str | None,
            tp: int | None, pp: int | None, num_gpus: int | None, precision: str | None, engine: str | None,
            gpu_ids: str | None, start: str | None, end: str | None, trim_s: float, stat: str,
            source_id: str, out: str | None, catalog_dirs: tuple[str, ...]) -> None:
    """Turn benchmark results and power logs into rows of a measurement CSV.

    Throughput, TTFT, ITL, concurrency and mean token lengths come from each vLLM result; power is
    the mean of each GPU's samples over that run's window (it ends at the result's `date` and lasts
    its `duration`, the window of its throughput), summed over the run's GPUs (per-GPU means go to
    the notes). Record power alongside the benchmark with, e.g.:

    \b
      nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv -lms 500 > power.csv
      nvidia-smi dmon -s p -o DT > power.txt

    The rows are checked like `planner calibrate` checks a file before anything is written.
    """
    import numpy as np

    from planner.calibration import importers as imp
    from planner.io.files import refuse_overwriting_inputs

    cat = _catalog(catalog_dirs)
    refuse_overwriting_inputs([out] if out else [], [*vllm_results, power_log, *cat.files])
    results = [imp.read_vllm_result(p) for p in vllm_results]
    power = imp.read_power_log(power_log) if power_log else None
    config = {"model": model, "gpu": gpu, "tp": tp, "pp": pp, "num_gpus": num_gpus, "precision": precision,
              "engine": engine}
    gpus = [g.strip() for g in gpu_ids.split(",") if g.strip()] if gpu_ids else None
    lo = imp.parse_window_time(start, "--start") if start else np.nan
    hi = imp.parse_window_time(end, "--end") if end else np.nan
    rows = imp.import_vllm_runs(results, config, power=power, gpus=gpus, start_s=lo, end_s=hi, trim_s=trim_s,
                                stat=stat, source_id=source_id)
    _check_rows(rows, cat, [r.path for r in results])
    if out is None:
        click.echo(imp.rows_to_csv(rows), nl=False)
        return
    from planner.io.files import write_atomic

    p = Path(out)
    existing = _existing_csv(p)
    write_atomic(p, imp.append_rows(existing, rows, str(p)))
    verb = "appended" if existing else "wrote"
    click.echo(f"{verb} {len(rows)} row(s) to {out}", err=True)


def _check_rows(rows: list[dict[str, str]], cat: Any, sources: list[str]) -> None:
    """Validate imported rows with the measurement loader (same messages as `planner calibrate`); a
    problem names the result file the row came from (row N = the Nth --vllm file)."""
    from planner.calibration.importers import rows_to_csv
    from planner.calibration.measurements import parse_measurements

    try:
        parse_measurements(rows_to_csv(rows).encode("utf-8"), "imported rows", cat)
    except CalibrationError as exc:
        exc.file = f"{', '.join(sources)}: imported rows"
        raise


def _existing_csv(path: Path) -> str:
    """The text of the measurement CSV ``--out`` appends to ("" when it does not exist yet), line endings kept."""
    from planner.calibration.measurements import MAX_FILE_BYTES, read_bounded

    if not path.exists():
        return ""
    try:
        return read_bounded(path, "measurement CSV", MAX_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise CalibrationError("is not UTF-8 text, so rows cannot be appended to it", file=str(path),
                               fix="save it as UTF-8, or write to a new file") from None


@click.command()
@_MEASUREMENTS
@click.option("--calibration", metavar="FILE.yaml", type=click.Path(dir_okay=False),
              help="Calibration to score (default: the shipped planner/data/calibration.yaml).")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
@click.option("--plot", metavar="FILE.svg|png", type=click.Path(dir_okay=False), callback=_plot_path,
              help="Also draw predicted versus measured per metric (SVG output is byte-reproducible).")
@click.option("--leave-one-out", "leave_one_out", type=click.Choice(["gpu", "model"]), multiple=True,
              help="Cross-validate: refit without each GPU (or model) and score its rows (repeatable).")
@_CATALOG
def accuracy(measurements: str, calibration: str | None, fmt: str, plot: str | None,
             leave_one_out: tuple[str, ...], catalog_dirs: tuple[str, ...]) -> None:
    """How far the estimates are from MEASUREMENTS.csv, beside simple baselines.

    Median and mean absolute percentage error (MdAPE / MAPE) of throughput, TTFT, ITL, power and
    energy per token: on the calibration points (rows with fit weight > 0) and all rows, per GPU,
    engine and model; beside a plain roofline (ITL = weights per GPU / (0.8 x bandwidth)) and
    power = TDP x GPUs or 0.7 x TDP x GPUs. --leave-one-out refits without each group (same
    settings as `planner calibrate`) and scores the held-out rows. Wall-power rows are not scored
    for power or energy (the core predicts GPU power).
    """
    from planner.calibration.accuracy import accuracy_report
    from planner.calibration.accuracy_render import render
    from planner.calibration.coefficients import calibration_info
    from planner.calibration.measurements import load_measurements
    from planner.io.files import refuse_overwriting_inputs

    cat = _catalog(catalog_dirs)
    refuse_overwriting_inputs([plot] if plot else [], [measurements, calibration, *cat.files], "--plot")
    m = load_measurements(measurements, cat)
    cal, info = calibration_info(calibration, m.sha256)
    report = accuracy_report(m, cat, cal, calibration_info=info, leave_one_out=leave_one_out)
    click.echo(render(report, fmt), nl=False)
    if plot:
        from planner.calibration.plot import render_plot

        render_plot(report, plot)
        click.echo(f"wrote {plot}", err=True)
