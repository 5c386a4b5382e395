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


def _mutated(tmp_path: Path, path: tuple, value: object) -> Path:
    """GOOD with the value at `path` replaced (missing mappings created), written to a file."""
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    node = doc
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
    node[path[-1]] = value
    p = tmp_path / "h.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, value=_values)
def test_generated_documents_never_crash(tmp_path: Path, path: tuple, value: object) -> None:
    p = _mutated(tmp_path, path, value)
    try:
        load_scenario(p)
    except PlannerError as exc:
        assert str(p) in exc.render()


# ---- overrides: `planner validate` checks each one; problems name the override ------------------

def _write(tmp_path: Path, doc: dict, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _catalog():  # type: ignore[no-untyped-def]
    from planner.catalog.loader import load_catalog

    return load_catalog()


TYPO = {"traffic_x2": {"workloads": {"chat": {"trafic": {"peak_requests_per_s": 10}}}}}


def test_validate_checks_every_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, {**GOOD, "overrides": {"min_power": {"objective": "min_power"}, **TYPO}})
    assert main(["validate", str(p)]) == 1
    out, err = capsys.readouterr()
    assert "ok" not in out and "Traceback" not in err
    assert f"{p}: overrides.traffic_x2 -> workloads[0].trafic: Extra inputs are not permitted" in err
    assert "remove this key" in err and "min_power" not in err


def test_validate_override_option_checks_only_that_override(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, {**GOOD, "overrides": {"min_power": {"objective": "min_power"}, **TYPO}})
    assert main(["validate", "--override", "min_power", str(p)]) == 0
    assert "overrides min_power ok" in capsys.readouterr().out


def test_load_with_override_names_it_in_the_key_path(tmp_path: Path) -> None:
    p = _write(tmp_path, {**GOOD, "overrides": TYPO})
    with pytest.raises(PlannerError) as exc:
        load_scenario(p, "traffic_x2")
    assert exc.value.render().startswith(f"{p}: overrides.traffic_x2 -> workloads[0].trafic: ")
    assert load_scenario(p).override is None  # the base alone is valid


def test_solve_with_override_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, {**GOOD, "overrides": TYPO})
    assert main(["solve", "--no-write", "--override", "traffic_x2", str(p)]) == 1
    assert "overrides.traffic_x2 -> workloads[0].trafic" in capsys.readouterr().err


def test_a_base_problem_is_not_blamed_on_the_override(tmp_path: Path) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["workloads"][0]["slo"]["itl_p95_msec"] = 3
    p = _write(tmp_path, {**doc, "overrides": {"min_power": {"objective": "min_power"}}})
    with pytest.raises(PlannerError) as exc:
        load_scenario(p, "min_power")
    assert exc.value.render() == (f"{p}: workloads[0].slo.itl_p95_msec: Extra inputs are not permitted "
                                  "(did you mean `itl_p95_ms`? otherwise remove this key or check its "
                                  "spelling against `planner schema`)")


def test_override_of_an_unknown_workload_names_it(tmp_path: Path) -> None:
    p = _write(tmp_path, {**GOOD, "overrides": {"x": {"workloads": {"chatt": {"model": "llama-3.1-8b"}}}}})
    with pytest.raises(PlannerError, match=r"overrides\.x\.workloads\.chatt: override patches unknown workload"):
        load_scenario(p, "x")


