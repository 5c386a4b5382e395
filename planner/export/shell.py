"""A plan as a bash script: one function per deployment that starts one of its replicas on this server.

    bash run.sh list                      the deployments, replicas, GPUs per replica, engine and model
    bash run.sh NAME REPLICA [NODE_RANK]  start replica REPLICA (from 0) of NAME here (NODE_RANK: which
                                          server of a replica that spans several, from 0)

A replica takes the GPUs of its slot on a server (replica r of a deployment with k replicas per server
uses slot r mod k) and port 8000 + slot; PLANNER_GPUS and PLANNER_PORT override both, for servers that
mix deployments. PLANNER_DRY_RUN=1 prints every command instead of running it. Every word that comes
from the plan is quoted with shlex.quote; the script passes `bash -n`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from planner.export.engines import PORT
from planner.export.launch import LEADER_ADDRESS, WORKER_INDEX
from planner.schemas.plan import Deployment, Launch

USAGE = """
bash THIS_SCRIPT list                      the deployments, replicas, GPUs per replica, engine and model
bash THIS_SCRIPT NAME REPLICA [NODE_RANK]  start replica REPLICA (from 0) of NAME on this server
A replica takes the GPUs of its slot on its server and port 8000 + slot (PLANNER_GPUS, PLANNER_PORT override);
NODE_RANK and LEADER_ADDR: which server of a replica that spans several, and the first one's address.
PLANNER_DRY_RUN=1 prints the commands instead of running them; PLANNER_WORKDIR: where option files go."""
PORT_WORD = '"$port"'
# no quote characters inside ${...:?message}: bash 5 pairs a ' there even within double quotes (the script broke)
_EXPANSIONS = {LEADER_ADDRESS: '"${LEADER_ADDR:?set LEADER_ADDR to the address of the first server of the replica}"',
               WORKER_INDEX: '"$rank"'}
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in _EXPANSIONS))

PRELUDE = r"""set -euo pipefail

run() {  # run a command, or print it when PLANNER_DRY_RUN is set
  if [[ -n "${PLANNER_DRY_RUN:-}" ]]; then printf '%q ' "$@"; printf '\n'; else "$@"; fi
}

write_file() {  # write_file PATH TEXT
  if [[ -n "${PLANNER_DRY_RUN:-}" ]]; then printf 'write %q\n' "$1"; else printf '%s' "$2" > "$1"; fi
}

slot_gpus() {  # slot_gpus FIRST COUNT: GPU indices FIRST..FIRST+COUNT-1, comma-separated
  local out="" i
  for ((i = $1; i < $1 + $2; i++)); do out+="${out:+,}$i"; done
  printf '%s' "$out"
}

