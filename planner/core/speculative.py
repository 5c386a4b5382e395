"""Speculative decoding, vectorized: a drafter proposes k tokens per sequence, the model verifies them
in one step (Leviathan et al. 2023, arXiv 2211.17192). Pure (arrays in, arrays out), built on the
public step functions of planner.core.model; the output has the keys of ``evaluate`` so candidate
generation, the queueing model and planner.estimate take it unchanged.

Per cycle every sequence in flight
* runs the drafter k times (``draft``: a smaller model on the same GPUs, tensor-parallel like the
  model; ``eagle``: a head of about one decoder layer of the model plus its lm_head; ``mtp``: the
  model's own multi-token-prediction layer plus the shared lm_head), the first pass also carrying the
  prompt tokens of the step (the drafter keeps its own KV cache of the prompt);
* carries k + 1 tokens through the model in one verify step: the weights are read once, the GEMM and
  attention FLOPs grow k + 1 times, the KV cache of each sequence is read once for its k + 1 queries;
* advances E = (1 - a^(k+1)) / (1 - a) tokens on average, for an i.i.d. acceptance rate a.

Time figures are per output token (cycle / E), so ITL, throughput and the queueing model's hold
times count tokens, not cycles: a stream still arrives in bursts, one cycle apart. Memory adds the
drafter's weights (a head shares the model's embedding and lm_head) and its KV cache. Power is the
core's power model over the whole cycle. Unvalidated: no measured speculative data (docs/speculative.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from planner.core.constants import fixed
from planner.core.model import (
    capped_step,
    compute_efficiency,
    effective_context,
    engine_defaults,
    kv_bytes_per_token_per_gpu,
    memory,
    phase_flops,
    power_outputs,
    power_terms,
    prompt_room,
    step_budget,
    step_invariants,
    token_step,
    weight_bytes_total,
)

Arrays = dict[str, Any]
SPECULATIVE_METHODS = ("draft", "eagle", "mtp")
_STEP_SUMS = ("time_s", "kernel_time_s", "comm_time_s", "bytes", "flops", "attn_flops", "link_bytes", "step_s",
              "busy_s", "bytes_per_gpu", "flops_per_gpu", "attn_flops_per_gpu", "link_bytes_per_gpu", "seq_work_s")


def expected_tokens(acceptance_rate: Any, tokens: Any) -> np.ndarray:
    """E = (1 - a^(k+1)) / (1 - a): tokens a sequence advances per verify step under i.i.d. acceptance
    (k + 1 at a = 1, 1 at a = 0)."""
    a = np.asarray(acceptance_rate, dtype=float)
    k = np.asarray(tokens, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 - a ** (k + 1.0)) / (1.0 - a)
    return np.where(a >= 1.0, k + 1.0, e)


def head_features(x: Mapping[str, Any], dense: bool) -> Arrays:
    """Model features of one average decoder layer of ``x`` plus its (shared) lm_head: an EAGLE head
    (``dense``: its FFN is a dense layer of the model's active width) or an MTP module (the model's own
    layer, MoE included). The embedding and lm_head are the model's (vocabulary features unchanged)."""
    layers = x["layers"]
    vocab = x["params_vocab"]
    moe = x["params_routed"] > 0
    dense_layer = (x["params_dense"] - vocab) / layers
    routed_layer = np.where(moe, x["params_routed"] / np.maximum(x["moe_layers"], 1.0), 0.0)
    active_layer = (x["params_active"] - vocab) / layers
    if dense:
        dense_layer, routed_layer, moe = active_layer, np.zeros_like(active_layer), np.zeros_like(moe)
    return {"layers": np.ones_like(layers), "params_dense": dense_layer + vocab, "params_routed": routed_layer,
            "params_total": dense_layer + routed_layer + vocab, "params_active": active_layer + vocab,
            "moe_layers": np.where(moe, 1.0, 0.0), "kv_bytes_per_token": x["kv_bytes_per_token"] / layers}


