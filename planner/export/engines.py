"""Each serving engine's command and flag names, with the documentation each name was checked against.

A plan says TP, PP, batch, token budget and precision in its own words; this table says which flag of
which engine carries each. Nothing here is guessed: every flag name below appears in the engine's own
documentation (``source``), checked on 2026-11-28; docs/export.md lists them as a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class EngineFlags:
    """Flag names of one engine (None: the engine has no flag for it; see the notes in launch.py)."""

    program: tuple[str, ...]
    """The words that start the server, before the model (vLLM: ``vllm serve``)."""
    model: str | None
    """Flag that names the model; None when the model is the first positional argument."""
    host: str
    port: str
    tp: str
    pp: str
    ep: str | None
    """Expert parallelism: a size flag (SGLang, TRT-LLM), or None when it is the switch ``ep_switch``."""
    ep_switch: str | None
    max_sequences: str
    """Most sequences (requests) in one batch: the plan's batch_size."""
    batched_tokens: str
    """Token budget of one engine step: the plan's prefill_chunk_tokens."""
    dtype: str | None
    quantization: str | None
    kv_cache_dtype: str | None
    source: str
    dp: str | None = None
    """Attention data-parallel ranks of a replica (vLLM --data-parallel-size, SGLang --dp-size; None: TRT-LLM,
    whose attention DP is the option ``enable_attention_dp`` in its options file)."""
    dp_switch: str | None = None
    """Switch that makes the data-parallel ranks share the experts (SGLang --enable-dp-attention)."""
    tp_spans_dp: bool = False
    """The TP size flag counts every GPU of the replica, data-parallel ranks included (SGLang, TRT-LLM)."""
    limits_per_rank: bool = True
    """Sequence cap and step token budget hold per data-parallel rank (vLLM, TRT-LLM); False: for the whole
    replica, divided over the ranks by the engine (SGLang)."""
    dp_source: str = ""


VLLM = EngineFlags(
    program=("vllm", "serve"), model=None, host="--host", port="--port",
    tp="--tensor-parallel-size", pp="--pipeline-parallel-size", ep=None, ep_switch="--enable-expert-parallel",
    max_sequences="--max-num-seqs", batched_tokens="--max-num-batched-tokens", dtype="--dtype",
    quantization="--quantization", kv_cache_dtype="--kv-cache-dtype",
    source=("vLLM engine arguments, https://docs.vllm.ai/en/v0.8.5/serving/engine_args.html (usage of `vllm serve`: "
            "--tensor-parallel-size, --pipeline-parallel-size, --max-num-seqs, --max-num-batched-tokens, --dtype "
            "{auto,half,float16,bfloat16}, --quantization, --kv-cache-dtype {auto,fp8,...}, "
            "--distributed-executor-backend {ray,mp,...}); expert parallelism: vllm/engine/arg_utils.py "
            "parallel group `--enable-expert-parallel` (EP size = TP x DP) and "
            "https://docs.vllm.ai/en/latest/serving/expert_parallel_deployment/"),
    dp="--data-parallel-size",
    dp_source=("vLLM data parallel deployment, https://docs.vllm.ai/en/latest/serving/data_parallel_deployment/ "
               "(--data-parallel-size; each DP rank is a separate core engine process with its own scheduler, so "
               "--max-num-seqs and --max-num-batched-tokens hold per rank; expert layers form a DP x TP group, "
               "expert parallel with --enable-expert-parallel)"))

