"""A deployment's launch spec: the engine command of one replica with the plan's choices as flags.

Pure: a Deployment and its catalog entries in, a Launch out (no file, no catalog lookup). The plan
builder writes it into plan.json; `planner export` renders it as a script or Kubernetes manifests.

What each flag carries (names and their sources: planner.export.engines):
- TP, PP (and EP when the deployment has one) -> the engine's parallelism flags;
- batch_size -> most sequences in one batch; prefill_chunk_tokens -> the step token budget;
- precision -> the checkpoint (a catalog alias already quantized to it when there is one), else the
  engine's on-the-fly fp8 quantization, and the KV-cache dtype the estimate assumed
  (planner.core.constants.ENGINES: vLLM and SGLang keep a 16-bit cache, TRT-LLM an fp8 one with fp8 or
  fp4 weights);
- power_limit_w below the GPU's TDP -> the vendor's power-limit command;
- speculative (method, draft model, tokens) -> vLLM's --speculative-config JSON, SGLang's
  --speculative-algorithm and draft flags, TRT-LLM's speculative_config in its options file.
Data parallelism is the deployment's replicas: independent servers behind a load balancer. Attention data
parallelism inside a replica (a deployment's ``dp`` > 1, MoE models) is the engine's own: vLLM
--data-parallel-size with per-rank limits, SGLang --enable-dp-attention with TP over every GPU and limits
for the whole replica, TRT-LLM enable_attention_dp (one GPU per rank) with per-rank limits.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from planner.core.constants import ENGINE_ALIASES, ENGINES
from planner.export.engines import (
    DTYPE_16BIT,
    EAGLE_HEAD_PLACEHOLDER,
    ENGINE_FLAGS,
    PORT,
    SPECULATIVE_FLAGS,
    TRTLLM_ATTENTION_DP,
    TRTLLM_OPTIONS_FILE,
    VENDORS,
    VLLM_SPECULATIVE_FLAG,
    EngineFlags,
    Vendor,
)
from planner.schemas.catalog import GpuSpec, ModelSpec
from planner.schemas.plan import ConfigFile, Deployment, Launch

QUANTIZED_MARKERS: dict[str, frozenset[str]] = {
    "fp8": frozenset({"fp8"}), "int8": frozenset({"int8", "w8a8"}),
    "int4": frozenset({"int4", "awq", "gptq", "w4a16"}), "fp4": frozenset({"fp4", "nvfp4", "mxfp4"})}
"""Words of a Hugging Face repo id that mark a checkpoint quantized to a precision (Qwen3-32B-FP8, ...-AWQ)."""
ANY_MARKER = frozenset().union(*QUANTIZED_MARKERS.values())
RAY_PORT = 6379
"""Port of the Ray head a multi-server vLLM replica joins (Ray's default GCS port)."""
SGLANG_DIST_PORT = 5000
"""Port of the first server of a multi-server SGLang replica (--dist-init-addr HOST:PORT)."""
LEADER_ADDRESS = "$(LWS_LEADER_ADDRESS)"
"""Placeholder for the first server's address (Kubernetes $(VAR) syntax; LeaderWorkerSet sets the variable)."""
WORKER_INDEX = "$(LWS_WORKER_INDEX)"
"""Placeholder for a server's rank within its replica (LeaderWorkerSet sets it; the script takes it as an argument)."""


def _words(repo_id: str) -> set[str]:
    return set(re.split(r"[-_/.]", repo_id.lower()))


def checkpoint(model: ModelSpec, precision: str) -> tuple[str, bool]:
    """(Hugging Face id, already quantized to ``precision``): the model's published checkpoint when it is
    in that precision, else an alias marked with it (Qwen/Qwen3-32B-FP8), else the first unquantized alias."""
    aliases = list(model.aliases) or [model.id]
    if precision == model.native_precision:
        return aliases[0], precision not in DTYPE_16BIT
    if precision in QUANTIZED_MARKERS:
        marked = [a for a in aliases if _words(a) & QUANTIZED_MARKERS[precision]]
        if marked:
            return marked[0], True
    plain = [a for a in aliases if not _words(a) & ANY_MARKER]
    return (plain or aliases)[0], False


def engine_name(d: Deployment) -> str:
    """The canonical engine of ``d`` (an ENGINE_FLAGS key when the plan names a known engine)."""
    return ENGINE_ALIASES.get(d.engine.lower(), d.engine.lower())



def _fp8_kv(engine: str, precision: str) -> bool:
    """The KV-cache dtype the estimate assumed (planner.core.inputs: fp8 only where the engine does so)."""
    return bool(ENGINES[engine]["kv_fp8_with_fp8_weights"]) and precision in ("fp8", "fp4")


def _expert_parallel(d: Deployment) -> int:
    return int(getattr(d, "ep", 1) or 1)


def _data_parallel(d: Deployment) -> int:
    return int(getattr(d, "dp", 1) or 1)


def engine_ranks(engine: str, d: Deployment) -> int:
    """Attention data-parallel ranks the engine runs for one replica: the deployment's dp, except TRT-LLM,
    whose attention DP makes every GPU of the replica a rank (attention DP size = its tensor_parallel_size)."""
    dp = _data_parallel(d)
    return d.tp * dp if dp > 1 and engine == "trt-llm" else dp


def scheduler_limits(engine: str, d: Deployment) -> tuple[int, int]:
    """(sequence cap, step token budget) in the engine's words: the deployment's batch is the replica's and
    its prefill_chunk_tokens a data-parallel rank's (planner.core.model). Per rank (vLLM, TRT-LLM) the
    replica's batch is split over the engine's ranks (rounded up) and the budget keeps the replica's total;
    SGLang takes both for the whole replica and divides them by --dp-size itself."""
    dp = _data_parallel(d)
    if dp == 1:
        return d.batch_size, d.prefill_chunk_tokens
    ranks = engine_ranks(engine, d)
    seqs = math.ceil(d.batch_size / ranks)
    budget = math.ceil(d.prefill_chunk_tokens * dp / ranks)
    return (seqs, budget) if ENGINE_FLAGS[engine].limits_per_rank else (seqs * ranks, budget * ranks)


def _parallel_args(f: EngineFlags, d: Deployment) -> list[str]:
    dp = _data_parallel(d)
    args = [f.tp, str(d.tp * dp if dp > 1 and f.tp_spans_dp else d.tp), f.pp, str(d.pp)]
    if dp > 1 and f.dp is not None:
        args += [f.dp, str(dp)]
    if dp > 1 and f.dp_switch is not None:
        args.append(f.dp_switch)
    ep = _expert_parallel(d)
    if ep > 1 and f.ep is not None:
        args += [f.ep, str(ep)]
    elif ep > 1 and f.ep_switch is not None:
        args.append(f.ep_switch)
    return args


def _batch_args(f: EngineFlags, engine: str, d: Deployment) -> list[str]:
    seqs, budget = scheduler_limits(engine, d)
    args = [f.max_sequences, str(seqs)]
    if d.prefill_chunk_tokens > 0:
        args += [f.batched_tokens, str(budget)]
    return args


def _precision_args(f: EngineFlags, engine: str, precision: str, quantized: bool) -> list[str]:
    args: list[str] = []
    if f.dtype is not None:
        args += [f.dtype, DTYPE_16BIT.get(precision, "auto")]
    if f.quantization is not None and precision == "fp8" and not quantized:
        args += [f.quantization, "fp8"]  # weights quantized to fp8 on load (both engines' online fp8)
    if f.kv_cache_dtype is not None:
        args += [f.kv_cache_dtype, "fp8" if _fp8_kv(engine, precision) else "auto"]
    return args


def _precision_notes(engine: str, model: ModelSpec, precision: str, model_id: str, quantized: bool) -> list[str]:
    if quantized or precision in DTYPE_16BIT:
        if precision in DTYPE_16BIT and model.native_precision not in DTYPE_16BIT:
            return [f"{model_id} is published in {model.native_precision}; a {precision} run needs a "
                    f"{precision} copy of it"]
        return []
    if precision == "fp8" and engine != "trt-llm":
        return []
    return [f"no {precision} checkpoint of {model.id} in the catalog's aliases: quantize {model_id} to "
            f"{precision} first and pass that checkpoint as the model"]


def _budget_notes(engine: str, d: Deployment) -> list[str]:
    # vllm/config/scheduler.py SchedulerConfig._verify_args: max_num_batched_tokens >= max_num_seqs
    seqs, budget = scheduler_limits(engine, d)
    if engine == "vllm" and 0 < budget < seqs:
        return [f"vLLM refuses a step token budget ({budget}) below max-num-seqs "
                f"({seqs}): raise --max-num-batched-tokens to {seqs} (the estimate assumed "
                f"{budget})"]
    return []


def _data_parallel_notes(engine: str, d: Deployment, nodes: int) -> list[str]:
    """Where the engine's data/expert-parallel layout differs from the one the estimate assumed."""
    dp, ep = _data_parallel(d), _expert_parallel(d)
    gpus = d.tp * d.pp * dp
    notes = []
    if engine == "vllm" and dp > 1 and ep != gpus:
        layout = f"expert parallel over all {gpus} GPUs" if ep > 1 else f"a tensor-parallel group of {gpus} GPUs"
        notes.append(f"vLLM runs the experts as {layout} (its EP size is TP x DP); the estimate assumed ep {ep}")
    if engine == "trt-llm" and dp > 1 and d.tp > 1:
        notes.append(f"TensorRT-LLM's attention DP runs {gpus} ranks of one GPU each, not {dp} ranks of tp "
                     f"{d.tp} as the estimate assumed; --max_batch_size and --max_num_tokens are per GPU rank")
    if dp > 1 and nodes > 1:
        notes.append(f"attention data parallelism across {nodes} servers: check the engine's multi-node "
                     "data-parallel flags (this spec writes a single-server layout's)")
    return notes


def _role(d: Deployment) -> str:
    return str(getattr(d, "role", "aggregated") or "aggregated")


def _role_args(engine: str, d: Deployment) -> list[str]:
    # SGLang server arguments, "PD disaggregation": --disaggregation-mode {null, prefill, decode}
    return ["--disaggregation-mode", _role(d)] if engine == "sglang" and _role(d) != "aggregated" else []


def _role_notes(engine: str, d: Deployment) -> list[str]:
    role = _role(d)
    if role == "aggregated":
        return []
    how = {"sglang": "--disaggregation-transfer-backend (mooncake by default)",
           "vllm": "--kv-transfer-config with a KV connector", "trt-llm": "TensorRT-LLM's disaggregated serving"}
    return [f"the {role} pool of disaggregated serving: set up the KV-cache transfer to the other pool "
            f"({how.get(engine, 'the engine')}) and a router that sends each request to both pools"]


def _drafter_id(d: Deployment, draft: ModelSpec | None) -> str | None:
    """The drafter checkpoint an engine loads: the draft model's first alias (method draft), a placeholder
    for an EAGLE head, none for MTP (the model's own module)."""
    spec = getattr(d, "speculative", None)
    if spec is None or spec.method == "mtp":
        return None
    if spec.method == "eagle":
        return EAGLE_HEAD_PLACEHOLDER
    if draft is not None:
        return checkpoint(draft, d.precision)[0]
    return str(spec.draft_model)


def _speculative_args(engine: str, d: Deployment, draft: ModelSpec | None) -> list[str]:
    spec = getattr(d, "speculative", None)
    if spec is None or engine == "trt-llm":  # TRT-LLM: speculative_config in its options file
        return []
    k, drafter = int(spec.tokens_or_default), _drafter_id(d, draft)
    name = SPECULATIVE_FLAGS[engine].methods[spec.method]
    if engine == "vllm":
        config: dict[str, Any] = {"method": name, "num_speculative_tokens": k}
        if drafter is not None:
            config["model"] = drafter
        return [VLLM_SPECULATIVE_FLAG, json.dumps(config, sort_keys=True, separators=(",", ":"))]
    args = ["--speculative-algorithm", name, "--speculative-num-steps", str(k), "--speculative-eagle-topk", "1",
            "--speculative-num-draft-tokens", str(k + 1)]
    return args + (["--speculative-draft-model-path", drafter] if drafter is not None else [])


def _speculative_options(d: Deployment, draft: ModelSpec | None) -> dict[str, Any]:
    spec = getattr(d, "speculative", None)
    if spec is None:
        return {}
    k, drafter = int(spec.tokens_or_default), _drafter_id(d, draft)
    name = SPECULATIVE_FLAGS["trt-llm"].methods[spec.method]
    config: dict[str, Any] = {"decoding_type": name}
    config.update({"num_nextn_predict_layers": k} if spec.method == "mtp" else {"max_draft_len": k})
    if drafter is not None:
        config["speculative_model_dir"] = drafter
    return {"speculative_config": config}


def _speculative_notes(d: Deployment) -> list[str]:
    spec = getattr(d, "speculative", None)
    if spec is None or spec.method != "eagle":
        return []
    return [f"replace {EAGLE_HEAD_PLACEHOLDER} with the EAGLE head trained for {d.model} (the catalog lists none)"]


def _trtllm_options(engine: str, precision: str, speculative: dict[str, Any] | None = None,
                    attention_dp: bool = False) -> list[ConfigFile]:
    if engine != "trt-llm":
        return []
    options: dict[str, Any] = {"kv_cache_config": {"dtype": "fp8" if _fp8_kv(engine, precision) else "auto"}}
    if attention_dp:
        options[TRTLLM_ATTENTION_DP] = True
    if precision in DTYPE_16BIT:
        options["dtype"] = DTYPE_16BIT[precision]
    options.update(speculative or {})
    return [ConfigFile(path=TRTLLM_OPTIONS_FILE, content=yaml.safe_dump(options, sort_keys=True))]


def _program(f: EngineFlags, engine: str, model_id: str) -> list[str]:
    words = [*f.program, *([f.model, model_id] if f.model else [model_id])]
    words += [f.host, "0.0.0.0", f.port, str(PORT)]
    if engine == "trt-llm":
        words += ["--backend", "pytorch", "--extra_llm_api_options", TRTLLM_OPTIONS_FILE]
    return words


def _nodes(d: Deployment, gpus_per_server: int) -> int:
    return max(1, math.ceil(d.tp * d.pp * _data_parallel(d) / max(gpus_per_server, 1)))


def _multi_node(engine: str, argv: list[str], nodes: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """(leader setup, leader argv, worker argv, notes) of a replica that spans ``nodes`` servers."""
    if nodes == 1:
        return [], argv, [], []
    if engine == "vllm":  # a Ray cluster across the servers; vLLM's multi-node serving (--distributed-executor-backend)
        return (["ray", "start", "--head", f"--port={RAY_PORT}"], [*argv, "--distributed-executor-backend", "ray"],
                ["ray", "start", f"--address={LEADER_ADDRESS}:{RAY_PORT}", "--block"], [])
    if engine == "sglang":
        dist = ["--nnodes", str(nodes), "--dist-init-addr", f"{LEADER_ADDRESS}:{SGLANG_DIST_PORT}"]
        return [], [*argv, *dist, "--node-rank", "0"], [*argv, *dist, "--node-rank", WORKER_INDEX], []
    return [], argv, [], [f"a replica spans {nodes} servers: TensorRT-LLM runs it under MPI across them, which "
                          "planner export does not write; launch it with your MPI or Slurm launcher"]


def _power_limit(vendor: Vendor, gpu: GpuSpec, power_limit_w: float | None) -> tuple[float | None, list[str]]:
    if power_limit_w is None or power_limit_w >= gpu.tdp_w:
        return None, []
    return power_limit_w, [*vendor.power_limit, str(math.floor(power_limit_w))]


def launch_for(d: Deployment, model: ModelSpec, gpu: GpuSpec, gpus_per_server: int,
               draft: ModelSpec | None = None) -> Launch:
    """The launch spec of one replica of ``d`` (its model's and GPU's catalog entries, the server's GPU count;
    ``draft``: the catalog entry of its speculative draft model, if it has one)."""
    engine = engine_name(d)
    f = ENGINE_FLAGS[engine]
    vendor = VENDORS.get(gpu.vendor, VENDORS["nvidia"])
    model_id, quantized = checkpoint(model, d.precision)
    argv = [*_program(f, engine, model_id), *_parallel_args(f, d), *_batch_args(f, engine, d),
            *_precision_args(f, engine, d.precision, quantized), *_role_args(engine, d),
            *_speculative_args(engine, d, draft)]
    nodes = _nodes(d, gpus_per_server)
    setup, leader, worker, multi_notes = _multi_node(engine, argv, nodes)
    limit_w, limit_argv = _power_limit(vendor, gpu, getattr(d, "power_limit_w", None))
    return Launch(engine=engine, model_id=model_id, argv=leader, leader_setup_argv=setup, worker_argv=worker,
                  config_files=_trtllm_options(engine, d.precision, _speculative_options(d, draft),
                                               _data_parallel(d) > 1),
                  gpus_per_replica=d.tp * d.pp * _data_parallel(d),
                  nodes_per_replica=nodes, gpu_resource=vendor.k8s_resource,
                  visible_devices_env=vendor.visible_devices_env, power_limit_w=limit_w,
                  power_limit_argv=limit_argv,
                  notes=[*_precision_notes(engine, model, d.precision, model_id, quantized),
                         *_budget_notes(engine, d), *_data_parallel_notes(engine, d, nodes),
                         *_role_notes(engine, d), *multi_notes,
                         *_speculative_notes(d)])
