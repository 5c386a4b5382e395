"""`planner estimate`: one deployment's memory, latency, throughput, power, energy and cost.

Imports of the catalog and the estimate happen inside the command (never pandas, PuLP or
matplotlib), so the command answers in well under a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from planner.cli.catalog_cmd import catalog_option
from planner.comparison import DEFAULT_PUE, annual_energy, default_electricity_usd_per_kwh, idle_energy_kwh
from planner.units import MS_PER_S

if TYPE_CHECKING:
    from planner.catalog.loader import Catalog
    from planner.estimation import Estimate

GIB = 1024**3


@contextmanager
def flags_named(file: str | None = None, given: Collection[str] | None = None) -> Iterator[None]:
    """The library's range errors name its parameters (``batch_size``); a command's user typed flags, so
    an error about a parameter that is one of this command's flags names the flag (``--batch-size``).
    ``given``: the parameters the flags set (default: all); the others came from ``file`` and keep
    their key there."""
    from planner.errors import InputError, ParameterError

    try:
        yield
    except ParameterError as exc:
        flag = "--" + exc.parameter.replace("_", "-")
        options = {o for p in click.get_current_context().command.params for o in p.opts}
        if flag in options and (given is None or exc.parameter in given):
            raise exc.named(flag) from None
        if file is not None:
            raise InputError(exc.requirement, file=file, key_path=exc.parameter, fix=exc.fix) from None
        raise


def annual_with_idle(est: Estimate, cat: Catalog, *, duty_cycle: float, pue: float,
                     electricity_usd_per_kwh: float) -> dict[str, float]:
    """``annual_energy`` with the GPU's idle draw from the catalog (``Estimate`` carries none),
    plus the idle powers and the idle share of the IT energy (JSON fields and table rows)."""
    idle_per_gpu_w = cat.gpu(est.gpu).idle_w
    idle_total_w = idle_per_gpu_w * est.num_gpus
    annual = annual_energy(est.power_total_w, duty_cycle=duty_cycle, pue=pue,
                           electricity_usd_per_kwh=electricity_usd_per_kwh, idle_total_w=idle_total_w)
    return {"idle_power_per_gpu_w": idle_per_gpu_w, "idle_power_total_w": idle_total_w,
            "annual_energy_it_idle_kwh": idle_energy_kwh(idle_total_w, duty_cycle), **annual}


MAX_USD_PER_KWH = 100.0


def check_operating_inputs(duty_cycle: float, pue: float, electricity_usd_per_kwh: float,
                           power_limit_w: float | None) -> None:
    from planner.errors import InputError
    from planner.estimation import MAX_POWER_LIMIT_W

    if not (0.0 < duty_cycle <= 1.0):
        raise InputError(f"--duty-cycle must be in (0, 1], got {duty_cycle:g}", fix="e.g. --duty-cycle 0.5")
    if not (1.0 <= pue <= 5.0):
        raise InputError(f"--pue must be between 1 and 5, got {pue:g}", fix="typical data centres: 1.1-1.6")
    if not (0.0 <= electricity_usd_per_kwh <= MAX_USD_PER_KWH):
        raise InputError(f"--electricity-usd-per-kwh must be >= 0 and at most {MAX_USD_PER_KWH:g}, "
                         f"got {electricity_usd_per_kwh:g}", fix="e.g. 0.10")
    if power_limit_w is not None and not (0.0 < power_limit_w <= MAX_POWER_LIMIT_W):
        raise InputError(f"--power-limit-w must be > 0 and at most {MAX_POWER_LIMIT_W:g} W per GPU, "
                         f"got {power_limit_w:g}", fix="the GPU power cap in watts, e.g. 500")


MAX_PARALLEL = 4096
"""Largest --tp, --ep or --dp (planner.estimation bounds ep and dp by the same; no model has more heads)."""


def shown_count(value: int) -> str:
    """A whole number for a message: a 400-digit one as "a 400-digit number", not its digits."""
    return str(value) if abs(value) < 10**12 else f"a {len(str(abs(value)))}-digit number"


def check_parallel_flags(**flags: int) -> None:
    """--tp, --ep, --dp from 1 to MAX_PARALLEL, checked before any float() (a 400-digit
    --tp overflowed it, with a traceback)."""
    from planner.errors import InputError

    for name, value in flags.items():
        if not 1 <= value <= MAX_PARALLEL:
            raise InputError(f"--{name} must be a whole number from 1 to {MAX_PARALLEL:,}, got {shown_count(value)}",
                             fix=f"give the number of GPUs of one replica, e.g. --{name} 8")


def check_request(input_tokens: float, output_tokens: float, batch_size: int | None) -> None:
    """Token counts and batch inside what any deployment serves (a 1e300-token request is a typo)."""
    from planner.errors import InputError
    from planner.estimation import MAX_BATCH, MAX_TOKENS

    # below 1, NaN and the core's own checks are left to planner.estimation.estimate
    for flag, tokens in (("--input-tokens", input_tokens), ("--output-tokens", output_tokens)):
        if tokens > MAX_TOKENS:
            raise InputError(f"{flag} must be from 1 to {MAX_TOKENS:,} tokens per request, got {tokens:g}",
                             fix="give the mean tokens of one request, e.g. 2048")
    if batch_size is not None and batch_size > MAX_BATCH:
        raise InputError(f"--batch-size must be from 1 to {MAX_BATCH:,} sequences, got {shown_count(batch_size)}",
                         fix="or --batch-size max for the largest batch that fits memory")


def check_load(arrival_requests_per_s: float | None, prefix_cache_hit_rate: float,
               output_tokens_p95: float | None, output_tokens: float) -> None:
    """The latency-under-load flags, named as the command spells them."""
    from planner.errors import InputError
    from planner.estimation import check_arrival_rate

    if arrival_requests_per_s is not None and not (0.0 <= arrival_requests_per_s <= 1e6):
        raise InputError(f"--arrival-requests-per-s must be from 0 to 1,000,000, got {arrival_requests_per_s:g}",
                         fix="the mean Poisson arrival rate of one replica, e.g. 5")
    if arrival_requests_per_s is not None:
        check_arrival_rate(arrival_requests_per_s, "--arrival-requests-per-s")
    if not (0.0 <= prefix_cache_hit_rate < 1.0):
        raise InputError(f"--prefix-cache-hit-rate must be at least 0 and below 1, got {prefix_cache_hit_rate:g}",
                         fix="the share of prompt tokens served from the prefix cache, e.g. 0.3")
    if output_tokens_p95 is not None and not (output_tokens <= output_tokens_p95 <= MAX_P95_TOKENS):
        raise InputError(f"--output-tokens-p95 must be at least --output-tokens ({output_tokens:g}), "
                         f"got {output_tokens_p95:g}", fix="leave it out for fixed output lengths")
    if output_tokens_p95 is not None and arrival_requests_per_s is None:
        raise InputError("--output-tokens-p95 only matters with --arrival-requests-per-s",
                         fix="add --arrival-requests-per-s, or leave --output-tokens-p95 out")


MAX_P95_TOKENS = 10_000_000


def check_parallelism(cat: Catalog, model_id: str, pp: int) -> None:
    """At most one pipeline stage per layer (the core would split layers into fractions)."""
    from planner.errors import InputError

    layers = cat.model(model_id).layers
    if pp > layers:
        raise InputError(f"--pp {shown_count(pp)} is more pipeline stages than {model_id}'s {layers} layers",
                         fix=f"use --pp from 1 to {layers}")


def resolve_model(catalog_dirs: tuple[str, ...], model: str | None,
                  params: str | None) -> tuple[Catalog, str, list[str]]:
    """The catalog to use, the model id, and warnings (a generic architecture for --params)."""
    from planner.catalog.loader import load_catalog
    from planner.errors import InputError

    if (model is None) == (params is None):
        raise InputError("give exactly one of --model NAME or --params COUNT",
                         fix="e.g. --model llama-3.1-70b, or --params 70e9 for a generic architecture")
    cat = load_catalog(catalog_dirs)
    if model is not None:
        return cat, model, []
    from planner.catalog.generic import generic_model, generic_warning, parse_param_count, with_model

    spec = generic_model(parse_param_count(params or ""))
    return with_model(cat, spec), spec.id, [generic_warning(spec)]


def extra_warnings(est: Estimate, cat: Catalog, power_limit_w: float | None) -> list[str]:
    """Warnings the API does not give: context beyond the model's, a binding power limit."""
    out = []
    spec = cat.model(est.model)
    context = est.input_tokens + est.output_tokens
    if context > spec.max_context_tokens:
        out.append(f"{context:.0f} tokens per sequence exceed {est.model}'s context of "
                   f"{spec.max_context_tokens} tokens: the engine would refuse these requests")
    if (power_limit_w is not None and power_limit_w < est.tdp_w
            and est.power_per_gpu_w >= 0.999 * power_limit_w):
        out.append(f"power per GPU is held at the {power_limit_w:.0f} W limit: clocks would drop; "
                   "latency and throughput here do not include that slowdown")
    return out