def test_validate_lists_the_problems_of_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, GOOD, "good.yaml")
    bad1 = _write(tmp_path, {**GOOD, "overrides": TYPO}, "bad1.yaml")
    bad2 = _write(tmp_path, {**GOOD, "objective": "min_cost"}, "bad2.yaml")
    assert main(["validate", str(bad1), str(good), str(bad2)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{good}: ok (1 workloads)\n"
    assert f"{bad1}: overrides.traffic_x2 -> workloads[0].trafic" in err and f"{bad2}: objective" in err


def test_shipped_scenarios_and_their_overrides_validate(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
    assert files and main(["validate", *files]) == 0
    assert "overrides traffic_x2, min_power ok" in capsys.readouterr().out


# ---- names against the catalog: check_names ------------------------------------------------------

def _names_error(tmp_path: Path, doc: dict, override: str | None = None) -> list[str]:
    from planner.scenario.load import check_names

    p = _write(tmp_path, doc)
    with pytest.raises(PlannerError) as exc:
        check_names(load_scenario(p, override), _catalog())
    return [line.removeprefix(f"{p}: ") for line in exc.value.render().splitlines()]


def test_check_names_lists_every_unknown_name_with_its_key_path(tmp_path: Path) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["workloads"][0]["model"] = "llama-3.1-8c"
    doc["hardware"] = {"inventory": {"h100-sxn": 8}, "servers": {"h200x": {"gpus_per_server": 8}}}
    doc["finance"] = {"gpu_prices_usd": {"b201": 30000}, "server_prices_usd": {"h100-sxn": 50000}}
    lines = _names_error(tmp_path, doc)
    assert [line.split(": ")[0] for line in lines] == [
        "workloads[0].model", "hardware.inventory.h100-sxn", "hardware.servers.h200x", "finance.gpu_prices_usd.b201",
        "finance.server_prices_usd.h100-sxn"]
    assert lines[-1] == "finance.server_prices_usd.h100-sxn: unknown GPU 'h100-sxn' (did you mean h100-sxm, v100-sxm?)"
    assert all("did you mean" in line for line in lines)


def test_check_names_flags_an_id_and_its_alias_in_one_mapping(tmp_path: Path) -> None:
    doc = {**GOOD, "finance": {"gpu_prices_usd": {"h100-sxm": 25000, "H100 SXM": 30000}}}
    assert _names_error(tmp_path, doc) == [
        "finance.gpu_prices_usd.H100 SXM: names GPU h100-sxm, as does key 'h100-sxm' (keep one of the two keys)"]


def test_check_names_flags_an_empty_gpu_list(tmp_path: Path) -> None:
    doc = {**GOOD, "hardware": {"gpus": []}}
    (line,) = _names_error(tmp_path, doc)
    assert line.startswith("hardware.gpus: an empty list allows no GPU") and "remove the key" in line


def test_check_names_accepts_ids_and_aliases(tmp_path: Path) -> None:
    from planner.scenario.load import check_names

    doc = {**GOOD, "hardware": {"gpus": ["H100 SXM", "a100-sxm-80gb"], "inventory": {"h100": 16}},
           "finance": {"gpu_prices_usd": {"h100-sxm": 25000}, "server_prices_usd": {"H100 SXM": 1}}}
    check_names(load_scenario(_write(tmp_path, doc)), _catalog())


def test_check_names_labels_only_the_override_problems(tmp_path: Path) -> None:
    doc = {**GOOD, "hardware": {"gpus": ["h100-sxn"]},
           "overrides": {"more": {"hardware": {"inventory": {"b201": 8}}}}}
    assert _names_error(tmp_path, doc, "more") == [
        "hardware.gpus[0]: unknown GPU 'h100-sxn' (did you mean h100-sxm, v100-sxm?)",
        "overrides.more -> hardware.inventory.b201: unknown GPU 'b201' (did you mean b200, gb200, h20?)"]


def test_validate_reports_name_problems_of_base_and_overrides_once(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    doc = {**GOOD, "hardware": {"gpus": ["h100-sxn"]},
           "overrides": {"a": {"objective": "min_power"}, "b": {"finance": {"server_prices_usd": {"h100-sxn": 1}}}}}
    p = _write(tmp_path, doc)
    assert main(["validate", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.count("hardware.gpus[0]: unknown GPU 'h100-sxn'") == 1
    assert f"{p}: overrides.b -> finance.server_prices_usd.h100-sxn: unknown GPU 'h100-sxn'" in err


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, value=_values)
def test_generated_documents_never_crash_solve(tmp_path: Path, path: tuple, value: object,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    p = _mutated(tmp_path, path, value)
    rc = main(["solve", str(p), "--no-write", "--no-analysis"])
    err = capsys.readouterr().err
    assert rc in (0, 1, 3) and "Traceback" not in err


def test_duplicate_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run(tmp_path, "name: t\nname: u\n", capsys)
    assert rc == 1 and "duplicate key 'name'" in err and "line 2" in err


def test_yaml_boolean_is_not_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["site"] = {"pue": True}
    doc["workloads"][0]["redundancy"] = True
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys)
    assert rc == 1 and "site.pue" in err and "workloads[0].redundancy" in err and "YAML boolean" in err


def test_unwritable_output_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(GOOD))
    rc = main(["solve", str(p), "--no-analysis", "--out", str(blocker / "plans")])
    err = capsys.readouterr().err
    assert rc == 1 and "cannot write" in err and "Traceback" not in err


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    from planner.io.files import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


def test_misspelled_keys_get_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(yaml.safe_dump(GOOD))
    doc["site"] = {"power_cap": 100, "breaker_deration": 0.8}
    doc["workloads"][0]["slo"] = {"ttft_p95": 1000}
    rc, err = run(tmp_path, yaml.safe_dump(doc), capsys)
    assert rc == 1
    assert "site.power_cap: Extra inputs are not permitted (did you mean `power_cap_kw`?" in err
    assert "site.breaker_deration" in err and "`breaker_derating`" in err
    assert "workloads[0].slo.ttft_p95" in err and "`ttft_p95_ms`" in err
