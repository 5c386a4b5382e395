"""A stated, generic architecture for a bare parameter count (``planner estimate --params 70e9``).

When a model is not in any catalog, the estimate still needs layers, heads and a KV-cache size.
This module assumes a **Llama-like dense decoder with grouped-query attention** and says so:

* 8 KV heads of head_dim 128 (Llama 3, Qwen 2.5 and Mistral all use 8 x 128 from 7B up);
  query heads = hidden / 128.
* gated (SwiGLU) FFN of 3.5 x hidden, rounded to a multiple of 256 (Llama 3: 14336 at 4096,
  28672 at 8192).
* vocabulary 128256 (Llama 3), embeddings tied below 5B parameters (Llama 3.2 1B/3B, Qwen 2.5
  <= 3B tie them), untied above; context 131072 tokens.
* hidden size interpolated log-linearly in the Llama/Qwen scaling table below and rounded to a
  multiple of 512; the layer count is then solved so the architecture holds the stated count.

==========================  ============  ======  ======
reference model             parameters    hidden  layers
==========================  ============  ======  ======
Llama-3.2-1B                1.24e9        2048    16
Llama-3.2-3B                3.21e9        3072    28
Llama-3.1-8B                8.03e9        4096    32
Qwen2.5-14B                 14.7e9        5120    48
Llama-3.1-70B               70.6e9        8192    80
Llama-3.1-405B              405.9e9       16384   126
==========================  ============  ======  ======

Below 1.24e9 and above 405.9e9 the hidden size scales with the square root of the count (so the
layer count stays in the range of real models). The rule reproduces Llama-3.1-8B (32 layers) and
Llama-3.1-70B (80 layers) exactly; for 175e9 it gives hidden 11776 x 98 layers (GPT-3:
12288 x 96). ``params_total_b`` is the stated count, not the architecture's.
"""

from __future__ import annotations

import math
import re

from planner.catalog.loader import Catalog
from planner.errors import InputError
from planner.schemas.catalog import Attention, ModelSpec

KV_HEADS = 8
HEAD_DIM = 128
FFN_RATIO = 3.5
VOCAB = 128_256
MAX_CONTEXT_TOKENS = 131_072
TIE_BELOW_PARAMS = 5e9
MIN_PARAMS = 1e8
MAX_PARAMS = 1e13

# (parameters, hidden size) of the reference models in the table above.
SCALING_TABLE: tuple[tuple[float, int], ...] = (
    (1.24e9, 2048), (3.21e9, 3072), (8.03e9, 4096), (14.7e9, 5120), (70.6e9, 8192), (405.9e9, 16384),
)

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_param_count(text: str | float) -> float:
    """``"70e9"``, ``"70B"``, ``"7.5b"``, ``"500M"``, ``"70_000_000_000"`` -> parameters."""
    raw = str(text).strip().replace("_", "").replace(",", "")
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)", raw)
    if match is None:
        raise InputError(f"--params {text!r} is not a parameter count", fix="write e.g. 70e9 or 70B")
    value = float(match.group(1)) * _SUFFIX.get(match.group(2).lower(), 1.0)
    if value < 1e5 and not match.group(2) and MIN_PARAMS <= value * 1e9 <= MAX_PARAMS:
        raise InputError(f"--params {text!r} is a count of parameters, not billions",
                         fix=f"did you mean --params {value:g}e9?")
    if not (MIN_PARAMS <= value <= MAX_PARAMS):
        raise InputError(f"--params {value:.3g} is outside the generic architecture's range "
                         f"[{MIN_PARAMS:.0e}, {MAX_PARAMS:.0e}]",
                         fix="give the count in parameters, e.g. 70e9")
    return value