SGLANG = EngineFlags(
    program=("python3", "-m", "sglang.launch_server"), model="--model-path", host="--host", port="--port",
    tp="--tp-size", pp="--pp-size", ep="--ep-size", ep_switch=None,
    max_sequences="--max-running-requests", batched_tokens="--chunked-prefill-size", dtype="--dtype",
    quantization="--quantization", kv_cache_dtype="--kv-cache-dtype",
    source=("SGLang server arguments, sgl-project/sglang docs/advanced_features/server_arguments.md "
            "(https://docs.sglang.io/advanced_features/server_arguments.html): --model-path, --host, --port, "
            "--tensor-parallel-size/--tp-size, --pipeline-parallel-size/--pp-size, --expert-parallel-size/--ep-size, "
            "--max-running-requests, --chunked-prefill-size, --dtype, --quantization (fp8 on a 16-bit checkpoint), "
            "--kv-cache-dtype {auto,fp8_e5m2,fp8_e4m3,bf16}; multi-node: --nnodes, --node-rank, --dist-init-addr"),
    dp="--dp-size", dp_switch="--enable-dp-attention", tp_spans_dp=True, limits_per_rank=False,
    dp_source=("SGLang DP attention, https://docs.sglang.io/docs/advanced_features/dp_dpa_smg_guide.md and "
               "https://docs.sglang.io/basic_usage/deepseek_v32.html (`--tp 8 --dp 8 --enable-dp-attention`: "
               "--tp-size counts every GPU, --dp-size the attention ranks); sglang/srt/server_args.py "
               "_handle_data_parallelism divides --chunked-prefill-size by dp_size under DP attention, and the "
               "scheduler divides --max-running-requests by dp_size (per_dp_max_running_requests): both are the "
               "replica's"))

TRTLLM = EngineFlags(
    program=("trtllm-serve",), model=None, host="--host", port="--port",
    tp="--tp_size", pp="--pp_size", ep="--ep_size", ep_switch=None,
    max_sequences="--max_batch_size", batched_tokens="--max_num_tokens", dtype=None, quantization=None,
    kv_cache_dtype=None,
    source=("trtllm-serve, https://nvidia.github.io/TensorRT-LLM/0.18.2/commands/trtllm-serve.html and "
            "https://nvidia.github.io/TensorRT-LLM/latest/commands/trtllm-serve.html: MODEL, --host, --port, "
            "--backend pytorch, --tp_size, --pp_size, --ep_size, --max_batch_size (most requests scheduled), "
            "--max_num_tokens (batched input tokens per step), --extra_llm_api_options FILE (LLM API options as "
            "YAML: kv_cache_config.dtype fp8, dtype)"),
    tp_spans_dp=True,
    dp_source=("TensorRT-LLM attention DP: `enable_attention_dp: true` in the options YAML with `--tp_size 8 "
               "--ep_size 8` (https://nvidia.github.io/TensorRT-LLM/examples/deepseek_r1_reasoning_parser.html); "
               "each attention-DP rank is one GPU (attention DP size = tensor_parallel_size) with its own executor, "
               "and --max_batch_size is that rank's cap (tensorrt_llm/_torch/pyexecutor/_util.py scheduler "
               "capacity max_batch_size x pp_size, no DP divisor; read in ai-dynamo/dynamo PR #11982)"))

ENGINE_FLAGS: Mapping[str, EngineFlags] = MappingProxyType({"vllm": VLLM, "sglang": SGLANG, "trt-llm": TRTLLM})
"""Flags per canonical engine name (planner.core.constants.ENGINES)."""

PORT = 8000
"""Port every exported server listens on (each engine's --port; vLLM's and trtllm-serve's default)."""

TRTLLM_OPTIONS_FILE = "extra-llm-api-options.yaml"
"""File TensorRT-LLM reads its KV-cache dtype from (--extra_llm_api_options), in the replica's working directory."""

TRTLLM_ATTENTION_DP = "enable_attention_dp"
"""TensorRT-LLM LLM API option (options file) that runs attention data parallel over the replica's GPUs."""

DTYPE_16BIT: Mapping[str, str] = MappingProxyType({"bf16": "bfloat16", "fp16": "float16"})
"""--dtype value of a 16-bit precision (vLLM and SGLang accept both spellings; auto otherwise)."""


@dataclass(frozen=True)
class Vendor:
    """How a GPU vendor's devices are requested, selected and power-limited."""

    k8s_resource: str
    visible_devices_env: str
    power_limit: tuple[str, ...]
    """Command that sets the power limit of every GPU of a server; the limit in watts follows it."""
    source: str


NVIDIA = Vendor(
    k8s_resource="nvidia.com/gpu", visible_devices_env="CUDA_VISIBLE_DEVICES", power_limit=("nvidia-smi", "-pl"),
    source=("nvidia-smi -pl/--power-limit W (with -i for a comma-separated list of GPUs): NVIDIA DGX B200 user "
            "guide, 'Managing Power Capping' (the nvidia-smi tool sets the power limit through the host); "
            "nvidia.com/gpu: NVIDIA Kubernetes device plugin resource name, as in vLLM's LWS example "
            "(vllm-project/vllm docs/deployment/frameworks/lws.md)"))
