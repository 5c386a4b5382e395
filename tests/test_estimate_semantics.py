"""`planner estimate` says whether the batch asked for fits memory, never "yes" beside a smaller
"max batch that fits"."""

from __future__ import annotations

from planner.cli.main import main

ARGS = ["estimate", "--model", "llama-3.3-70b", "--gpu", "h100-sxm", "--tp", "2", "--input-tokens", "8000",
        "--output-tokens", "500"]


def _row(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(label))


def test_a_batch_beyond_memory_does_not_read_as_fitting(capsys) -> None:
    assert main([*ARGS, "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    most = int(_row(out, "max batch that fits").split()[-1])
    assert most < 8
    assert _row(out, "fits memory at this batch").endswith(f"no: at most {most} sequences fit")


def test_a_batch_within_memory_fits(capsys) -> None:
    assert main([*ARGS, "--batch-size", "1"]) == 0
    assert _row(capsys.readouterr().out, "fits memory at this batch").endswith("yes")


def test_the_near_tdp_warning_offers_options_with_figures(capsys) -> None:
    assert main([*ARGS, "--batch-size", "8"]) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines() if "of TDP" in line)
    assert "--batch-size 4" in warning and "--power-limit-w 560" in warning and "lower precision" in warning