check_replica() {  # check_replica REPLICA COUNT
  if ! [[ "$1" =~ ^[0-9]+$ ]] || (( $1 >= $2 )); then
    echo "replica must be a number from 0 to $(( $2 - 1 )), got '$1'" >&2
    exit 64
  fi
}
"""


def _comment(text: str) -> str:
    return re.sub("[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]+", " ", text)


def _quote(word: str) -> str:
    parts, pos = [], 0
    for m in _PLACEHOLDER.finditer(word):
        if m.start() > pos:
            parts.append(shlex.quote(word[pos:m.start()]))
        parts.append(_EXPANSIONS[m.group(0)])
        pos = m.end()
    if pos < len(word) or not parts:
        parts.append(shlex.quote(word[pos:]))
    return "".join(parts)


def _command(argv: Sequence[str], env: dict[str, str]) -> str:
    words = [_quote(w) for w in argv]
    words = [PORT_WORD if i > 0 and argv[i - 1] == "--port" and w == str(PORT) else q
             for i, (w, q) in enumerate(zip(argv, words, strict=True))]
    prefix = [f"{_quote(k)}={_quote(v)}" for k, v in sorted(env.items())]
    return " ".join(["run", "env", *prefix, *words]) if prefix else " ".join(["run", *words])


def _power_lines(launch: Launch) -> list[str]:
    if not launch.power_limit_argv:
        return []
    argv = [_quote(w) for w in launch.power_limit_argv]
    if launch.gpu_resource == "amd.com/gpu":
        return [f'  for g in ${{gpus//,/ }}; do run {" ".join(argv)} --gpu "$g"; done']
    return [f'  run {argv[0]} -i "$gpus" {" ".join(argv[1:])}']


def _placement_lines(d: Deployment, launch: Launch, gpus_per_server: int) -> list[str]:
    per_node = launch.gpus_per_replica // launch.nodes_per_replica
    slots = max(1, gpus_per_server // per_node) if launch.nodes_per_replica == 1 else 1
    return [f"  check_replica \"$replica\" {d.replicas}",
            f"  local slot=$(( replica % {slots} ))",
            f'  local gpus="${{PLANNER_GPUS:-$(slot_gpus $(( slot * {per_node} )) {per_node})}}"',
            f'  local port="${{PLANNER_PORT:-$(( {PORT} + slot ))}}"']


def _config_lines(name: str, launch: Launch) -> list[str]:
    if not launch.config_files:
        return []
    lines = [f'  local dir="${{PLANNER_WORKDIR:-planner-run}}/{name}"', '  run mkdir -p "$dir"']
    lines += [f'  write_file "$dir"/{_quote(f.path)} {_quote(f.content)}' for f in launch.config_files]
    return [*lines, '  cd "$dir"']


def _start_lines(launch: Launch) -> list[str]:
    env = {**launch.env, launch.visible_devices_env: "$gpus"}
    engine = _command(launch.argv, env).replace(_quote("$gpus"), '"$gpus"')
    if launch.nodes_per_replica == 1:
        return [f"  {engine}"]
    worker = _command(launch.worker_argv, env).replace(_quote("$gpus"), '"$gpus"')
    leader = [f"    {_command(launch.leader_setup_argv, {})}"] if launch.leader_setup_argv else []
    return ['  if [[ "$rank" == 0 ]]; then', *leader, f"    {engine}", "  else", f"    {worker}", "  fi"]


def _function(index: int, name: str, d: Deployment, launch: Launch, gpus_per_server: int) -> list[str]:
    head = [f"# {name}: workload {_comment(d.workload)}, {d.replicas} replicas of {launch.gpus_per_replica} "
            f"{_comment(d.gpu)} GPUs ({launch.nodes_per_replica} server(s) each), {_comment(launch.engine)}, "
             f"{_comment(launch.model_id)}"]
    head += [f"#   note: {_comment(n)}" for n in launch.notes]
    body = [f"replica_{index}() {{", '  local replica="${1:-}" rank="${2:-0}"',
            *_placement_lines(d, launch, gpus_per_server), *_power_lines(launch),
            *_config_lines(name, launch), *_start_lines(launch), "}"]
    return [*head, *body, ""]


def _list_function(rows: Sequence[tuple[str, Deployment, Launch]]) -> list[str]:
    lines = ["NAME REPLICAS GPUS_PER_REPLICA SERVERS_PER_REPLICA ENGINE MODEL POWER_LIMIT_W"]
    lines += [f"{n} {d.replicas} {launch.gpus_per_replica} {launch.nodes_per_replica} {launch.engine} "
              f"{launch.model_id} {'-' if launch.power_limit_w is None else f'{launch.power_limit_w:g}'}"
              for n, d, launch in rows]
    return ["list_deployments() {", "  printf '%s\\n' \\",
            *[f"    {shlex.quote(line)} \\" for line in lines[:-1]], f"    {shlex.quote(lines[-1])}", "}", ""]


def _main(names: Sequence[str]) -> list[str]:
    cases = [f"    {shlex.quote(n)}) shift; replica_{i} \"$@\" ;;" for i, n in enumerate(names)]
    return ['main() {', '  case "${1:-}" in', "    list) list_deployments ;;", *cases,
            '    *) echo "usage: bash $0 list | bash $0 NAME REPLICA [NODE_RANK]" >&2; exit 64 ;;',
            "  esac", "}", "", 'main "$@"', ""]


def render_shell(rows: Sequence[tuple[str, Deployment, Launch]], gpus_per_server: dict[str, int],
                 title: str) -> str:
    """The script of a plan's deployments (``rows``: name, deployment, launch spec); ``title`` names the plan."""
    head = ["#!/usr/bin/env bash",
            f"# How to run {_comment(title)}: written by planner export; re-export, do not edit.",
            *[f"# {line.strip()}" if line.strip() else "#" for line in USAGE.splitlines()], ""]
    body = [line for i, (n, d, launch) in enumerate(rows)
            for line in _function(i, n, d, launch, gpus_per_server.get(d.gpu, launch.gpus_per_replica))]
    return "\n".join([*head, PRELUDE, *_list_function(rows), *body, *_main([n for n, _, _ in rows])])
