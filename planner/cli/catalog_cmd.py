"""`planner catalog`: list the GPU and model catalogs, show one entry, import a Hugging Face config.

Heavy modules are imported inside the commands so `planner --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.schemas.catalog import GpuSpec, ModelSpec

FORMATS = ("table", "json", "csv")
MAX_PARAMS_B = 10_000.0  # the model catalog's bound on params_total_b


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: numbers right-aligned, text left-aligned, columns two spaces apart."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
               for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return str(value)


def catalog_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--catalog", "catalog_dirs", multiple=True, metavar="DIR",
                        help="Extra catalog folder (repeatable); also PLANNER_CATALOG_PATH.")(f)


def _load(catalog_dirs: tuple[str, ...]) -> Catalog:
    from planner.catalog.loader import load_catalog

    return load_catalog(catalog_dirs)


# ---- rows: (column key, table label, value) -----------------------------------------------------

def gpu_row(g: GpuSpec) -> list[tuple[str, str, Any]]:
    t = g.peak_tflops
    return [
        ("id", "id", g.id), ("name", "name", g.name), ("vendor", "vendor", g.vendor),
        ("memory_gib", "memory (GiB)", g.memory_gib),
        ("memory_bandwidth_tb_per_s", "bandwidth (TB/s)", g.memory_bandwidth_tb_per_s),
        ("bf16_tflops", "bf16 (TFLOP/s)", t.bf16), ("fp16_tflops", "fp16 (TFLOP/s)", t.fp16),
        ("fp8_tflops", "fp8 (TFLOP/s)", t.fp8), ("int8_tops", "int8 (TOP/s)", t.int8),
        ("int4_tops", "int4 (TOP/s)", t.int4), ("fp4_tflops", "fp4 (TFLOP/s)", t.fp4),
        ("tdp_w", "TDP (W)", g.tdp_w), ("idle_w", "idle (W)", g.idle_w),
        ("interconnect_kind", "link", g.interconnect.kind),
        ("interconnect_gb_per_s", "link (GB/s)", g.interconnect.bandwidth_gb_per_s),
        ("gpus_per_server", "GPUs/server", g.server.gpus_per_server if g.server else None),
        ("price_usd", "price (USD)", g.price.usd if g.price else None),
        ("price_date", "price date", g.price.date if g.price else None),
    ]


def model_row(m: ModelSpec) -> list[tuple[str, str, Any]]:
    from planner.core.features import model_features

    moe = m.moe
    return [
        ("id", "id", m.id), ("name", "name", m.name),
        ("params_total_b", "params (B)", m.params_total_b),
        ("params_active_b", "active (B)", m.params_active_b),
        ("layers", "layers", m.layers), ("hidden_size", "hidden", m.hidden_size),
        ("attention_heads", "heads", m.attention_heads), ("kv_heads", "KV heads", m.kv_heads),
        ("head_dim", "head dim", m.head_dim), ("ffn_size", "ffn", m.ffn_size),
        ("vocab_size", "vocab", m.vocab_size),
        ("attention_kind", "attention", m.attention.kind),
        ("sliding_window_tokens", "window (tokens)", m.attention.sliding_window_tokens),
        ("experts_total", "experts", moe.experts_total if moe else None),
        ("experts_active", "active experts", moe.experts_active if moe else None),
        ("experts_shared", "shared experts", moe.experts_shared if moe else None),
        ("max_context_tokens", "context (tokens)", m.max_context_tokens),
        ("native_precision", "native", m.native_precision),
        ("kv_bytes_per_token", "KV (KiB/token)", model_features(m)["kv_bytes_per_token"]),
        ("generic", "generic", m.generic),
    ]


_GPU_TABLE = ("id", "memory_gib", "memory_bandwidth_tb_per_s", "bf16_tflops", "fp8_tflops", "fp4_tflops",
              "tdp_w", "idle_w", "interconnect_gb_per_s", "gpus_per_server", "price_usd")
_MODEL_TABLE = ("id", "params_total_b", "params_active_b", "layers", "hidden_size", "kv_heads",
                "attention_kind", "sliding_window_tokens", "experts_total", "experts_active",
                "max_context_tokens", "kv_bytes_per_token")


def render_rows(rows: list[list[tuple[str, str, Any]]], fmt: str, table_keys: Sequence[str],
                specs: Sequence[Any]) -> str:
    """``table``: a chosen subset of columns with unit labels; ``csv``: every flat column;
    ``json``: the full catalog entries."""
    if fmt == "json":
        return json.dumps([s.model_dump(mode="json") for s in specs], indent=2)
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([k for k, _, _ in rows[0]] if rows else [])
        writer.writerows([["" if v is None else v for _, _, v in row] for row in rows])
        return buf.getvalue().rstrip("\n")
    picked = [[(label, _kib(key, v)) for key, label, v in row if key in table_keys] for row in rows]
    headers = [label for label, _ in picked[0]] if picked else list(table_keys)
    return text_table(headers, [[v for _, v in row] for row in picked])


def _kib(key: str, value: Any) -> Any:
    return round(value / 1024, 1) if key == "kv_bytes_per_token" else value


# ---- commands -----------------------------------------------------------------------------------

@click.group()
def catalog() -> None:
    """List the GPU and model catalogs, show an entry, import a Hugging Face config.json."""


@catalog.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@catalog_option
def gpus(fmt: str, catalog_dirs: tuple[str, ...]) -> None:
    """List the GPUs (dense tensor peaks; '-' where the GPU has no such path)."""
    specs = list(_load(catalog_dirs).gpus.values())
    click.echo(render_rows([gpu_row(g) for g in specs], fmt, _GPU_TABLE, specs))


@catalog.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@catalog_option
def models(fmt: str, catalog_dirs: tuple[str, ...]) -> None:
    """List the models (KV = 16-bit KV-cache bytes per token over all layers)."""
    specs = list(_load(catalog_dirs).models.values())
    click.echo(render_rows([model_row(m) for m in specs], fmt, _MODEL_TABLE, specs))


@catalog.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(("yaml", "json")), default="yaml", show_default=True)
@catalog_option
def show(name: str, fmt: str, catalog_dirs: tuple[str, ...]) -> None:
    """Show one GPU or model entry (by id or alias) as it is in the catalog."""
    cat = _load(catalog_dirs)
    spec = find_entry(cat, name)
    data = spec.model_dump(mode="json", exclude_none=True)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    import yaml

    kind = "model" if spec.__class__.__name__ == "ModelSpec" else "gpu"
    click.echo(f"# {kind} {spec.id}\n" + yaml.safe_dump(data, sort_keys=False, width=100).rstrip())


def find_entry(cat: Catalog, name: str) -> ModelSpec | GpuSpec:
    """A model or GPU by id or alias; an unknown name lists the closest ids of both catalogs."""
    import difflib

    from planner.errors import UnknownNameError

    if cat.has_model(name):
        return cat.model(name)
    if cat.has_gpu(name):
        return cat.gpu(name)
    names = {k.lower(): k for k in [*cat.models, *cat.gpus]}
    for ident, aliases in [*((m.id, m.aliases) for m in cat.models.values()),
                           *((g.id, g.aliases) for g in cat.gpus.values())]:
        names.update({a.lower(): ident for a in aliases})
    from planner.catalog.loader import MAX_NAME_CHARS

    key = name.strip().lower()
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5) if len(key) <= MAX_NAME_CHARS else []
    ids = list(dict.fromkeys(names[c] for c in close))
    hint = (f"did you mean {', '.join(ids)}?" if ids
            else "see `planner catalog models` / `planner catalog gpus`")
    shown = name if len(name) <= MAX_NAME_CHARS else name[:MAX_NAME_CHARS] + "..."
    raise UnknownNameError(f"no model or GPU named {shown!r}", fix=hint)


@catalog.command("import-hf")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--id", "model_id", help="Catalog id (lower case, digits, '.', '-'); default from the config.")
@click.option("--params-b", type=float, help="Total parameters in billions (default: computed).")
@click.option("--active-params-b", type=float, help="Active parameters in billions (MoE; default: computed).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write a catalog file (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def import_hf(config: str, model_id: str | None, params_b: float | None, active_params_b: float | None,
              out: str | None, force: bool) -> None:
    """Turn a Hugging Face CONFIG (config.json) into a models catalog file.

    Put the file in a folder and pass it with --catalog DIR (or PLANNER_CATALOG_PATH).
    """
    from pathlib import Path

    from planner.catalog.hf_import import catalog_yaml, import_config
    from planner.errors import InputError
    from planner.io.files import refuse_overwriting_inputs, write_atomic

    for flag, value in (("--params-b", params_b), ("--active-params-b", active_params_b)):
        if value is not None and not 0 < value <= MAX_PARAMS_B:
            raise InputError(f"{flag} must be > 0 and at most {MAX_PARAMS_B:g} (billions), got {value:g}",
                             fix="give billions of parameters, e.g. 8.03")
    refuse_overwriting_inputs([out] if out else [], [config])
    if out is not None and Path(out).exists() and not force:
        raise InputError("file exists", file=out, fix="pass --force to overwrite it, or choose another --out")
    spec = import_config(config, model_id=model_id, params_b=params_b, active_params_b=active_params_b)
    text = catalog_yaml([spec])
    if out is None:
        click.echo(text, nl=False)
        return
    write_atomic(out, text)
    click.echo(f"wrote model {spec.id} ({spec.params_total_b:g}B parameters) to {out}", err=True)
