"""`planner compare`: models x GPUs x precisions in one table (text, Markdown, CSV or JSON).

The grid comes from repeatable flags or a small YAML file (``--file``; flags given beside it win).
The figures are planner.comparison.compare's (one vectorized estimate of the whole grid).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import click

from planner.cli.catalog_cmd import catalog_option
from planner.cli.estimate_cmd import BATCH_SIZE, NO_BATCH_FIX, flags_named
from planner.comparison import DEFAULT_PUE

TEXT_COLUMNS = ("model", "gpu", "precision", "tp", "batch_size", "fits_memory", "ttft_s", "itl_s",
                "output_tokens_per_s", "power_per_gpu_w", "node_power_w", "energy_per_output_token_j",
                "kwh_per_million_output_tokens", "annual_energy_cost_usd", "smallest_tp_that_fits")
"""Columns of the text and Markdown tables unless --columns names others (CSV and JSON hold every one)."""
EMPTY = "-"


def _cell(value: Any) -> str:
    """A readable cell: 3 significant digits, thousands separators, yes/no, '-' for no value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _records(table: Any, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as plain Python values (None for an empty cell; numpy scalars converted)."""
    out = []
    for row in table[columns].itertuples(index=False):
        rec = {}
        for c, v in zip(columns, row, strict=True):
            if hasattr(v, "item"):
                v = v.item()
            rec[c] = None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
        out.append(rec)
    return out


def render_text(table: Any, columns: list[str]) -> str:
    """An aligned table; each row's warnings are a numbered note under it (the row shows the number)."""
    cols = [c for c in columns if c != "warnings"]
    rows = [[_cell(r[c]) for c in cols] for r in _records(table, cols)]
    warnings = [str(w) for w in table["warnings"]]
    numbers = {i: n + 1 for n, i in enumerate(i for i, w in enumerate(warnings) if w)}
    if numbers:
        cols.append("warnings")
        rows = [[*r, f"[{numbers[i]}]" if i in numbers else ""] for i, r in enumerate(rows)]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    notes = [f"[{n}] {warnings[i]}" for i, n in numbers.items()]
    return "\n".join(lines + ([""] + notes if notes else []))


def render_markdown(table: Any, columns: list[str]) -> str:
    cols = [*columns, "warnings"] if "warnings" not in columns else columns
    recs = _records(table, cols)
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join(_cell(r[c]).replace("|", "\\|") for c in cols) + " |" for r in recs]
    return "\n".join(lines)


def render_csv(table: Any, columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in _records(table, columns):
        writer.writerow(["" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in columns])
    return buf.getvalue().rstrip("\n")


def render_json(table: Any, columns: list[str], settings: dict[str, Any]) -> str:
    return json.dumps({**settings, "rows": _records(table, columns)}, indent=2, allow_nan=False)


def _merged(file: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The file's settings (validated) with every flag the user gave on top."""
    from planner.comparison import load_compare_file

    base = load_compare_file(file).model_dump() if file else {}
    return {**base, **{k: v for k, v in flags.items() if v is not None and v != []}}


def _columns(spec: str | None, fmt: str) -> list[str]:
    from planner.comparison import COLUMNS
    from planner.errors import InputError

    if spec is None:
        return list(COLUMNS if fmt in ("csv", "json") else TEXT_COLUMNS)
    names = [c.strip() for c in spec.split(",") if c.strip()]
    bad = [c for c in names if c not in COLUMNS]
    if bad or not names:
        raise InputError(f"--columns: unknown column {bad[0]!r}" if bad else "--columns names no column",
                         fix=f"use some of {', '.join(COLUMNS)}")
    return names


def _need(settings: dict[str, Any], key: str, flag: str, file: str | None) -> None:
    from planner.errors import InputError

    if settings.get(key) in (None, [], ()):
        raise InputError(f"{flag} is missing" + (f" (nor is `{key}` in the file)" if file else ""),
                         file=file, fix=f"add {flag} (repeat it to compare several), or `{key}:` in a --file")


@click.command()
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False),
              help="A YAML file with models, gpus, precisions and the operating point (flags win over it).")
@click.option("--model", "-m", "models", multiple=True, help="Model id or alias; repeat for several.")
@click.option("--gpu", "-g", "gpus", multiple=True, help="GPU id or alias; repeat for several.")
@click.option("--precision", "precisions", multiple=True, help="bf16, fp16, fp8, int8, int4 or fp4; repeat "
                                                               "(default bf16).")
@click.option("--tp", type=int, help="Tensor-parallel GPUs of every row (default: per row, the smallest that fits).")
@click.option("--batch-size", "batch_arg", type=BATCH_SIZE,
              help="Sequences in flight, or `max` (the largest batch that fits memory).")
@click.option("--arrival-requests-per-s", type=float, help="Poisson arrivals per replica: latency under load.")
@click.option("--input-tokens", type=float, help="Prompt tokens per request.")
@click.option("--output-tokens", type=float, help="Generated tokens per request.")
@click.option("--duty-cycle", type=float, help="Share of the year at this point; the GPUs idle the rest (default 1).")
@click.option("--electricity-usd-per-kwh", type=float,
              help="USD per kWh of facility energy (default: the scenario default, site.electricity_usd_per_kwh).")
@click.option("--pue", type=float, help=f"Facility power / IT power (default {DEFAULT_PUE:g}, the scenario default).")
@click.option("--engine", help="vllm, trt-llm or sglang (default vllm).")
@click.option("--calibration", type=click.Path(dir_okay=False), help="Calibration file (planner calibrate).")
@catalog_option
@click.option("--sort-by", help="Rank rows by this column (throughput columns highest first, others lowest first).")
@click.option("--columns", "column_spec", help="Comma-separated columns of the output (default: a readable set for "
                                               "text and md, every column for csv and json).")