AMD = Vendor(
    k8s_resource="amd.com/gpu", visible_devices_env="ROCR_VISIBLE_DEVICES",
    power_limit=("amd-smi", "set", "--power-cap"),
    source=("amd-smi set --power-cap W [--gpu N]: AMD SMI CLI (ROCm amdsmi changelog and examples, "
            "'sudo amd-smi set --power-cap 300 --gpu 0'); ROCR_VISIBLE_DEVICES: ROCm 'GPU isolation techniques' "
            "(recommended on Linux); amd.com/gpu: AMD GPU device plugin for Kubernetes"))

VENDORS: Mapping[str, Vendor] = MappingProxyType({"nvidia": NVIDIA, "amd": AMD})


@dataclass(frozen=True)
class SpeculativeFlags:
    """How one engine is told to decode speculatively (planner method -> the engine's words)."""

    methods: Mapping[str, str]
    """planner method (draft, eagle, mtp) -> the engine's name for it."""
    source: str


VLLM_SPECULATIVE = SpeculativeFlags(
    methods=MappingProxyType({"draft": "draft_model", "eagle": "eagle", "mtp": "mtp"}),
    source=("vLLM speculative decoding, https://docs.vllm.ai/en/stable/features/speculative_decoding/mtp/ (`vllm serve "
            "... --speculative-config '{\"method\":\"mtp\",\"num_speculative_tokens\":1}'`), "
            "https://docs.vllm.ai/en/latest/features/speculative_decoding/eagle/ (speculative_config keys model, "
            "num_speculative_tokens, method \"eagle\"), https://docs.vllm.ai/en/v0.9.1/features/spec_decode.html "
            "(a draft model: keys model and num_speculative_tokens; vLLM names the method draft_model); the docs warn "
            "that speculative decoding does not run with pipeline parallelism"))
VLLM_SPECULATIVE_FLAG = "--speculative-config"

SGLANG_SPECULATIVE = SpeculativeFlags(
    methods=MappingProxyType({"draft": "STANDALONE", "eagle": "EAGLE", "mtp": "EAGLE"}),
    source=("SGLang speculative decoding, https://docs.sglang.io/docs/advanced_features/speculative_decoding: "
            "--speculative-algorithm {EAGLE, EAGLE3, STANDALONE, NGRAM} (STANDALONE: a smaller draft LLM; an "
            "MTP-enabled model runs MTP through the EAGLE path), --speculative-draft-model-path, "
            "--speculative-num-steps (drafting depth), --speculative-eagle-topk (branching; 1 = a chain), "
            "--speculative-num-draft-tokens (tokens verified: depth + 1 for a chain)"))

TRTLLM_SPECULATIVE = SpeculativeFlags(
    methods=MappingProxyType({"draft": "DraftTarget", "eagle": "Eagle", "mtp": "MTP"}),
    source=("TensorRT-LLM speculative decoding through --extra_llm_api_options YAML `speculative_config`: "
            "decoding_type MTP with num_nextn_predict_layers (NVIDIA/TensorRT-LLM DeepSeek-R1 benchmark configs; "
            "https://nvidia.github.io/TensorRT-LLM/1.0.0/examples/llm_speculative_decoding.html MTPDecodingConfig), "
            "decoding_type Eagle with max_draft_len and speculative_model_dir (EagleDecodingConfig in the same "
            "example), decoding_type DraftTarget with max_draft_len and speculative_model_dir (NVIDIA DGX Spark "
            "playbook nvidia/speculative-decoding, trtllm-serve with extra-llm-api-config.yml)"))

SPECULATIVE_FLAGS: Mapping[str, SpeculativeFlags] = MappingProxyType(
    {"vllm": VLLM_SPECULATIVE, "sglang": SGLANG_SPECULATIVE, "trt-llm": TRTLLM_SPECULATIVE})

EAGLE_HEAD_PLACEHOLDER = "EAGLE_HEAD_CHECKPOINT"
"""Stands for the EAGLE head's Hugging Face id or path in an exported command: the catalog has no EAGLE heads
(a head is trained for one model: e.g. yuhuili/EAGLE-LLaMA3.1-Instruct-8B for Llama-3.1-8B-Instruct)."""
