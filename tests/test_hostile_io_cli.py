"""Hostile input on the writers and the estimate / compare / diff flags: each is one error naming the file or
flag, key path and fix (exit 1), never a traceback, and never a device, FIFO or symlink replaced by a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.errors import InputError
from planner.io.files import write_atomic, write_together

pytestmark = pytest.mark.unit

GRID = "models: [llama-3.1-8b]\ngpus: [h100-sxm]\nbatch_size: 8\ninput_tokens: 100\noutput_tokens: 10\n"


def _errors(err: str) -> list[str]:
    return [e for e in err.splitlines() if e.startswith("Error: ")]


def _special(kind: str, tmp_path: Path) -> Path:
    """A FIFO, a symlink to a file, a dangling symlink or a folder at tmp_path/out."""
    target = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "real.txt").write_text("kept\n")
        target.symlink_to(tmp_path / "real.txt")
    elif kind == "dangling":
        target.symlink_to(tmp_path / "missing.txt")
    else:
        target.mkdir()
    return target


def _unchanged(kind: str, target: Path, tmp_path: Path) -> bool:
    mode = target.lstat().st_mode
    if kind == "fifo":
        return stat.S_ISFIFO(mode)
    if kind in ("symlink", "dangling"):
        kept = kind == "dangling" or (tmp_path / "real.txt").read_text() == "kept\n"
        return stat.S_ISLNK(mode) and kept
    return stat.S_ISDIR(mode)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling", "folder"])
def test_the_writer_refuses_a_target_that_is_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    """As root `--out /dev/full` replaced the device node with a regular file (N4)."""
    target = _special(kind, tmp_path)
    with pytest.raises(InputError) as info:
        write_atomic(target, "text\n")
    assert str(target) in str(info.value) and "not a regular file" in str(info.value)
    assert _unchanged(kind, target, tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_a_set_with_one_special_target_writes_none_of_the_set(tmp_path: Path) -> None:
    target = _special("fifo", tmp_path)
    with pytest.raises(InputError):
        write_together({tmp_path / "plan.json": "{}\n", target: "x\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_regular_file_is_still_replaced(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("old\n")
    write_atomic(tmp_path / "out", "new\n")
    assert (tmp_path / "out").read_text() == "new\n"


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_compare_out_onto_a_fifo_or_symlink_is_refused(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = _special(kind, tmp_path)
    (tmp_path / "grid.yaml").write_text(GRID)
    monkeypatch.chdir(tmp_path)
    rc = main(["compare", "-f", "grid.yaml", "--format", "csv", "--out", str(target)])
    errors = _errors(capsys.readouterr().err)
    assert rc == 1 and len(errors) == 1 and str(target) in errors[0], errors
    assert _unchanged(kind, target, tmp_path)


ESTIMATE = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "1000",
            "--output-tokens", "200"]


@pytest.mark.parametrize("flag", ["--tp", "--pp", "--ep", "--dp", "--batch-size"])
def test_a_400_digit_estimate_flag_is_one_error_naming_the_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """float() of a 400-digit --tp raised OverflowError, a traceback (N1)."""
    args = [*ESTIMATE, "--batch-size", "16", flag, "9" * 400]
    assert main(args) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith(f"Error: {flag} ") and "400-digit" in errors[0], errors
    assert len(errors[0]) < 300, errors[0]


def test_the_library_estimate_refuses_a_huge_whole_number_without_overflow() -> None:
    from planner.estimation import estimate

    with pytest.raises(InputError, match="tp must be a whole number .* got a 401-digit number"):
        estimate("llama-3.1-8b", "h100-sxm", tp=10**400, input_tokens=10, output_tokens=10, batch_size=1)


@pytest.mark.parametrize("rate", ["1e-308", "1e-12"])
def test_a_vanishing_arrival_rate_is_an_error_about_the_rate(rate: str, capsys: pytest.CaptureFixture[str]) -> None:
    """1e-308 requests/s made energy per token infinite: an error blaming the catalog (N2)."""
    assert main([*ESTIMATE, "--arrival-requests-per-s", rate]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith(f"Error: --arrival-requests-per-s {rate} is below"), errors
    assert "catalog" not in errors[0]


def test_the_smallest_arrival_rate_still_estimates(capsys: pytest.CaptureFixture[str]) -> None:
    from planner.estimation import MIN_ARRIVAL_REQUESTS_PER_S

    assert main([*ESTIMATE, "--arrival-requests-per-s", repr(MIN_ARRIVAL_REQUESTS_PER_S), "--format", "json"]) == 0


def test_a_vanishing_arrival_rate_in_a_compare_file_names_the_file_and_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "grid.yaml").write_text(GRID.replace("batch_size: 8\n", "arrival_requests_per_s: 1.0e-308\n"))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-f", "grid.yaml"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith("Error: grid.yaml: arrival_requests_per_s: "), errors
    assert "is below" in errors[0]


def test_a_vanishing_arrival_rate_flag_in_compare_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "100", "--output-tokens", "10",
            "--arrival-requests-per-s", "1e-308"]
    assert main(args) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "is below" in errors[0], errors


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("key", "value"), [("replicas", 0), ("replicas", 10**7), ("gpus", 0), ("tp", 0),
                                            ("batch_size", 0), ("dp", 0)])
def test_a_plan_with_a_deployment_count_out_of_range_is_refused(
        key: str, value: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A deployment of 0 replicas was read and reported as a deployment (N7)."""
    import json

    plan = json.loads((ROOT / "plans/chatbot/plan.json").read_text())
    plan["deployments"][0][key] = value
    (tmp_path / "p.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    assert main(["report", "p.json", "--out", "r.md"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith("Error: p.json: ") and f"deployments[0].{key}" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


@pytest.mark.parametrize(("old", "new", "key"), [("models: [llama-3.1-8b]", "models: [llama-3.1-8b, lama-3.1-8b]",
                                                  "models[1]"),
                                                 ("gpus: [h100-sxm]", "gpus: [abc]", "gpus[0]")])
def test_an_unknown_name_in_a_compare_file_names_the_file_and_index(
        old: str, new: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`unknown model 'abc'` named neither the file nor models[i] (N3)."""
    (tmp_path / "grid.yaml").write_text(GRID.replace(old, new))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-f", "grid.yaml"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith(f"Error: grid.yaml: {key}: unknown "), errors
    if key.startswith("models"):
        assert "did you mean llama-3.1-8b" in errors[0]


def test_a_flag_replacing_the_files_bad_names_still_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "grid.yaml").write_text(GRID.replace("gpus: [h100-sxm]", "gpus: [abc]"))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-f", "grid.yaml", "-g", "h100-sxm", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("model,gpu,")


def test_a_compare_file_without_an_operating_point_says_where_to_add_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "grid.yaml").write_text(GRID.replace("batch_size: 8\n", ""))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-f", "grid.yaml"]) == 1
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1 and "`batch_size:`" in errors[0] and "in grid.yaml" in errors[0], errors


def test_diff_refuses_a_roadmap_against_a_single_period_scenario_before_solving(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`planner diff roadmap.yaml chatbot.yaml` solved the roadmap (4.5 s) before refusing (N9)."""
    import planner.cli.gitops_cmd as gitops_cmd

    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved a side before refusing the mix")

    monkeypatch.setattr(gitops_cmd, "_solve", no_solve)
    for sides in (["scenarios/roadmaps/roadmap.yaml", "scenarios/chatbot.yaml"],
                  ["plans/chatbot/plan.json", "scenarios/roadmaps/roadmap.yaml"]):
        assert main(["diff", *(str(ROOT / s) for s in sides)]) == 1
        errors = _errors(capsys.readouterr().err)
        assert len(errors) == 1 and "cannot compare a roadmap" in errors[0], errors