def drafter_weight_bytes(x: Mapping[str, Any], xd: Arrays, method: str) -> np.ndarray:
    """Bytes of drafter weights per GPU (tensor-parallel like the model): a draft model's own weights; a
    head's layer only (its embedding and lm_head are the model's)."""
    if method == "draft":
        return weight_bytes_total(xd) / x["tp"]
    return (xd["params_total"] - xd["params_vocab"]) * xd["weight_bytes"] / x["tp"]


def _add(a: Mapping[str, Any], b: Mapping[str, Any], times: Any = 1.0) -> Arrays:
    return {k: a[k] + times * b[k] for k in _STEP_SUMS}


class _Cycle:
    """One speculative cycle's pieces for a configuration set (verify step and drafter steps)."""

    def __init__(self, x: Arrays, xd: Arrays, c: Arrays, tokens: float, batch: np.ndarray, context: np.ndarray,
                 eta: Any) -> None:
        self.x, self.xd, self.c, self.k, self.batch, self.context, self.eta = x, xd, c, tokens, batch, context, eta
        inv = step_invariants(x, c, context)
        # k + 1 queries of a sequence share one read of its KV cache
        self.inv = {**inv, "decode_kv_bytes": inv["decode_kv_bytes"] / (tokens + 1.0), "power": power_terms(x, c)}
        self.inv_d = step_invariants(xd, c, context)
        # the engine schedules, launches and samples once per cycle: the drafter's passes run inside
        # the cycle's step (CUDA graphs in vLLM and SGLang), so the per-step overhead is counted once
        self.c_d = {**c, "step_overhead_s": 0.0 * c["step_overhead_s"]}

    def step(self, prompt_tokens: np.ndarray, batch: np.ndarray | None = None) -> Arrays:
        """Verify step plus k drafter passes of ``batch`` sequences (default: the cycle's), ``prompt_tokens``
        riding along in both models; re-timed and powered under the power limit as one step. Returns the
        step and its power per GPU (``power_w``)."""
        x, xd, c, k = self.x, self.xd, self.c, self.k
        b = self.batch if batch is None else batch
        verify = token_step(x, c, b * (k + 1.0), prompt_tokens, self.context, self.eta, self.inv)
        first = token_step(xd, self.c_d, b, prompt_tokens, self.context, self.eta, self.inv_d)
        rest = token_step(xd, self.c_d, b, np.zeros_like(b), self.context, self.eta, self.inv_d)
        cycle = _add(_add(verify, first), rest, k - 1.0)
        timed, power = capped_step(x, c, cycle, self.inv)  # the model's power terms, computed once
        return {**timed, "power_w": power}

    def prompt_time_s(self, decoding: np.ndarray, budget: np.ndarray, n_in: np.ndarray) -> np.ndarray:
        """TTFT without queueing: the prompt in chunks of the room left by ``decoding`` sequences' k + 1
        verify tokens, each chunk a whole cycle (both models process it)."""
        room = prompt_room(self.x, np.maximum(budget - decoding * (self.k + 1.0), 1.0), n_in)
        full = np.floor(n_in / room)
        rest = n_in - full * room
        chunk = self.step(np.minimum(room, n_in), decoding)["step_s"]
        last = self.step(rest, decoding)["step_s"]
        return np.where(n_in >= room, full * chunk, 0.0) + np.where(rest > 0, last, 0.0)


def drafter(x: Arrays, method: str, draft_features: Mapping[str, Any] | None = None) -> Arrays:
    """The drafter's feature arrays: the model's GPU, precision and parallelism with the draft model's
    (``draft``) or the head's (``eagle``, ``mtp``) model features."""
    if method not in SPECULATIVE_METHODS:
        raise ValueError(f"unknown speculative method {method!r}: one of {', '.join(SPECULATIVE_METHODS)}")
    if method == "draft":
        if draft_features is None:
            raise ValueError("method draft needs the draft model's features")
        return {**x, **{k: np.broadcast_to(np.asarray(v, dtype=float), np.shape(x["tp"])) for k, v in
                        draft_features.items()}}
    return {**x, **head_features(x, dense=method == "eagle")}


