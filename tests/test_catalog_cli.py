"""`planner catalog gpus | models | show | import-hf` through the real entry point."""

from __future__ import annotations

import csv
import io
import json

import pytest

from planner.catalog.loader import load_catalog
from planner.cli.main import main

CAT = load_catalog()
LLAMA_8B_CONFIG = {
    "model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_gpus_table_lists_every_gpu_with_units(capsys):
    code, out, _ = run(capsys, "catalog", "gpus")
    assert code == 0
    header = out.splitlines()[0]
    for label in ("memory (GiB)", "bandwidth (TB/s)", "bf16 (TFLOP/s)", "TDP (W)", "idle (W)"):
        assert label in header
    ids = {line.split()[0] for line in out.splitlines()[2:]}
    assert ids == set(CAT.gpus)
    h100 = next(line for line in out.splitlines() if line.startswith("h100-sxm "))
    assert "989.4" in h100 and "700" in h100


def test_models_table_lists_every_model(capsys):
    code, out, _ = run(capsys, "catalog", "models")
    assert code == 0 and "KV (KiB/token)" in out.splitlines()[0]
    assert {line.split()[0] for line in out.splitlines()[2:]} == set(CAT.models)
    llama = next(line for line in out.splitlines() if line.startswith("llama-3.1-70b "))
    assert " 320" in llama  # 2 x 80 x 8 x 128 x 2 B = 320 KiB per token


@pytest.mark.parametrize("kind", ["gpus", "models"])
def test_json_is_the_full_catalog(capsys, kind):
    code, out, _ = run(capsys, "catalog", kind, "--format", "json")
    entries = json.loads(out)
    assert code == 0 and [e["id"] for e in entries] == list(getattr(CAT, kind))
    assert all("source" in e for e in entries)


@pytest.mark.parametrize(("kind", "column"), [("gpus", "memory_bandwidth_tb_per_s"), ("models", "kv_bytes_per_token")])
def test_csv_has_unit_suffixed_columns(capsys, kind, column):
    code, out, _ = run(capsys, "catalog", kind, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == len(getattr(CAT, kind)) and column in rows[0]


def test_csv_values(capsys):
    _, out, _ = run(capsys, "catalog", "models", "--format", "csv")
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["id"] == "deepseek-v3")
    assert float(row["kv_bytes_per_token"]) == 61 * (512 + 64) * 2 and row["attention_kind"] == "mla"


@pytest.mark.parametrize(("name", "ident"), [("h100", "h100-sxm"), ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
                                             ("DEEPSEEK-V3", "deepseek-v3")])
def test_show_by_id_or_alias(capsys, name, ident):
    code, out, _ = run(capsys, "catalog", "show", name)
    assert code == 0 and f"\nid: {ident}\n" in out
    code, out, _ = run(capsys, "catalog", "show", name, "--format", "json")
    assert json.loads(out)["id"] == ident


def test_show_unknown_name_suggests_close_ones(capsys):
    code, out, err = run(capsys, "catalog", "show", "h1000")
    assert code == 1 and out == ""
    assert err.startswith("Error: no model or GPU named 'h1000'") and "did you mean" in err
    assert len(err.strip().splitlines()) == 1


# ---- import-hf -----------------------------------------------------------------------------------

def _config(tmp_path, data=LLAMA_8B_CONFIG):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def test_import_prints_a_catalog_file(capsys, tmp_path):
    code, out, _ = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), "--id", "my-llama")
    assert code == 0 and "schema_version: 1" in out and "- id: my-llama" in out


def test_import_writes_a_file_the_estimate_can_use(capsys, tmp_path):
    folder = tmp_path / "catalog"
    out_file = folder / "mine.yaml"
    code, _, err = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), "--id", "my-llama", "--out",
                       str(out_file))
    assert code == 0 and out_file.exists() and "wrote model my-llama" in err
    assert load_catalog([folder]).model("my-llama").params_total_b == pytest.approx(8.03, abs=0.01)
    code, out, _ = run(capsys, "estimate", "--model", "my-llama", "--catalog", str(folder), "--gpu", "h100-sxm",
                       "--input-tokens", "100", "--output-tokens", "10", "--batch-size", "1", "--format", "json")
    assert code == 0 and json.loads(out)["model"] == "my-llama"


def test_import_never_overwrites_without_force(capsys, tmp_path):
    out_file = tmp_path / "mine.yaml"
    out_file.write_text("keep me")
    code, _, err = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), "--id", "a", "--out", str(out_file))
    assert code == 1 and err.startswith("Error: ") and "--force" in err
    assert out_file.read_text() == "keep me"
    code, _, _ = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), "--id", "a", "--out", str(out_file),
                     "--force")
    assert code == 0 and "- id: a" in out_file.read_text()


def test_import_params_override(capsys, tmp_path):
    code, out, _ = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), "--id", "a", "--params-b", "8")
    assert code == 0 and "params_total_b: 8.0" in out and "--params-b 8" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--id", "Bad Id!"], "id"),
    (["--id", "a", "--params-b", "-1"], "--params-b must be > 0"),
])
def test_import_bad_options_are_one_error_line(capsys, tmp_path, args, message):
    code, out, err = run(capsys, "catalog", "import-hf", str(_config(tmp_path)), *args)
    assert code == 1 and out == "" and err.startswith("Error: ") and message in err
    assert "Traceback" not in err


def test_import_bad_json_is_one_error_line(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{oops")
    code, _, err = run(capsys, "catalog", "import-hf", str(path), "--id", "a")
    assert code == 1 and err.startswith("Error: ") and "malformed JSON" in err and len(err.splitlines()) == 1
