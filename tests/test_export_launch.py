"""Launch specs and Kubernetes manifests of plans (planner.export): the engine flags carry the plan's
TP, PP, batch, token budget and precision; the manifests are Kubernetes objects whose replicas and GPU
requests are the plan's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_catalog
from planner.core.constants import ENGINES
from planner.errors import InputError, PlanFileError
from planner.export.engines import ENGINE_FLAGS, PORT, TRTLLM_OPTIONS_FILE
from planner.export.k8s import manifests, render_k8s
from planner.export.launch import checkpoint, launch_for
from planner.export.names import MAX_NAME_CHARS, deployment_names
from planner.export.rows import launch_rows
from planner.plan import read_plan
from planner.schemas.plan import Deployment, Launch, Plan

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "plans").glob("*/plan.json"))
CATALOG = load_catalog()
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def _plan(path: Path) -> Plan:
    return read_plan(path).plan


def _value(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, f"{flag} appears {argv.count(flag)} times in {argv}"
    return argv[argv.index(flag) + 1]


def _launch(d: Deployment, gpus_per_server: int = 8) -> Launch:
    return launch_for(d, CATALOG.model(d.model), CATALOG.gpu(d.gpu), gpus_per_server)


def _chatbot() -> Deployment:
    return _plan(ROOT / "plans/chatbot/plan.json").deployments[0]


def test_there_are_committed_plans() -> None:
    assert len(PLANS) >= 5


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.parent.name)
def test_flags_carry_the_plans_choices(path: Path) -> None:
    for _, d, launch in launch_rows(_plan(path), CATALOG, str(path)):
        f = ENGINE_FLAGS[launch.engine]
        argv = launch.argv
        if (d.dp or 1) == 1:  # data-parallel flags: test_*_data_parallel_* below
            assert _value(argv, f.tp) == str(d.tp) and _value(argv, f.pp) == str(d.pp)
            assert _value(argv, f.max_sequences) == str(d.batch_size)
            assert _value(argv, f.batched_tokens) == str(d.prefill_chunk_tokens)
        assert _value(argv, f.port) == str(PORT)
        assert launch.model_id in CATALOG.model(d.model).aliases
        assert launch.gpus_per_replica * d.replicas == d.gpus
        fp8_kv = ENGINES[launch.engine]["kv_fp8_with_fp8_weights"] and d.precision in ("fp8", "fp4")
        if f.kv_cache_dtype is not None:  # the KV-cache dtype the estimate assumed
            assert _value(argv, f.kv_cache_dtype) == ("fp8" if fp8_kv else "auto")


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.parent.name)
def test_k8s_objects_request_the_plans_gpus(path: Path) -> None:
    plan = _plan(path)
    rows = launch_rows(plan, CATALOG, str(path))
    docs = list(yaml.safe_load_all(render_k8s(rows, {}, "plan")))
    workloads = [o for o in docs if o["kind"] in ("Deployment", "LeaderWorkerSet")]
    assert len(workloads) == len(plan.deployments)
    for obj, (name, d, launch) in zip(workloads, rows, strict=True):
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(obj) and obj["metadata"]["name"] == name
        assert obj["spec"]["replicas"] == d.replicas
        if obj["kind"] == "LeaderWorkerSet":  # a replica over several servers: one pod per server
            group = obj["spec"]["leaderWorkerTemplate"]
            assert obj["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and group["size"] == launch.nodes_per_replica
            pods = [group["leaderTemplate"], group["workerTemplate"]]
        else:
            assert obj["apiVersion"] == "apps/v1" and launch.nodes_per_replica == 1
            pods = [obj["spec"]["template"]]
            labels = pods[0]["metadata"]["labels"]
            assert labels == obj["spec"]["selector"]["matchLabels"] | labels
        for pod in pods:
            (container,) = pod["spec"]["containers"]
            gpus = container["resources"]["requests"][launch.gpu_resource]
            per_pod = d.tp * d.pp // launch.nodes_per_replica
            assert gpus == container["resources"]["limits"][launch.gpu_resource] == per_pod
            assert gpus * launch.nodes_per_replica * obj["spec"]["replicas"] == d.gpus
        (leader,) = pods[0]["spec"]["containers"]
        if launch.nodes_per_replica == 1:
            assert [*leader["command"], *leader["args"]] == launch.argv
        else:  # the leader starts the cluster, then execs the engine command itself
            assert leader["args"][-1].endswith("exec " + " ".join(launch.argv))
        assert launch.model_id in " ".join(leader["args"])


def test_names_are_unique_dns_labels_even_from_hostile_workload_names() -> None:
    d = _chatbot()
    ds = [d.model_copy(update={"workload": w}) for w in ("Chat Bot!", "chat-bot", "x" * 200, "\"; rm -rf / #")]
    ds.append(ds[0].model_copy(update={"batch_size": 7}))
    names = deployment_names(ds)
    assert len(set(names)) == len(names)
    assert all(DNS_LABEL.match(n) and len(n) <= MAX_NAME_CHARS for n in names)


def test_a_replica_that_spans_servers_is_a_leader_worker_set() -> None:
    for engine in ("vllm", "sglang"):
        d = _chatbot().model_copy(update={"tp": 8, "pp": 2, "gpus": 16 * 6, "engine": engine})
        launch = _launch(d)
        assert launch.nodes_per_replica == 2 and launch.worker_argv
        (obj,) = manifests([("big", d, launch)], {})
        assert obj["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and obj["kind"] == "LeaderWorkerSet"
        template = obj["spec"]["leaderWorkerTemplate"]
        assert template["size"] == 2 and obj["spec"]["replicas"] == d.replicas
        for role in ("leaderTemplate", "workerTemplate"):
            (container,) = template[role]["spec"]["containers"]
            assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
        assert "$(LWS_LEADER_ADDRESS)" in " ".join(launch.worker_argv)


def test_trtllm_sets_its_kv_cache_dtype_in_an_options_file() -> None:
    d = _chatbot().model_copy(update={"engine": "trt-llm"})
    launch = _launch(d)
    assert launch.argv[0] == "trtllm-serve" and _value(launch.argv, "--max_batch_size") == str(d.batch_size)
    assert _value(launch.argv, "--max_num_tokens") == str(d.prefill_chunk_tokens)
    assert _value(launch.argv, "--extra_llm_api_options") == TRTLLM_OPTIONS_FILE
    (options,) = launch.config_files
    assert yaml.safe_load(options.content)["kv_cache_config"]["dtype"] == "fp8"  # fp8 weights: fp8 cache
    docs = manifests([("t", d, launch)], {})
    assert [o["kind"] for o in docs] == ["ConfigMap", "Deployment"]
    assert docs[0]["data"] == {TRTLLM_OPTIONS_FILE: options.content}


def test_sglang_flags() -> None:
    d = _chatbot().model_copy(update={"engine": "sglang", "precision": "bf16", "tp": 2})
    argv = _launch(d).argv
    assert argv[:3] == ["python3", "-m", "sglang.launch_server"]
    assert _value(argv, "--model-path") == "meta-llama/Llama-3.3-70B-Instruct"
    assert _value(argv, "--tp-size") == "2" and _value(argv, "--max-running-requests") == str(d.batch_size)
    assert _value(argv, "--chunked-prefill-size") == str(d.prefill_chunk_tokens)
    assert _value(argv, "--dtype") == "bfloat16" and "--quantization" not in argv


def test_power_limit_below_tdp_gets_the_vendors_command() -> None:
    d = _chatbot()
    tdp = CATALOG.gpu(d.gpu).tdp_w
    assert _launch(d).power_limit_argv == [] and _launch(d).power_limit_w is None
    assert _launch(d.model_copy(update={"power_limit_w": tdp})).power_limit_argv == []
    limited = _launch(d.model_copy(update={"power_limit_w": 0.7 * tdp}))
    assert limited.power_limit_w == pytest.approx(0.7 * tdp)
    assert limited.power_limit_argv == ["nvidia-smi", "-pl", str(int(0.7 * tdp))]
    amd = d.model_copy(update={"gpu": "mi300x", "power_limit_w": 600.0})
    assert _launch(amd).power_limit_argv == ["amd-smi", "set", "--power-cap", "600"]
    obj = manifests([("p", d, limited)], {})[0]
    assert obj["metadata"]["annotations"]["planner/power-limit-w"] == f"{0.7 * tdp:g}"


def test_checkpoint_follows_the_precision() -> None:
    llama = CATALOG.model("llama-3.3-70b")
    assert checkpoint(llama, "fp8") == ("nvidia/Llama-3.3-70B-Instruct-FP8", True)
    assert checkpoint(llama, "bf16") == ("meta-llama/Llama-3.3-70B-Instruct", False)
    assert checkpoint(CATALOG.model("qwen2.5-7b"), "int4") == ("Qwen/Qwen2.5-7B-Instruct-AWQ", True)
    assert checkpoint(CATALOG.model("gpt-oss-120b"), "fp4") == ("openai/gpt-oss-120b", True)
    mistral = _chatbot().model_copy(update={"model": "mistral-7b", "precision": "fp8"})
    launch = _launch(mistral)  # no fp8 checkpoint: vLLM quantizes the 16-bit one on load
    assert _value(launch.argv, "--quantization") == "fp8" and launch.notes == []
    int8 = _launch(mistral.model_copy(update={"precision": "int8"}))
    assert "--quantization" not in int8.argv and "quantize" in int8.notes[0]


def test_vllm_budget_below_the_batch_is_stated() -> None:
    d = _chatbot().model_copy(update={"batch_size": 1024, "prefill_chunk_tokens": 512})
    assert any("max-num-seqs" in n for n in _launch(d).notes)


def test_a_plan_without_launch_specs_needs_the_catalog() -> None:
    solved = _plan(ROOT / "plans/chatbot/plan.json")  # as written before deployments carried launch specs:
    plain = [d.model_copy(update={"launch": None}) for d in solved.deployments]
    plan = solved.model_copy(update={"deployments": plain})
    with pytest.raises(PlanFileError, match=r"deployments\[0\]\.launch"):
        launch_rows(plan, None, "plan.json")
    d = plan.deployments[0]
    stored = plan.model_copy(update={"deployments": [d.model_copy(update={"launch": _launch(d)})]})
    assert launch_rows(stored, None, "plan.json")[0][2] == _launch(d)


def test_k8s_without_an_image_for_the_engine_says_so() -> None:
    d = _chatbot().model_copy(update={"engine": "sglang", "gpu": "mi300x"})
    with pytest.raises(InputError, match="--image sglang="):
        manifests([("s", d, _launch(d))], {})
    assert manifests([("s", d, _launch(d))], {"sglang": "my/sglang:rocm"})[0]["kind"] == "Deployment"


def test_a_disaggregated_pool_says_its_role() -> None:
    d = _chatbot().model_copy(update={"engine": "sglang", "role": "prefill"})
    launch = _launch(d)
    assert _value(launch.argv, "--disaggregation-mode") == "prefill"
    assert any("prefill pool" in n for n in launch.notes)
    vllm = _launch(d.model_copy(update={"engine": "vllm", "role": "decode"}))
    assert "--disaggregation-mode" not in vllm.argv and any("--kv-transfer-config" in n for n in vllm.notes)
    names = deployment_names([d, d.model_copy(update={"role": "decode"})])
    assert names == ["chat-prefill-b200-fp8-tp1", "chat-decode-b200-fp8-tp1"]


def _moe_dp(engine: str) -> Deployment:
    """A MoE replica of 8 GPUs: 4 attention data-parallel ranks of tp 2, the experts over all 8 GPUs."""
    return _chatbot().model_copy(update={"engine": engine, "model": "qwen3-235b-a22b", "tp": 2, "pp": 1, "dp": 4,
                                         "ep": 8, "batch_size": 250, "prefill_chunk_tokens": 2048,
                                         "gpus": 8 * 3, "replicas": 3, "precision": "fp8"})


def test_vllm_data_parallel_limits_are_per_rank() -> None:
    d = _moe_dp("vllm")
    launch = _launch(d)
    argv = launch.argv
    assert _value(argv, "--tensor-parallel-size") == "2" and _value(argv, "--data-parallel-size") == "4"
    assert "--enable-expert-parallel" in argv  # EP = TP x DP = 8 = the deployment's ep
    assert _value(argv, "--max-num-seqs") == "63"  # ceil(250 / 4): each DP rank is its own engine core
    assert _value(argv, "--max-num-batched-tokens") == "2048"  # the core's budget is already a rank's
    assert launch.gpus_per_replica == 8 and launch.nodes_per_replica == 1 and launch.notes == []
    # an ep that is not TP x DP is not what vLLM runs: said
    assert any("EP size is TP x DP" in n for n in _launch(d.model_copy(update={"ep": 4})).notes)


def test_sglang_data_parallel_attention_flags_are_the_replicas() -> None:
    argv = _launch(_moe_dp("sglang")).argv
    assert _value(argv, "--tp-size") == "8" and _value(argv, "--dp-size") == "4" and "--enable-dp-attention" in argv
    assert _value(argv, "--ep-size") == "8"
    # SGLang divides both by --dp-size: the replica's totals, the cap a multiple of dp
    assert _value(argv, "--max-running-requests") == str(63 * 4)
    assert _value(argv, "--chunked-prefill-size") == str(2048 * 4)


def test_trtllm_attention_dp_is_an_option_and_its_ranks_are_gpus() -> None:
    d = _moe_dp("trt-llm")
    launch = _launch(d)
    assert _value(launch.argv, "--tp_size") == "8" and _value(launch.argv, "--ep_size") == "8"
    (options,) = launch.config_files
    assert yaml.safe_load(options.content)["enable_attention_dp"] is True
    # 8 one-GPU ranks: 250 sequences -> 32 per rank, the replica's 4 x 2048 tokens -> 1024 per rank; a note says so
    assert _value(launch.argv, "--max_batch_size") == "32" and _value(launch.argv, "--max_num_tokens") == "1024"
    assert any("8 ranks of one GPU" in n for n in launch.notes)
    tp1 = _launch(d.model_copy(update={"tp": 1, "dp": 8, "batch_size": 256}))
    assert _value(tp1.argv, "--max_batch_size") == "32" and _value(tp1.argv, "--max_num_tokens") == "2048"
    assert tp1.notes == [] and "enable_attention_dp" not in _launch(_chatbot().model_copy(
        update={"engine": "trt-llm"})).config_files[0].content


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trt-llm"])
def test_check_rederives_a_data_parallel_launch(engine: str) -> None:
    from types import SimpleNamespace

    from planner.gitops.rederive_serving import launch_claims

    d = _moe_dp(engine)
    ctx = SimpleNamespace(catalog=CATALOG, gpus={d.gpu: SimpleNamespace(spec=CATALOG.gpu(d.gpu), gpus_per_server=8)})
    assert launch_claims(d.model_copy(update={"launch": _launch(d)}), ctx) == []  # type: ignore[arg-type]
    stale = _launch(d.model_copy(update={"dp": None, "ep": None, "tp": 8}))
    assert launch_claims(d.model_copy(update={"launch": stale}), ctx)  # type: ignore[arg-type]
