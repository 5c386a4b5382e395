"""Every constant of the estimation model, in one place, with its source and plausible range.

``COEFFICIENTS`` are the few numbers `planner calibrate` refits on measured data (bounded to their
plausible range); the shipped defaults come from ``planner/data/calibration.yaml``, produced by the
same command on the project's own measurements. ``FIXED`` constants are taken from the literature
and not refitted. Units are SI and appear in the names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Constant:
    name: str
    value: float
    low: float
    high: float
    unit: str
    source: str

    def __post_init__(self) -> None:
        if not (self.low <= self.value <= self.high):
            raise ValueError(f"{self.name}={self.value} outside its plausible range [{self.low}, {self.high}]")


# ---- Coefficients refitted by `planner calibrate` ---------------------------------------------
# The values here are the literature priors; the calibrated values live in the calibration file.
COEFFICIENTS: Mapping[str, Constant] = MappingProxyType({c.name: c for c in [
    Constant("eta_weight_bw", 0.80, 0.50, 0.95, "1",
             "share of HBM peak bandwidth achieved streaming weights in decode GEMMs; "
             "aiconfigurator mem_bw_empirical_scaling_factor 0.8, GenZ default 0.80, llm-analysis <= 0.9"),
    Constant("eta_kv_bw", 0.60, 0.20, 0.95, "1",
             "share of HBM peak bandwidth achieved by paged decode attention reading the KV cache; "
             "paged-attention kernels run below GEMM streaming efficiency (vLLM PagedAttention paper, 2023)"),
    Constant("eta_compute", 0.55, 0.20, 0.85, "1",
             "share of dense tensor peak achieved by serving GEMMs at large token counts; "
             "llm-analysis (cli99): inference <= 0.7; GenZ and aiconfigurator use 0.5-0.7 at large M"),
    Constant("step_overhead_s", 1.5e-3, 0.05e-3, 6e-3, "s",
             "fixed per-step time outside GPU kernels (scheduler, launch, sampling) in vLLM-class engines; "
             "vLLM v1 blog (2025) reports CPU overhead of a few ms per step before CUDA graphs/async scheduling; "
             "the floor is a CUDA-graph replay with the host's work overlapped on the previous step "
             "(TensorRT-LLM overlap scheduler, vLLM async scheduling): tens of microseconds"),
    Constant("seq_overhead_s", 50e-6, 0.0, 100e-6, "s",
             "per-sequence per-step time not covered by the rooflines (scheduler bookkeeping, input "
             "preparation, sampling, MoE token permutation, the front-end's detokenizing and streaming): "
             "100 us per sequence in vLLM 0.5 ('when BS is 200, all this together can be 20ms', vllm issue "
             "#6801), about half left after vLLM 0.6 moved output processing off the step (blog.vllm.ai "
             "2024-09-05: 1.8-2.7x throughput); counted over the whole replica, as vLLM's data-parallel "
             "ranks share one front-end process"),
    Constant("quantized_bw_factor", 0.80, 0.35, 1.00, "1",
             "bandwidth efficiency of sub-16-bit (fp8/int8/int4/fp4) weight streaming relative to "
             "16-bit: small-M quantized GEMMs also (de)quantize activations or weights per layer; "
             "vLLM fp8 decode runs below the 16-bit roofline (ML.ENERGY v3 H100 405B-FP8 rows)"),
    Constant("fp8_compute_factor", 0.7, 0.4, 1.0, "1",
             "share of eta_compute that native sub-16-bit tensor math (fp8, int8, fp4 on a GPU with that path) "
             "reaches of its own dense peak: the activations are quantized per token before every GEMM and the "
             "scales applied after it, at the same memory and shared-memory bandwidth; vLLM's FP8 GEMM "
             "benchmark (vllm-project/vllm PR #19566, Llama shapes, per-token activation quantization "
             "included) reaches 0.46-0.70 of twice the BF16 throughput at 256-1024 tokens, 0.62-0.85 with "
             "the quantization step left out"),
    Constant("comm_latency_factor", 1.0, 0.5, 4.0, "1",
             "multiplier on the catalog's per-message interconnect latency for tensor-parallel "
             "all-reduce in serving (rank skew and synchronization add to the link latency; "
             "llm-analysis 8 us, aiconfigurator 10 us, custom all-reduce 5-20 us)"),
    Constant("moe_dispatch_latency_s", 10e-6, 0.0, 150e-6, "s",
             "per MoE layer and step under expert parallelism (ep > 1), latency of each all-to-all, dispatch "
             "and combine, on top of the link's message latency (token permutation, the exchange's "
             "synchronization); all-to-all is latency-bound at decode sizes (DeepEP/pplx-kernels report tens "
             "of microseconds per dispatch). Experts sliced by tensor parallelism (ep = 1) exchange nothing "
             "beyond the layer's two all-reduces, so they take no such term"),
    Constant("power_active_share", 0.30, 0.0, 0.6, "1",
             "share of (TDP - idle) a serving GPU draws at its boost clock before any byte moved or FLOP "
             "done (clock tree, instruction issue, register files, non-tensor SM work), over the whole "
             "step; GenZ (Bambhaniya et al. 2024) default static power share 30 %"),
    Constant("memory_energy_scale", 1.0, 0.4, 2.0, "1",
             "multiplier on the published energy per bit of the GPU's memory technology plus its on-chip "
             "path to the SMs (MEMORY_ENERGY + onchip_movement_j_per_bit: ~10 pJ/bit for HBM3); "
             "0.5-2 spans the published device figures (HBM2 3.9, HBM2E 6.0, GDDR6 7.5 pJ/bit) and "
             "on-die movement (Borkar & Chien 2011)"),
    Constant("compute_energy_share", 1.0, 0.3, 2.0, "1",
             "energy per FLOP as a share of (TDP - idle) / dense tensor peak of the precision used: vendors "
             "rate the dense peak at boost clock within TDP, so tensor math at its peak draws about the "
             "whole dynamic budget (1.0); above 1 the power limit binds before the peak, as on H100 SXM "
             "(saturated prefill runs at TDP below boost clock, WattGPU); gives ~0.64 pJ/FLOP for H100 "
             "BF16, ~0.32 for FP8, ~1.1 for A100 FP16"),
    Constant("sm_work_share", 0.5, 0.0, 1.0, "1",
             "share of (TDP - idle) drawn while the SMs run the per-sequence work outside the rooflines "
             "(sampling over the vocabulary, norms, rotary, attention setup: CUDA-core kernels that keep "
             "every SM busy without the tensor cores)"),
]})

# ---- Fixed constants (literature; not refitted) ------------------------------------------------
FIXED: Mapping[str, Constant] = MappingProxyType({c.name: c for c in [
    Constant("onchip_movement_j_per_bit", 4e-12, 2e-12, 8e-12, "J/bit",
             "moving a DRAM bit from the memory PHY through L2 and the crossbar into shared memory and "
             "registers: ~0.1-0.3 pJ/bit/mm on-die (Borkar & Chien, CACM 2011, Fig. 11) over 10-20 mm, plus "
             "the L2 and shared-memory SRAM accesses (Keckler et al., IEEE Micro 2011)"),
    Constant("link_energy_j_per_bit", 10e-12, 1.3e-12, 30e-12, "J/bit",
             "energy per bit a GPU sends to a tensor-parallel peer: SerDes at both ends, switch, and the "
             "staging reads and writes; NVLink-C2C 1.3 pJ/bit (NVIDIA Grace Hopper whitepaper) is the "
             "on-package floor, off-package NVLink and PCIe Gen5 SerDes with retimers run ~5-20 pJ/bit"),
    Constant("default_memory_energy_j_per_bit", 6.0e-12, 3.9e-12, 7.5e-12, "J/bit",
             "device energy per bit when a GPU's catalog entry names no memory technology: the HBM2E/HBM3 "
             "figure (MEMORY_ENERGY)"),
    Constant("pcie_allreduce_efficiency", 0.45, 0.3, 0.7, "1",
             "all-reduce bus bandwidth over PCIe peers (no NVLink) as a share of the link's per-direction "
             "figure: 8 x RTX 5090 on PCIe Gen5 (64 GB/s) reach 28 GB/s bus bandwidth, 4 GPUs 35 GB/s "
             "(NVIDIA/nccl issue #1639; maintainer: PCIe all-reduce is bound by what the CPU and its memory "
             "deliver); ring all-reduce on 8 PCIe RTX 4090 likewise far below the link (nccl issue #1530)"),
    Constant("gpu_memory_utilization", 0.90, 0.70, 0.98, "1",
             "share of GPU memory the engine may use; vLLM default gpu_memory_utilization 0.9"),
    Constant("runtime_reserve_bytes", 3.0e9, 0.5e9, 8.0e9, "B",
             "activations, CUDA graphs, NCCL buffers per GPU; NCCL ~0.4 GB + other 0.5-3.5 GB (aiconfigurator)"),
    Constant("max_batch_size", 1024, 256, 4096, "sequences",
             "cap on concurrent sequences of the offline operating point where no engine profile is given "
             "(build_inputs(engines=...) takes each engine's own, catalogs/engines.yaml); vLLM max_num_seqs "
             "is 256-1024 by default, TRT-LLM max_batch_size 2048"),
    Constant("prefill_chunk_tokens", 8192, 512, 16384, "tokens",
             "engine default token budget per step, decode tokens included, where no engine profile is "
             "given (else the engine's own by GPU tier, catalogs/engines.yaml) (vLLM V1 "
             "max_num_batched_tokens 8192 for serving on large GPUs; TRT-LLM max_num_tokens 8192); "
             "planner solve also tries smaller budgets, the knob that trades TTFT for ITL tails"),
    Constant("min_prefill_room_tokens", 256, 64, 2048, "tokens",
             "with the default budget, room kept for prompt tokens beside a large batch (engines "
             "raise the budget with max_num_seqs)"),
    Constant("gemm_roofline_sharpness", 1.5, 1.0, 20.0, "1",
             "p of the p-norm that joins the memory and compute rooflines (1 = the two add, no overlap; large "
             "p = hard max); engineering choice: serving GEMMs and attention near the ridge point reach "
             "neither bound (at the ridge p = 1.5 gives 63 % of each peak). Refitted freely on the project's "
             "measurements p falls to ~1.1 with eta_compute at its ceiling; 1.5 (was 4) keeps every fitted "
             "coefficient inside its range, and was picked after comparing p = 1 to 4 on the leave-one-GPU-out "
             "folds (not a clean hold-out for this one choice)"),
    Constant("weight_only_compute_factor", 0.70, 0.30, 1.00, "1",
             "compute throughput of weight-only quantized GEMMs relative to the 16-bit path "
             "(dequantization in the inner loop); Marlin/AWQ kernels lose 20-50 % at large batch "
             "(aiconfigurator per-quantization util levels: w4a16/fp8 ~ 0.17 at large batch)"),
    Constant("planning_utilization_max", 0.85, 0.5, 0.95, "1",
             "highest share of a replica's saturated request rate the plan loads it to; queueing "
             "delay grows without bound as utilization nears 1 (capacity-planning practice: 70-90 %)"),
    Constant("server_overhead_w_per_gpu", 150.0, 75.0, 300.0, "W",
             "average non-GPU server power per GPU when the server's nameplate does not tell more; "
             "~1.2 kW per 8-GPU node (EcoLogits methodology, Boavizta server model)"),
    Constant("server_nongpu_share", 0.30, 0.15, 0.50, "1",
             "average non-GPU draw (CPUs, memory, NICs, fans, PSU loss) as a share of the server's "
             "non-GPU nameplate headroom (max power - GPUs x TDP); gives 172 W/GPU on a DGX H100, "
             "consistent with ~150 W/GPU (EcoLogits/Boavizta) and 53 W/GPU on an 8 x L4 2U box"),
    Constant("server_overhead_min_w_per_gpu", 30.0, 10.0, 100.0, "W",
             "floor of the non-GPU share per GPU (a host always draws something)"),
    Constant("wait_tail_factor", 3.0, 2.0, 4.6, "1",
             "p95 / mean of the prefill queue wait; ln(20) = 3.0 for an exponential tail (M/D/1 waits "
             "are lighter-tailed, M/M/1 exactly exponential)"),
    Constant("default_input_tokens", 256, 64, 2048, "tokens",
             "prompt length assumed for ML.ENERGY v3 chat rows whose inputs were not published "
             "(../shared/data/README.md)"),
]})

# ---- Memory technologies ----------------------------------------------------------------------
# Device energy per bit read or written (DRAM core, TSVs/package and interface), by technology; the
# on-chip path to the SMs (onchip_movement_j_per_bit) comes on top and memory_energy_scale is fitted.
MEMORY_ENERGY: Mapping[str, Constant] = MappingProxyType({c.name: c for c in [
    Constant("hbm2", 3.9e-12, 3.0e-12, 6.0e-12, "J/bit",
             "O'Connor et al., Fine-Grained DRAM, MICRO 2017 (NVIDIA): HBM2 ~3.9 pJ/bit incl. row activation, "
             "on-die movement and I/O"),
    Constant("hbm2e", 6.0e-12, 3.9e-12, 8.0e-12, "J/bit",
             "Micron ultra-bandwidth memory comparison (micron.com/products/ultra-bandwidth-solutions): "
             "HBM2E average device power 6.0 pJ/bit"),
    Constant("hbm3", 6.0e-12, 3.9e-12, 9.0e-12, "J/bit",
             "no vendor pJ/bit published; JEDEC HBM3 lowers core and I/O voltages against HBM2E while raising "
             "the pin rate 1.8x: taken equal to HBM2E (Micron 6.0), secondary sources give 7-9 for HBM3E"),
    Constant("hbm3e", 6.0e-12, 3.9e-12, 9.0e-12, "J/bit",
             "as HBM3 (vendors claim HBM3E lowers energy per bit further; Patsnap HBM4 review: HBM3E ~7-9 "
             "pJ/bit at the system level)"),
    Constant("gddr6", 7.5e-12, 6.0e-12, 10.0e-12, "J/bit",
             "Micron ultra-bandwidth memory comparison: GDDR6 average device power 7.5 pJ/bit"),
    Constant("gddr6x", 7.25e-12, 6.0e-12, 10.0e-12, "J/bit",
             "Micron ultra-bandwidth memory comparison: GDDR6X average device power 7.25 pJ/bit"),
]})

# ---- Precision formats -------------------------------------------------------------------------
# bytes per weight, including quantization scales; source: GPTQ/AWQ group-128 scales (int4 + scales
# 0.53-0.56 B), OCP MX spec (MXFP4: 4 bits + 8-bit scale per 32 = 4.25 bits), NVFP4 (4 bits + fp8
# scale per 16 = 4.5 bits).
WEIGHT_BYTES: Mapping[str, float] = MappingProxyType({"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
                                                    "int4": 0.5625, "fp4": 0.5625})
# Embedding and lm_head matrices stay 16-bit under weight quantization (GPTQ/AWQ/FP8 recipes
# leave them unquantized).
VOCAB_BYTES = 2.0
# Under DVFS dynamic power ~ f^2.5, so clocks scale as (power ratio)^0.4 (Horowitz et al., and
# the cube-law approximation P ~ f^3 in power-capping literature, bracket 0.33-0.5).
DVFS_EXPONENT = 0.4
# KV cache kept in 16-bit (vLLM kv_cache_dtype="auto"); activations exchanged in 16-bit.
KV_BYTES = 2.0

# Serving engines. Coefficients are calibrated per engine where measurements cover it
# (calibration file `per_engine`); kv_fp8_with_fp8_weights: the engine's FP8 checkpoints also
# quantize the KV cache (NVIDIA ModelOpt FP8 checkpoints for TRT-LLM carry FP8 KV scales;
# vLLM keeps kv_cache_dtype="auto", i.e. 16-bit, unless told otherwise).
ENGINES: Mapping[str, Mapping[str, bool]] = MappingProxyType({
    "vllm": MappingProxyType({"kv_fp8_with_fp8_weights": False}),
    "sglang": MappingProxyType({"kv_fp8_with_fp8_weights": False}),
    "trt-llm": MappingProxyType({"kv_fp8_with_fp8_weights": True}),
})
ENGINE_ALIASES: Mapping[str, str] = MappingProxyType({
    "vllm": "vllm", "sglang": "sglang", "trt-llm": "trt-llm", "trtllm": "trt-llm", "tensorrt-llm": "trt-llm",
    "trt_llm": "trt-llm"})
DEFAULT_ENGINE = "vllm"
ACTIVATION_BYTES = 2.0


def coefficient_defaults() -> dict[str, float]:
    return {k: c.value for k, c in COEFFICIENTS.items()}


def fixed(name: str) -> float:
    return FIXED[name].value


def server_overhead_w_per_gpu(server_max_power_w: float, gpus_per_server: int, gpu_tdp_w: float) -> float:
    """Average non-GPU server power attributed to each GPU, from the server's own nameplate."""
    headroom = (server_max_power_w - gpus_per_server * gpu_tdp_w) / gpus_per_server
    if headroom <= 0:
        return fixed("server_overhead_w_per_gpu")
    return max(fixed("server_overhead_min_w_per_gpu"), fixed("server_nongpu_share") * headroom)