def _hidden_size(params: float) -> int:
    lo_p, lo_h = SCALING_TABLE[0]
    hi_p, hi_h = SCALING_TABLE[-1]
    if params < lo_p:
        return max(1024, _round_to(lo_h * math.sqrt(params / lo_p), HEAD_DIM))
    if params > hi_p:
        return _round_to(hi_h * math.sqrt(params / hi_p), 1024)
    log_p = [math.log(p) for p, _ in SCALING_TABLE]
    log_h = [math.log(h) for _, h in SCALING_TABLE]
    i = max(j for j in range(len(log_p) - 1) if log_p[j] <= math.log(params))
    frac = (math.log(params) - log_p[i]) / (log_p[i + 1] - log_p[i])
    return _round_to(math.exp(log_h[i] + frac * (log_h[i + 1] - log_h[i])), 512)


def _round_to(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def layer_params(hidden: int) -> int:
    """Parameters of one layer: q/o (hidden x hidden), k/v (hidden x 8 x 128), gated FFN, 2 norms."""
    ffn = _round_to(FFN_RATIO * hidden, 256)
    attention = 2 * hidden * hidden + 2 * hidden * KV_HEADS * HEAD_DIM
    return attention + 3 * hidden * ffn + 2 * hidden


def generic_architecture(params: float) -> dict[str, int | bool]:
    """Layers, hidden, heads, FFN and embedding tying of the generic model for ``params``."""
    hidden = _hidden_size(params)
    tied = params < TIE_BELOW_PARAMS
    embeddings = VOCAB * hidden * (1 if tied else 2)
    layers = max(1, round((params - embeddings - hidden) / layer_params(hidden)))
    return {"layers": layers, "hidden_size": hidden, "attention_heads": hidden // HEAD_DIM,
            "kv_heads": KV_HEADS, "head_dim": HEAD_DIM, "ffn_size": _round_to(FFN_RATIO * hidden, 256),
            "vocab_size": VOCAB, "tied_embeddings": tied}


def generic_id(params: float) -> str:
    billions = f"{params / 1e9:.3f}".rstrip("0").rstrip(".")
    return f"generic-{billions}b"


def generic_model(params: float) -> ModelSpec:
    """A ModelSpec (``generic=True``) for a bare parameter count, with the rule in its notes."""
    arch = generic_architecture(params)
    tied = arch.pop("tied_embeddings")
    billions = params / 1e9
    return ModelSpec(
        id=generic_id(params), name=f"Generic {billions:g}B (Llama-like dense GQA)",
        params_total_b=billions, params_active_b=billions, **arch,  # type: ignore[arg-type]
        attention=Attention.model_validate({"kind": "gqa"}), max_context_tokens=MAX_CONTEXT_TOKENS,
        native_precision="bf16",
        source="planner.catalog.generic: Llama-like dense GQA architecture inferred from a bare parameter "
               "count (Llama/Qwen scaling table; not a published model)",
        notes=f"Generic architecture: {arch['layers']} layers, hidden {arch['hidden_size']}, "
              f"{arch['attention_heads']} query heads, {KV_HEADS} KV heads x {HEAD_DIM}, "
              f"FFN {arch['ffn_size']} "
              f"(3.5 x hidden, gated), vocab {VOCAB}, {'tied' if tied else 'untied'} embeddings. "
              "Memory and KV-cache figures are approximate.",
        generic=True)


def generic_warning(spec: ModelSpec) -> str:
    return (f"--params: no catalog model; assumed a generic Llama-like dense architecture for "
            f"{spec.params_total_b:g}B parameters ({spec.layers} layers, hidden {spec.hidden_size}, "
            f"{spec.kv_heads} KV heads x {spec.head_dim}); KV cache and latency depend on the real "
            "architecture: use --model, or add it with `planner catalog import-hf config.json`")


def with_model(catalog: Catalog, spec: ModelSpec) -> Catalog:
    """The catalog plus ``spec`` (replacing an entry with the same id)."""
    return Catalog(gpus=catalog.gpus, models={**catalog.models, spec.id: spec}, files=catalog.files)
