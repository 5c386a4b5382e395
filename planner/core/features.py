"""Turn catalog entries into the numbers the numeric core needs (one small dict per model/GPU).

This is the only place that reads specs; the core (planner.core.model) sees arrays only.
"""

from __future__ import annotations

import numpy as np

from planner.core.constants import KV_BYTES, MEMORY_ENERGY, WEIGHT_BYTES, fixed
from planner.schemas.catalog import GpuSpec, ModelSpec
from planner.units import BITS_PER_BYTE

MODEL_FEATURES = ("params_total", "params_dense", "params_routed", "params_active", "params_vocab",
                  "params_embedding", "experts_total", "experts_active", "moe_layers", "layers", "hidden",
                  "attn_flops_per_context_token", "kv_bytes_per_token", "kv_split_heads", "sliding_fraction",
                  "sliding_window", "max_context_tokens", "attention_heads")
GPU_FEATURES = ("memory_bytes", "bandwidth_bytes_per_s", "half_flops", "tdp_w", "idle_w",
                "interconnect_bytes_per_s", "interconnect_latency_s", "memory_energy_j_per_byte",
                "allreduce_bytes_per_s", "mesh_links")


def model_features(m: ModelSpec) -> dict[str, float]:
    """Parameter split and KV geometry of one model (SI units: parameters, bytes per token)."""
    total = m.params_total_b * 1e9
    active = m.params_active_b * 1e9
    routed = 0.0
    experts_total, experts_active, moe_layers = 1.0, 1.0, 0.0
    if m.moe is not None:
        moe_layers = float(m.moe.moe_layers)
        # gated FFN experts: gate, up and down projections of hidden x expert_ffn each
        per_expert = 3.0 * m.hidden_size * m.moe.expert_ffn_size
        routed = min(m.moe.moe_layers * m.moe.experts_total * per_expert, 0.98 * total)
        experts_total, experts_active = float(m.moe.experts_total), float(m.moe.experts_active)
    if m.attention.kind == "mla":
        assert m.attention.kv_lora_rank is not None and m.attention.qk_rope_head_dim is not None
        rank, rope = m.attention.kv_lora_rank, m.attention.qk_rope_head_dim
        kv_per_token = m.layers * (rank + rope) * KV_BYTES
        split_heads = 0.0  # latent cache is replicated across tensor-parallel ranks
        # absorbed MLA: scores over the (rank + rope) latent and values over the rank, per head
        attn_flops = 2.0 * m.attention_heads * ((rank + rope) + rank)
    else:
        kv_per_token = 2.0 * m.layers * m.kv_heads * m.head_dim * KV_BYTES
        split_heads = float(m.kv_heads)
        attn_flops = 4.0 * m.attention_heads * m.head_dim  # QK^T and PV, 2 FLOP per multiply-add
    # Vocabulary matrices stay 16-bit under weight quantization (embedding and lm_head are not
    # quantized by GPTQ/AWQ/FP8 recipes); with tied embeddings there is one matrix.
    embedding = float(m.vocab_size * m.hidden_size)
    vocab = embedding * (1.0 if m.tied_embeddings else 2.0)
    return {
        "params_total": total,
        "params_dense": total - routed,
        "params_routed": routed,
        "params_active": active,
        "params_vocab": min(vocab, 0.5 * total),
        "params_embedding": min(embedding, 0.25 * total),
        "experts_total": experts_total,
        "experts_active": experts_active,
        "moe_layers": moe_layers,
        "layers": float(m.layers),
        "hidden": float(m.hidden_size),
        "attn_flops_per_context_token": attn_flops,
        "kv_bytes_per_token": kv_per_token,
        "kv_split_heads": split_heads,
        "sliding_fraction": m.attention.sliding_window_layer_fraction,
        "sliding_window": float(m.attention.sliding_window_tokens or 0),
        "max_context_tokens": float(m.max_context_tokens),
        "attention_heads": float(m.attention_heads),
    }


def gpu_features(g: GpuSpec) -> dict[str, float]:
    return {
        "memory_bytes": g.memory_bytes,
        "bandwidth_bytes_per_s": g.memory_bandwidth_bytes_per_s,
        "half_flops": g.half_flops,
        "tdp_w": g.tdp_w,
        "idle_w": g.idle_w,
        "interconnect_bytes_per_s": g.interconnect_bytes_per_s,
        "interconnect_latency_s": g.interconnect_latency_s,
        "memory_energy_j_per_byte": memory_energy_j_per_byte(g.memory_technology),
        "allreduce_bytes_per_s": g.interconnect_bytes_per_s * allreduce_efficiency(g.interconnect.kind,
                                                                                   topology(g) == "pcie"),
        "mesh_links": mesh_links(g),
    }


