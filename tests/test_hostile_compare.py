"""`planner compare --file`: a bad engine or sort column in the file is one error naming the file and the key
(it was an error naming neither, raised after the file was read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.unit

GRID = "models: [llama-3.1-8b]\ngpus: [h100-sxm]\nbatch_size: 8\ninput_tokens: 100\noutput_tokens: 10\n"


@pytest.mark.parametrize(("line", "key"), [("engine: abc", "engine"), ("engine: ''", "engine"),
                                           ("sort_by: ttft", "sort_by"), ("sort_by: ''", "sort_by"),
                                           ("sort_by: " + "x" * 5000, "sort_by")])
def test_a_bad_value_in_a_compare_file_names_the_file_and_key(
        line: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "grid.yaml").write_text(GRID + line + "\n")
    monkeypatch.chdir(tmp_path)
    rc = main(["compare", "-f", "grid.yaml", "--format", "json", "--out", "t.json"])
    err = capsys.readouterr().err
    errors = [e for e in err.splitlines() if e.startswith("Error: ")]
    assert rc == 1 and len(errors) == 1 and errors[0].startswith(f"Error: grid.yaml: {key}: "), err
    assert len(errors[0]) < 1000, errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.yaml"]


def test_a_known_engine_spelling_in_a_compare_file_still_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "grid.yaml").write_text(GRID + "engine: TensorRT-LLM\nsort_by: itl_s\n")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "-f", "grid.yaml", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("model,gpu,")


@pytest.mark.parametrize("flag", ["--tp", "--batch-size"])
def test_a_400_digit_flag_is_an_error_not_an_overflow(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """click takes any integer; float() of a 400-digit one raised OverflowError (a traceback)."""
    args = ["compare", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--input-tokens", "100", "--output-tokens", "10",
            "--batch-size", "8", flag, "9" * 400]
    assert main(args) == 1
    err = capsys.readouterr().err
    errors = [e for e in err.splitlines() if e.startswith("Error: ")]
    assert len(errors) == 1 and "400-digit" in errors[0] and len(errors[0]) < 200, err
