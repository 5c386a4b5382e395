"""Bad scenario input: one clear message naming file and key path, exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli.main import main
from planner.errors import PlannerError
from planner.scenario.load import load_scenario

GOOD = {
    "name": "t",
    "workloads": [{"name": "chat", "model": "llama-3.1-8b",
                   "traffic": {"peak_requests_per_s": 5, "input_tokens": 500, "output_tokens": 100},
                   "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 50}}],
    "hardware": {"gpus": ["h100-sxm"]},
}


def run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    rc = main([*args, str(p)] if args else ["validate", str(p)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, "name: [unclosed\n", capsys)
    assert rc == 1 and "bad.yaml" in err and "malformed YAML" in err and "line" in err


def test_unknown_key_names_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["workloads"][0]["slo"]["itl_p95_msec"] = 3
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys)
    assert rc == 1 and "workloads[0].slo.itl_p95_msec" in err and "remove this key" in err


def test_negative_traffic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["workloads"][0]["traffic"]["peak_requests_per_s"] = -1
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys)
    assert rc == 1 and "workloads[0].traffic.peak_requests_per_s" in err


def test_unknown_model_suggests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["workloads"][0]["model"] = "llama-3.1-8c"
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys)
    assert rc == 1 and "workloads[0].model" in err and "did you mean llama-3.1-8b" in err


def test_unknown_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["hardware"]["gpus"] = ["h100-sxn"]
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys, "solve", "--no-write")
    assert rc == 1 and "hardware.gpus[0]" in err and "h100-sxm" in err


def test_unknown_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(GOOD))
    assert main(["validate", "--override", "nope", str(p)]) == 1
    assert "unknown override 'nope'" in capsys.readouterr().err


def test_override_patches_workload_by_name(tmp_path: Path) -> None:
    doc = {**GOOD, "overrides": {"x2": {"workloads": {"chat": {"traffic": {"peak_requests_per_s": 10}}}}}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc))
    assert load_scenario(p, "x2").scenario.workloads[0].traffic.peak_requests_per_s == 10
    assert load_scenario(p).scenario.workloads[0].traffic.peak_requests_per_s == 5


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "scenario"]) == 0
    assert '"workloads"' in capsys.readouterr().out


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.lists(st.integers(), max_size=3))
_paths = st.sampled_from([("name",), ("workloads",), ("workloads", 0, "traffic"),
                          ("workloads", 0, "traffic", "peak_requests_per_s"),
                          ("workloads", 0, "traffic", "input_tokens"), ("workloads", 0, "slo", "itl_p95_ms"),
                          ("workloads", 0, "precisions"), ("workloads", 0, "model"), ("site",),
                          ("site", "pue"), ("hardware", "gpus"), ("objective",), ("overrides",)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, value=_values)
def test_generated_documents_never_crash(tmp_path: Path, path: tuple, value: object) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    node = doc
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    node[path[-1]] = value
    p = tmp_path / "h.yaml"
    p.write_text(yaml.safe_dump(doc))
    try:
        load_scenario(p)
    except PlannerError as exc:
        assert str(p) in exc.render()