def speculative_evaluate(x: Arrays, c: Arrays, *, method: str, tokens: int, acceptance_rate: float,
                         draft_features: Mapping[str, Any] | None = None) -> Arrays:
    """``evaluate`` with speculative decoding: same inputs and output keys (planner.core.model.evaluate),
    time figures per output token, memory with the drafter's weights and KV cache, plus
    ``expected_tokens_per_step`` and ``speculative_cycle_s`` (one verify cycle: the gap between bursts)."""
    xd = drafter(x, method, draft_features)
    k = float(tokens)
    e = expected_tokens(acceptance_rate, k) * np.ones_like(x["tp"])
    mem = _memory(x, xd, method)
    n_in, n_out = x["input_tokens"], x["output_tokens"]
    cached = x.get("cached_prompt_share")
    n_pf = n_in if cached is None else np.maximum(n_in * (1.0 - cached), 1.0)
    offline = np.isnan(x["batch_size"])
    cap, step_tokens = engine_defaults(x)
    batch = np.maximum(np.where(offline, np.minimum(mem["max_batch_size"], cap), x["batch_size"]), 1.0)
    verify_tokens = batch * (k + 1.0)
    prefill_per_cycle = batch * n_pf * e / n_out  # prompt tokens admitted per cycle in steady state
    budget = step_budget(x, step_tokens, verify_tokens, prefill_per_cycle)
    room = prompt_room(x, np.maximum(budget - verify_tokens, 1.0), n_pf)
    context = n_in + n_out / 2.0
    eta = compute_efficiency(x, c)
    cyc = _Cycle(x, xd, c, k, batch, context, eta)

    mean = cyc.step(np.minimum(prefill_per_cycle, room))
    stall = np.maximum(prefill_per_cycle / room, 1.0)
    mixed_tokens = np.minimum(room, np.maximum(n_pf, prefill_per_cycle))
    decode_only, mixed = cyc.step(np.zeros_like(batch)), cyc.step(mixed_tokens)
    share = np.clip(prefill_per_cycle / mixed_tokens, 0.0, 1.0)
    cycle_s = mean["step_s"] * stall
    step_s = cycle_s / e  # per output token
    extra = mixed["step_s"] - decode_only["step_s"]
    itl_p95 = np.maximum(step_s, (decode_only["step_s"] + extra * np.clip(share / 0.05, 0.0, 1.0)) / e)
    itl_p99 = np.maximum(itl_p95, (decode_only["step_s"] + extra * np.clip(share / 0.01, 0.0, 1.0)) / e)
    ttft = cyc.prompt_time_s(np.maximum(batch - 1.0, 0.0), budget, n_pf)
    return _outputs(x, c, mem, batch, budget, e, n_pf, context,
                    {"mean": mean, "decode_only": decode_only, "mixed": mixed, "share": share, "stall": stall,
                     "cycle_s": cycle_s, "step_s": step_s, "itl_p95": itl_p95, "itl_p99": itl_p99, "ttft": ttft,
                     "mixed_tokens": mixed_tokens, "room": room})


def _memory(x: Arrays, xd: Arrays, method: str) -> Arrays:
    """memory() of the model with the drafter's weights and per-sequence KV cache added."""
    mem = memory(x)
    free = mem["kv_capacity_tokens"] * mem["kv_bytes_per_token_per_gpu"]  # max(free, 0) of memory()
    draft_weights = drafter_weight_bytes(x, xd, method)
    draft_kv_tok = kv_bytes_per_token_per_gpu(xd)
    ctx = x["input_tokens"] + x["output_tokens"]
    per_seq = mem["kv_bytes_per_sequence"] + draft_kv_tok * effective_context(ctx, xd)
    free = np.maximum(free - draft_weights, 0.0)
    max_batch = np.floor(free / per_seq)
    return {**mem, "draft_weights_per_gpu_bytes": draft_weights, "kv_bytes_per_sequence": per_seq,
            "kv_bytes_per_token_per_gpu": mem["kv_bytes_per_token_per_gpu"] + draft_kv_tok,
            "kv_capacity_tokens": free / (mem["kv_bytes_per_token_per_gpu"] + draft_kv_tok),
            "max_batch_size": max_batch, "fits_memory": max_batch >= 1}


