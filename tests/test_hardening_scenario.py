"""Hostile scenario files (issue 9): each gets one message naming the file, exit 1, no traceback, no hang.

Covers alias bombs ("billion laughs"), oversized, too deep and too long documents, complex keys,
non-finite numbers, unsafe override names and a workload named by a mapping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from planner.cli.main import main
from planner.errors import InputError
from planner.io import files
from planner.plan.hashing import parse_yaml_bytes
from planner.schemas.scenario import Scenario

GOOD = """\
name: t
workloads:
  - name: chat
    model: llama-3.1-8b
    traffic: {peak_requests_per_s: 5, input_tokens: 500, output_tokens: 100}
    slo: {ttft_p95_ms: 2000, itl_p95_ms: 50}
hardware: {gpus: [h100-sxm]}
"""


def laughs(levels: int) -> str:
    """A scenario whose description is ``levels`` nested levels of 9 aliases each (9**levels strings)."""
    lines = ["name: t", 'a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join([*lines, f"description: *a{levels}", "workloads: []", ""])


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str) -> tuple[int, str]:
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    rc = main([*(args or ("validate",)), str(p)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def test_alias_bomb_is_refused_with_the_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, capsys, laughs(6))  # 531,441 strings once expanded
    assert rc == 1
    assert err.count("\n") == 1 and "bad.yaml" in err
    assert f"more than {files.MAX_YAML_VALUES:,} values" in err and "alias" in err


def test_alias_bomb_of_the_issue_answers_fast(tmp_path: Path) -> None:
    """The 426-byte, 9-level document of issue 9 hung validate for over a minute (the message repr'd it)."""
    p = tmp_path / "laughs.yaml"
    p.write_text(laughs(9), encoding="utf-8")
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "planner", "validate", str(p)], capture_output=True, text=True,
                         timeout=30, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 1 and "Traceback" not in out.stderr and "values" in out.stderr
    assert time.monotonic() - start < 15  # generous for a loaded CI machine; it took > 60 s before


def test_alias_bomb_is_refused_when_hashing(tmp_path: Path) -> None:
    """`planner check` hashes the scenario's parsed content: the hash must not expand the bomb either."""
    with pytest.raises(InputError, match="values"):
        parse_yaml_bytes(laughs(6).encode(), "s.yaml")


def test_aliases_within_the_bound_still_load(tmp_path: Path) -> None:
    text = GOOD + "x-defaults: &slo {ttft_p95_ms: 2000}\n"
    assert files.parse_yaml(text, "s.yaml")["x-defaults"] == {"ttft_p95_ms": 2000}


@pytest.mark.parametrize(("text", "expected"), [
    ("name: t\ndescription: '" + "x" * (files.MAX_YAML_SCALAR_CHARS + 1) + "'\n", "characters"),
    ("name: t\nworkloads: [" + ",".join(["0"] * (files.MAX_YAML_VALUES + 1)) + "]\n", "values"),
    ("".join("  " * i + "a:\n" for i in range(files.MAX_YAML_DEPTH + 5)), "nested deeper"),
    # libyaml >= 0.2.5 (PyYAML 6.0.2+) stops flow nesting itself ("nesting depth"); before, planner's scan does
    ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nest"),
], ids=["long-string", "long-list", "deep-block", "deep-flow"])
def test_size_bounds(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    rc, err = run(tmp_path, capsys, text)
    assert rc == 1 and "bad.yaml" in err and expected in err and "(" in err  # the fix in parentheses


def test_file_over_the_byte_bound_is_refused_unread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, capsys, GOOD + "description: '" + "x" * files.MAX_YAML_BYTES + "'\n")
    assert rc == 1 and "bad.yaml" in err and f"more than the {files.MAX_YAML_BYTES:,}" in err


