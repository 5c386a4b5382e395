"""Turn a Hugging Face ``config.json`` into a model-catalog entry (``planner catalog import-hf``).

Reads the architecture keys of the llama, mistral, qwen2, qwen3, qwen3_moe, mixtral, gemma2,
deepseek_v3 and gpt_oss families (``num_hidden_layers``, ``hidden_size``, ``num_attention_heads``,
``num_key_value_heads``, ``head_dim``, ``intermediate_size``, ``moe_intermediate_size``,
``num_experts`` / ``num_local_experts`` / ``n_routed_experts``, ``num_experts_per_tok``,
``n_shared_experts``, ``first_k_dense_replace``, ``kv_lora_rank``, ``qk_rope_head_dim``,
``sliding_window``, ``layer_types``, ``vocab_size``, ``max_position_embeddings``,
``tie_word_embeddings``). Parameter counts are computed from the architecture when not given,
and the entry's notes say so. The entry is validated by ``ModelSpec`` like any catalog entry.

Counting conventions (the same as ``catalogs/models.yaml``): gated FFNs (3 matrices), one shared
embedding table when tied, norms and biases included; active parameters are all parameters except
the routed experts a token does not use (the input embedding is counted, as Mixtral and Qwen
publish it; gpt-oss's published "active" figure leaves it out).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.io.files import read_bounded, validate_data
from planner.schemas.catalog import (
    MAX_CONTEXT_TOKENS,
    MAX_EXPERTS,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_VOCAB,
    MAX_WIDTH,
    ModelSpec,
)

KNOWN_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "mixtral", "gemma",
                     "gemma2", "deepseek_v3", "deepseek_v2", "gpt_oss", "phi3")
_MISSING = object()


@dataclass(frozen=True)
class Mla:
    """DeepSeek multi-head latent attention dimensions."""

    kv_lora_rank: int
    q_lora_rank: int | None
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class Architecture:
    """The architecture facts read from a config (sizes in elements, not bytes)."""

    model_type: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    """Dense FFN intermediate size (0 when every layer is MoE and the config gives none)."""
    vocab: int
    tied: bool
    max_context: int
    experts: int = 0
    experts_active: int = 0
    experts_shared: int = 0
    expert_ffn: int = 0
    shared_ffn: int = 0
    """Total intermediate size of the shared experts of one MoE layer."""
    moe_layers: int = 0
    mla: Mla | None = None
    sliding_window: int | None = None
    sliding_fraction: float = 0.0
    attention_bias: bool = False

    @property
    def is_moe(self) -> bool:
        return self.experts >= 2 and self.moe_layers > 0


# ---- reading ---------------------------------------------------------------------------------

MAX_CONFIG_BYTES = 4 * 2**20  # a config.json is a few kB; the tokenizer and weights are other files
MAX_CONFIG_INT = MAX_WIDTH  # default bound of a size; layers, heads, vocabulary and context have their own
CONFIG_FIX = "pass the model's config.json from its Hugging Face repository"


def read_config_bytes(path: str | Path) -> bytes:
    """The bytes of a config.json (bounded); missing, a folder, a device or unreadable is one InputError."""
    p = Path(path)
    try:
        return read_bounded(p, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise InputError("file not found", file=str(p), fix="check the path to config.json") from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a config.json", file=str(p), fix=CONFIG_FIX) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc.__class__.__name__})", file=str(p),
                         fix="check the path and its permissions") from None


def parse_config(raw: bytes, file: str) -> dict[str, Any]:
    """Parse a config.json's bytes; malformed JSON is one InputError naming file, line and column."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("is not a UTF-8 JSON file", file=file, fix=CONFIG_FIX) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}", file=file,
                         fix="fix the JSON syntax at that position") from None
    except RecursionError:
        raise InputError("JSON nested too deeply for a config.json", file=file, fix=CONFIG_FIX) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise InputError(f"not a readable JSON document ({str(exc).splitlines()[0][:200]})", file=file,
                         fix=CONFIG_FIX) from None
    if not isinstance(data, dict):
        raise InputError("a config.json must be a JSON object", file=file, fix=CONFIG_FIX)
    return data


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a config.json; malformed JSON is one InputError naming file, line and column."""
    return parse_config(read_config_bytes(path), str(path))


def _shown(value: Any) -> str:
    """A config value as quoted in messages, cut to a readable length."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:60] + "..."