def _outputs(x: Arrays, c: Arrays, mem: Arrays, batch: np.ndarray, budget: np.ndarray, e: np.ndarray,
             n_pf: np.ndarray, context: np.ndarray, t: Mapping[str, Any]) -> Arrays:
    mean, decode_only, mixed = t["mean"], t["decode_only"], t["mixed"]
    power, decode_w, burst = mean["power_w"], decode_only["power_w"], mixed["power_w"]
    n_gpu = x["tp"] * x["pp"]
    tokens_per_s = batch / t["step_s"]
    causes, figures = power_outputs(x, c, mean, power, burst, n_gpu, tokens_per_s)
    prompt_j = np.maximum(burst * mixed["step_s"] - decode_w * decode_only["step_s"], 0.0) * n_gpu
    flops = phase_flops(x, n_pf, context)
    weights = mem["weights_per_gpu_bytes"] + mem["draft_weights_per_gpu_bytes"]
    return {
        "prefill_flops": flops["prefill_flops"],
        # the cycle's FLOPs (verify of k + 1 tokens, the drafter's passes) per accepted token
        "decode_flops_per_token": (decode_only["flops_per_gpu"] + decode_only["attn_flops_per_gpu"]) * n_gpu
        / (batch * e),
        "prefill_energy_j": prompt_j / t["mixed_tokens"] * n_pf,
        "decode_energy_per_token_j": decode_w * decode_only["step_s"] * n_gpu / (batch * e),
        **causes,
        "fits_memory": mem["fits_memory"],
        "weights_per_gpu_bytes": weights,
        "memory_per_gpu_bytes": weights + fixed("runtime_reserve_bytes") + batch * mem["kv_bytes_per_sequence"],
        "kv_bytes_per_token_per_gpu": mem["kv_bytes_per_token_per_gpu"],
        "kv_capacity_tokens": mem["kv_capacity_tokens"],
        "max_batch_size": mem["max_batch_size"],
        "batch_size": batch,
        "batch_fits_memory": mem["fits_memory"] & (batch <= mem["max_batch_size"]),
        "prefill_chunk_tokens": budget,
        "prefill_room_tokens": t["room"],  # prompt tokens a cycle carries beside its sequences' verify tokens
        "ttft_s": t["ttft"],
        "itl_s": t["step_s"],
        "itl_p95_s": t["itl_p95"],
        "itl_p99_s": t["itl_p99"],
        # per output token, so the queueing model's hold and prefill service times stay exact:
        # a mixed cycle carries mixed_tokens prompt tokens while each sequence advances e tokens
        "mixed_step_s": mixed["step_s"] / e,
        "decode_step_s": decode_only["step_s"] / e,
        "loaded_step_s": (t["share"] * mixed["step_s"] + (1.0 - t["share"]) * decode_only["step_s"]) * t["stall"] / e,
        "prefill_tokens_per_mixed_step": t["mixed_tokens"] / e,
        **figures,
        "expected_tokens_per_step": e,
        "speculative_cycle_s": t["cycle_s"],
        "draft_weights_per_gpu_bytes": mem["draft_weights_per_gpu_bytes"],
    }


def estimate_speculative(x: Arrays, spec: Any, draft: Any = None) -> Arrays:
    """The core's estimate of prepared inputs ``x`` (planner.core.inputs.build_inputs) with speculative
    decoding ``spec`` (a planner.schemas.speculative.Speculative; defaults filled here) and, for method
    draft, the draft model's catalog spec. ``spec`` None: the plain estimate."""
    from planner.core.features import model_features
    from planner.core.model import evaluate

    if spec is None:
        return evaluate(x, x["coefficients"])
    s = spec.resolved()
    features = model_features(draft) if draft is not None else None
    return speculative_evaluate(x, x["coefficients"], method=s.method, tokens=int(s.tokens),
                                acceptance_rate=float(s.acceptance_rate), draft_features=features)
