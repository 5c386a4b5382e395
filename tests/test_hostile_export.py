"""`planner export` of a hostile plan file: a launch spec no script or manifest can carry is one error naming
the file and the key path (exit 1, nothing written), never a traceback, a broken script or a script that runs
more than the plan's commands (a newline in a comment line would start a command of its own)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CHATBOT = ROOT / "plans/chatbot/plan.json"
ROADMAP = ROOT / "plans/roadmaps/roadmap/plan.json"


def _launch(plan: dict[str, Any]) -> dict[str, Any]:
    launch: dict[str, Any] = plan["deployments"][0]["launch"]
    return launch


EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "model-id-newline": (lambda p: _launch(p).update(model_id="x\ntouch PWNED"), "deployments[0].launch.model_id"),
    "engine-newline": (lambda p: _launch(p).update(engine="vllm\ntouch PWNED"), "deployments[0].launch.engine"),
    "engine-unknown": (lambda p: _launch(p).update(engine="abc"), "deployments[0].launch.engine"),
    "config-file-outside": (lambda p: _launch(p).update(config_files=[{"path": "../../.bashrc", "content": "x"}]),
                            "deployments[0].launch.config_files[0].path"),
    "config-file-twice": (lambda p: _launch(p).update(config_files=[{"path": "a.yaml", "content": "x"}] * 2),
                          "deployments[0].launch.config_files[0].path"),
    "env-name": (lambda p: _launch(p).update(env={"A;touch PWNED": "1"}), "deployments[0].launch.env"),
    "visible-devices-env": (lambda p: _launch(p).update(visible_devices_env="X$(touch PWNED)"),
                            "deployments[0].launch.visible_devices_env"),
    "gpu-resource": (lambda p: _launch(p).update(gpu_resource="amd.com/gpu\ntouch PWNED"),
                     "deployments[0].launch.gpu_resource"),
    "no-servers": (lambda p: _launch(p).update(nodes_per_replica=0), "deployments[0].launch.nodes_per_replica"),
    "no-gpus": (lambda p: _launch(p).update(gpus_per_replica=0), "deployments[0].launch.gpus_per_replica"),
    "uneven-servers": (lambda p: _launch(p).update(nodes_per_replica=3, gpus_per_replica=8, worker_argv=["x"]),
                       "deployments[0].launch.nodes_per_replica"),
    "no-command": (lambda p: _launch(p).update(argv=[]), "deployments[0].launch.argv"),
    "no-replicas": (lambda p: p["deployments"][0].update(replicas=0), "deployments[0].replicas"),
}


@pytest.mark.parametrize("fmt", ["shell", "k8s"])
@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_launch_spec_no_script_can_carry_is_one_error_naming_the_key(
        case: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    edit, key_path = EDITS[case]
    plan = json.loads(CHATBOT.read_text())
    edit(plan)
    (tmp_path / "p.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    rc = main(["export", "p.json", "--format", fmt, "--out", "run.out"])
    err = capsys.readouterr().err
    assert rc == 1, err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    # the key path right after the file, or after the plan reader's "not a valid plan (schema X):"
    assert len(errors) == 1 and errors[0].startswith("Error: p.json: ") and f": {key_path}" in errors[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_text_in_a_comment_line_cannot_start_a_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(CHATBOT.read_text())
    plan["deployments"][0]["workload"] = "chat\ntouch PWNED"
    _launch(plan)["notes"] = ["note\rtouch PWNED\u202e"]
    (tmp_path / "p.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "p.json"]) == 0
    script = capsys.readouterr().out
    lines = [line for line in re.split(r"[\n\r]", script) if "PWNED" in line]
    assert lines and all(line.startswith("#") for line in lines), lines
    assert "\u202e" not in script


def test_a_roadmap_export_says_which_period_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.loads(ROADMAP.read_text())
    first = plan["periods"][0]["label"]
    for fmt in ("shell", "k8s"):
        assert main(["export", str(ROADMAP), "--format", fmt]) == 0
        head = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("# How to run"))
        assert f"period {first} (the first of {len(plan['periods'])}" in head, head


def test_a_replica_spanning_servers_gives_a_script_bash_can_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The leader-address message held an apostrophe inside ${LEADER_ADDR:?...}: bash 5 reads it as an opening
    quote, so every script with a replica over several servers failed to parse (`bash -n`: unexpected EOF)."""
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    plan = json.loads(CHATBOT.read_text())
    plan["deployments"][0].update(launch=None, tp=16)  # 16 GPUs over two 8-GPU servers, derived from the catalog
    (tmp_path / "p.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "p.json", "--out", "run.sh"]) == 0
    capsys.readouterr()
    script = (tmp_path / "run.sh").read_text()
    assert "ray start --address=" in script or "--dist-init-addr" in script  # a replica that spans servers
    parsed = subprocess.run([bash, "-n", str(tmp_path / "run.sh")], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


def test_an_old_plan_with_an_unknown_engine_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A 1.x plan carries no launch spec; deriving one for an engine planner does not know raised KeyError."""
    plan = json.loads((ROOT / "tests/fixtures/plans-1.x/chatbot.json").read_text())
    plan["deployments"][0]["engine"] = "abc"
    (tmp_path / "p.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "p.json"]) == 1
    errors = [e for e in capsys.readouterr().err.splitlines() if e.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: p.json: deployments[0].engine: "), errors
