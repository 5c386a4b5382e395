"""planner estimate --ep/--dp: the replica's GPUs, the header, JSON fields, and refusals naming the fix."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.unit

MOE = ["estimate", "--model", "qwen3-235b-a22b", "--gpu", "h100-sxm", "--precision", "fp8", "--batch-size", "64",
       "--input-tokens", "256", "--output-tokens", "512"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_expert_and_data_parallel_replica(capsys):
    code, out, err = run(capsys, *MOE, "--tp", "1", "--dp", "8", "--ep", "8", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["tp"], doc["dp"], doc["ep"], doc["num_gpus"]) == (1, 8, 8, 8)
    code, out, err = run(capsys, *MOE, "--tp", "1", "--dp", "8", "--ep", "8")
    assert code == 0, err
    assert out.startswith("qwen3-235b-a22b on 8 x h100-sxm (tp 1, pp 1, dp 8, ep 8), fp8")


def test_default_is_a_plain_replica(capsys):
    code, out, err = run(capsys, *MOE, "--tp", "8", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["ep"], doc["dp"], doc["num_gpus"]) == (1, 1, 8)


@pytest.mark.parametrize("args, words", [
    (["--tp", "2", "--ep", "3"], "--ep in"),
    (["--tp", "1", "--dp", "2", "--ep", "512"], "exceeds"),
])
def test_refusals_name_the_fix(capsys, args, words):
    code, out, err = run(capsys, *MOE, *args)
    assert code != 0 and words in err and "Traceback" not in err


def test_dp_on_a_dense_model_says_why(capsys):
    code, out, err = run(capsys, "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm", "--dp", "2",
                         "--batch-size", "8", "--input-tokens", "128", "--output-tokens", "128")
    assert code != 0 and "only meaningful for MoE or MLA" in err
