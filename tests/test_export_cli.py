"""`planner export PLAN --format shell|k8s`: through the real entry point, for every committed plan; the
script passes `bash -n`, lists every deployment and, in a dry run, starts each with the plan's flags."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.catalog import load_catalog
from planner.cli.main import cli, main
from planner.export.rows import launch_rows
from planner.plan import read_plan

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "plans").glob("*/plan.json"))
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def _export(*args: str) -> str:
    result = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _bash(script: Path, *args: str, dry_run: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({"PLANNER_DRY_RUN": "1"} if dry_run else {})}
    return subprocess.run([str(BASH), str(script), *args], capture_output=True, text=True, env=env, timeout=60)


@needs_bash
@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.parent.name)
def test_shell_script_runs_each_deployment_with_the_plans_flags(path: Path, tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text(_export(str(path), "--format", "shell"))
    assert subprocess.run([str(BASH), "-n", str(script)], capture_output=True).returncode == 0
    rows = launch_rows(read_plan(path).plan, load_catalog(), str(path))
    listed = _bash(script, "list").stdout.splitlines()[1:]
    assert [line.split()[:2] for line in listed] == [[n, str(d.replicas)] for n, d, _ in rows]
    for name, d, launch in rows:
        ran = _bash(script, name, str(d.replicas - 1))
        assert ran.returncode == 0, ran.stderr
        words = shlex.split(ran.stdout.splitlines()[-1])
        per_server = launch.gpus_per_replica // launch.nodes_per_replica  # a replica over servers: rank 0's share
        slot = (d.replicas - 1) % max(1, 8 // per_server)
        gpus = ",".join(str(slot * per_server + g) for g in range(per_server))
        expected = [w if i == 0 or launch.argv[i - 1] != "--port" else str(8000 + slot)
                    for i, w in enumerate(launch.argv)]
        assert words == ["env", f"{launch.visible_devices_env}={gpus}", *expected]
        assert _bash(script, name, str(d.replicas)).returncode == 64  # no such replica


@pytest.mark.parametrize("path", PLANS, ids=lambda p: p.parent.name)
def test_k8s_out_writes_manifests(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "fleet.yaml"
    result = CliRunner().invoke(cli, ["export", str(path), "--format", "k8s", "--out", str(out)])
    assert result.exit_code == 0 and "wrote" in result.output
    docs = list(yaml.safe_load_all(out.read_text()))
    plan = read_plan(path).plan
    assert sum(o["spec"]["replicas"] for o in docs if o["kind"] in ("Deployment", "LeaderWorkerSet")) == sum(
        d.replicas for d in plan.deployments)


@needs_bash
def test_hostile_names_stay_quoted(tmp_path: Path) -> None:
    plan = read_plan(ROOT / "plans/chatbot/plan.json").plan
    marker = tmp_path / "pwned"
    hostile = f"x'; touch {marker}; echo '$(touch {marker})\n`touch {marker}`"
    d = plan.deployments[0].model_copy(update={"workload": hostile})
    bad = plan.model_copy(update={"deployments": [d], "scenario": plan.scenario.model_copy(
        update={"name": hostile})})
    src = tmp_path / "plan.json"
    src.write_text(bad.model_dump_json())
    script = tmp_path / "run.sh"
    script.write_text(_export(str(src)))
    assert subprocess.run([str(BASH), "-n", str(script)], capture_output=True).returncode == 0
    name = _bash(script, "list").stdout.splitlines()[1].split()[0]
    assert _bash(script, name, "0").returncode == 0 and not marker.exists()


def test_a_corrupt_plan_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"schema_version": "2.0.0", "deployments": 3}')
    assert main(["export", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {bad}: ") and "Traceback" not in err and "planner solve" in err


def test_an_image_must_be_engine_equals_image() -> None:
    result = CliRunner().invoke(cli, ["export", str(PLANS[0]), "--format", "k8s", "--image", "vllm"])
    assert result.exit_code == 2 and "ENGINE=IMAGE" in result.output


def test_out_refuses_to_overwrite_the_plan(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(PLANS[0].read_text())
    result = CliRunner().invoke(cli, ["export", str(plan), "--out", str(plan)])
    assert result.exit_code == 1 and plan.read_text() == PLANS[0].read_text()


def test_solve_writes_each_deployments_launch_spec() -> None:
    import planner
    from planner.export.launch import launch_for

    plan = planner.solve(str(ROOT / "scenarios/chatbot.yaml"))
    catalog = load_catalog()
    per_server = {s.gpu: s.gpus_per_server for s in plan.servers}
    for d in plan.deployments:
        assert d.launch is not None
        assert d.launch == launch_for(d, catalog.model(d.model), catalog.gpu(d.gpu), per_server[d.gpu])
