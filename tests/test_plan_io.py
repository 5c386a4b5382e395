"""plan.json: deterministic bytes, versioned reading with clear errors, input hashes (of the
scenario's and calibration's content, not their bytes)."""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import planner.plan
from planner import __version__
from planner.catalog import Catalog
from planner.errors import CalibrationError, InputError, PlanFileError
from planner.plan.hashing import (
    calibration_sha256,
    content_sha256,
    input_hashes,
    scenario_sha256,
    sha256_file,
)
from planner.plan.io import dump_plan, load_plan, normalize_plan, parse_plan, round_float, write_plan
from planner.schemas.plan import PLAN_SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "gitops"
BASE = FIXTURES / "chatbot-base.json"


@pytest.fixture
def plan():
    return load_plan(BASE)


def _raw() -> dict:
    return json.loads(BASE.read_text(encoding="utf-8"))


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- writing ------------------------------------------------------------------------------------

def test_dump_of_a_loaded_plan_gives_the_file_back_byte_for_byte(plan):
    assert dump_plan(plan) == BASE.read_text(encoding="utf-8")


def test_dump_is_stable_across_round_trips(plan):
    once = dump_plan(plan)
    assert dump_plan(parse_plan(once, "x")) == once
    assert dump_plan(normalize_plan(plan)) == once


def test_keys_are_sorted_at_every_level(plan):
    def check(obj: object) -> None:
        if isinstance(obj, dict):
            assert list(obj) == sorted(obj)
            for v in obj.values():
                check(v)
        elif isinstance(obj, list):
            for v in obj:
                check(v)

    check(json.loads(dump_plan(plan)))


def test_floats_are_rounded_to_six_significant_digits(plan):
    noisy = plan.model_copy(update={"totals": plan.totals.model_copy(
        update={"capex_usd": 1_240_000.0000001, "it_power_avg_w": 1 / 3, "annual_colocation_usd": -0.0})})
    data = json.loads(dump_plan(noisy))
    assert data["totals"]["capex_usd"] == 1_240_000.0
    assert data["totals"]["it_power_avg_w"] == 0.333333
    assert '"annual_colocation_usd": 0.0' in dump_plan(noisy)


def test_solver_wall_time_is_not_written_unless_asked(plan):
    timed = plan.model_copy(update={"solver": plan.solver.model_copy(update={"time_s": 1.2345})})
    assert json.loads(dump_plan(timed))["solver"]["time_s"] == 0.0
    assert json.loads(dump_plan(timed, keep_solve_time=True))["solver"]["time_s"] == 1.2345


def test_text_is_utf8_with_a_trailing_newline_and_no_timestamp(plan):
    scenario = plan.scenario.model_copy(update={"description": "Café – 70B"})
    named = plan.model_copy(update={"scenario": scenario})
    text = dump_plan(named)
    assert "Café – 70B" in text and text.endswith("}\n") and "\r" not in text
    assert not any(k in text for k in ("generated_at", "timestamp", "time_generated"))


def test_non_finite_numbers_are_a_bug_not_a_plan(plan):
    broken = plan.model_copy(update={"totals": plan.totals.model_copy(update={"tco_usd": float("nan")})})
    with pytest.raises(ValueError, match="non-finite"):
        dump_plan(broken)


def test_write_plan_is_atomic_and_leaves_no_temp_file(plan, tmp_path):
    target = tmp_path / "plans" / "chatbot" / "plan.json"
    write_plan(plan, target)
    write_plan(plan, target)
    assert target.read_bytes() == BASE.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_round_float_is_idempotent_and_close(x):
    r = round_float(x)
    assert round_float(r) == r
    assert abs(r - x) <= 5e-6 * abs(x) + 1e-300