def test_huge_integer_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Python refuses to read an integer of over 4,300 digits (ValueError, a traceback before)."""
    rc, err = run(tmp_path, capsys, GOOD.replace("peak_requests_per_s: 5", "peak_requests_per_s: " + "9" * 5000))
    assert rc == 1 and "bad.yaml: line 5: a number longer than" in err


def test_merge_keys_work_and_explicit_keys_win() -> None:
    doc = files.parse_yaml("x: &x {a: 1, b: 2}\ny:\n  <<: *x\n  b: 3\n", "s.yaml")
    assert doc["y"] == {"a": 1, "b": 3}
    with pytest.raises(InputError, match="duplicate key 'a'"):
        files.parse_yaml("y:\n  a: 1\n  a: 2\n", "s.yaml")


def test_complex_key_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, capsys, GOOD + "? [a, b]\n: 1\n")
    assert rc == 1 and "bad.yaml" in err and "line 8" in err and "a key must be a plain name" in err


@pytest.mark.parametrize(("patch", "where"), [
    ("    slo: {ttft_p95_ms: .inf}\n", "workloads[0].slo.ttft_p95_ms"),
    ("site: {power_cap_kw: .inf}\n", "site.power_cap_kw"),
    ("site: {pue: .nan}\n", "site.pue"),
    ("finance: {gpu_prices_usd: {h100-sxm: -.inf}}\n", "finance.gpu_prices_usd.h100-sxm"),
], ids=["slo-inf", "power-cap-inf", "pue-nan", "price-minus-inf"])
def test_non_finite_numbers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: str,
                                        where: str) -> None:
    in_workload = patch.startswith("    ")
    text = GOOD.replace("    slo: {ttft_p95_ms: 2000, itl_p95_ms: 50}\n", patch) if in_workload else GOOD + patch
    rc, err = run(tmp_path, capsys, text)
    assert rc == 1 and f"bad.yaml: {where}: " in err and "finite number" in err and ".inf" in err


def test_non_finite_solve_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, capsys, GOOD + "site: {power_cap_kw: .inf}\n", "solve", "--no-write", "--no-analysis")
    assert rc == 1 and "site.power_cap_kw" in err


@pytest.mark.parametrize(("patch", "where"), [
    ("site: {power_cap_kw: 1.0e+308}\n", "site.power_cap_kw"),  # the solver's RHS became inf (PulpError)
    ("finance: {amortization_years: 5.0e-324}\n", "finance.amortization_years"),  # TCO per year overflowed
    ("finance: {colocation_usd_per_kw_month: 1.0e+15}\n", "finance.colocation_usd_per_kw_month"),  # HiGHS IndexError
    ("finance: {gpu_prices_usd: {h100-sxm: 1.0e+15}}\n", "finance.gpu_prices_usd.h100-sxm"),
    ("finance: {server_prices_usd: {h100-sxm: -1}}\n", "finance.server_prices_usd.h100-sxm"),
], ids=["power-cap", "amortization", "colocation", "gpu-price", "negative-server-price"])
def test_extreme_finite_numbers_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: str,
                                            where: str) -> None:
    rc, err = run(tmp_path, capsys, GOOD + patch)
    assert rc == 1 and f"bad.yaml: {where}: Input should be" in err


def test_vanishing_traffic_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1e-300 req/s passed `gt=0` and then failed the plan's own verification with a traceback."""
    rc, err = run(tmp_path, capsys, GOOD.replace("peak_requests_per_s: 5", "peak_requests_per_s: 1.0e-300"),
                  "solve", "--no-write", "--no-analysis")
    assert rc == 1 and "workloads[0].traffic.peak_requests_per_s: Input should be greater than or equal to" in err


@pytest.mark.parametrize("name", ["../../../../x", "a/b", ".hidden", "..", "x" * 101, "a b"])
def test_unsafe_override_names_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    rc, err = run(tmp_path, capsys, GOOD + f"overrides:\n  {name!r}: {{objective: min_power}}\n")
    assert rc == 1 and "bad.yaml: overrides." in err and "(the key)" in err and ": ok (" not in err


def test_unsafe_scenario_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, capsys, GOOD.replace("name: t\n", "name: ../up\n", 1))
    assert rc == 1 and "bad.yaml: name: " in err and "pattern" in err


def test_override_solve_writes_nothing_outside_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "t.yaml").write_text(GOOD + "overrides:\n  ../../x: {objective: min_power}\n", encoding="utf-8")
    rc = main(["solve", "t.yaml", "--override", "../../x", "--no-analysis"])
    assert rc == 1 and "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "t.yaml"]


def test_workload_named_by_a_mapping_with_an_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("  - name: chat", "  - name: {}") + \
        "overrides:\n  x2:\n    workloads: {chat: {traffic: {peak_requests_per_s: 10}}}\n"
    rc, err = run(tmp_path, capsys, text, "solve", "--no-write", "--override", "x2")
    assert rc == 1 and "bad.yaml: workloads[0].name: " in err and "mapping" in err


def test_messages_never_show_a_huge_value() -> None:
    huge = [["lol"] * 1000] * 1000  # a million strings, as an alias bomb within bounds might give
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate({"name": "t", "description": huge, "workloads": []})
    start = time.monotonic()
    text = files.describe_validation_error(info.value, "s.yaml", Scenario)
    assert time.monotonic() - start < 1
    assert "description: Input should be a valid string, got a list" in text and max(map(len, text.split("\n"))) < 300


def test_messages_list_at_most_a_bounded_number_of_problems() -> None:
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate({"name": "t", "workloads": [0] * 1000})
    lines = files.describe_validation_error(info.value, "s.yaml", Scenario).split("\n")
    assert len(lines) == files.MAX_PROBLEMS_SHOWN + 1 and "and 980 more problems" in lines[-1]


def test_long_key_is_shortened_in_the_key_path() -> None:
    assert files.key_path(["site", "k" * 500]) == "site." + "k" * 60 + "..."


def test_key_with_control_characters_stays_one_inert_line() -> None:
    assert files.key_path(["site", "a\nb\x1b[2Jc"]) == "site.a b [2Jc"


def test_good_scenario_still_loads(tmp_path: Path) -> None:
    p = tmp_path / "good.yaml"
    p.write_text(GOOD, encoding="utf-8")
    assert files.load_yaml_as(Scenario, p).workloads[0].name == "chat"
    assert yaml.safe_load(GOOD) == files.read_yaml(p)
