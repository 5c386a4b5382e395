"""`planner estimate` says whether the batch asked for fits memory, never "yes" beside a smaller
"max batch that fits": a batch beyond memory is an error naming the limit, the offline point is asked
for with `--batch-size max`, and the near-TDP warning offers options with figures."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.integration

ARGS = ["estimate", "--model", "llama-3.3-70b", "--gpu", "h100-sxm", "--tp", "2", "--input-tokens", "8000",
        "--output-tokens", "500"]


def _row(out: str, label: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(label))


def _max_batch(capsys: pytest.CaptureFixture[str], args: list[str]) -> int:
    assert main([*args, "--batch-size", "max", "--format", "json"]) == 0
    return int(json.loads(capsys.readouterr().out)["max_batch_size"])


def test_a_batch_beyond_memory_is_an_error_not_a_table(capsys) -> None:
    most = _max_batch(capsys, ARGS)
    assert main([*ARGS, "--batch-size", str(most + 1)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and f"batch {most + 1} does not fit memory: at most {most} sequence(s)" in err


def test_a_batch_within_memory_fits(capsys) -> None:
    assert main([*ARGS, "--batch-size", "1"]) == 0
    assert _row(capsys.readouterr().out, "fits memory at this batch").endswith("yes")


def test_batch_size_max_says_it_is_the_memory_limit(capsys) -> None:
    most = _max_batch(capsys, ARGS)
    assert main([*ARGS, "--batch-size", "max"]) == 0
    out = capsys.readouterr().out
    assert f"batch {most} (the largest that fits memory)" in out.splitlines()[1]
    assert _row(out, "max batch that fits").split()[-1] == str(most)


def test_the_near_tdp_warning_offers_options_with_figures(capsys) -> None:
    args = ["estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-tokens", "8000",
            "--output-tokens", "200", "--batch-size", "max", "--format", "json"]  # prefill-heavy: near TDP
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    warning = next(w for w in doc["warnings"] if "of TDP" in w)
    assert doc["power_per_gpu_w"] > 0.9 * 700
    assert f"--batch-size {doc['batch_size'] // 2}" in warning and "--power-limit-w 560" in warning
    assert "lower precision" in warning