class _Reader:
    """Typed access to config keys; problems name the file and key and say how to fix them."""

    def __init__(self, cfg: dict[str, Any], file: str | None) -> None:
        self.cfg, self.file = cfg, file

    def get(self, *keys: str, default: Any = _MISSING) -> Any:
        for k in keys:
            if self.cfg.get(k) is not None:
                return self.cfg[k]
        if default is _MISSING:
            raise InputError(f"config lacks {' / '.join(keys)}", file=self.file,
                             fix="is this a decoder-only transformer config.json?")
        return default

    def key_of(self, *keys: str) -> str:
        """The key that holds the value (the first given one when none does)."""
        return next((k for k in keys if self.cfg.get(k) is not None), keys[0])

    def fail(self, key: str, expected: str, value: Any) -> InputError:
        return InputError(f"{key} must be {expected}, got {_shown(value)}", file=self.file, fix=CONFIG_FIX)

    def integer(self, *keys: str, default: Any = _MISSING, minimum: int = 1, maximum: int = MAX_CONFIG_INT) -> int:
        value = self.get(*keys, default=default)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(self.key_of(*keys), f"a whole number from {minimum} to {maximum:,}", value)
        return value

    def optional_int(self, key: str) -> int | None:
        return None if self.cfg.get(key) is None else self.integer(key)

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default=default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def text(self, key: str, default: str) -> str:
        value = self.get(key, default=default)
        if not isinstance(value, str):
            raise self.fail(key, "text", value)
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.get(key, default={})
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping (JSON object)", value)
        return value

    def int_list(self, key: str, layers: int) -> list[int]:
        """A list of layer indices (0 .. layers - 1)."""
        value = self.get(key, default=[])
        if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < layers for v in value):
            raise self.fail(key, f"a list of layer indices from 0 to {layers - 1}", value)
        return value


def _moe_layers(r: _Reader, layers: int) -> int:
    if "first_k_dense_replace" in r.cfg or "moe_layer_freq" in r.cfg:  # DeepSeek
        first = r.integer("first_k_dense_replace", default=0, minimum=0)
        freq = r.integer("moe_layer_freq", default=1)
        return sum(1 for i in range(layers) if i >= first and i % freq == 0)
    step = r.integer("decoder_sparse_step", default=1)  # Qwen MoE
    dense_only = set(r.int_list("mlp_only_layers", layers))
    return sum(1 for i in range(layers) if i not in dense_only and (i + 1) % step == 0)


def _layer_types(r: _Reader, layers: int) -> list[str] | None:
    """``layer_types`` (one attention kind per layer), checked: a list of names, one per layer."""
    value = r.get("layer_types", default=None)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value) or len(value) != layers:
        raise r.fail("layer_types", f"a list of {layers} layer kinds (one per hidden layer), e.g. "
                     '"sliding_attention", "full_attention"', value)
    return value


def _sliding(r: _Reader, max_context: int, model_type: str, layers: int) -> tuple[int | None, float]:
    window = r.get("sliding_window", default=None)
    window = None if window is False else window
    window = r.integer("sliding_window", minimum=0) if window is not None else None
    layer_types = _layer_types(r, layers)
    if layer_types:
        fraction = sum(1 for t in layer_types if "sliding" in t) / len(layer_types)
    elif r.get("use_sliding_window", default=True) is False:
        fraction = 0.0
    elif model_type == "gemma2":
        fraction = 0.5  # alternating local / global layers
    elif r.get("sliding_window_pattern", default=None):
        pattern = r.integer("sliding_window_pattern")
        fraction = (pattern - 1) / pattern  # every pattern-th layer is global (gemma3)
    else:
        fraction = 1.0 if window else 0.0  # mistral v0.1, phi-3: every layer
    if not window or fraction == 0.0 or window >= max_context:
        return None, 0.0
    return window, fraction