@click.option("--format", "fmt", type=click.Choice(("text", "md", "csv", "json")), default="text", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the table to this file (atomically) instead.")
def compare(file: str | None, models: tuple[str, ...], gpus: tuple[str, ...], precisions: tuple[str, ...],
            tp: int | None, batch_arg: int | str | None, arrival_requests_per_s: float | None,
            input_tokens: float | None, output_tokens: float | None, duty_cycle: float | None,
            electricity_usd_per_kwh: float | None, pue: float | None, engine: str | None, calibration: str | None,
            catalog_dirs: tuple[str, ...], sort_by: str | None, column_spec: str | None, fmt: str,
            out: str | None) -> None:
    """Compare models x GPUs x precisions: fit, TTFT, ITL, tokens/s, watts per GPU and per node,
    J/token, kWh per million tokens, annual energy cost, warnings and the smallest TP that fits.

    One replica per row. Give --batch-size N, --batch-size max (the offline, maximum-throughput
    point) or --arrival-requests-per-s. Rows that do not fit memory say so and carry no figures.
    """
    from planner.catalog.loader import load_catalog
    from planner.comparison import compare as run_compare
    from planner.errors import InputError

    flags = {"models": list(models), "gpus": list(gpus), "precisions": list(precisions), "tp": tp,
             "batch_size": batch_arg, "arrival_requests_per_s": arrival_requests_per_s, "input_tokens": input_tokens,
             "output_tokens": output_tokens, "duty_cycle": duty_cycle,
             "electricity_usd_per_kwh": electricity_usd_per_kwh, "pue": pue, "engine": engine, "sort_by": sort_by}
    s = _with_defaults(_merged(file, flags))
    for key, flag in (("models", "--model"), ("gpus", "--gpu"), ("input_tokens", "--input-tokens"),
                      ("output_tokens", "--output-tokens")):
        _need(s, key, flag, file)
    if s.get("batch_size") is None and s.get("arrival_requests_per_s") is None:
        in_file = f"; or `batch_size:` / `arrival_requests_per_s:` in {file}" if file else ""
        raise InputError("no operating point: the batch size was not given", file=file, fix=NO_BATCH_FIX + in_file)
    columns = _columns(column_spec, fmt)
    if out and file:
        from planner.io.files import refuse_overwriting_inputs

        refuse_overwriting_inputs([out], [file])
    batch = None if s.get("batch_size") in (None, "max") else int(s["batch_size"])
    catalog = load_catalog(catalog_dirs)
    if file:
        _check_file_names(catalog, file, s, from_file=[k for k in ("models", "gpus") if not flags[k]])
    with flags_named(file, given=[k for k, v in flags.items() if v is not None and v != []]):
        table = run_compare(s["models"], s["gpus"], s["precisions"], input_tokens=s["input_tokens"],
                            output_tokens=s["output_tokens"], tp=s.get("tp"), batch_size=batch,
                            arrival_requests_per_s=s.get("arrival_requests_per_s"), duty_cycle=s["duty_cycle"],
                            electricity_usd_per_kwh=s["electricity_usd_per_kwh"], pue=s["pue"],
                            engine=s["engine"], sort_by=s.get("sort_by"), catalog=catalog, calibration=calibration)
    text = _render(table, columns, fmt, s)
    if out:
        from planner.io.files import write_atomic

        write_atomic(Path(out), text + "\n")
        click.echo(f"wrote {out} ({len(table)} rows)", err=True)
    else:
        click.echo(text)


def _check_file_names(catalog: Any, file: str, s: dict[str, Any], from_file: list[str]) -> None:
    """Each model and GPU name the file gave is in the catalog: else one error naming the file and
    ``models[i]`` / ``gpus[i]`` (the names are resolved after the file is read, so its schema cannot)."""
    from planner.errors import UnknownNameError

    for key in from_file:
        lookup = catalog.model if key == "models" else catalog.gpu
        for i, name in enumerate(s[key]):
            try:
                lookup(name)
            except UnknownNameError as exc:
                raise UnknownNameError(exc.message, file=file, key_path=f"{key}[{i}]", fix=exc.fix) from None


def _with_defaults(s: dict[str, Any]) -> dict[str, Any]:
    """Every setting the user left out, at its one default (the price: the scenario's)."""
    from planner.comparison import DEFAULT_PUE, default_electricity_usd_per_kwh

    defaults = {"precisions": ["bf16"], "duty_cycle": 1.0, "pue": DEFAULT_PUE, "engine": "vllm",
                "electricity_usd_per_kwh": default_electricity_usd_per_kwh()}
    return {**s, **{k: v for k, v in defaults.items() if s.get(k) in (None, [])}}


SETTINGS = ("input_tokens", "output_tokens", "batch_size", "arrival_requests_per_s", "duty_cycle", "pue",
            "electricity_usd_per_kwh", "engine", "sort_by")
"""The operating point a JSON table records beside its rows."""


def _render(table: Any, columns: list[str], fmt: str, s: dict[str, Any]) -> str:
    if fmt == "csv":
        return render_csv(table, columns)
    if fmt == "md":
        return render_markdown(table, columns)
    if fmt == "json":
        return render_json(table, columns, {k: s.get(k) for k in SETTINGS})
    return render_text(table, columns)