# -- reading ------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(PlanFileError, match="plan file not found") as err:
        load_plan(tmp_path / "plan.json")
    assert "planner solve" in str(err.value) and str(tmp_path / "plan.json") in str(err.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(PlanFileError, match="is a directory"):
        load_plan(tmp_path)


def test_corrupt_json_names_line_and_column(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(BASE.read_text(encoding="utf-8")[:200], encoding="utf-8")
    with pytest.raises(PlanFileError, match=r"not valid JSON: line \d+, column \d+") as err:
        load_plan(path)
    assert err.value.file == str(path) and "corrupt" in err.value.fix


def test_binary_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(PlanFileError, match="not UTF-8"):
        load_plan(path)


@pytest.mark.parametrize("data, words", [
    ({"name": "web", "version": "1.0.0", "dependencies": {}}, "no `schema_version` key (top-level keys: "),
    ([1, 2, 3], "top level is a list"),
    ("plan", "top level is a str"),
])
def test_foreign_json_is_not_a_plan(tmp_path, data, words):
    with pytest.raises(PlanFileError, match="not a planner plan") as err:
        load_plan(_write_json(tmp_path / "x.json", data))
    assert words in str(err.value)


def test_newer_major_version_is_refused(tmp_path):
    data = _raw() | {"schema_version": "3.0.0"}
    newer = r"plan schema 3\.0\.0 is newer than this planner reads \(2\.x\)"
    with pytest.raises(PlanFileError, match=newer) as e:
        load_plan(_write_json(tmp_path / "plan.json", data))
    assert "upgrade planner" in e.value.fix


def test_older_major_version_is_refused(tmp_path):
    with pytest.raises(PlanFileError, match="older than this planner reads"):
        load_plan(_write_json(tmp_path / "plan.json", _raw() | {"schema_version": "0.9.0"}))


def test_malformed_version_is_refused(tmp_path):
    with pytest.raises(PlanFileError, match="is not MAJOR.MINOR.PATCH"):
        load_plan(_write_json(tmp_path / "plan.json", _raw() | {"schema_version": "v1"}))


def test_newer_minor_version_loads_and_ignores_unknown_keys(tmp_path):
    major = PLAN_SCHEMA_VERSION.split(".")[0]
    data = _raw() | {"schema_version": f"{major}.7.0", "new_section": {"x": 1}}
    data["totals"] = data["totals"] | {"water_l_per_year": 12.0}
    plan = load_plan(_write_json(tmp_path / "plan.json", data))
    assert plan.schema_version == f"{major}.7.0" and plan.totals.gpus == 28
    assert "new_section" not in dump_plan(plan) and "water_l_per_year" not in dump_plan(plan)


def test_plan_missing_a_section_names_the_key(tmp_path):
    data = _raw()
    del data["totals"]
    data["deployments"][0]["replicas"] = "six"
    with pytest.raises(PlanFileError, match="not a valid plan") as err:
        load_plan(_write_json(tmp_path / "plan.json", data))
    assert "totals: Field required" in str(err.value)
    assert "deployments[0].replicas" in str(err.value)


# -- hashing ------------------------------------------------------------------------------------

VALID = ("name: s\nworkloads:\n  - {name: chat, model: any-model, "
         "traffic: {peak_requests_per_s: 1, input_tokens: 100, output_tokens: 10}}\n")
"""A scenario the schema accepts (the hashes of a solve are taken from a loaded scenario)."""


def _hashes(scenario: Path, catalog: Catalog, override: str | None = None):  # type: ignore[no-untyped-def]
    from planner.problem.build import input_hashes_of
    from planner.scenario.load import load_scenario

    return input_hashes_of(load_scenario(scenario, override), catalog)


def _catalog(tmp_path: Path, text: str = "gpus: []\n") -> Catalog:
    path = tmp_path / "catalog" / "gpus.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Catalog(gpus={}, models={}, files=(path,))


def test_sha256_file(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"name: x\n")
    assert sha256_file(path) == hashlib.sha256(b"name: x\n").hexdigest()


def test_input_hashes_change_with_every_part(tmp_path):
    catalog = _catalog(tmp_path)
    ref = input_hashes(b"name: a\n", catalog, None, None)
    assert ref.calibration == "none" and ref.scenario == hashlib.sha256(b'{"name":"a"}').hexdigest()
    assert ref.catalog == catalog.sha256()
    others = [input_hashes(b"name: b\n", catalog, None, None),
              input_hashes(b"name: a\n", _catalog(tmp_path, "gpus: [] # edited\n"), None, None),
              input_hashes(b"name: a\n", _catalog(tmp_path), b"fit: 1\n", None),
              input_hashes(b"name: a\n", _catalog(tmp_path), None, "growth")]
    assert len({ref.combined, *(o.combined for o in others)}) == 5


def test_combined_hash_covers_the_tool_version(tmp_path, monkeypatch):
    catalog = _catalog(tmp_path)
    before = input_hashes(b"x", catalog, None, None).combined
    monkeypatch.setattr("planner.plan.hashing.__version__", __version__ + ".post1")
    assert input_hashes(b"x", catalog, None, None).combined != before


SCENARIO = b"""# chat fleet
name: chatbot
workloads:
  - name: chat
    traffic: {peak_requests_per_s: 30, input_tokens: 1200}
    slo: {ttft_p95_ms: 1000}
site:
  racks: 8
"""


@pytest.mark.parametrize("same", [
    SCENARIO.replace(b"# chat fleet\n", b""),                                     # a comment
    SCENARIO.replace(b"racks: 8", b"racks: 8   # the new hall"),                    # a trailing comment
    SCENARIO.replace(b"\n", b"\r\n"),                                              # CRLF line endings
    SCENARIO.replace(b"\nsite:\n  racks: 8\n", b"\n\n\nsite: {racks: 8}\n"),         # blank lines, flow style
    SCENARIO.replace(b"slo: {ttft_p95_ms: 1000}", b"slo:\n      ttft_p95_ms: 1000.0"),  # block style, 1000.0
    SCENARIO.replace(b"name: chatbot\n", b"").replace(b"site:", b"name: 'chatbot'\nsite:"),  # key order, quotes
])
def test_the_scenario_hash_ignores_what_does_not_change_its_content(same):
    assert scenario_sha256(yaml.safe_load(same)) == scenario_sha256(yaml.safe_load(SCENARIO))


@pytest.mark.parametrize("changed", [
    SCENARIO.replace(b"peak_requests_per_s: 30", b"peak_requests_per_s: 31"),
    SCENARIO.replace(b"racks: 8", b"racks: '8'"),          # a string is not a number (the schema says so)
    SCENARIO.replace(b"name: chatbot", b"name: chatbot\ndescription: the chat fleet"),
    SCENARIO + b"overrides:\n  growth: {site: {racks: 9}}\n",
])
def test_the_scenario_hash_changes_with_its_content(changed):
    assert scenario_sha256(yaml.safe_load(changed)) != scenario_sha256(yaml.safe_load(SCENARIO))


CALIBRATION = {"schema_version": 1, "coefficients": {"eta_compute": 0.77},
               "provenance": {"rows": 48, "date": "2026-11-21", "command": "planner calibrate m.csv"}}


def test_the_calibration_hash_ignores_the_date_it_was_fitted():
    refit = CALIBRATION | {"provenance": CALIBRATION["provenance"] | {"date": "2027-01-05"}}
    undated = CALIBRATION | {"provenance": {"rows": 48, "command": "planner calibrate m.csv"}}
    assert calibration_sha256(refit) == calibration_sha256(undated) == calibration_sha256(CALIBRATION)
    assert CALIBRATION["provenance"]["date"] == "2026-11-21"  # the caller's document is left alone
    moved = CALIBRATION | {"coefficients": {"eta_compute": 0.78}}
    more_rows = CALIBRATION | {"provenance": CALIBRATION["provenance"] | {"rows": 49}}
    assert len({calibration_sha256(d) for d in (CALIBRATION, moved, more_rows)}) == 3


def test_an_unquoted_yaml_date_hashes_like_its_text(tmp_path):
    dated = b"coefficients: {eta_compute: 0.77}\nprovenance: {date: 2026-11-21, rows: 48}\n"
    quoted = b"coefficients: {eta_compute: 0.77}\nprovenance: {date: '2026-11-21', rows: 49}\n"
    catalog = _catalog(tmp_path)
    assert input_hashes(b"name: a\n", catalog, dated, None).calibration != (
        input_hashes(b"name: a\n", catalog, quoted, None).calibration)  # rows differ; dates are ignored
    assert content_sha256({"d": yaml.safe_load(b"2026-11-21")}) == content_sha256({"d": "2026-11-21"})


def test_the_shipped_calibration_hashes_without_its_date():
    from planner.calibration.coefficients import default_calibration_path

    doc = yaml.safe_load(default_calibration_path().read_bytes())
    assert "date" in doc["provenance"]
    other_day = doc | {"provenance": doc["provenance"] | {"date": "1999-01-01"}}
    assert calibration_sha256(other_day) == calibration_sha256(doc)


def test_malformed_scenario_yaml_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="malformed YAML"):
        input_hashes(b"name: [a\n", _catalog(tmp_path), None, None)


def test_scenario_hashes_follow_the_calibration_named_by_the_scenario(tmp_path):
    one, two = "coefficients: {eta_weight_bw: 0.7}\n", "coefficients: {eta_weight_bw: 0.75}\n"
    (tmp_path / "cal.yaml").write_text(one, encoding="utf-8")
    (tmp_path / "cal-growth.yaml").write_text(two, encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"{VALID}calibration: cal.yaml\n"
                        "overrides:\n  growth: {calibration: cal-growth.yaml}\n", encoding="utf-8")
    catalog = _catalog(tmp_path)
    plain = _hashes(scenario, catalog)
    assert plain.calibration == calibration_sha256({"coefficients": {"eta_weight_bw": 0.7}})
    assert _hashes(scenario, catalog, override="growth").calibration == calibration_sha256(
        {"coefficients": {"eta_weight_bw": 0.75}})
    assert plain == input_hashes(scenario.read_bytes(), catalog, one.encode(), None)
    scenario.write_text("# edited comment\n" + scenario.read_text(encoding="utf-8"), encoding="utf-8")
    assert _hashes(scenario, catalog) == plain


def test_missing_calibration_file_is_a_calibration_error(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"{VALID}calibration: gone.yaml\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="calibration file not found"):
        _hashes(scenario, _catalog(tmp_path))


def test_public_api_is_only_what_all_lists():
    public = {n for n, v in vars(planner.plan).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public == set(planner.plan.__all__)