def _mla(r: _Reader) -> Mla | None:
    if r.get("kv_lora_rank", default=None) is None:
        return None
    return Mla(kv_lora_rank=r.integer("kv_lora_rank"), q_lora_rank=r.optional_int("q_lora_rank"),
               qk_rope_head_dim=r.integer("qk_rope_head_dim"), qk_nope_head_dim=r.integer("qk_nope_head_dim"),
               v_head_dim=r.integer("v_head_dim"))


def parse_architecture(cfg: dict[str, Any], file: str | None = None) -> Architecture:
    """Read the architecture facts of a config.json (already parsed)."""
    text_config = cfg.get("text_config")
    if "num_hidden_layers" not in cfg and isinstance(text_config, dict):  # multimodal wrappers
        cfg = {**cfg, **text_config}
    r = _Reader(cfg, file)
    model_type = r.text("model_type", "unknown")
    layers = r.integer("num_hidden_layers", "n_layer", maximum=MAX_LAYERS)
    hidden = r.integer("hidden_size", "n_embd", maximum=MAX_WIDTH)
    heads = r.integer("num_attention_heads", "n_head", maximum=MAX_HEADS)
    kv_heads = r.integer("num_key_value_heads", default=heads, maximum=MAX_HEADS)
    mla = _mla(r)
    head_dim = mla.v_head_dim if mla else r.integer("head_dim", default=hidden // heads)
    max_context = r.integer("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length",
                            maximum=MAX_CONTEXT_TOKENS)
    experts = r.integer("num_experts", "num_local_experts", "n_routed_experts", default=0, minimum=0,
                        maximum=MAX_EXPERTS)
    window, fraction = _sliding(r, max_context, model_type, layers)
    common = dict(model_type=model_type, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
                  head_dim=head_dim, vocab=r.integer("vocab_size", maximum=MAX_VOCAB), max_context=max_context, mla=mla,
                  tied=r.flag("tie_word_embeddings", model_type.startswith("gemma")),
                  sliding_window=window, sliding_fraction=fraction,
                  attention_bias=r.flag("attention_bias", model_type in ("qwen2", "qwen2_moe")))
    if experts < 2:
        return Architecture(ffn=r.integer("intermediate_size", "n_inner"), **common)  # type: ignore[arg-type]
    moe_layers = _moe_layers(r, layers)
    expert_ffn = r.integer("moe_intermediate_size", "intermediate_size")
    shared = r.integer("n_shared_experts", default=0, minimum=0)
    shared_ffn = shared * expert_ffn
    if r.get("shared_expert_intermediate_size", default=None):  # qwen2_moe: one wider shared expert
        shared_ffn = r.integer("shared_expert_intermediate_size")
        shared = max(1, round(shared_ffn / expert_ffn))
    ffn = r.integer("intermediate_size") if moe_layers < layers else expert_ffn
    return Architecture(ffn=ffn, experts=experts, moe_layers=moe_layers, expert_ffn=expert_ffn,
                        experts_active=r.integer("num_experts_per_tok", "experts_per_token", "moe_topk"),
                        experts_shared=shared, shared_ffn=shared_ffn, **common)  # type: ignore[arg-type]


# ---- counting --------------------------------------------------------------------------------

def attention_params(a: Architecture) -> int:
    """Parameters of one attention block (projections, biases, MLA norms, gpt-oss sinks)."""
    h = a.hidden
    if a.mla is not None:
        m = a.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            q = h * a.heads * qk
        else:  # q_a_proj, q_a_layernorm, q_b_proj
            q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * a.heads * qk
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv += m.kv_lora_rank * a.heads * (m.qk_nope_head_dim + m.v_head_dim)
        return q + kv + a.heads * m.v_head_dim * h
    q_width, kv_width = a.heads * a.head_dim, a.kv_heads * a.head_dim
    params = h * q_width + 2 * h * kv_width + q_width * h
    if a.attention_bias:
        params += q_width + 2 * kv_width + (0 if a.model_type in ("qwen2", "qwen2_moe") else h)
    if a.model_type == "gpt_oss":
        params += a.heads  # attention sinks
    return params


def norm_params(a: Architecture) -> int:
    """Norm weights of one layer: 2 (4 for gemma2/3) x hidden, plus Qwen3's q/k norms."""
    per_layer = (4 if a.model_type.startswith(("gemma2", "gemma3")) else 2) * a.hidden
    if a.model_type.startswith("qwen3"):
        per_layer += 2 * a.head_dim
    return per_layer


def expert_params(a: Architecture, ffn: int) -> int:
    """A gated FFN of width ``ffn`` (gpt-oss experts carry biases)."""
    params = 3 * a.hidden * ffn
    if a.model_type == "gpt_oss":
        params += 2 * ffn + a.hidden
    return params


def router_params(a: Architecture) -> int:
    bias = a.experts if a.model_type in ("gpt_oss", "deepseek_v3") else 0  # router bias / score correction
    shared_gate = a.hidden if a.model_type == "qwen2_moe" and a.shared_ffn else 0
    return a.hidden * a.experts + bias + shared_gate


def count_parameters(a: Architecture) -> tuple[int, int]:
    """(total, active) parameters of the architecture."""
    embeddings = a.vocab * a.hidden * (1 if a.tied else 2)
    per_layer = attention_params(a) + norm_params(a)
    dense_layers = a.layers - (a.moe_layers if a.is_moe else 0)
    total = embeddings + a.hidden + a.layers * per_layer + dense_layers * expert_params(a, a.ffn)
    if not a.is_moe:
        return total, total
    one_expert = expert_params(a, a.expert_ffn)
    shared = expert_params(a, a.shared_ffn) if a.shared_ffn else 0
    total += a.moe_layers * (a.experts * one_expert + shared + router_params(a))
    unused = a.moe_layers * (a.experts - a.experts_active) * one_expert
    return total, total - unused


# ---- the catalog entry -----------------------------------------------------------------------

def _native_precision(cfg: dict[str, Any], file: str | None = None) -> str:
    quant = _Reader(cfg, file).mapping("quantization_config")
    method = str(quant.get("quant_method", "")).lower()
    bits = quant.get("bits") or quant.get("w_bit")
    if method == "fp8":
        return "fp8"
    if method in ("mxfp4", "nvfp4"):
        return "fp4"
    if method in ("awq", "gptq") and bits in (4, 8):
        return "int4" if bits == 4 else "int8"
    return "fp16" if str(cfg.get("torch_dtype", cfg.get("dtype", ""))) == "float16" else "bf16"


def default_id(cfg: dict[str, Any], path: Path) -> str | None:
    """An id from ``_name_or_path`` or the config's folder name, or None when neither is usable."""
    for candidate in (str(cfg.get("_name_or_path") or "").split("/")[-1], path.resolve().parent.name):
        ident = re.sub(r"[^a-z0-9.\-]+", "-", candidate.lower().replace("_", "-")).strip("-.")
        if ident and re.match(r"^[a-z0-9]", ident) and not re.fullmatch(r"[0-9a-f]{40}", ident):
            return ident
    return None


def _notes(a: Architecture, total: int, active: int, params_b: float | None,
           active_params_b: float | None) -> str:
    parts = [f"Imported from a Hugging Face config.json (model_type {a.model_type})."]
    if a.model_type not in KNOWN_MODEL_TYPES:
        parts.append("model_type is not one the importer knows: the count assumes Llama-style gated FFNs.")
    computed = f"{total / 1e9:.3f}B total, {active / 1e9:.3f}B active"
    if params_b is None:
        parts.append(f"Parameter counts computed from the architecture ({computed}; input embedding counted, "
                     f"{'tied' if a.tied else 'untied'} embeddings).")
    else:
        parts.append(f"params_total_b given with --params-b {params_b:g}; "
                     f"the architecture computes {computed}.")
        if active_params_b is None and a.is_moe:
            parts.append("params_active_b scaled from the computed active share.")
    if active_params_b is not None:
        parts.append(f"params_active_b given with --active-params-b {active_params_b:g}.")
    if a.mla is not None:
        parts.append("MLA: the KV cache holds the latent (kv_lora_rank) plus the rope key "
                     "per token and layer.")
    if a.is_moe and a.moe_layers < a.layers:
        parts.append(f"{a.layers - a.moe_layers} dense layers (ffn_size {a.ffn}), {a.moe_layers} MoE layers.")
    return " ".join(parts)


def model_spec_from_config(cfg: dict[str, Any], *, model_id: str, source: str, file: str | None = None,
                           params_b: float | None = None, active_params_b: float | None = None,
                           name: str | None = None) -> ModelSpec:
    """A validated ModelSpec for a parsed config.json."""
    a = parse_architecture(cfg, file)
    total, active = count_parameters(a)
    total_b = params_b if params_b is not None else total / 1e9
    active_b = active_params_b if active_params_b is not None else total_b * active / total
    attention: dict[str, Any] = {"kind": "mla" if a.mla else ("mha" if a.kv_heads == a.heads else "gqa")}
    if a.mla is not None:
        attention.update(kv_lora_rank=a.mla.kv_lora_rank, qk_rope_head_dim=a.mla.qk_rope_head_dim)
    if a.sliding_window is not None:
        attention.update(sliding_window_tokens=a.sliding_window,
                         sliding_window_layer_fraction=a.sliding_fraction)
    hf_name = _Reader(cfg, file).text("_name_or_path", "")
    data: dict[str, Any] = {
        "id": model_id, "name": name or hf_name.split("/")[-1] or model_id,
        "aliases": [hf_name] if "/" in hf_name else [],
        "params_total_b": round(total_b, 4), "params_active_b": round(min(active_b, total_b), 4),
        "layers": a.layers, "hidden_size": a.hidden, "attention_heads": a.heads, "kv_heads": a.kv_heads,
        "head_dim": a.head_dim, "ffn_size": a.ffn, "vocab_size": a.vocab, "attention": attention,
        "max_context_tokens": a.max_context, "native_precision": _native_precision(cfg, file),
        "source": source, "notes": _notes(a, total, active, params_b, active_params_b),
    }
    if a.is_moe:
        data["moe"] = {"experts_total": a.experts, "experts_active": a.experts_active,
                       "experts_shared": a.experts_shared, "expert_ffn_size": a.expert_ffn,
                       "moe_layers": a.moe_layers}
    return validate_data(ModelSpec, data, file)


def import_config(path: str | Path, *, model_id: str | None = None, params_b: float | None = None,
                  active_params_b: float | None = None) -> ModelSpec:
    """Read ``path`` (a config.json) and return its catalog entry."""
    p = Path(path)
    if model_id is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", model_id):
        raise InputError(f"--id {model_id!r} is not a catalog id",
                         fix="use lower-case letters, digits, '.' and '-', e.g. my-model-8b")
    raw = read_config_bytes(p)
    cfg = parse_config(raw, str(p))
    ident = model_id or default_id(cfg, p)
    if ident is None:
        raise InputError("cannot derive a model id from the config or its folder", file=str(p),
                         fix="pass --id, e.g. --id my-model-8b")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    where = cfg.get("_name_or_path") or f"{p.parent.name}/{p.name}"
    source = (f"Hugging Face config.json ({where}, sha256 {digest}...) imported with "
              "`planner catalog import-hf`")
    return model_spec_from_config(cfg, model_id=ident, source=source, file=str(p), params_b=params_b,
                                  active_params_b=active_params_b)


def catalog_yaml(specs: list[ModelSpec]) -> str:
    """A catalog file (``schema_version: 1``, ``models: [...]``) holding ``specs``."""
    import yaml

    entries = []
    for spec in specs:
        d = spec.model_dump(mode="json", exclude_none=True)
        if not d.get("generic"):
            d.pop("generic", None)
        d["attention"] = {k: v for k, v in d["attention"].items() if v not in (None, 0.0)}
        entries.append(d)
    header = "# Model catalog entries written by `planner catalog import-hf`; review before committing.\n"
    return header + yaml.safe_dump({"schema_version": 1, "models": entries}, sort_keys=False, width=4096,
                                   allow_unicode=True)
