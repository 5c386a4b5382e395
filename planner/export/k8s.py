"""A plan as Kubernetes manifests: one Deployment per deployment whose replica fits a server, one
LeaderWorkerSet (leaderworkerset.x-k8s.io/v1) per deployment whose replica spans servers.

Each pod requests its GPUs as the vendor's extended resource (nvidia.com/gpu, amd.com/gpu), runs the
launch spec's command, reads HF_TOKEN from the optional Secret ``hf-token`` and mounts /dev/shm in
memory (SGLang's and vLLM's Kubernetes examples do). A TRT-LLM options file becomes a ConfigMap
mounted as the working directory. A GPU power limit cannot be set from an unprivileged pod: the
manifest states it as the annotation ``planner/power-limit-w`` and the script's command sets it on the
nodes. LeaderWorkerSet layout and $(LWS_LEADER_ADDRESS): vLLM's LWS guide
(vllm-project/vllm docs/deployment/frameworks/lws.md) and https://lws.sigs.k8s.io.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from planner.errors import InputError
from planner.export.engines import PORT
from planner.schemas.plan import Deployment, Launch

IMAGES: Mapping[tuple[str, str], str] = {
    ("vllm", "nvidia.com/gpu"): "docker.io/vllm/vllm-openai:latest",
    ("vllm", "amd.com/gpu"): "docker.io/rocm/vllm:latest",
    ("sglang", "nvidia.com/gpu"): "docker.io/lmsysorg/sglang:latest",
    ("trt-llm", "nvidia.com/gpu"): "nvcr.io/nvidia/tensorrt-llm/release:latest",
}
"""Default container image per engine and GPU resource, the engines' published images: vllm/vllm-openai (vLLM's LWS
guide), rocm/vllm (AMD's ROCm build of vLLM), lmsysorg/sglang (CUDA; its ROCm builds carry version tags, so SGLang
on AMD GPUs needs --image), nvcr.io/nvidia/tensorrt-llm/release (NVIDIA NGC). "latest" moves: pin a tag with
--image ENGINE=IMAGE."""
CONFIG_DIR = "/etc/planner"
SHM_VOLUME = {"name": "dshm", "emptyDir": {"medium": "Memory"}}


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "planner"}


def _annotations(d: Deployment, launch: Launch) -> dict[str, str]:
    notes = {"planner/workload": d.workload, "planner/gpu": d.gpu, "planner/precision": d.precision,
             "planner/model": launch.model_id}
    if launch.power_limit_w is not None:
        notes["planner/power-limit-w"] = f"{launch.power_limit_w:g}"
        notes["planner/power-limit-command"] = shlex.join(launch.power_limit_argv)
    if launch.notes:
        notes["planner/notes"] = "; ".join(launch.notes)
    return notes


def _container(name: str, launch: Launch, argv: Sequence[str], image: str, gpus: int) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(launch.env.items())]
    env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token",
                                                                      "optional": True}}})
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    container: dict[str, Any] = {"name": name, "image": image, "command": list(argv[:1]), "args": list(argv[1:]),
                                 "env": env, "ports": [{"containerPort": PORT, "name": "http"}],
                                 "resources": {"limits": {launch.gpu_resource: gpus},
                                               "requests": {launch.gpu_resource: gpus}}}
    if launch.config_files:
        mounts.append({"name": "config", "mountPath": CONFIG_DIR})
        container["workingDir"] = CONFIG_DIR
    container["volumeMounts"] = mounts
    return container


def _volumes(name: str, launch: Launch) -> list[dict[str, Any]]:
    config = [{"name": "config", "configMap": {"name": f"{name}-config"}}] if launch.config_files else []
    return [SHM_VOLUME, *config]


def _leader_argv(launch: Launch) -> list[str]:
    if not launch.leader_setup_argv:
        return list(launch.argv)
    return ["sh", "-c", f"{shlex.join(launch.leader_setup_argv)} && exec {shlex.join(launch.argv)}"]


def _pod(name: str, d: Deployment, launch: Launch, argv: Sequence[str], image: str) -> dict[str, Any]:
    gpus = launch.gpus_per_replica // launch.nodes_per_replica
    return {"metadata": {"labels": _labels(name)},
            "spec": {"containers": [_container("engine", launch, argv, image, gpus)],
                     "volumes": _volumes(name, launch)}}


def _deployment(name: str, d: Deployment, launch: Launch, image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": _labels(name), "annotations": _annotations(d, launch)},
            "spec": {"replicas": d.replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": _pod(name, d, launch, launch.argv, image)}}


def _leader_worker_set(name: str, d: Deployment, launch: Launch, image: str) -> dict[str, Any]:
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": name, "labels": _labels(name), "annotations": _annotations(d, launch)},
            "spec": {"replicas": d.replicas,
                     "leaderWorkerTemplate": {
                         "size": launch.nodes_per_replica, "restartPolicy": "RecreateGroupOnPodRestart",
                         "leaderTemplate": _pod(name, d, launch, _leader_argv(launch), image),
                         "workerTemplate": _pod(name, d, launch, launch.worker_argv, image)}}}


def _config_map(name: str, launch: Launch) -> list[dict[str, Any]]:
    if not launch.config_files:
        return []
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config"},
             "data": {f.path: f.content for f in launch.config_files}}]


def manifests(rows: Sequence[tuple[str, Deployment, Launch]], images: Mapping[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a plan's deployments (``images``: engine -> image, overriding IMAGES)."""
    out: list[dict[str, Any]] = []
    for name, d, launch in rows:
        image = images.get(launch.engine) or IMAGES.get((launch.engine, launch.gpu_resource))
        if image is None:
            raise InputError(f"no default container image for {launch.engine} on {launch.gpu_resource} "
                             f"(deployment {name})", fix=f"pass --image {launch.engine}=IMAGE")
        workload = _leader_worker_set if launch.nodes_per_replica > 1 else _deployment
        out += [*_config_map(name, launch), workload(name, d, launch, image)]
    return out


def render_k8s(rows: Sequence[tuple[str, Deployment, Launch]], images: Mapping[str, str], title: str) -> str:
    """The manifests as one YAML stream (``kubectl apply -f``), keys in a fixed order."""
    head = f"# How to run {' '.join(title.split())}: written by planner export; re-export, do not edit.\n"
    return head + yaml.safe_dump_all(manifests(rows, images), sort_keys=False, default_flow_style=False, width=120)