def _check_power_limit(cat: Catalog, gpu: str, power_limit_w: float | None) -> None:
    from planner.errors import InputError

    if power_limit_w is None:
        return
    g = cat.gpu(gpu)
    if power_limit_w <= g.idle_w:
        raise InputError(f"--power-limit-w {power_limit_w:g} is not above {g.id}'s idle power "
                         f"({g.idle_w:g} W)", fix=f"use a limit between {g.idle_w:g} and {g.tdp_w:g} W")


# ---- output -------------------------------------------------------------------------------------

def _num(value: float, digits: int = 3) -> str:
    """Readable number: thousands separators for large values, ``digits`` significant digits else."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table_lines(est: Estimate, annual: dict[str, float], duty: float, pue: float,
                usd_per_kwh: float) -> list[tuple[str, str]]:
    """(label, value) rows of the readable table; a row without a value is a section heading."""
    pct_tdp = 100.0 * est.power_per_gpu_w / est.tdp_w
    return [
        ("Memory", ""),
        # the batch asked for, not one sequence: "yes" beside "max batch that fits 2" read as a contradiction
        ("fits memory at this batch", "yes" if est.fits_memory and est.batch_fits_memory
         else f"no: at most {est.max_batch_size} sequences fit"),
        ("weights per GPU (GiB)", _num(est.weights_per_gpu_bytes / GIB)),
        ("memory per GPU at this batch (GiB)", _num(est.memory_per_gpu_bytes / GIB)),
        ("max batch that fits (sequences)", f"{est.max_batch_size}"),
        ("Latency", ""),
        ("TTFT, no queueing (ms)", _num(est.ttft_s * MS_PER_S)),
        ("ITL mean (ms)", _num(est.itl_s * MS_PER_S)),
        ("ITL p95 (ms)", _num(est.itl_p95_s * MS_PER_S)),
        *load_lines(est),
        ("Throughput", ""),
        ("output tokens/s (replica)" if est.arrival_requests_per_s is None
         else "output tokens/s served at this arrival rate", _num(est.output_tokens_per_s)),
        ("requests/s (replica, saturated)", _num(est.requests_per_s)),
        ("Power and heat", ""),
        ("power per GPU (W)", f"{_num(est.power_per_gpu_w)} ({pct_tdp:.0f} % of {est.tdp_w:.0f} W TDP)"),
        (f"power total, {est.num_gpus} GPU(s) (W)", _num(est.power_total_w)),
        ("peak power total (W)", _num(est.peak_power_total_w)),
        ("node power: one server, every GPU at this point (W)", _num(est.node_power_w)
         if math.isfinite(est.node_power_w) else "- (the GPU's catalog entry has no server block)"),
        ("heat (BTU/hr)", _num(est.heat_btu_per_hr)),
        *energy_lines(est),
        *error_lines(est),
        (f"Annual energy: this operating point for duty cycle {duty:g}, GPUs idle the rest (PUE {pue:g}, "
         f"{usd_per_kwh:g} USD/kWh)", ""),
        (f"idle power total, {est.num_gpus} GPU(s) (W)", _num(annual["idle_power_total_w"])),
        ("IT energy (kWh/yr)", _num(annual["annual_energy_it_kwh"])),
        ("  of which idle (kWh/yr)", _num(annual["annual_energy_it_idle_kwh"])),
        ("facility energy (kWh/yr)", _num(annual["annual_energy_facility_kwh"])),
        ("electricity cost, facility (USD/yr)", _num(annual["annual_electricity_cost_usd"])),
    ]


def energy_lines(est: Estimate) -> list[tuple[str, str]]:
    """Rows of the energy and FLOPs by phase and by cause (GPU basis, as energy per output token)."""
    parts = est.energy_breakdown_j_per_token
    total = sum(parts.values()) or 1.0
    return [("Energy and FLOPs by phase and cause (GPUs of the replica)", ""),
            ("energy per output token (J)", _num(est.energy_per_output_token_j)),
            *((f"  {cause} (J/token)", f"{_num(parts[cause])} ({100.0 * parts[cause] / total:.0f} %)")
              for cause in ("static", "memory", "compute", "communication") if cause in parts),
            ("prefill energy per request (J)", _num(est.prefill_energy_j)),
            ("decode energy per output token (J)", _num(est.decode_energy_per_token_j)),
            ("prefill FLOPs per request", f"{est.prefill_flops:.3g}"),
            ("decode FLOPs per output token", f"{est.decode_flops_per_token:.3g}"),
            ("kWh per million output tokens", _num(est.kwh_per_million_output_tokens)),
            ("output tokens/s per W", _num(est.output_tokens_per_s_per_w))]


ERROR_LABELS = {"throughput": "throughput", "ttft": "TTFT", "itl": "ITL", "power": "power",
                "energy_per_token": "energy per token"}


def error_lines(est: Estimate) -> list[tuple[str, str]]:
    """Rows of the expected error per metric (median and 90th percentile, held-out points; docs/confidence.md)."""
    if not est.expected_error:
        return []
    rows = [("Expected error: |estimate / measured - 1| of held-out GPUs, median / p90 (group, points)", "")]
    for k, label in ERROR_LABELS.items():
        e = est.expected_error.get(k)
        if e:
            rows.append((label, f"{e['p50_pct']:.0f} % / {e['p90_pct']:.0f} % ({e['group']}, {e['n']})"))
    return rows


def load_lines(est: Estimate) -> list[tuple[str, str]]:
    """Rows of the latency under Poisson arrivals (none without --arrival-requests-per-s)."""
    if est.arrival_requests_per_s is None:
        return []
    head = (f"Under load: Poisson arrivals at {_num(est.arrival_requests_per_s)} requests/s, continuous batching, "
            f"at most {est.concurrency_cap} sequences")
    if est.saturated:
        return [(head, ""), ("saturated", "yes: the queue grows without bound (latencies infinite)")]

    def ms(v: float | None) -> str:
        return _num((v or 0.0) * MS_PER_S)

    return [(head, ""), ("TTFT mean / p50 / p95 / p99 (ms)",
                         " / ".join(ms(v) for v in (est.ttft_mean_s, est.ttft_p50_s, est.ttft_p95_s, est.ttft_p99_s))),
            ("mean sequences in flight", _num(float(est.batch_size)))]


def render_table(est: Estimate, engine: str, annual: dict[str, float], duty: float, pue: float,
                 usd_per_kwh: float, *, offline: bool = False) -> str:
    """The readable table; ``offline``: the batch is the largest that fits memory (--batch-size max)."""
    batch = f"batch {est.batch_size}" + (" (the largest that fits memory)" if offline else "")
    head = (f"{est.model} on {est.num_gpus} x {est.gpu} (tp {est.tp}, pp {est.pp}{parallel_text(est)}), "
            f"{est.precision}"
            f"{' weight-only' if est.weight_only else ''}, {engine}\n"
            f"{est.input_tokens:.0f} input + {est.output_tokens:.0f} output tokens, "
            + (batch if est.arrival_requests_per_s is None
               else f"at most {est.concurrency_cap} sequences in flight")
            + (f", prefix-cache hit rate {est.prefix_cache_hit_rate:g}" if est.prefix_cache_hit_rate else "")
            + speculative_head(est))
    rows = table_lines(est, annual, duty, pue, usd_per_kwh)
    width = max(len(label) for label, value in rows if value)
    body = [f"{label}" if not value else f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join([head, "", *body])


def parallel_text(est: Estimate) -> str:
    """``, dp N, ep N`` for a replica with attention data or expert parallelism (empty otherwise)."""
    return (f", dp {est.dp}" if est.dp > 1 else "") + (f", ep {est.ep}" if est.ep > 1 else "")


def speculative_head(est: Estimate) -> str:
    """The header line of speculative decoding (empty when off): ITL is then per output token."""
    spec = est.speculative
    if not spec:
        return ""
    draft = f" ({spec['draft_model']})" if spec.get("draft_model") else ""
    return (f"\nspeculative decoding: {spec['method']}{draft}, {spec['tokens']} draft tokens, acceptance "
            f"{spec['acceptance_rate']:g} -> {est.expected_tokens_per_step:.2f} tokens per step; ITL is per output "
            "token (tokens arrive in bursts); unvalidated, see docs/speculative.md")


def json_document(est: Estimate, engine: str, annual: dict[str, float], warnings: list[str], *, duty: float,
                  pue: float, usd_per_kwh: float, generic: bool) -> dict[str, Any]:
    doc = est.to_dict()
    doc.update(engine=engine, generic_model=generic, duty_cycle=duty, pue=pue,
               electricity_usd_per_kwh=usd_per_kwh, **annual)
    doc["warnings"] = warnings
    if not math.isfinite(est.node_power_w):  # a GPU without a server block: no node figure
        doc["node_power_w"] = None
    if est.saturated:  # infinite latencies: JSON has no infinity; `saturated` says why they are null
        doc.update({k: None for k in LOAD_LATENCIES})
    return doc


LOAD_LATENCIES = ("ttft_mean_s", "ttft_p50_s", "ttft_p95_s", "ttft_p99_s")


def check_finite(doc: dict[str, Any], est: Estimate) -> None:
    """Never print NaN or infinity (invalid JSON, meaningless in a table): name the figures instead."""
    from planner.errors import InputError

    bad = [k for k, v in doc.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise InputError(f"the estimate of {est.model} on {est.gpu} is not a finite number for {', '.join(bad)}",
                         fix="check the catalog figures of this model and GPU (`planner catalog show NAME`)")


# ---- the batch asked for -------------------------------------------------------------------------

class BatchSizeType(click.ParamType):
    """``--batch-size``: a whole number of sequences, or ``max`` (the largest batch that fits memory)."""

    name = "N|max"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) or str(value).strip().lower() == "max":
            return value if isinstance(value, int) else "max"
        try:
            return int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is neither a whole number of sequences nor `max` (e.g. --batch-size 32, or "
                      "--batch-size max for the largest batch that fits memory)", param, ctx)
        raise AssertionError("unreachable: ParamType.fail raises")  # mypy may run without click: fail() is then Any


BATCH_SIZE = BatchSizeType()
NO_BATCH_FIX = ("add --batch-size N for N sequences in flight, --batch-size max for the largest batch that fits "
                "memory (the offline, maximum-throughput point), or --arrival-requests-per-s R for latency under load")


def speculative_of(method: str | None, tokens: int | None, acceptance_rate: float | None,
                   draft_model: str | None) -> dict[str, Any] | None:
    """planner.estimate's ``speculative`` from the --speculative-* flags (None: off); a flag without
    --speculative-method is an error naming it."""
    from planner.errors import InputError

    if method is None:
        given = [name for name, v in (("--speculative-tokens", tokens), ("--acceptance-rate", acceptance_rate),
                                      ("--draft-model", draft_model)) if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} needs --speculative-method",
                             fix="add --speculative-method draft|eagle|mtp")
        return None
    spec: dict[str, Any] = {"method": method, "tokens": tokens, "acceptance_rate": acceptance_rate,
                            "draft_model": draft_model}
    return {k: v for k, v in spec.items() if v is not None}


def batch_of(batch_arg: int | str | None, arrival_requests_per_s: float | None) -> int | None:
    """The batch the API takes (None: the largest that fits memory), or an error when none was asked for."""
    from planner.errors import InputError

    if batch_arg is None and arrival_requests_per_s is None:
        raise InputError("no operating point: the batch size was not given", fix=NO_BATCH_FIX)
    return None if batch_arg in (None, "max") else int(batch_arg)


def check_batch_fits(est: Estimate, asked: int | None) -> None:
    """A batch beyond the memory limit is an error: the latency and throughput of a batch that does
    not fit would be numbers for a deployment that cannot run."""
    from planner.errors import DoesNotFitError

    if asked is None or est.batch_fits_memory:
        return
    raise DoesNotFitError(
        f"batch {asked} does not fit memory: at most {est.max_batch_size} sequence(s) of "
        f"{est.input_tokens + est.output_tokens:.0f} tokens fit {est.model} at {est.precision} on "
        f"{est.num_gpus} x {est.gpu} (tp {est.tp}, pp {est.pp})",
        fix=f"use --batch-size {est.max_batch_size} or less, --batch-size max, more GPUs (--tp/--pp), "
            "a lower precision, or shorter requests")


# ---- the command --------------------------------------------------------------------------------

@click.command()
@click.option("--model", "-m", help="Model id or Hugging Face alias (`planner catalog models`).")
@click.option("--params", help="Instead of --model: a parameter count (70e9, 70B); generic architecture.")
@click.option("--gpu", "-g", required=True, help="GPU id or alias (`planner catalog gpus`).")
@click.option("--precision", default="bf16", show_default=True, help="bf16, fp16, fp8, int8, int4 or fp4.")
@click.option("--tp", type=int, default=1, show_default=True, help="Tensor-parallel GPUs.")
@click.option("--pp", type=int, default=1, show_default=True, help="Pipeline-parallel stages.")
@click.option("--ep", type=int, default=1, show_default=True,
              help="Expert parallelism (MoE): GPUs the routed experts are spread over as whole experts, with an "
                   "all-to-all per MoE layer; divides tp x pp x dp. 1: experts sliced by --tp.")
@click.option("--dp", type=int, default=1, show_default=True,
              help="Attention data parallelism (MoE or MLA models): ranks of tp x pp GPUs, each with its own "
                   "sequences and KV cache; the replica has tp x pp x dp GPUs and --batch-size is the replica's.")
@click.option("--batch-size", "batch_arg", type=BATCH_SIZE,
              help="Concurrent sequences, or `max` for the largest batch that fits memory (the offline, "
                   "maximum-throughput point). Required unless --arrival-requests-per-s is given.")
@click.option("--input-tokens", type=float, required=True, help="Prompt tokens per request.")
@click.option("--output-tokens", type=float, required=True, help="Generated tokens per request.")
@click.option("--engine", default="vllm", show_default=True, help="vllm, trt-llm or sglang.")
@click.option("--calibration", type=click.Path(dir_okay=False), help="Calibration file (planner calibrate).")
@catalog_option
@click.option("--power-limit-w", type=float, help="GPU power cap in watts (nvidia-smi -pl).")
@click.option("--duty-cycle", type=float, default=1.0, show_default=True,
              help="Share of the year at this operating point; the GPUs idle the rest (for annual energy).")
@click.option("--electricity-usd-per-kwh", type=float,
              help="Electricity price, applied to facility energy (default: the scenario "
                   "default, site.electricity_usd_per_kwh; the output shows the price used).")
@click.option("--pue", type=float, default=DEFAULT_PUE, show_default=True, help="Facility power / IT power.")
@click.option("--arrival-requests-per-s", type=float,
              help="Poisson arrival rate: adds TTFT mean/p50/p95/p99 and ITL under this load (continuous "
                   "batching; --batch-size is then the concurrency cap).")
@click.option("--output-tokens-p95", type=float,
              help="With --arrival-requests-per-s: p95 output length (default: the mean, fixed lengths).")
@click.option("--prefix-cache-hit-rate", type=float, default=0.0, show_default=True,
              help="Share of prompt tokens served from the prefix cache (no prefill compute).")
@click.option("--speculative-method", type=click.Choice(("draft", "eagle", "mtp")),
              help="Speculative decoding: a draft model, an EAGLE head or the model's MTP module (off by default; "
                   "docs/speculative.md).")
@click.option("--speculative-tokens", type=int, help="With --speculative-method: draft tokens per step (k, 1-8).")
@click.option("--acceptance-rate", type=float,
              help="With --speculative-method: acceptance per drafted token (default per method, sourced).")
@click.option("--draft-model", help="With --speculative-method draft: the draft model's catalog id.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def estimate(model: str | None, params: str | None, gpu: str, precision: str, tp: int, pp: int, ep: int, dp: int,
             batch_arg: int | str | None, input_tokens: float, output_tokens: float, engine: str,
             calibration: str | None, catalog_dirs: tuple[str, ...], power_limit_w: float | None,
             duty_cycle: float, electricity_usd_per_kwh: float | None, pue: float, arrival_requests_per_s: float | None,
             output_tokens_p95: float | None, prefix_cache_hit_rate: float, fmt: str,
             speculative_method: str | None = None, speculative_tokens: int | None = None,
             acceptance_rate: float | None = None, draft_model: str | None = None) -> None:
    """Estimate one deployment (a replica of TP x PP x DP GPUs): memory, TTFT, ITL, tokens/s, power,
    energy per token, heat, and annual energy and cost; with --arrival-requests-per-s, latency under
    Poisson arrivals (at or above saturation: `saturated`, latencies null in JSON).

    The operating point is asked for: --batch-size N, --batch-size max (the largest batch that fits
    memory, the offline maximum-throughput point) or --arrival-requests-per-s (the batch is then the
    concurrency cap, by default the memory limit). A batch that does not fit memory is an error.

    Warnings go to stderr; with --format json they are also in the `warnings` field.
    """
    from planner.core.inputs import canonical_engine
    from planner.estimation import estimate as run_estimate

    if electricity_usd_per_kwh is None:
        electricity_usd_per_kwh = default_electricity_usd_per_kwh()
    check_operating_inputs(duty_cycle, pue, electricity_usd_per_kwh, power_limit_w)
    check_parallel_flags(tp=tp, ep=ep, dp=dp)  # --pp: check_parallelism, by the model's layers
    check_request(input_tokens, output_tokens, batch_arg if isinstance(batch_arg, int) else None)
    check_load(arrival_requests_per_s, prefix_cache_hit_rate, output_tokens_p95, output_tokens)
    cat, model_id, warnings = resolve_model(catalog_dirs, model, params)
    check_parallelism(cat, model_id, pp)
    _check_power_limit(cat, gpu, power_limit_w)
    if calibration is not None:  # a damaged file is named before a missing operating point
        from planner.calibration.coefficients import load_calibration

        load_calibration(calibration)
    batch_size = batch_of(batch_arg, arrival_requests_per_s)  # after the inputs' own checks: those name them
    engine = canonical_engine(engine)
    with flags_named():
        est = run_estimate(model_id, gpu, precision=precision.strip().lower(), tp=tp, pp=pp, ep=ep, dp=dp,
                           batch_size=batch_size, input_tokens=input_tokens, output_tokens=output_tokens,
                           engine=engine, catalog=cat, calibration=calibration, power_limit_w=power_limit_w,
                           arrival_requests_per_s=arrival_requests_per_s,
                           prefix_cache_hit_rate=prefix_cache_hit_rate, output_tokens_p95=output_tokens_p95,
                           speculative=speculative_of(speculative_method, speculative_tokens, acceptance_rate,
                                                      draft_model))
    check_batch_fits(est, batch_size)
    warnings += [*est.warnings, *extra_warnings(est, cat, power_limit_w)]
    annual = annual_with_idle(est, cat, duty_cycle=duty_cycle, pue=pue, electricity_usd_per_kwh=electricity_usd_per_kwh)
    doc = json_document(est, engine, annual, warnings, duty=duty_cycle, pue=pue,
                        usd_per_kwh=electricity_usd_per_kwh, generic=params is not None)
    doc["batch_size_requested"] = batch_arg  # a number, "max" (the memory limit) or null (with an arrival rate)
    check_finite(doc, est)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
    else:
        click.echo(render_table(est, engine, annual, duty_cycle, pue, electricity_usd_per_kwh,
                                offline=batch_arg == "max" and arrival_requests_per_s is None))
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)
