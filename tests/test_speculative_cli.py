"""`planner estimate --speculative-method/--speculative-tokens/--acceptance-rate/--draft-model`: the settings
reach the estimate (JSON and table), a speculative flag without a method and an impossible setting are one
error line with exit code 1."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main

pytestmark = pytest.mark.unit

BASE = ["estimate", "-m", "llama-3.1-70b", "-g", "h100-sxm", "--precision", "fp8", "--tp", "4", "--batch-size", "8",
        "--input-tokens", "1000", "--output-tokens", "300"]


def _run(capsys: pytest.CaptureFixture[str], *args: str, stderr: bool = False) -> tuple[int, str]:
    """Exit code and stdout (with ``stderr``: stdout and stderr)."""
    code = main([*BASE, *args])
    out, err = capsys.readouterr()
    return code, out + err if stderr else out


def test_json_carries_the_settings_and_itl_drops(capsys: pytest.CaptureFixture[str]) -> None:
    code, plain = _run(capsys, "--format", "json")
    assert code == 0
    code, out = _run(capsys, "--format", "json", "--speculative-method", "draft", "--draft-model", "llama-3.2-1b",
                     "--speculative-tokens", "3", "--acceptance-rate", "0.8")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["speculative"] == {"method": "draft", "draft_model": "llama-3.2-1b", "tokens": 3, "acceptance_rate": 0.8}
    assert doc["expected_tokens_per_step"] == pytest.approx(1 + 0.8 + 0.64 + 0.512)
    assert doc["itl_s"] < json.loads(plain)["itl_s"]
    assert json.loads(plain)["speculative"] is None


def test_table_says_what_was_estimated(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--speculative-method", "eagle")
    assert code == 0
    assert "speculative decoding: eagle, 3 draft tokens, acceptance 0.75" in out and "unvalidated" in out


@pytest.mark.parametrize(("args", "message"), [
    (("--draft-model", "llama-3.2-1b"), "--draft-model needs --speculative-method"),
    (("--acceptance-rate", "0.5"), "--acceptance-rate needs --speculative-method"),
    (("--speculative-method", "mtp"), "ships a multi-token-prediction module"),
    (("--speculative-method", "eagle", "--speculative-tokens", "12"), "speculative.tokens"),
    (("--speculative-method", "draft",), "method draft needs draft_model"),
])
def test_bad_flags_are_one_error(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    code, out = _run(capsys, *args, stderr=True)
    assert code == 1
    assert message in out and "Traceback" not in out
