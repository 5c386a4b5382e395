"""Disaggregated prefill/decode serving: one prefill-pool replica and one decode-pool replica, pure and vectorized.

Built from the core's own step model (planner.core.model), nothing fitted of its own:

* **Prefill replica**: runs prompts only, in chunks of its step token budget ``prefill_chunk_tokens``
  (no decode tokens beside them), so a saturated step carries a full budget of prompt tokens and the
  replica computes ``budget / step(budget)`` prompt tokens per second; its saturated rate in prompts/s
  divides that by the computed prompt length. A prompt alone takes ``prefill_time_s`` with nothing
  decoding. Its KV cache then goes to a decode replica: ``kv_transfer_s`` = the prompt's KV bytes
  (every layer, every head) over the prefill replica's scale-out links (the server's NIC line rate per
  GPU, ``x["scale_out_bytes_per_s_per_gpu"]``: the rail layout of DGX/HGX servers gives each GPU its
  own NIC) plus a fixed setup latency and the fabric's one-way latency (``x["scale_out_latency_s"]``);
  not overlapped with the prefill (an upper bound: engines that send layer by layer hide most of it).
  Always over the scale-out network: a prefill and a decode replica in one server would use NVLink
  (faster), but the program does not place replicas, so the server-to-server path is the bound.
* **Decode replica**: every step decodes its whole batch over each sequence's full context (prompt
  KV included) and carries no prompt chunk: the core's ``evaluate`` with the whole prompt served
  from cache (``cached_prompt_share`` = 1: the KV is there, only the one last token is computed, as
  the first token from the prefill pool is ingested). Its ITL has no prefill interference.

Arrays in, arrays out (``x``: planner.core.inputs.build_inputs features; ``c``: coefficients); no file,
no queueing (planner.candidates.queueing adds that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from planner.core.constants import Constant
from planner.core.model import (
    compute_efficiency,
    evaluate,
    gpu_power,
    memory,
    parallel,
    phase_flops,
    prefill_time_s,
    step_invariants,
    token_step,
)
from planner.units import BITS_PER_BYTE

Arrays = dict[str, Any]

SCALE_OUT_BYTES_PER_S_PER_GPU = Constant(
    "scale_out_bytes_per_s_per_gpu", 50e9, 12.5e9, 100e9, "B/s",
    "NVIDIA DGX H100 user guide: 8 x ConnectX-7 400 Gb/s (50 GB/s) compute-fabric ports, one per GPU (rail "
    "layout); HGX B200 the same 8 x 400 Gb/s; 100 Gb/s Ethernet PCIe servers at the low end. The FALLBACK for "
    "a server without a catalog `scale_out` block: a catalog server's own figure (server.scale_out."
    "gbit_per_s_per_gpu) is used where it has one")
KV_TRANSFER_EFFICIENCY = Constant(
    "kv_transfer_efficiency", 0.8, 0.5, 0.95, "1",
    "ESTIMATE: share of the line rate a one-sided RDMA write of many KV blocks reaches (large-message RDMA "
    "reaches 90-95 % of line rate in perftest; block gathers and scheduling lose more); no measurement in "
    "../shared/data")
KV_TRANSFER_SETUP_S = Constant(
    "kv_transfer_setup_s", 2e-3, 0.2e-3, 10e-3, "s",
    "ESTIMATE: per-request handshake of a KV transfer (the decode side allocates blocks, the prefill side "
    "posts the writes and is told they landed: a few network round trips plus two scheduler iterations of "
    "about a millisecond); order of magnitude, no measurement in ../shared/data. The fabric's one-way latency "
    "(server.scale_out.latency_us, or scale_out_latency_s) is added to it")
SCALE_OUT_LATENCY_S = Constant(
    "scale_out_latency_s", 5e-6, 1e-6, 50e-6, "s",
    "ESTIMATE: one-way latency of one RDMA message between servers through a leaf switch (InfiniBand 1-3 us, "
    "RoCE 2-10 us, TCP Ethernet or cloud networks 10-50 us); the FALLBACK for a server without a catalog "
    "`scale_out` block (server.scale_out.latency_us otherwise)")
CONSTANTS = (SCALE_OUT_BYTES_PER_S_PER_GPU, SCALE_OUT_LATENCY_S, KV_TRANSFER_EFFICIENCY, KV_TRANSFER_SETUP_S)


def scale_out_bytes_per_s(bits_per_s: np.ndarray | float) -> np.ndarray | float:
    """A NIC line rate in bits/s as bytes/s (the catalog gives Gb/s per GPU; the core works in bytes)."""
    return bits_per_s / BITS_PER_BYTE


def computed_prompt_tokens(x: Arrays) -> np.ndarray:
    """Prompt tokens a replica computes: the share a prefix cache serves skips compute (at least one token)."""
    cached = x.get("cached_prompt_share")
    n_in = x["input_tokens"]
    return n_in if cached is None else np.maximum(n_in * (1.0 - cached), 1.0)


def kv_transfer_s(x: Arrays, prompt_tokens: np.ndarray, link_bytes_per_s: np.ndarray | float | None = None,
                  latency_s: np.ndarray | float | None = None) -> np.ndarray:
    """Time to send a prompt's KV cache (every layer and head of the model, at the KV dtype) from a
    prefill replica to a decode replica: over the prefill replica's GPUs' scale-out links
    (``link_bytes_per_s`` per GPU; default SCALE_OUT_BYTES_PER_S_PER_GPU) at KV_TRANSFER_EFFICIENCY,
    plus KV_TRANSFER_SETUP_S and the fabric's one-way ``latency_s`` (default SCALE_OUT_LATENCY_S)."""
    _, dp = parallel(x)
    gpus = x["tp"] * x["pp"] * dp
    per_gpu = SCALE_OUT_BYTES_PER_S_PER_GPU.value if link_bytes_per_s is None else link_bytes_per_s
    latency = SCALE_OUT_LATENCY_S.value if latency_s is None else latency_s
    kv_bytes = x["kv_bytes_per_token"] * x["kv_scale"] * prompt_tokens
    return kv_bytes / (gpus * per_gpu * KV_TRANSFER_EFFICIENCY.value) + KV_TRANSFER_SETUP_S.value + latency


