"""CLI outputs never destroy inputs, stay inside the chosen folder, and are written as one set (issue 9)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.cli.solve_cmd import OUTPUT_FILES, default_folder
from planner.errors import InputError
from planner.io import files

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "plans" / "chatbot" / "plan.json"
TINY = """\
name: tiny
workloads:
  - name: chat
    model: llama-3.1-8b
    traffic: {peak_requests_per_s: 5, input_tokens: 500, output_tokens: 100}
    slo: {ttft_p95_ms: 2000, itl_p95_ms: 50}
hardware: {gpus: [h100-sxm]}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def test_report_out_equal_to_the_plan_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(PLAN.read_bytes())
    rc, err = run(capsys, "report", str(plan), "--out", str(plan))
    assert rc == 1 and "would overwrite the input" in err and "--out" in err
    assert plan.read_bytes() == PLAN.read_bytes()


@pytest.mark.parametrize("link", [os.symlink, os.link], ids=["symlink", "hard-link"])
def test_report_out_linked_to_the_plan_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  link: object) -> None:
    plan = tmp_path / "plan.json"
    plan.write_bytes(PLAN.read_bytes())
    link(plan, tmp_path / "alias.md")  # type: ignore[operator]
    rc, err = run(capsys, "report", str(plan), "--out", str(tmp_path / "alias.md"))
    assert rc == 1 and "would overwrite the input" in err and plan.read_bytes() == PLAN.read_bytes()


def test_report_out_elsewhere_still_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = run(capsys, "report", str(PLAN), "--out", str(tmp_path / "report.md"))
    assert rc == 0 and (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# Capacity plan")


@pytest.mark.parametrize("name", OUTPUT_FILES)
def test_solve_refuses_a_folder_where_it_would_overwrite_the_scenario(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    scenario = tmp_path / name
    scenario.write_text(TINY, encoding="utf-8")
    rc, err = run(capsys, "solve", str(scenario), "--out", str(tmp_path), "--no-analysis")
    assert rc == 1 and f"would overwrite the input {scenario}" in err
    assert scenario.read_text(encoding="utf-8") == TINY and sorted(os.listdir(tmp_path)) == [name]


def test_solve_refuses_a_folder_where_it_would_overwrite_the_calibration(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("calibration", encoding="utf-8")
    rc, err = run(capsys, "solve", str(tmp_path / "s.yaml"), "--out", str(out),
                  "--calibration", str(out / "report.md"), "--no-analysis")
    assert rc == 1 and "would overwrite the input" in err
    assert (out / "report.md").read_text(encoding="utf-8") == "calibration"


@pytest.mark.parametrize(("scenario", "override"), [("t", "../../x"), ("..", None), ("t", "a/b"), ("t", "")])
def test_default_folder_never_leaves_plans(scenario: str, override: str | None) -> None:
    if override == "":
        assert default_folder(scenario, override) == Path("plans") / "t"
        return
    with pytest.raises(InputError, match="folder name"):
        default_folder(scenario, override)


def test_default_folder_of_safe_names() -> None:
    assert default_folder("chatbot", "traffic_x2") == Path("plans") / "chatbot-traffic_x2"


def test_default_folder_that_links_outside_plans_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request can commit plans/NAME as a symbolic link to any folder of the machine."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plans").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "plans" / "chatbot").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="leads outside plans/"):
        default_folder("chatbot", None)


def never_ending(tmp_path: Path, kind: str, name: str) -> Path:
    """A symlink to /dev/zero (endless) or a FIFO (open() waits forever): both a pull request can commit."""
    p = tmp_path / name
    if kind == "zero":
        p.symlink_to("/dev/zero")
    else:
        os.mkfifo(p)
    return p


@pytest.mark.skipif(not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"), reason="POSIX only")
@pytest.mark.parametrize("kind", ["zero", "fifo"])
@pytest.mark.parametrize("command", ["validate", "solve", "report", "diff", "check-plan", "check-scenario",
                                     "check-policy", "check-calibration"])
def test_a_file_that_never_ends_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
                                           command: str) -> None:
    bad_yaml, bad_json = never_ending(tmp_path, kind, "x.yaml"), never_ending(tmp_path, kind, "x.json")
    scenario = str(ROOT / "scenarios" / "chatbot.yaml")
    check = ["check", scenario, "--plan", str(PLAN)]
    args = {"validate": ["validate", str(bad_yaml)], "solve": ["solve", str(bad_yaml), "--no-write"],
            "report": ["report", str(bad_json)], "diff": ["diff", str(bad_json), str(PLAN)],
            "check-plan": ["check", scenario, "--plan", str(bad_json)],
            "check-scenario": ["check", str(bad_yaml), "--plan", str(PLAN)],
            "check-policy": [*check, "--policy", str(bad_yaml)],
            "check-calibration": [*check, "--calibration", str(bad_yaml)]}[command]
    rc, err = run(capsys, *args)
    assert rc == 1 and "is not a regular file" in err and "x." in err


def test_an_empty_scenario_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text("# nothing yet\n", encoding="utf-8")
    rc, err = run(capsys, "validate", str(tmp_path / "s.yaml"))
    assert rc == 1 and "s.yaml: file is empty" in err


def old_set(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (folder / name).write_text(f"old {name}", encoding="utf-8")
    return {name: f"old {name}" for name in OUTPUT_FILES}


def contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def fail_on_call(monkeypatch: pytest.MonkeyPatch, target: object, name: str, n: int) -> None:
    """Make the ``n``-th call of ``target.name`` raise ENOSPC (a full disk)."""
    real = getattr(target, name)
    calls = []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) == n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)


def test_solve_failing_on_the_third_write_keeps_the_previous_set(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.yaml").write_text(TINY, encoding="utf-8")
    before = old_set(tmp_path / "out")
    fail_on_call(monkeypatch, files.os, "fsync", 3)  # report.html's bytes do not reach the disk
    rc, err = run(capsys, "solve", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--no-analysis")
    assert rc == 1 and "report.html" in err and "No space left" in err
    assert contents(tmp_path / "out") == before  # no temp file left, the old three untouched


def test_write_together_failing_on_the_third_rename_puts_back_the_previous_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = old_set(tmp_path)
    (tmp_path / "report.html").unlink()  # a file the previous set lacked must not appear either
    del before["report.html"]
    fail_on_call(monkeypatch, files.os, "replace", 3)
    with pytest.raises(InputError, match="previous files are left as they were"):
        files.write_together({tmp_path / name: f"new {name}" for name in OUTPUT_FILES})
    assert contents(tmp_path) == before


def test_write_together_writes_every_file(tmp_path: Path) -> None:
    old_set(tmp_path)
    files.write_together({tmp_path / name: f"new {name}" for name in OUTPUT_FILES})
    assert contents(tmp_path) == {name: f"new {name}" for name in OUTPUT_FILES}


def test_solve_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(TINY, encoding="utf-8")
    old_set(tmp_path / "out")
    rc, _ = run(capsys, "solve", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out"), "--no-analysis")
    assert rc == 0 and sorted(os.listdir(tmp_path / "out")) == sorted(OUTPUT_FILES)
    assert not any(text.startswith("old ") for text in contents(tmp_path / "out").values())