def topology(g: GpuSpec) -> str:
    """switch, mesh or pcie: the catalog's interconnect topology, or the kind's (pcie* -> pcie, else switch)."""
    t = getattr(g.interconnect, "topology", None)
    if t:
        return str(t)
    return "pcie" if g.interconnect.kind.lower().startswith("pcie") else "switch"


def mesh_links(g: GpuSpec) -> float:
    """Point-to-point links a GPU of a fully connected mesh has (one per peer in its server: GPUs per
    server - 1; 7 for an 8-OAM MI300X platform when the entry names no server); 0 off a mesh."""
    if topology(g) != "mesh":
        return 0.0
    per_server = g.server.gpus_per_server if g.server is not None else 8
    return float(max(per_server - 1, 1))


def allreduce_efficiency(interconnect_kind: str, pcie: bool | None = None) -> float:
    """Bus bandwidth a tensor-parallel all-reduce reaches over the link, as a share of its per-direction
    figure: PCIe peers (no NVLink) share the host's root complexes and CPU memory (planner.core.constants
    pcie_allreduce_efficiency); NVLink and Infinity Fabric links are taken at their figure."""
    if pcie is None:
        pcie = interconnect_kind.lower().startswith("pcie")
    return fixed("pcie_allreduce_efficiency") if pcie else 1.0


def memory_energy_j_per_byte(technology: str | None) -> float:
    """Prior energy of one byte of DRAM traffic: the technology's device figure plus the on-chip path
    to the SMs (planner.core.constants; the fit scales it with ``memory_energy_scale``)."""
    device = (MEMORY_ENERGY[technology].value if technology is not None and technology in MEMORY_ENERGY
              else fixed("default_memory_energy_j_per_bit"))
    return (device + fixed("onchip_movement_j_per_bit")) * BITS_PER_BYTE


# Precisions that must run natively (there is nothing to dequantize to).
_NATIVE_ONLY = ("bf16", "fp16")


def precision_path(g: GpuSpec, precision: str) -> tuple[float, float, bool, str]:
    """(weight bytes, compute FLOP/s used, weight_only, problem) for running ``precision`` on ``g``.

    A precision with a tensor path on the GPU runs natively. fp8/int8/int4/fp4 without one run
    weight-only (weights stored quantized, dequantized to 16-bit for the math, at the cost of
    ``weight_only_compute_factor``); int4 always runs weight-only (W4A16), as serving engines do.
    16-bit formats the GPU lacks are refused (problem is non-empty).
    """
    if precision not in WEIGHT_BYTES:
        return 0.0, 0.0, False, f"unknown precision {precision!r}"
    native = g.native_flops(precision)
    if precision in _NATIVE_ONLY:
        if native is None:
            other = "fp16" if precision == "bf16" else "bf16"
            alt = f"; use {other}" if g.native_flops(other) else ""
            return 0.0, 0.0, False, f"{g.id} has no {precision} tensor path{alt}"
        return WEIGHT_BYTES[precision], native, False, ""
    if native is not None and precision != "int4":
        # a cut-down native path (B300 int8) is not used when dequantizing to 16-bit is faster
        emulated = g.half_flops * fixed("weight_only_compute_factor")
        if native >= emulated:
            return WEIGHT_BYTES[precision], native, False, ""
    return WEIGHT_BYTES[precision], g.half_flops * fixed("weight_only_compute_factor"), True, ""


def tp_splits_heads(tp: np.ndarray, heads: np.ndarray, kv_heads: np.ndarray) -> np.ndarray:
    """Tensor parallelism an engine accepts (vLLM's rule): it divides the attention heads, and the
    KV heads split evenly or are replicated evenly (kv_heads 0 = MLA latent, always fine)."""
    kv_ok = (kv_heads == 0) | (np.mod(kv_heads, tp) == 0) | (np.mod(tp, np.maximum(kv_heads, 1)) == 0)
    return (np.mod(heads, tp) == 0) & kv_ok
