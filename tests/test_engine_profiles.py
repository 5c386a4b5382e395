"""Engine profiles (issue 11 item 5): catalogs/engines.yaml agrees with the core's engine table and priors,
every figure has a source, the schema refuses a bad file naming the key, and an estimate for an engine the
calibration has no data for says which figures are priors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import planner
from planner.calibration.fit import ENGINE_COEFFICIENTS
from planner.catalog import load_catalog
from planner.catalog.engines import ENGINES_FILE, engine_profile, load_engines, scheduler_defaults
from planner.core.constants import COEFFICIENTS, ENGINES, fixed
from planner.errors import InputError
from planner.estimation import engine_data_warning
from planner.schemas.calibration import Calibration

pytestmark = pytest.mark.unit

SHIPPED = Path(__file__).resolve().parent.parent / "catalogs" / ENGINES_FILE


def test_profiles_match_the_core_engine_table_and_priors() -> None:
    profiles = load_engines()
    assert set(profiles) == set(ENGINES)
    for e, p in profiles.items():
        assert p.kv_fp8_with_fp8_weights == ENGINES[e]["kv_fp8_with_fp8_weights"]
        for name in ("step_overhead_s", "seq_overhead_s"):
            prior, c = getattr(p, name), COEFFICIENTS[name]
            assert (prior.value, prior.low, prior.high) == (c.value, c.low, c.high), (e, name)
            assert prior.source.strip()
        assert p.kv_cache_source.strip() and p.scheduler.source.strip() and p.version.strip()


def test_the_core_defaults_are_vllm_on_a_large_gpu() -> None:
    h100 = load_catalog().gpu("h100-sxm")
    d = scheduler_defaults(engine_profile("vllm"), h100.memory_gib, h100.architecture)
    assert d["max_batched_tokens"] == fixed("prefill_chunk_tokens")
    assert d["max_sequences"] == fixed("max_batch_size")
    assert d["chunked_prefill"] is True


@pytest.mark.parametrize(("engine", "gpu", "tokens", "sequences", "chunked"), [
    ("vllm", "a100-sxm-80gb", 2048, 256, True),   # A100 kept on the small defaults (vLLM PR #17885)
    ("vllm", "l40s", 2048, 256, True),
    ("sglang", "b200", 16384, None, True),         # above 160 GiB; sequences sized from memory
    ("sglang", "h100-sxm", 8192, None, True),
    ("trt-llm", "h100-sxm", 8192, 2048, False),
])
def test_scheduler_defaults_by_gpu_tier(engine: str, gpu: str, tokens: int, sequences: int | None,
                                        chunked: bool) -> None:
    g = load_catalog().gpu(gpu)
    d = scheduler_defaults(engine_profile(engine), g.memory_gib, g.architecture)
    assert d == {"max_batched_tokens": tokens, "max_sequences": sequences, "chunked_prefill": chunked}


def test_the_catalog_carries_the_engine_profiles_and_hashes_their_file() -> None:
    """The estimates take each engine's scheduler defaults from the profiles, so a plan made with other
    profiles must read as stale: the engine file is part of the catalog digest."""
    cat = load_catalog()
    assert sorted(cat.engines) == sorted(load_engines()) and cat.engines["vllm"] == engine_profile("vllm")
    assert any(f.name == ENGINES_FILE for f in cat.files)


@pytest.mark.parametrize(("old", "new", "key"), [
    ("      value: 1.5e-3\n", "      value: 9.0e-3\n", "engines[0].step_overhead_s"),
    ("        - {value: 8192}\n      max_sequences:\n        - {below_gib: 70",
     "        - {below_gib: 99, value: 8192}\n      max_sequences:\n        - {below_gib: 70",
     "engines[0].scheduler"),
    ("    kv_cache_dtype: auto\n", "    kv_cache_dtype: int2\n", "engines[0].kv_cache_dtype"),
    ("  - id: sglang\n", "  - id: vllm\n", "engines"),
])
def test_a_bad_file_names_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / ENGINES_FILE
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_engines(bad)
    assert key in str(err.value)


def test_an_engine_without_calibration_data_says_which_figures_are_priors() -> None:
    est = planner.estimate("llama-3.1-8b", "h100-sxm", input_tokens=512, output_tokens=128, batch_size=8,
                           engine="sglang")
    text = " ".join(est.warnings)
    assert "SGLang has no calibration data" in text
    assert all(name in text for name in ENGINE_COEFFICIENTS)
    for engine in ("vllm", "trt-llm"):  # the shipped calibration fits both
        e = planner.estimate("llama-3.1-8b", "h100-sxm", input_tokens=512, output_tokens=128, batch_size=8,
                             engine=engine)
        assert not any("calibration data" in w for w in e.warnings), engine


def test_the_engine_the_global_fit_describes_is_calibrated() -> None:
    # a fit whose main engine is TRT-LLM records it with no engine-specific coefficients
    cal = Calibration(coefficients={"eta_compute": 0.6}, per_engine={"trt-llm": {}})
    assert engine_data_warning("trt-llm", cal) is None
    assert "vLLM has no calibration data" in (engine_data_warning("vllm", cal) or "")
    assert "every coefficient" in (engine_data_warning("trt-llm", Calibration()) or "")


def test_cli_warns_on_stderr() -> None:
    r = subprocess.run([sys.executable, "-m", "planner", "estimate", "--model", "llama-3.1-8b", "--gpu", "h100-sxm",
                        "--input-tokens", "512", "--output-tokens", "128", "--batch-size", "8", "--engine", "sglang"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "Warning: engine SGLang has no calibration data" in r.stderr


def test_a_user_engine_file_replaces_the_shipped_profile_and_changes_the_digest(tmp_path: Path) -> None:
    from planner.catalog.engines import engines_path

    text = engines_path().read_text(encoding="utf-8")
    assert "      value: 1.5e-3\n" in text
    (tmp_path / "engines.yaml").write_text(text.replace("      value: 1.5e-3\n", "      value: 2.0e-3\n", 1),
                                           encoding="utf-8")
    shipped, mine = load_catalog(), load_catalog([tmp_path])
    assert mine.digest != shipped.digest
    assert [e for e in mine.engines if mine.engines[e] != shipped.engines[e]]