def prefill_replica(x: Arrays, c: Arrays) -> Arrays:
    """One prefill-pool replica per row of ``x`` (``prefill_chunk_tokens``: its step budget;
    ``input_tokens``: the prompt): prompt time alone, its saturated rate, the KV transfer, memory and power.

    Returns ``ttft_s`` (prefill alone plus the KV transfer), ``prefill_s``, ``kv_transfer_s``,
    ``step_s`` (one step carrying a full budget), ``service_s`` (one prompt's share of saturated steps:
    the M/D/1 service time), ``requests_per_s`` (saturated prompts/s), ``fits_memory`` (weights, one
    budget of activations' KV and the whole prompt's KV fit), ``power_per_gpu_w`` and ``power_total_w``
    (saturated), ``idle_total_w``, ``prefill_flops`` and ``prefill_energy_j`` (one prompt), ``num_gpus``.
    """
    _, dp = parallel(x)
    n_pf = computed_prompt_tokens(x)
    budget = x["prefill_chunk_tokens"]
    zero = np.zeros_like(budget)
    context = x["input_tokens"]
    inv = step_invariants(x, c, context)
    eta = compute_efficiency(x, c)
    alone = prefill_time_s(x, c, zero, budget, n_pf, context, eta, inv)
    full = prefill_time_s(x, c, zero, budget, budget, context, eta, inv)  # one step of a whole budget, re-timed
    # per GPU, at most the limit (the step is timed at TDP: an upper bound where a limit binds)
    power = gpu_power(x, c, token_step(x, c, zero, budget * dp, context, eta, inv))
    tokens_per_s = budget * dp / full
    mem = memory(x)
    n_gpu = x["tp"] * x["pp"] * dp
    transfer = kv_transfer_s(x, x["input_tokens"], x.get("scale_out_bytes_per_s_per_gpu"), x.get("scale_out_latency_s"))
    return {
        "ttft_s": alone + transfer, "prefill_s": alone, "kv_transfer_s": transfer, "step_s": full,
        "service_s": n_pf / tokens_per_s, "requests_per_s": tokens_per_s / n_pf,
        "fits_memory": mem["kv_capacity_tokens"] >= x["input_tokens"] + budget,
        "power_per_gpu_w": power, "power_total_w": power * n_gpu, "idle_total_w": x["idle_w"] * n_gpu,
        "prefill_flops": phase_flops(x, n_pf, context)["prefill_flops"],
        "prefill_energy_j": power * n_gpu * n_pf / tokens_per_s,
        "num_gpus": n_gpu,
    }


def decode_replica(x: Arrays, c: Arrays) -> Arrays:
    """One decode-pool replica per row of ``x``: the core's ``evaluate`` with the prompt's KV already
    in place (received from the prefill pool), so no step carries a prompt chunk; every output of
    ``evaluate`` (itl_s, itl_p95_s, decode_step_s, output_tokens_per_s, requests_per_s, max_batch_size,
    fits_memory, power_total_w, energy columns ...), with ``ttft_s`` the first decode step (the first
    token itself comes from the prefill pool)."""
    out = evaluate({**x, "cached_prompt_share": np.ones_like(x["input_tokens"])}, c)
    return {**out, "ttft_s": out["decode_step_s"]}
