"""`planner sweep`: bad sweep files refused before any solve, plans byte-identical to a serial solve,
resuming, and the same table bytes serially, in local worker processes and on a real Dask cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.cli.main import main
from planner.optimize.solve import solve_scenario
from planner.plan.io import dump_plan
from planner.sweep import worker
from planner.sweep.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"
OUTPUTS = ("sweep.csv", "report.md", "report.html")

SWEEP = {
    "scenario": "chatbot.yaml",
    "grid": {"site.power_cap_kw": [200, 1]},
    "sample": {"n": 2, "seed": 7, "vary": {
        "workloads.chat.traffic.peak_requests_per_s": {"uniform": {"low": 20, "high": 50}},
        "finance.gpu_prices_usd.b200": {"lognormal": {"median": 38000, "sigma": 0.15}}}},
}


def write_sweep(folder: Path, sweep: dict[str, Any] | None = None) -> Path:
    """A sweep file beside a copy of the chatbot scenario (the sweep names it relative to itself)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHATBOT, folder / "chatbot.yaml")
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep or SWEEP, sort_keys=False), encoding="utf-8")
    return path


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same sweep solved serially (in this process) and on two local worker processes."""
    base = tmp_path_factory.mktemp("sweep")
    sweep = write_sweep(base / "in")
    run_sweep(sweep, base / "serial", workers=1)
    run_sweep(sweep, base / "pool", workers=2)
    return {"sweep": sweep, "serial": base / "serial", "pool": base / "pool"}


# --- bad input, refused before any solve ------------------------------------------------------------

@pytest.fixture
def no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a variant was solved before the sweep file was checked")

    monkeypatch.setattr(worker, "solve_problem", refuse)


BAD = [
    ({"grid": {"site.puee": [1.2]}}, "sweep.yaml: grid.site.puee: site has no key", "did you mean `pue`?"),
    ({"grid": {"site.pue": [1.2], "workloads.chta.slo.itl_p95_ms": [40]}}, "grid.workloads.chta.slo.itl_p95_ms: no "
     "workload named 'chta'", "did you mean `chat`?"),
    ({"grid": {"site.pue": [1.2, 0.5]}}, "sweep.yaml: grid.site.pue: variant 1 (site.pue=0.5) makes the scenario "
     "invalid: site.pue: Input should be greater than or equal to 1", "use a larger value"),
    ({"sample": {"n": 50, "seed": 1, "vary": {"site.electricity_usd_per_kwh": {"normal": {"mean": 0.1, "sd": 0.2}}}}},
     "sample.vary.site.electricity_usd_per_kwh: variant", "change the grid values or the distribution"),
    ({"grid": {"finance.gpu_prices_usd.b2000": [30000]}}, "sweep.yaml: variant 0", "finance.gpu_prices_usd.b2000"),
    ({"grid": {"hardware.gpus": [["h100-sxm"], ["h100-sxm", "nonesuch"]]}}, "variant 1 (hardware.gpus=",
     "hardware.gpus[1]"),
    ({"override": "nope", "grid": {"site.pue": [1.2]}}, "sweep.yaml: override: the scenario has no override 'nope'",
     "use one of: traffic_x2, min_power"),
    ({"grid": {"site.pue": [1.2]}, "samples": {}}, "sweep.yaml: samples: Extra inputs are not permitted", ""),
]


@pytest.mark.integration
@pytest.mark.parametrize(("change", "says", "fix"), BAD)
def test_bad_sweep_files_exit_1_naming_file_key_path_and_fix_before_any_solve(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], no_solve: None, change: dict[str, Any], says: str,
        fix: str) -> None:
    sweep = write_sweep(tmp_path, {"scenario": "chatbot.yaml", **change})
    rc = main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert rc == 1
    assert says in err and fix in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_a_missing_dask_is_named_with_its_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as when it is not installed
    sweep = write_sweep(tmp_path, {"scenario": "chatbot.yaml", "grid": {"site.pue": [1.2]}})
    rc = main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1"])
    assert rc == 1
    assert 'planner[dask]' in capsys.readouterr().err


# --- results ----------------------------------------------------------------------------------------

@pytest.mark.integration
def test_infeasible_variants_are_rows_with_their_reason(runs: dict[str, Path]) -> None:
    lines = (runs["serial"] / "sweep.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
    assert [r["variant"] for r in rows] == ["0", "1", "2", "3"]
    assert [r["site.power_cap_kw"] for r in rows] == ["200", "200", "1", "1"]
    assert [r["status"] for r in rows] == ["optimal", "optimal", "infeasible", "infeasible"]
    assert all(int(r["gpus"]) > 0 and r["configurations"].startswith("chat:") for r in rows[:2])
    assert all(r["gpus"] == "" and "infeasible" in r["reason"] for r in rows[2:])
    report = (runs["serial"] / "report.md").read_text(encoding="utf-8")
    assert "## Variants without a plan" in report and "| infeasible |" in report


@pytest.mark.integration
def test_each_plan_is_the_bytes_of_a_serial_solve_of_the_same_scenario(runs: dict[str, Path], tmp_path: Path) -> None:
    """Write variant 1's scenario as a plain file, `planner solve --no-analysis` it: the same plan bytes."""
    record = json.loads((runs["pool"] / "variants" / "00001.json").read_text(encoding="utf-8"))
    doc = yaml.safe_load(CHATBOT.read_text(encoding="utf-8"))
    values = record["values"]
    doc["site"]["power_cap_kw"] = values["site.power_cap_kw"]
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = values["workloads.chat.traffic.peak_requests_per_s"]
    doc["finance"]["gpu_prices_usd"] = {"b200": values["finance.gpu_prices_usd.b200"]}
    (tmp_path / "chatbot.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    serial = dump_plan(solve_scenario(tmp_path / "chatbot.yaml", analysis=False))
    assert (runs["pool"] / "variants" / "00001.plan.json").read_text(encoding="utf-8") == serial
    assert (runs["serial"] / "variants" / "00001.plan.json").read_text(encoding="utf-8") == serial


@pytest.mark.integration
def test_the_table_and_report_are_the_same_bytes_with_any_number_of_workers(runs: dict[str, Path]) -> None:
    assert outputs(runs["serial"]) == outputs(runs["pool"])
    plans = sorted(p.name for p in (runs["pool"] / "variants").glob("*.plan.json"))
    assert plans == ["00000.plan.json", "00001.plan.json"]
    for name in plans:
        assert (runs["serial"] / "variants" / name).read_bytes() == (runs["pool"] / "variants" / name).read_bytes()


@pytest.mark.integration
def test_outputs_hold_no_path_of_the_machine(runs: dict[str, Path]) -> None:
    for name, data in outputs(runs["serial"]).items():
        text = data.decode("utf-8")
        for path in (str(runs["sweep"].parent), str(ROOT), str(Path.home())):
            assert path not in text, f"{name} holds {path}"


@pytest.mark.integration
def test_an_interrupted_sweep_resumes_with_the_variants_not_yet_on_disk(
        runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"

    def stop_after_two(done: int, total: int, infeasible: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(runs["sweep"], out, workers=1, progress=stop_after_two)
    assert sorted(p.name for p in (out / "variants").glob("*.json")) == ["00000.json", "00000.plan.json",
                                                                           "00001.json", "00001.plan.json"]
    assert not (out / "sweep.csv").exists()
    solved = []
    real = worker.solve_problem
    monkeypatch.setattr(worker, "solve_problem", lambda p, **kw: solved.append(p.name) or real(p, **kw))
    run_sweep(runs["sweep"], out, workers=1)
    assert len(solved) == 2  # variants 2 and 3 only
    assert outputs(out) == outputs(runs["serial"])


@pytest.mark.integration
def test_fresh_solves_every_variant_again_and_gives_the_same_bytes(runs: dict[str, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs["serial"], out)
    solved = []
    real = worker.solve_problem
    monkeypatch.setattr(worker, "solve_problem", lambda p, **kw: solved.append(p.name) or real(p, **kw))
    run_sweep(runs["sweep"], out, workers=1)
    assert solved == []
    run_sweep(runs["sweep"], out, workers=1, fresh=True)
    assert len(solved) == 4
    assert outputs(out) == outputs(runs["serial"])


@pytest.mark.integration
def test_usage_errors_exit_1(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sweep", str(runs["sweep"]), "--out", str(tmp_path / "out")]
    assert main([*base, "--time-limit", "nan"]) == 1
    assert main([*base, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    assert main([*base, "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert "--time-limit" in err and "not both" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_a_changed_input_solves_its_variants_again(runs: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs["serial"], out)
    sweep = json.loads(json.dumps(SWEEP))
    sweep["grid"]["site.power_cap_kw"] = [200, 2]  # variants 2 and 3 change, 0 and 1 do not
    path = write_sweep(tmp_path / "in", sweep)
    solved = []
    real = worker.solve_problem
    monkeypatch.setattr(worker, "solve_problem", lambda p, **kw: solved.append(p.name) or real(p, **kw))
    run_sweep(path, out, workers=1)
    assert len(solved) == 2
    csv = (out / "sweep.csv").read_text(encoding="utf-8")
    assert "\n2,2," in csv and "\n2,1," not in csv


@pytest.mark.integration
def test_the_example_sweep_file_is_valid(monkeypatch: pytest.MonkeyPatch, no_solve: None) -> None:
    from planner.catalog.loader import load_catalog
    from planner.sweep.prepare import prepare

    prep = prepare(ROOT / "scenarios" / "sweeps" / "chatbot-prices.yaml", load_catalog())
    assert len(prep.tasks) == prep.spec.variant_count == 180
    assert len({t.input_sha256 for t in prep.tasks}) == 180


# --- a real Dask cluster ----------------------------------------------------------------------------

def _dask_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"distributed.cli.{module}", *args]


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text(encoding="utf-8").strip():
        assert proc.poll() is None, "the Dask scheduler exited"
        assert time.monotonic() < deadline, "the Dask scheduler did not start"
        time.sleep(0.1)


@pytest.mark.e2e
def test_a_real_dask_scheduler_and_two_workers_give_the_same_table_bytes(runs: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed: "
                                                            "pip install 'planner[dask]' to run this test")
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen(_dask_command("dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(info)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for_file(info, procs[0], 60)
        address = json.loads(info.read_text(encoding="utf-8"))["address"]
        procs += [subprocess.Popen(_dask_command("dask_worker", address, "--nthreads", "1", "--no-dashboard"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "out"
        assert main(["sweep", str(runs["sweep"]), "--out", str(out), "--scheduler", address, "-q"]) == 0
        assert outputs(out) == outputs(runs["serial"])
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.mark.integration
def test_the_progress_line_counts_variants_and_infeasible_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from planner.cli.sweep_cmd import _ProgressLine

    line = _ProgressLine()
    line(3, 10, 0)  # three on disk already: the estimate counts only the variants solved in this run
    line(10, 10, 2)
    line.close()
    err = capsys.readouterr().err
    assert "\r[ 3/10]  30 % " in err and "starting" in err
    assert "\r[10/10] 100 % " in err and "2 infeasible, about 0 s left" in err and err.endswith("\n")


@pytest.mark.integration
def test_the_sweeps_override_is_applied_first_and_its_values_on_top(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "in", {"scenario": "chatbot.yaml", "override": "traffic_x2",
                                          "grid": {"workloads.chat.traffic.average_requests_per_s": [20, 30]}})
    run_sweep(sweep, tmp_path / "out", workers=1)
    plans = [json.loads((tmp_path / "out" / "variants" / f"0000{i}.plan.json").read_text(encoding="utf-8"))
             for i in range(2)]
    assert [p["scenario"]["override"] for p in plans] == ["traffic_x2", "traffic_x2"]
    assert [p["workloads"][0]["peak_requests_per_s"] for p in plans] == [60, 60]  # from the override
    assert [p["workloads"][0]["average_requests_per_s"] for p in plans] == [20, 30]  # from the sweep
