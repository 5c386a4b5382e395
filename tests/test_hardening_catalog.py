"""Hostile Hugging Face configs (`planner catalog import-hf`) and user catalogs (`--catalog DIR`,
PLANNER_CATALOG_PATH), issue 9: one `Error: ...` line naming the file and key, exit 1, no traceback."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
LLAMA = {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
         "max_position_embeddings": 131072, "model_type": "llama", "num_attention_heads": 32,
         "num_hidden_layers": 32, "num_key_value_heads": 8, "tie_word_embeddings": False,
         "torch_dtype": "bfloat16", "vocab_size": 128256, "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct"}
QWEN_MOE = {"model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048, "num_attention_heads": 32,
            "num_key_value_heads": 4, "intermediate_size": 6144, "vocab_size": 151936,
            "max_position_embeddings": 40960, "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8,
            "moe_intermediate_size": 768, "decoder_sparse_step": 1, "mlp_only_layers": []}


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_input_error(code: int, err: str, *words: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    assert sum(line.startswith("Error: ") for line in err.splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def config_file(tmp_path: Path, base: dict | None = None, text: str | None = None, **changes: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(text if text is not None else json.dumps({**(base or LLAMA), **changes}), encoding="utf-8")
    return path


# ---- Hugging Face config.json ----------------------------------------------------------------------

@pytest.mark.parametrize("value", [["fp8"], "fp8", 8, True])
def test_a_quantization_config_that_is_not_a_mapping(capsys, tmp_path, value):
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, quantization_config=value))
    assert_input_error(code, err, "config.json", "quantization_config")


@pytest.mark.parametrize("value", ["sliding_attention", [1, 2] * 16, ["full_attention"] * 31,
                                   ["sliding_attention", None] * 16, {"0": "full_attention"}, [[]] * 32])
def test_layer_types_must_be_one_name_per_layer(capsys, tmp_path, value):
    config = config_file(tmp_path, sliding_window=4096, layer_types=value)
    code, _, err = run(capsys, "catalog", "import-hf", config)
    assert_input_error(code, err, "config.json", "layer_types")


@pytest.mark.parametrize("value", [5, "0,1", [[0]], [{"a": 1}], [48], [-1], [0.5], [True]])
def test_mlp_only_layers_must_be_layer_indices(capsys, tmp_path, value):
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, QWEN_MOE, mlp_only_layers=value))
    assert_input_error(code, err, "config.json", "mlp_only_layers")


@pytest.mark.parametrize("key", ["vocab_size", "hidden_size", "max_position_embeddings", "intermediate_size"])
def test_a_size_too_large_for_a_float(capsys, tmp_path, key):
    text = json.dumps(LLAMA).replace(f'"{key}": {LLAMA[key]}', f'"{key}": 1{"0" * 400}')
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, text=text))
    assert_input_error(code, err, "config.json", key)


@pytest.mark.parametrize("key, value", [
    ("sliding_window", "abc"), ("sliding_window", [4096]), ("sliding_window", 1.5), ("tie_word_embeddings", "no"),
    ("attention_bias", 1), ("_name_or_path", ["a/b"]), ("model_type", {"x": 1}), ("num_key_value_heads", None),
])
def test_a_key_of_the_wrong_type(capsys, tmp_path, key, value):
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, **{key: value}), "--id", "x")
    if value is None:  # null means absent: kv heads default to the attention heads
        assert code == 0, err
        return
    assert_input_error(code, err, "config.json", key)


@pytest.mark.parametrize("text", ['{"vocab_size": 1' + "0" * 5000 + "}", "[" * 100_000, '{"a": NaN}', "", "null",
                                  '"config"'])
def test_a_document_that_is_not_a_config(capsys, tmp_path, text):
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, text=text), "--id", "x")
    assert_input_error(code, err, "config.json")


def test_a_config_that_is_not_utf8_or_a_folder(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe{}")
    code, _, err = run(capsys, "catalog", "import-hf", path)
    assert_input_error(code, err, "config.json", "UTF-8")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    code, _, err = run(capsys, "catalog", "import-hf", folder)
    assert_input_error(code, err, "folder.json")


def test_import_hf_refuses_to_write_over_its_config(capsys, tmp_path):
    config = config_file(tmp_path)
    before = config.read_bytes()
    code, _, err = run(capsys, "catalog", "import-hf", config, "--out", config, "--force")
    assert_input_error(code, err, "config.json", "--out")
    assert config.read_bytes() == before


@pytest.mark.parametrize("value", ["1e300", "inf", "nan", "0", "-1"])
def test_params_b_out_of_range(capsys, tmp_path, value):
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path), "--params-b", value)
    assert_input_error(code, err, "--params-b")


def test_the_seed_configs_still_import(capsys, tmp_path):
    for base in (LLAMA, QWEN_MOE):
        code, out, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, base), "--id", "x")
        assert code == 0, err
        assert yaml.safe_load(out)["models"][0]["id"] == "x"


# ---- user catalogs ---------------------------------------------------------------------------------

def _entry(kind: str, ident: str) -> dict:
    entries = yaml.safe_load((ROOT / f"catalogs/{kind}.yaml").read_text(encoding="utf-8"))[kind]
    return dict(next(e for e in entries if e["id"] == ident))


def user_catalog(tmp_path: Path, kind: str, text: str) -> Path:
    folder = tmp_path / "cat"
    folder.mkdir(exist_ok=True)
    (folder / f"{kind}.yaml").write_text(text, encoding="utf-8")
    return folder


def model_catalog(tmp_path: Path, key: str, value_text: str) -> Path:
    model = {**_entry("models", "llama-3.1-8b"), "id": "my-model", "aliases": [], key: "PLACEHOLDER"}
    text = yaml.safe_dump({"schema_version": 1, "models": [model]}, sort_keys=False)
    return user_catalog(tmp_path, "models", text.replace("PLACEHOLDER", value_text))


ESTIMATE = ["estimate", "--model", "my-model", "--gpu", "h100-sxm", "--input-tokens", "100", "--output-tokens", "10",
            "--batch-size", "max"]


def test_a_user_model_number_too_large_for_a_float(capsys, tmp_path):
    """10**400 as a YAML integer (the loader may refuse its length before the schema sees it)."""
    code, _, err = run(capsys, *ESTIMATE, "--catalog", model_catalog(tmp_path, "max_context_tokens", "1" + "0" * 400))
    assert_input_error(code, err, "models.yaml")


@pytest.mark.parametrize("key, value", [("max_context_tokens", "1" + "0" * 90), ("vocab_size", "1" + "0" * 90),
                                        ("hidden_size", "1" + "0" * 30), ("params_total_b", ".inf"),
                                        ("layers", "1e400"), ("head_dim", "[128]"), ("ffn_size", "null")])
def test_a_user_model_number_too_large_or_of_the_wrong_type(capsys, tmp_path, key, value):
    code, _, err = run(capsys, *ESTIMATE, "--catalog", model_catalog(tmp_path, key, value))
    assert_input_error(code, err, "models.yaml", key)


def test_the_catalog_path_variable_is_checked_the_same_way(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CATALOG_PATH", str(model_catalog(tmp_path, "max_context_tokens", "1" + "0" * 90)))
    code, _, err = run(capsys, "catalog", "models")
    assert_input_error(code, err, "models.yaml", "max_context_tokens")


@pytest.mark.parametrize("path, value", [
    (("interconnect", "bandwidth_gb_per_s"), "1" + "0" * 90), (("peak_tflops", "bf16"), "1e300"),
    (("price", "usd"), "1e300"), (("server", "max_power_w"), "1e300"), (("server", "psu", "rating_w"), "1e300"),
    (("idle_w",), "1e300"), (("memory_bandwidth_tb_per_s",), "1e-300"), (("peak_tflops", "bf16"), "1e-300"),
    (("memory_gib",), "1e-9"), (("interconnect", "latency_us"), "5e-324"), (("tdp_w",), "1e-300"),
])
def test_a_user_gpu_number_outside_its_plausible_range(capsys, tmp_path, path, value):
    gpu = {**_entry("gpus", "h100-sxm"), "id": "my-gpu", "aliases": []}
    node = gpu
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    node[path[-1]] = "PLACEHOLDER"
    text = yaml.safe_dump({"schema_version": 1, "gpus": [gpu]}, sort_keys=False).replace("PLACEHOLDER", value)
    code, _, err = run(capsys, "catalog", "gpus", "--catalog", user_catalog(tmp_path, "gpus", text))
    assert_input_error(code, err, "gpus.yaml", path[-1])


def test_a_catalog_path_that_is_a_file(capsys, tmp_path):
    folder = model_catalog(tmp_path, "max_context_tokens", "131072")
    code, _, err = run(capsys, "catalog", "models", "--catalog", folder / "models.yaml")
    assert_input_error(code, err, "models.yaml", "folder")


def test_a_sane_user_catalog_still_loads(capsys, tmp_path):
    code, out, err = run(capsys, *ESTIMATE, "--catalog", model_catalog(tmp_path, "max_context_tokens", "131072"))
    assert code == 0, err
    assert out.startswith("my-model on 1 x h100-sxm")


@pytest.mark.parametrize("command", [["catalog", "show"], ["estimate", "--gpu", "h100-sxm", "--input-tokens", "1",
                                                          "--output-tokens", "1", "--model"]])
def test_a_very_long_unknown_name_is_cut_in_the_message(capsys, command):
    code, _, err = run(capsys, *command, "a" * 100_000)
    assert_input_error(code, err, "aaaa...")
    assert len(err) < 1000


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats()
                           | st.text(max_size=12), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
CONFIG_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
               "intermediate_size", "vocab_size", "max_position_embeddings", "tie_word_embeddings", "model_type",
               "sliding_window", "layer_types", "quantization_config", "torch_dtype", "_name_or_path", "text_config",
               "num_experts", "num_experts_per_tok", "moe_intermediate_size", "mlp_only_layers",
               "decoder_sparse_step", "kv_lora_rank", "first_k_dense_replace", "use_sliding_window")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moe=st.booleans(), key=st.sampled_from(CONFIG_KEYS), value=JSON_VALUES)
def test_any_config_value_imports_or_is_one_message(capsys, tmp_path, moe, key, value):
    code, out, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, QWEN_MOE if moe else LLAMA,
                                                                     **{key: value}), "--id", "x")
    assert code in (0, 1) and "Traceback" not in err
    if code == 0:
        assert yaml.safe_load(out)["models"][0]["id"] == "x"
    else:
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and "config.json" in errors[0], err


def test_a_config_that_is_a_pipe_or_device(capsys, tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        code, _, err = run(capsys, "catalog", "import-hf", path, "--id", "x")
        assert_input_error(code, err, str(path), "regular file")


@pytest.mark.parametrize("target", ["/dev/zero", "missing.yaml"])
def test_a_catalog_file_that_is_a_device_or_broken_link_is_named(capsys, tmp_path, target):
    folder = model_catalog(tmp_path, "max_context_tokens", "131072")
    os.symlink(target, folder / "gpus.yaml")
    code, _, err = run(capsys, "catalog", "gpus", "--catalog", folder)
    assert_input_error(code, err, "gpus.yaml", "regular file")


@pytest.mark.parametrize("key, value", [("num_hidden_layers", 10**9), ("num_attention_heads", 10**9),
                                        ("vocab_size", 10**9), ("num_experts", 10**9)])
def test_a_size_beyond_any_model_is_refused_quickly(capsys, tmp_path, key, value):
    """num_hidden_layers 1e9 looped over every layer of a MoE config (over a minute)."""
    start = time.perf_counter()
    code, _, err = run(capsys, "catalog", "import-hf", config_file(tmp_path, QWEN_MOE, **{key: value}), "--id", "x")
    assert time.perf_counter() - start < 5.0
    assert_input_error(code, err, "config.json", key)


@pytest.mark.parametrize("key", ["model", "Models", "gpu", "GPUS "])
def test_a_misspelled_catalog_key_is_not_skipped_silently(capsys, tmp_path, key):
    folder = model_catalog(tmp_path, "max_context_tokens", "131072")
    text = (folder / "models.yaml").read_text(encoding="utf-8")
    (folder / "models.yaml").write_text(text.replace("models:", f"{key}:", 1), encoding="utf-8")
    code, _, err = run(capsys, *ESTIMATE, "--catalog", folder)
    assert_input_error(code, err, "models.yaml", "did you mean")


def test_other_yaml_in_a_catalog_folder_is_still_skipped(capsys, tmp_path):
    folder = model_catalog(tmp_path, "max_context_tokens", "131072")
    (folder / "notes.yaml").write_text("servers: []\nowner: me\n", encoding="utf-8")
    code, _, err = run(capsys, *ESTIMATE, "--catalog", folder)
    assert code == 0, err
