"""The numeric core: memory, step time, latency, throughput and power of LLM serving, vectorized.

Pure functions of numpy arrays (one element per configuration; all inputs broadcast together):
no I/O, no pydantic, no per-configuration Python loop. Infeasible configurations are marked by
masks (``fits_memory``), never by exceptions.

Serving model (continuous batching with chunked prefill, vLLM/TRT-LLM style):
* B sequences are in flight. Each step every sequence emits one token, and the prompts of newly
  admitted sequences are prefilled in the same step: in steady state B * n_in / n_out prompt
  tokens ride along with the B decode tokens.
* A step on one GPU reads its share of the weights (for MoE only the experts the step's tokens
  touch), reads the KV cache of its sequences, does 2 FLOP per active parameter per token plus
  attention FLOPs, and exchanges activations with its tensor-parallel peers twice per layer.
  Each kernel family takes the p-norm of its memory and compute rooflines at calibrated
  efficiencies; a fixed per-step and a per-sequence overhead are added.
* Pipeline parallelism splits layers into ``pp`` stages fed by ``pp`` micro-batches.
* Power per GPU is made of physical terms, bounded by [idle, min(TDP, power limit)]:
  idle + the base draw of a serving GPU (boost clock, over the whole step) + energy per byte of
  DRAM traffic x bytes/s (by memory technology) + energy per FLOP x FLOP/s (by precision and
  architecture, from the spec sheet's TDP at peak) + the SMs' per-sequence work outside the
  rooflines + energy per byte sent to tensor-parallel peers x bytes/s. ``power_parts`` splits the
  same figure into static, memory, compute (tensor math and per-sequence SM work) and communication.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.core.constants import ACTIVATION_BYTES, DVFS_EXPONENT, VOCAB_BYTES, fixed
from planner.core.runs import per_run
from planner.units import BITS_PER_BYTE

Arrays = dict[str, Any]


def _pnorm(a: np.ndarray, b: np.ndarray, p: float) -> np.ndarray:
    if p == 1.5:  # the shipped sharpness (times are >= 0): two square roots and a cube root, no np.power
        s = a * np.sqrt(a) + b * np.sqrt(b)
        c = np.cbrt(s)
        return c * c
    if p == 4.0:  # two squarings and two square roots
        a2, b2 = a * a, b * b
        return np.sqrt(np.sqrt(a2 * a2 + b2 * b2))
    big = np.maximum(np.maximum(a, b), 1e-30)
    return big * ((a / big) ** p + (b / big) ** p) ** (1.0 / p)


def _rooflines(w: tuple[Any, Any], c: tuple[Any, Any], kv: tuple[Any, Any], af: tuple[Any, Any],
               p: float) -> tuple[Any, Any]:
    """(_pnorm(w0 * w1, c0 / c1, p), _pnorm(kv0 * kv1, af0 / af1, p)): at the shipped p = 1.5 the four times
    are written into one (4, rows) array, so the square roots, their products and the two sums take one
    numpy call each for both rooflines instead of two (elementwise: the same numbers, bit for bit)."""
    parts = (*w, *c, *kv, *af)
    shapes = {v.shape for v in parts if type(v) is np.ndarray}
    shape = shapes.pop() if len(shapes) == 1 else np.broadcast_shapes(*(getattr(v, "shape", ()) for v in parts))
    if p != 1.5 or not shape or not all(type(v) is float or getattr(v, "dtype", None) == np.float64 for v in parts):
        return _pnorm(w[0] * w[1], c[0] / c[1], p), _pnorm(kv[0] * kv[1], af[0] / af[1], p)
    t = np.empty((4, *shape))
    np.multiply(w[0], w[1], out=t[0])
    np.divide(c[0], c[1], out=t[1])
    np.multiply(kv[0], kv[1], out=t[2])
    np.divide(af[0], af[1], out=t[3])
    r = np.sqrt(t)
    r *= t  # a * sqrt(a) of each time (a product is the same either way round)
    gemm, attn = np.cbrt(r[0] + r[1]), np.cbrt(r[2] + r[3])
    return gemm * gemm, attn * attn


def effective_context(ctx: np.ndarray, x: Arrays, terms: tuple[Any, Any, Any] | None = None) -> np.ndarray:
    """Tokens of KV cache a sequence of ``ctx`` tokens keeps, averaged over layers (sliding windows);
    ``terms``: context_terms(x), when the caller has them."""
    f, full, window = context_terms(x) if terms is None else terms
    return full * ctx + f * np.minimum(ctx, window)


def context_terms(x: Arrays) -> tuple[Any, Any, Any]:
    """(sliding share of layers, the rest, window: inf without one) of effective_context."""
    f = x["sliding_fraction"]
    return f, 1.0 - f, np.where(x["sliding_window"] > 0, x["sliding_window"], np.inf)


def kv_bytes_per_token_per_gpu(x: Arrays, sf: Any = None) -> np.ndarray:
    """KV bytes one token costs on one GPU: layers split by PP; heads split by TP, floored at one
    head per GPU (heads are replicated when TP exceeds the KV heads); MLA latents replicated.
    ``sf``: stage_factor(x), when the caller has it."""
    heads = x["kv_split_heads"]
    share = np.where(heads > 0, np.maximum(1.0 / x["tp"], 1.0 / np.maximum(heads, 1.0)), 1.0)
    return x["kv_bytes_per_token"] * x["kv_scale"] * share / x["pp"] * (stage_factor(x) if sf is None else sf)


def stage_factor(x: Arrays, layers_stage: Any = None) -> np.ndarray:
    """Layers of the largest pipeline stage over the average: ceil(L / pp) / (L / pp) (``layers_stage``:
    ceil(L / pp), when the caller has it)."""
    ceil = np.ceil(x["layers"] / x["pp"]) if layers_stage is None else layers_stage
    return ceil * x["pp"] / x["layers"]


def weight_bytes_total(x: Arrays) -> np.ndarray:
    """Stored weights: quantized body plus 16-bit vocabulary matrices."""
    return (x["params_total"] - x["params_vocab"]) * x["weight_bytes"] + x["params_vocab"] * VOCAB_BYTES


def _times(v: Any, k: Any) -> Any:
    """``v * k``, or ``v`` itself where ``k`` is an absent parallelism (the float 1.0: ``v * 1.0`` is ``v``)."""
    return v if type(k) is float and k == 1.0 else v * k


def _over(v: Any, k: Any) -> Any:
    """``v / k``, or ``v`` itself where ``k`` is an absent parallelism (the float 1.0: ``v / 1.0`` is ``v``)."""
    return v if type(k) is float and k == 1.0 else v / k


def parallel(x: Arrays) -> tuple[Any, Any]:
    """(ep, dp) of the rows: expert parallelism (GPUs the routed experts are spread over as whole
    experts; 1 = every expert sliced by tensor parallelism) and attention data parallelism (ranks of
    tp x pp GPUs, each with its own sequences and KV cache). Absent keys are 1 (today's replica)."""
    return x.get("ep", 1.0), x.get("dp", 1.0)


def expert_shards(x: Arrays, tp_pp: Any = None) -> np.ndarray:
    """GPUs each MoE layer's routed experts are split over, all stages counted: ``ep`` whole-expert
    groups, or the ``tp x pp`` slices of every expert when ``ep`` is smaller (an expert group is then
    sliced by tensor parallelism, SGLang's moe-tp); with ``dp`` > 1 and ``ep`` = 1 each rank holds its
    own sliced copy."""
    ep, _ = parallel(x)
    return np.maximum(ep, x["tp"] * x["pp"] if tp_pp is None else tp_pp)


def split_parallel(x: Arrays) -> Any:
    """Rows that run attention data parallelism or expert parallelism (the rest take today's
    tp x pp formulas bit for bit)."""
    ep, dp = parallel(x)
    return (np.asarray(ep) > 1.0) | (np.asarray(dp) > 1.0)


def weights_per_gpu_bytes(x: Arrays, inv: Arrays | None = None) -> np.ndarray:
    """Weights one GPU holds (largest pipeline stage): attention and dense weights / (tp x pp), replicated
    per data-parallel rank, plus the routed experts / expert_shards (``inv``: step_invariants' geometry)."""
    sf = stage_factor(x) if inv is None else inv["stage_factor"]
    tp_pp = x["tp"] * x["pp"] if inv is None else inv["tp_pp"]
    total = weight_bytes_total(x)
    plain = total * sf / tp_pp
    if "ep" not in x and "dp" not in x:
        return plain
    routed = x["params_routed"] * x["weight_bytes"]
    shards = expert_shards(x) if inv is None else inv["shards"]
    split = ((total - routed) / tp_pp + routed / shards) * sf
    return np.where(split_parallel(x), split, plain)


def memory(x: Arrays, inv: Arrays | None = None) -> Arrays:
    """Weights per GPU (largest pipeline stage), KV capacity and the largest batch that fits (a
    replica's: each of the ``dp`` ranks holds its own sequences' KV cache). ``inv``: step_invariants(x, ...),
    whose geometry (stage factor, KV bytes per token, sliding-window terms) is reused when given, and
    evaluate's ``memory_fixed`` (memory_fixed) when it holds one."""
    _, dp = parallel(x)
    fixed_part = None if inv is None else inv.get("memory_fixed")
    weights, free_pos, kv_tok, capacity = memory_fixed(x, inv) if fixed_part is None else fixed_part
    terms = None if inv is None else inv["context_terms"]
    seq_ctx = effective_context(x["input_tokens"] + x["output_tokens"], x, terms)
    per_seq = kv_tok * seq_ctx
    max_batch = _times(np.floor(free_pos / per_seq), dp)
    return {
        "weights_per_gpu_bytes": weights,
        "kv_bytes_per_token_per_gpu": kv_tok,
        "kv_capacity_tokens": capacity,
        "max_batch_size": max_batch,
        "fits_memory": max_batch >= 1,
        "kv_bytes_per_sequence": per_seq,
    }


def memory_fixed(x: Arrays, inv: Arrays | None = None) -> tuple[Any, Any, Any, Any]:
    """The terms of memory() no token count changes: (weights per GPU, free bytes for the KV cache (>= 0),
    KV bytes per token per GPU, KV capacity in tokens)."""
    _, dp = parallel(x)
    weights = weights_per_gpu_bytes(x, inv)
    usable = x["memory_bytes"] * fixed("gpu_memory_utilization")
    free = usable - weights - fixed("runtime_reserve_bytes")
    kv_tok = kv_bytes_per_token_per_gpu(x) if inv is None else inv["kv_tok"]
    free_pos = np.maximum(free, 0.0)
    return weights, free_pos, kv_tok, _times(free_pos / kv_tok, dp)


def step_invariants(x: Arrays, c: Arrays, context: np.ndarray) -> Arrays:
    """Per-configuration terms of stage_work that do not depend on the step's token counts
    (computed once per evaluate instead of once per token_step)."""
    out = configuration_invariants(x, c)
    out.update(context_invariants(x, out, context))
    return out


def configuration_terms(x: Arrays, c: Arrays) -> Arrays:
    """What evaluate computes of the configuration alone: configuration_invariants, with power_terms as
    ``power``, memory_fixed as ``memory_fixed``, step_rates at compute_efficiency as ``rates`` and
    phase_flops' FLOPs per token (GEMMs; attention per context token) as ``phase_terms``."""
    inv = configuration_invariants(x, c)
    inv["power"] = power_terms(x, c)
    inv["memory_fixed"] = memory_fixed(x, inv)
    inv["rates"] = step_rates(x, inv, compute_efficiency(x, c))
    inv["phase_terms"] = phase_terms(x, inv)
    return inv


def context_invariants(x: Arrays, inv: Arrays, context: np.ndarray) -> Arrays:
    """The terms of step_invariants that depend on the row's token counts (``inv``: configuration_invariants)."""
    terms = inv["context_terms"]
    context_kv = effective_context(context, x, terms)
    input_kv = effective_context(x["input_tokens"], x, terms)
    attn_layer = inv["attn_layer"]
    return {"decode_kv_bytes": inv["kv_tok"] * context_kv, "attn_decode": attn_layer * context_kv,
            "attn_prefill": attn_layer * input_kv / 2.0, "context_kv": context_kv, "input_kv": input_kv}


def configuration_invariants(x: Arrays, c: Arrays) -> Arrays:
    """The terms of step_invariants that depend on the configuration only (model, GPU, precision, engine,
    coefficients, tp, pp, ep, dp), not on the row's token counts."""
    tp, pp = x["tp"], x["pp"]
    bw = x["bandwidth_bytes_per_s"]
    layers_stage = np.ceil(x["layers"] / pp)
    sf = stage_factor(x, layers_stage)
    tp_pp = tp * pp
    gpus = tp_pp / sf  # the slowest stage sets the pace
    eta_w = c["eta_weight_bw"] * np.where(x["weight_bytes"] < 2.0, c["quantized_bw_factor"], 1.0)
    kv_tok = kv_bytes_per_token_per_gpu(x, sf)
    # Each step streams the quantized body and the 16-bit lm_head, not the input embedding table
    # (only the step's rows of it); dense models publish totals that include both matrices.
    body = x["params_dense"] - x["params_vocab"]
    lm_head = x["params_embedding"]
    moe = x["params_routed"] > 0
    flops_params = np.where(moe, x["params_active"], x["params_active"] - (x["params_vocab"] - x["params_embedding"]))
    alpha = x["interconnect_latency_s"] * c["comm_latency_factor"]
    all_dense = not np.any(moe)
    shards = expert_shards(x, tp_pp)
    terms = context_terms(x)
    attn_layer = layers_stage * (x["attn_flops_per_context_token"] / tp)
    ring_bytes = 2.0 * (tp - 1.0) / tp * x["hidden"] * ACTIVATION_BYTES
    out = {
        # ln(1 - k/E) for MoE rows (floored so k = E gives full coverage without a warning); 0 for dense
        "log_miss": _log_miss(x, moe, all_dense),
        "dense_bytes": (body * x["weight_bytes"] + lm_head * VOCAB_BYTES) / gpus,
        "routed_bytes": x["params_routed"] * x["weight_bytes"] / (shards / sf),
        "w_time_per_byte": 1.0 / (eta_w * bw),
        "flops_per_token": 2.0 * flops_params / gpus,
        "kv_tok": kv_tok,
        "kv_time_per_byte": 1.0 / (c["eta_kv_bw"] * bw),
        "attn_layer": attn_layer,
        "ring_per_token": ring_bytes / group_bytes_per_s(x, tp),
        "link_bytes_per_token": ring_bytes,
        "comm_layers": np.where(tp > 1, 2.0 * layers_stage, 0.0),
        "alpha": alpha,
        "gemm_eta_factor": low_precision_factor(x, c),
        # experts sliced by tensor parallelism exchange nothing beyond the layer's two all-reduces: the
        # dispatch/combine latency is expert parallelism's (_parallel_invariants); None: nothing to add
        "moe_comm": None,
        # geometry shared with memory(), phase_flops() and token_step()
        "stage_factor": sf, "tp_pp": tp_pp, "shards": shards, "context_terms": terms, "moe": moe,
        "flops_params": flops_params,
        # no MoE row: log_miss is +0 on every row (stage_work's expert coverage is then 0 x tokens)
        "all_dense": all_dense,
        # token_step's pipeline terms: pp x dp, the stage-to-stage latency, and whether pp (and dp) are 1
        "pp_dp": _times(pp, parallel(x)[1]), "p2p": (pp - 1.0) * x["interconnect_latency_s"],
        "pp_one": bool(np.all(pp == 1.0)),
    }
    out["pp_dp_one"] = out["pp_one"] and "dp" not in x
    if "ep" in x or "dp" in x:
        moe_layers = np.where(moe, np.ceil(x["moe_layers"] / pp), 0.0)
        out.update(_parallel_invariants(x, c, out, flops_params, gpus, shards, layers_stage, moe_layers, alpha))
    return out


def _log_miss(x: Arrays, moe: Any, all_dense: bool) -> Any:
    """ln(1 - k/E) on MoE rows (floored so k = E gives full coverage without a warning), +0 on dense rows."""
    if all_dense:  # the +0 of every row, without the logarithm of the rows np.where would drop
        return np.zeros(np.broadcast_shapes(*(getattr(v, "shape", ()) for v in (moe, x["experts_active"],
                                                                               x["experts_total"]))))
    return np.where(moe, np.log(np.maximum(1.0 - x["experts_active"] / x["experts_total"], 1e-300)), 0.0)


def group_bytes_per_s(x: Arrays, group: Any) -> Any:
    """Per-GPU bandwidth of a collective over ``group`` GPUs: the catalog's figure (PCIe: its all-reduce
    share) where a switch or the host connects every GPU at full speed; on a fully connected mesh
    (Infinity Fabric) a GPU reaches its peers over one link each, so ``group`` - 1 of its ``mesh_links``
    links carry the traffic (MI300X: 64 GB/s to one peer, 448 GB/s to all seven)."""
    links = x.get("mesh_links")
    if links is None:
        return x["allreduce_bytes_per_s"]
    at_least_one = np.maximum(links, 1.0)
    used = np.minimum(np.maximum(group - 1.0, 1.0), at_least_one)
    return x["allreduce_bytes_per_s"] * np.where(links > 0, used / at_least_one, 1.0)


def _parallel_invariants(x: Arrays, c: Arrays, inv: Arrays, flops_params: Any, gpus: Any, shards: Any,
                         layers_stage: Any, moe_layers: Any, alpha: Any) -> Arrays:
    """Expert and attention data parallelism: the routed experts' FLOPs go to the GPUs holding them with
    the tokens of every rank they serve, and with ``ep`` > 1 each MoE layer's tensor-parallel all-reduce
    becomes an all-to-all dispatch and combine of each token's hidden state to its k experts' GPUs."""
    ep, dp = parallel(x)
    tp = x["tp"]
    split = split_parallel(x)
    moe = x["params_routed"] > 0
    routed_active = np.where(moe, np.minimum(x["params_routed"] * x["experts_active"] / x["experts_total"],
                                             flops_params), 0.0)
    expert_parallel = (np.asarray(ep) > 1.0) & moe
    remote = np.maximum(1.0 - 1.0 / np.asarray(ep, dtype=float), 0.0)
    # a GPU dispatches 1/tp of its rank's tokens, each to k experts, (ep-1)/ep of them on other GPUs
    a2a_bytes = x["experts_active"] * x["hidden"] * ACTIVATION_BYTES * remote / tp
    allreduce_layers = np.where(tp > 1, 2.0 * layers_stage - np.where(expert_parallel, moe_layers, 0.0), 0.0)
    return {
        "split": split,
        "dense_flops_per_token": 2.0 * (flops_params - routed_active) / gpus,
        "routed_flops_per_token": 2.0 * routed_active / (shards / stage_factor(x)),
        # every token of the ranks an expert copy serves: (shards / (tp pp)) ranks' worth
        "expert_token_factor": shards / (tp * x["pp"]),
        "comm_layers": np.where(split, allreduce_layers, inv["comm_layers"]),
        "a2a_per_token": np.where(expert_parallel, a2a_bytes / group_bytes_per_s(x, np.asarray(ep, dtype=float)),
                                  0.0),
        "a2a_link_bytes_per_token": np.where(expert_parallel, 2.0 * a2a_bytes, 0.0),
        "moe_comm": np.where(expert_parallel, 2.0 * moe_layers * (alpha + c["moe_dispatch_latency_s"]), 0.0),
        "a2a_layers": np.where(expert_parallel, 2.0 * moe_layers, 0.0),
    }


def stage_work(x: Arrays, c: Arrays, decode_tokens: np.ndarray, prefill_tokens: np.ndarray,
               context: np.ndarray, eta_compute: np.ndarray | float, inv: Arrays | None = None,
               solo_prompt: bool = False, time_only: bool = False) -> Arrays:
    """Time, bytes and FLOPs of one pipeline stage processing one micro-batch step on one GPU (of one
    data-parallel rank). ``solo_prompt``: the prompt tokens are this rank's alone (one request's prefill),
    so the experts see them once, not from every rank. ``time_only``: without the bytes moved (``bytes``,
    ``link_bytes``), which only power needs."""
    inv = step_invariants(x, c, context) if inv is None else inv
    p = fixed("gemm_roofline_sharpness")
    tokens = decode_tokens + prefill_tokens
    # GEMMs: weights touched (MoE: expected distinct experts under uniform routing) vs FLOPs.
    if "split" in inv:  # expert / attention data parallelism: experts see the tokens of the ranks they serve
        expert_tokens = (decode_tokens * inv["expert_token_factor"] + prefill_tokens if solo_prompt
                         else tokens * inv["expert_token_factor"])
        coverage = 1.0 - np.exp(inv["log_miss"] * np.maximum(expert_tokens, 1.0))
        gemm_flops = np.where(inv["split"], inv["dense_flops_per_token"] * tokens
                              + inv["routed_flops_per_token"] * expert_tokens, inv["flops_per_token"] * tokens)
    else:
        seen = np.maximum(tokens, 1.0)
        # 1 - (1 - k/E)^T; with log_miss +0 on every row, 1 - exp(+0 x T) is +0 x T bit for bit (NaN included)
        coverage = 0.0 * seen if inv.get("all_dense") else 1.0 - np.exp(inv["log_miss"] * seen)
        gemm_flops = inv["flops_per_token"] * tokens
    weight_bytes = inv["dense_bytes"] + inv["routed_bytes"] * coverage
    rates = inv.get("rates")
    if rates is None or rates[0] is not eta_compute:
        rates = step_rates(x, inv, eta_compute)
    # Attention: decode reads each sequence's KV cache; prefill is quadratic in the prompt.
    kv_decode, attn_decode = _decode_terms(inv, decode_tokens)
    kv_bytes = kv_decode + prefill_tokens * inv["kv_tok"]
    attn_flops = attn_decode + prefill_tokens * inv["attn_prefill"]
    # GEMM (weights vs FLOPs) and attention (KV reads vs FLOPs) rooflines
    t_gemm, t_attn = _rooflines((weight_bytes, inv["w_time_per_byte"]), (gemm_flops, rates[1]),
                                (kv_bytes, inv["kv_time_per_byte"]), (attn_flops, rates[2]), p)
    # Tensor-parallel all-reduce: two per layer, ring algorithm plus a per-message latency;
    # MoE dispatch/combine per MoE layer under expert parallelism.
    t_comm = inv["comm_layers"] * (inv["alpha"] + tokens * inv["ring_per_token"])
    if inv["moe_comm"] is not None:  # (adding the zeros of the other rows would change no bit: times are >= +0)
        t_comm = t_comm + inv["moe_comm"]
    link_bytes = None if time_only else inv["comm_layers"] * tokens * inv["link_bytes_per_token"]
    if "split" in inv:  # all-to-all dispatch and combine (expert parallelism)
        t_comm = t_comm + inv["a2a_layers"] * tokens * inv["a2a_per_token"]
        if link_bytes is not None:
            link_bytes = link_bytes + inv["a2a_layers"] / 2.0 * tokens * inv["a2a_link_bytes_per_token"]
    kernel = t_gemm + t_attn
    out = {"time_s": kernel + t_comm, "kernel_time_s": kernel, "comm_time_s": t_comm}
    if not time_only:
        out["bytes"] = weight_bytes + kv_bytes
    out.update(flops=gemm_flops, attn_flops=attn_flops)
    if not time_only:
        out["link_bytes"] = link_bytes
    return out


def _decode_terms(inv: Arrays, decode_tokens: Any) -> tuple[Any, Any]:
    """(KV bytes, attention FLOPs) of a stage's decode tokens. The steps of one evaluate share their decode
    tokens (the same array, never written to): where evaluate gave ``inv`` a ``memo`` the last pair is kept
    there with the array it was computed for."""
    memo = inv.get("memo")
    seen = None if memo is None else memo.get("decode")
    if seen is not None and seen[0] is decode_tokens:
        return seen[1], seen[2]
    out = decode_tokens * inv["decode_kv_bytes"], decode_tokens * inv["attn_decode"]
    if memo is not None:
        memo["decode"] = (decode_tokens, *out)
    return out


def _sequence_work(inv: Arrays, c: Arrays, batch: Any) -> Any:
    """token_step's per-sequence work of ``batch`` sequences, kept in evaluate's ``memo`` like _decode_terms."""
    memo = inv.get("memo")
    seen = None if memo is None else memo.get("seq")
    if seen is not None and seen[0] is batch and seen[1] is c["seq_overhead_s"]:
        return seen[2]
    per_seq = c["seq_overhead_s"] * batch
    if memo is not None:
        memo["seq"] = (batch, c["seq_overhead_s"], per_seq)
    return per_seq


def token_step(x: Arrays, c: Arrays, batch: np.ndarray, prefill_tokens: np.ndarray,
               context: np.ndarray, eta_compute: np.ndarray | float, inv: Arrays | None = None,
               solo_prompt: bool = False, time_only: bool = False) -> Arrays:
    """One step of the whole replica: every sequence advances one token (pp stages in a pipeline).
    ``prefill_tokens`` are spread over the data-parallel ranks, or with ``solo_prompt`` all on the rank
    the step is timed for (one request's prompt: the ranks step together, the loaded one sets the pace).
    ``time_only``: the step's time (``step_s``) without what only its power needs (busy time, bytes)."""
    inv = step_invariants(x, c, context) if inv is None else inv
    pp, pp_dp, p2p = x["pp"], inv["pp_dp"], inv["p2p"]
    # pp (and dp) 1 on every row: x / 1.0 and 1.0 * x are x, bit for bit, so those operations are skipped
    one, one_dp = inv["pp_one"], inv["pp_dp_one"]
    micro = batch if one_dp else batch / pp_dp  # one data-parallel rank's micro-batch
    if solo_prompt:
        rank_prefill = prefill_tokens if one else prefill_tokens / pp
    else:
        rank_prefill = prefill_tokens if one_dp else prefill_tokens / pp_dp
    s = stage_work(x, c, micro, rank_prefill, context, eta_compute, inv, solo_prompt, time_only)
    # per-sequence work over the whole replica: vLLM data-parallel ranks share one front-end process that
    # detokenizes and streams every sequence (--api-server-count scales it out); busy for power
    per_seq = _sequence_work(inv, c, batch)

    def stages(v: Any) -> Any:
        return v if one else pp * v

    step = stages(s["time_s"]) + p2p + c["step_overhead_s"] + per_seq
    if time_only:
        return {**s, "step_s": step, "seq_work_s": per_seq}
    return {**s, "step_s": step, "busy_s": stages(s["kernel_time_s"]) + per_seq,
            "bytes_per_gpu": stages(s["bytes"]), "flops_per_gpu": stages(s["flops"]),
            "attn_flops_per_gpu": stages(s["attn_flops"]), "link_bytes_per_gpu": stages(s["link_bytes"]),
            "seq_work_s": per_seq}


def step_rates(x: Arrays, inv: Arrays, eta_compute: Any) -> tuple[Any, Any, Any]:
    """(eta_compute, FLOP/s of the GEMMs, FLOP/s of attention) of stage_work at ``eta_compute``; evaluate
    keeps them in the invariants as ``rates`` (the same products, once per evaluate)."""
    return eta_compute, eta_compute * inv["gemm_eta_factor"] * x["compute_flops"], eta_compute * x["half_flops"]


def power_terms(x: Arrays, c: Arrays) -> Arrays:
    """The per-configuration factors of _dynamic_w that no step changes (computed once per evaluate; the
    same products in the same order, so every watt is bit for bit the one computed per step)."""
    spread = x["tdp_w"] - x["idle_w"]
    base = c["power_active_share"] * spread
    return {"base_w": base, "idle_base_w": x["idle_w"] + base,
            "memory_j_per_byte": c["memory_energy_scale"] * x["memory_energy_j_per_byte"],
            "per_flop_w": c["compute_energy_share"] * spread, "sm_work_w": c["sm_work_share"] * spread}


def _dynamic_w(x: Arrays, c: Arrays, step: Arrays, pw: Arrays | None = None) -> tuple[Any, ...]:
    """Watts above idle by cause: the base draw of a serving GPU, DRAM traffic, tensor math, link
    traffic (unbounded; gpu_power bounds the sum). The base holds over the whole step, the host's
    scheduling gaps and the all-reduce included: a serving GPU stays at its boost clock between
    kernels a millisecond apart (clock governors and NVML power averages act over 10-100 ms).
    ``pw``: power_terms(x, c), when the caller has them."""
    pw = power_terms(x, c) if pw is None else pw
    dt = step["step_s"]
    memory = pw["memory_j_per_byte"] * step["bytes_per_gpu"] / dt
    # energy per FLOP from the spec sheet: a share of (TDP - idle) over the dense peak of the path used
    flops = step["flops_per_gpu"] / x["compute_flops"] + step["attn_flops_per_gpu"] / x["half_flops"]
    compute = (pw["per_flop_w"] * flops + pw["sm_work_w"] * step["seq_work_s"]) / dt
    link = fixed("link_energy_j_per_bit") * BITS_PER_BYTE * step["link_bytes_per_gpu"] / dt
    return pw["base_w"], memory, compute, link


def _limit_w(x: Arrays) -> np.ndarray:
    return np.minimum(x["tdp_w"], x["power_limit_w"]) if "power_limit_w" in x else x["tdp_w"]


def _bounded_sum(x: Arrays, c: Arrays, dyn: tuple[Any, ...], pw: Arrays | None) -> Any:
    """idle + the dynamic terms ``dyn`` (_dynamic_w) of a step, before gpu_power's bounds."""
    pw = power_terms(x, c) if pw is None else pw
    _, memory, compute, link = dyn
    return pw["idle_base_w"] + memory + compute + link


def gpu_power(x: Arrays, c: Arrays, step: Arrays, pw: Arrays | None = None) -> np.ndarray:
    """Average power of one GPU over a step, bounded by [idle, min(TDP, power limit)] (``pw``: power_terms)."""
    return np.clip(_bounded_sum(x, c, _dynamic_w(x, c, step, pw), pw), x["idle_w"], _limit_w(x))


def power_parts(x: Arrays, c: Arrays, step: Arrays, power_w: np.ndarray, pw: Arrays | None = None,
                dyn: tuple[Any, ...] | None = None) -> Arrays:
    """``power_w`` (gpu_power of ``step``) split by cause, in W per GPU; the parts sum to it. Where the
    bound holds, every dynamic term is scaled by the same factor. Static: idle plus the base draw of a
    serving GPU; communication: the bytes sent over the links. ``dyn``: _dynamic_w of ``step``, when known."""
    base, memory, compute, link = _dynamic_w(x, c, step, pw) if dyn is None else dyn
    total = base + memory + compute + link
    scale = np.where(total > 0, (power_w - x["idle_w"]) / np.maximum(total, 1e-30), 0.0)
    return {"static_w": x["idle_w"] + base * scale, "memory_w": memory * scale,
            "compute_w": compute * scale, "communication_w": link * scale}


def power_limit_slowdown(x: Arrays, uncapped_w: np.ndarray) -> np.ndarray:
    """Kernel-time multiplier when a power limit holds the GPU below its uncapped draw.

    Dynamic power scales roughly as f^2.5 under DVFS (P ~ f V^2 with V ~ f^0.75), so clocks, and
    kernel throughput, scale as (P_limit_dyn / P_uncapped_dyn)^0.4.
    """
    if "power_limit_w" not in x:
        return np.ones_like(uncapped_w)
    limit = np.minimum(x["power_limit_w"], x["tdp_w"])
    dyn_cap = np.maximum(limit - x["idle_w"], 1e-9)
    dyn = np.maximum(uncapped_w - x["idle_w"], 1e-9)
    return np.maximum(1.0, (dyn / dyn_cap) ** DVFS_EXPONENT)


def capped_step(x: Arrays, c: Arrays, step: Arrays, inv: Arrays | None = None) -> tuple[Arrays, np.ndarray]:
    """A step (token_step's output, or a sum of them) re-timed under the power limit, and its power per GPU:
    where the uncapped draw exceeds the limit the busy time stretches by power_limit_slowdown. ``inv``: the
    step invariants, whose ``power`` entry (power_terms) is used when present."""
    timed, power, _ = _capped(x, c, step, None if inv is None else inv.get("power"))
    return timed, power


def _capped(x: Arrays, c: Arrays, step: Arrays, pw: Arrays | None,
            power: bool = True) -> tuple[Arrays, Any, tuple[Any, ...] | None]:
    """capped_step's (step, power per GPU) and the dynamic terms (_dynamic_w) of the step returned;
    ``power`` False: the step's time only (power and terms None where no limit re-times the step)."""
    if "power_limit_w" not in x:  # bounded by TDP only: nothing to re-time
        if not power:
            return step, None, None
        dyn = _dynamic_w(x, c, step, pw)
        return step, np.clip(_bounded_sum(x, c, dyn, pw), x["idle_w"], x["tdp_w"]), dyn
    dyn = _dynamic_w(x, c, step, pw)
    unbounded = _bounded_sum(x, c, dyn, pw)
    uncapped = np.clip(unbounded, x["idle_w"], x["tdp_w"])  # the bound at power_limit_w = TDP
    slow = power_limit_slowdown(x, uncapped)
    if not np.any(slow > 1.0):
        return step, np.clip(unbounded, x["idle_w"], _limit_w(x)), dyn
    kernel = step["busy_s"] * (slow - 1.0)
    timed = {**step, "step_s": step["step_s"] + kernel, "busy_s": step["busy_s"] * slow}
    if not power:
        return timed, None, None
    dyn = _dynamic_w(x, c, timed, pw)
    return timed, np.clip(_bounded_sum(x, c, dyn, pw), x["idle_w"], _limit_w(x)), dyn


def power_outputs(x: Arrays, c: Arrays, step: Arrays, power: Any, burst: Any, n_gpu: Any,
                  tokens_per_s: Any, pw: Arrays | None = None,
                  dyn: tuple[Any, ...] | None = None) -> tuple[Arrays, Arrays]:
    """The estimate's energy per output token by cause, and its throughput, power and energy figures, of a
    replica running ``step`` (its mean step) at ``power`` per GPU (``burst``: the mixed step's); two
    mappings, so each estimate keeps its columns in their order."""
    j_per_token = n_gpu / tokens_per_s  # W per GPU -> J per output token of the replica
    parts = power_parts(x, c, step, power, pw, dyn)
    peak = np.maximum(power, burst)
    causes = {f"energy_{k.removesuffix('_w')}_j_per_token": parts[k] * j_per_token
              for k in ("static_w", "memory_w", "compute_w", "communication_w")}
    return causes, {
        "output_tokens_per_s": tokens_per_s,
        "requests_per_s": tokens_per_s / x["output_tokens"],
        "power_per_gpu_w": power,
        "power_total_w": power * n_gpu,
        "peak_power_per_gpu_w": peak,
        "peak_power_total_w": peak * n_gpu,
        "energy_per_output_token_j": power * j_per_token,
        "num_gpus": n_gpu,
    }


def step_budget(x: Arrays, step_tokens: Any, decode_tokens: Any, prefill_per_step: Any) -> Any:
    """Tokens a step may carry: the row's ``prefill_chunk_tokens``, else the engine default, which grows
    with the decode tokens a step carries (engines raise the budget with max_num_seqs) so some prompt
    room is left beside them."""
    budget = x.get("prefill_chunk_tokens")
    default = np.maximum(step_tokens, decode_tokens + np.maximum(fixed("min_prefill_room_tokens"), prefill_per_step))
    return default if budget is None else np.where(np.isnan(budget), default, budget)


def compute_efficiency(x: Arrays, c: Arrays) -> Any:
    """The compute efficiency a step is timed with: the calibrated eta_compute (the GEMMs of rows with
    native sub-16-bit math take low_precision_factor on top, in step_invariants)."""
    return c["eta_compute"]


def low_precision_factor(x: Arrays, c: Arrays) -> Any:
    """fp8_compute_factor on rows whose GEMMs run natively below 16 bits (fp8, int8, fp4 on a GPU with that
    tensor path: per-token activation quantization and scaling around every GEMM), else 1; weight-only
    rows dequantize to 16-bit math, and attention runs 16-bit."""
    if "fp8_compute_factor" not in c:
        return 1.0
    native = (x["weight_bytes"] < 2.0) & (x.get("weight_only", 0.0) == 0)
    return np.where(native, c["fp8_compute_factor"], 1.0)


def engine_defaults(x: Arrays) -> tuple[Any, Any]:
    """(sequence cap per data-parallel rank, default step token budget) of each row's engine on its GPU: the
    engine profile's scheduler defaults where build_inputs was given profiles (``engine_max_sequences``,
    NaN: the engine sizes it from memory; ``engine_step_tokens``), else the core's one default for all."""
    cap = x.get("engine_max_sequences")
    tokens = x.get("engine_step_tokens")
    return (fixed("max_batch_size") if cap is None else np.where(np.isnan(cap), np.inf, cap),
            fixed("prefill_chunk_tokens") if tokens is None else tokens)


def prompt_room(x: Arrays, room: Any, n_in: Any) -> Any:
    """Prompt tokens one step takes of a prompt of ``n_in`` beside its decodes: ``room`` under chunked
    prefill; a whole prompt where the engine does not chunk (``chunked_prefill`` 0: TRT-LLM's default)."""
    chunked = x.get("chunked_prefill")
    return room if chunked is None else np.where(chunked > 0, room, np.maximum(room, n_in))


def prefill_time_s(x: Arrays, c: Arrays, decoding: np.ndarray, budget: np.ndarray, n_in: np.ndarray,
                   context: np.ndarray, eta: np.ndarray | float, inv: Arrays) -> np.ndarray:
    """A prompt of ``n_in`` tokens alone in the budget beside ``decoding`` decode tokens per step:
    whole chunks of the room, then the remainder (vLLM V1 chunked prefill)."""
    _, dp = parallel(x)
    room = prompt_room(x, np.maximum(budget - _over(decoding, dp), 1.0), n_in)  # the budget of the prompt's rank
    full = np.floor(n_in / room)
    rest = n_in - full * room
    # timed on the rank carrying the prompt (ranks step together under expert parallelism)
    solo = "split" in inv
    pw = inv.get("power")  # the steps' times only: their power is not needed
    time_only = "power_limit_w" not in x  # no limit to re-time the steps by: their bytes are not needed
    chunk, _, _ = _capped(x, c, token_step(x, c, decoding, np.minimum(room, n_in), context, eta, inv, solo,
                                           time_only), pw, False)
    last, _, _ = _capped(x, c, token_step(x, c, decoding, rest, context, eta, inv, solo, time_only), pw, False)
    return np.where(n_in >= room, full * chunk["step_s"], 0.0) + np.where(rest > 0, last["step_s"], 0.0)


def phase_flops(x: Arrays, n_prompt: np.ndarray, context: np.ndarray, inv: Arrays | None = None) -> Arrays:
    """FLOPs of the whole replica: prefill of one request's ``n_prompt`` computed prompt tokens
    (GEMMs plus causal attention), and one decode token at the mean ``context`` (``inv``: step_invariants of
    the same ``context``, whose FLOP parameters and context terms are reused when given)."""
    gemm, attn = inv["phase_terms"] if inv is not None and "phase_terms" in inv else phase_terms(x, inv)
    terms, context_kv = (None, None) if inv is None else (inv["context_terms"], inv["context_kv"])
    input_kv = effective_context(x["input_tokens"], x, terms) if inv is None else inv["input_kv"]
    return {"prefill_flops": n_prompt * (gemm + attn * input_kv / 2.0),
            "decode_flops_per_token": gemm + attn * (effective_context(context, x) if context_kv is None
                                                     else context_kv)}


def phase_terms(x: Arrays, inv: Arrays | None = None) -> tuple[Any, Any]:
    """phase_flops' (GEMM FLOPs per token, attention FLOPs per context token) of the whole replica (``inv``:
    step_invariants, whose FLOP parameters are reused when given)."""
    flops_params = (np.where(x["params_routed"] > 0, x["params_active"],
                             x["params_active"] - (x["params_vocab"] - x["params_embedding"]))
                    if inv is None else inv["flops_params"])
    return 2.0 * flops_params, x["layers"] * x["attn_flops_per_context_token"]


def static_batching(x: Arrays, c: Arrays, batch: Any, n_pf: Any, context: Any, eta: Any, inv: Arrays,
                    decode_only: Arrays, tokens_per_s: Any, step_s: Any) -> tuple[Any, Any]:
    """(throughput, ITL) with rows of ``static_batching`` > 0 run as a static batch (TensorRT-LLM v0.9
    gptSessionBenchmark): the batch's B prompts are prefilled together in one pass, then the B sequences
    decode n_out steps with no prompt beside them and no sequence admitted until all finish; the run's
    output tokens over the prefill plus the n_out decode steps (at the mean context). Other rows keep the
    continuous-batching figures."""
    static = x.get("static_batching")
    if static is None or not np.any(static > 0):
        return tokens_per_s, step_s
    prefill, _, _ = _capped(x, c, token_step(x, c, np.zeros_like(batch), batch * n_pf, context, eta, inv),
                            inv.get("power"), False)
    run_s = prefill["step_s"] + x["output_tokens"] * decode_only["step_s"]
    on = static > 0
    return (np.where(on, batch * x["output_tokens"] / run_s, tokens_per_s),
            np.where(on, decode_only["step_s"], step_s))


ROW_FEATURES = frozenset({"compute_flops", "half_flops", "idle_w", "tdp_w", "engine_max_sequences",
                          "engine_step_tokens", "chunked_prefill"})
"""The model and GPU features evaluate reads row by row (beside the per-row columns: tp, pp, tokens, batch,
...) when its inputs carry runs (planner.core.runs): every other one it reads once per run, in
configuration_terms. Lean block inputs (planner.core.inputs) spread only these over the rows;
tests/test_core_runs.py checks that evaluate reads no other."""

ROW_COEFFICIENTS = frozenset({"eta_compute", "seq_overhead_s", "step_overhead_s"})
"""The coefficients evaluate reads row by row when its inputs carry runs (as ROW_FEATURES)."""


def evaluate(x: Arrays, c: Arrays) -> Arrays:
    """Estimate every configuration in ``x`` with coefficients ``c``.

    ``x`` holds model/GPU features (planner.core.features), ``tp``, ``pp``, ``weight_bytes``,
    ``compute_flops``, ``input_tokens``, ``output_tokens``, ``batch_size`` (NaN = offline: the
    largest batch that fits memory, capped at the engine maximum) and optionally
    ``prefill_chunk_tokens`` (the engine's token budget per step, decode tokens included; NaN or
    absent = the engine default), ``power_limit_w`` and ``cached_prompt_share`` (the prompt share a
    prefix cache serves; absent = 0).
    """
    n_in, n_out = x["input_tokens"], x["output_tokens"]
    context = n_in + n_out / 2.0
    inv = per_run(configuration_terms, x, c)  # once per run of rows sharing a configuration, when x has runs
    inv.update(context_invariants(x, inv, context))
    inv["memo"] = {}  # the steps below share their batch arrays (_decode_terms, _sequence_work)
    mem = memory(x, inv)
    # prompt tokens the steps compute: a prefix-cache hit skips its share of the prompt (at least the
    # last token is computed); the KV cache still holds the whole prompt
    cached = x.get("cached_prompt_share")
    n_pf = n_in if cached is None else np.maximum(n_in * (1.0 - cached), 1.0)
    offline = np.isnan(x["batch_size"])
    _, dp = parallel(x)
    cap_per_rank, step_tokens = engine_defaults(x)
    cap = cap_per_rank * dp  # the engine cap holds per data-parallel rank
    batch: np.ndarray = np.maximum(np.where(offline, np.minimum(mem["max_batch_size"], cap), x["batch_size"]), 1.0)
    # Steady state: B n_in / n_out prompt tokens per step; more than the room stalls decodes.
    # Budget, room and prompt tokens per step are a data-parallel rank's (each rank schedules its own).
    rank_batch = _over(batch, dp)
    prefill_per_step = rank_batch * n_pf / n_out
    budget = step_budget(x, step_tokens, rank_batch, prefill_per_step)
    # prefill tokens a step can carry beside its decodes (a whole prompt where the engine does not chunk)
    room = prompt_room(x, np.maximum(budget - rank_batch, 1.0), n_pf)
    eta = compute_efficiency(x, c)
    inv["rates"] = (eta, *inv["rates"][1:])  # configuration_terms' rates, with this eta (stage_work checks it)

    carried = _times(np.minimum(prefill_per_step, room), dp)
    mean, power, mean_dyn = _capped(x, c, token_step(x, c, batch, carried, context, eta, inv), inv["power"])
    stall = np.maximum(prefill_per_step / room, 1.0)

    # A step that carries prompt tokens holds a whole prompt (or the room, if smaller), the others
    # none: the mean step is the share-weighted mix of the two (step time is convex in the prompt
    # tokens, so it is longer than a step carrying the mean). ITL quantiles are mixed steps once
    # enough steps carry one.
    mixed_tokens = np.minimum(room, np.maximum(n_pf, prefill_per_step))
    decode_only, decode_w = capped_step(x, c, token_step(x, c, batch, np.zeros_like(batch), context, eta, inv), inv)
    mixed_replica = _times(mixed_tokens, dp)  # the replica's prompt tokens in a mixed step (every rank carries one)
    mixed, burst = capped_step(x, c, token_step(x, c, batch, mixed_replica, context, eta, inv), inv)
    share = np.clip(prefill_per_step / mixed_tokens, 0.0, 1.0)
    step_s = mean["step_s"] * stall
    tokens_per_s = batch / step_s
    loaded_step_s = (share * mixed["step_s"] + (1.0 - share) * decode_only["step_s"]) * stall
    extra = mixed["step_s"] - decode_only["step_s"]
    itl_p95 = np.maximum(step_s, decode_only["step_s"] + extra * np.clip(share / 0.05, 0.0, 1.0))
    itl_p99 = np.maximum(itl_p95, decode_only["step_s"] + extra * np.clip(share / 0.01, 0.0, 1.0))

    tokens_per_s, step_s = static_batching(x, c, batch, n_pf, context, eta, inv, decode_only, tokens_per_s, step_s)

    # TTFT without queueing: the prompt goes through in chunks of the room beside the other
    # batch - 1 sequences' decodes (its own sequence does not decode yet), the last chunk at its size.
    ttft = prefill_time_s(x, c, np.maximum(batch - 1.0, 0.0), budget, n_pf, context, eta, inv)

    n_gpu = _times(inv["tp_pp"], dp)
    fits = mem["fits_memory"]
    causes, figures = power_outputs(x, c, mean, power, burst, n_gpu, tokens_per_s, inv["power"], mean_dyn)
    # a prompt's energy: what the mixed step costs beyond the decode-only step, per prompt token carried
    decode_j = decode_w * decode_only["step_s"]  # J per GPU of a decode-only step
    prompt_j = np.maximum(burst * mixed["step_s"] - decode_j, 0.0) * n_gpu
    return {
        **phase_flops(x, n_pf, context, inv),
        "prefill_energy_j": prompt_j / mixed_replica * n_pf,
        "decode_energy_per_token_j": decode_j * n_gpu / batch,
        **causes,
        "fits_memory": fits,
        "weights_per_gpu_bytes": mem["weights_per_gpu_bytes"],
        "memory_per_gpu_bytes": (mem["weights_per_gpu_bytes"] + fixed("runtime_reserve_bytes")
                                 + rank_batch * mem["kv_bytes_per_sequence"]),
        "kv_bytes_per_token_per_gpu": mem["kv_bytes_per_token_per_gpu"],
        "kv_capacity_tokens": mem["kv_capacity_tokens"],
        "max_batch_size": mem["max_batch_size"],
        "batch_size": batch,
        "batch_fits_memory": fits & (batch <= mem["max_batch_size"]),
        "prefill_chunk_tokens": budget,
        "prefill_room_tokens": room,  # prompt tokens a step carries beside its decodes, per data-parallel rank
        "ttft_s": ttft,
        "itl_s": step_s,
        "itl_p95_s": itl_p95,
        "itl_p99_s": itl_p99,
        "mixed_step_s": mixed["step_s"],
        "decode_step_s": decode_only["step_s"],
        "loaded_step_s": loaded_step_s,
        "prefill_tokens_per_mixed_step": mixed_replica,
        **figures,
    }
