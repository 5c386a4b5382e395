"""Importing Hugging Face config.json files: architecture facts and parameter counts.

The configs below carry the architecture keys of the published config.json of each model; the
imported entry must agree with the hand-checked entry of catalogs/models.yaml, and the computed
parameter counts with hand calculations.
"""

from __future__ import annotations

import json

import pytest

from planner.catalog.hf_import import (
    catalog_yaml,
    count_parameters,
    import_config,
    model_spec_from_config,
    parse_architecture,
)
from planner.catalog.loader import load_catalog
from planner.errors import InputError

# meta-llama/Llama-3.1-8B-Instruct config.json (rope_scaling and token ids left out)
LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 128256,
    "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
}


def cfg(model_type: str, layers: int, hidden: int, heads: int, kv_heads: int, ffn: int, vocab: int,
        context: int, **extra: object) -> dict:
    return {"model_type": model_type, "num_hidden_layers": layers, "hidden_size": hidden,
            "num_attention_heads": heads, "num_key_value_heads": kv_heads, "intermediate_size": ffn,
            "vocab_size": vocab, "max_position_embeddings": context, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16", **extra}


CONFIGS: dict[str, dict] = {
    "llama-3.1-8b": LLAMA_31_8B,
    "llama-3.2-1b": cfg("llama", 16, 2048, 32, 8, 8192, 128256, 131072, head_dim=64, tie_word_embeddings=True),
    "mistral-7b": cfg("mistral", 32, 4096, 32, 8, 14336, 32768, 32768, sliding_window=None),
    "qwen2.5-7b": cfg("qwen2", 28, 3584, 28, 4, 18944, 152064, 32768, sliding_window=131072,
                      use_sliding_window=False, max_window_layers=28),
    "qwen3-8b": cfg("qwen3", 36, 4096, 32, 8, 12288, 151936, 40960, head_dim=128, attention_bias=False,
                    use_sliding_window=False, sliding_window=None),
    "qwen3-30b-a3b": cfg("qwen3_moe", 48, 2048, 32, 4, 6144, 151936, 40960, head_dim=128, num_experts=128,
                         num_experts_per_tok=8, moe_intermediate_size=768, decoder_sparse_step=1,
                         mlp_only_layers=[], use_sliding_window=False),
    "mixtral-8x7b": cfg("mixtral", 32, 4096, 32, 8, 14336, 32000, 32768, num_local_experts=8,
                        num_experts_per_tok=2, sliding_window=None),
    "gemma-2-9b": cfg("gemma2", 42, 3584, 16, 8, 14336, 256000, 8192, head_dim=256, sliding_window=4096,
                      tie_word_embeddings=True, torch_dtype="float32", cache_implementation="hybrid"),
    "deepseek-v3": cfg("deepseek_v3", 61, 7168, 128, 128, 18432, 129280, 163840, moe_intermediate_size=2048,
                       n_routed_experts=256, n_shared_experts=1, num_experts_per_tok=8, first_k_dense_replace=3,
                       moe_layer_freq=1, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                       qk_rope_head_dim=64, v_head_dim=128, num_nextn_predict_layers=1,
                       quantization_config={"quant_method": "fp8", "fmt": "e4m3",
                                            "weight_block_size": [128, 128]}),
    "gpt-oss-20b": cfg("gpt_oss", 24, 2880, 64, 8, 2880, 201088, 131072, head_dim=64, attention_bias=True,
                       num_local_experts=32, num_experts_per_tok=4, experts_per_token=4, sliding_window=128,
                       layer_types=["sliding_attention", "full_attention"] * 12,
                       quantization_config={"quant_method": "mxfp4"}),
    "gpt-oss-120b": cfg("gpt_oss", 36, 2880, 64, 8, 2880, 201088, 131072, head_dim=64, attention_bias=True,
                        num_local_experts=128, num_experts_per_tok=4, sliding_window=128,
                        layer_types=["sliding_attention", "full_attention"] * 18,
                        quantization_config={"quant_method": "mxfp4"}),
    "phi-3-mini": cfg("phi3", 32, 3072, 32, 32, 8192, 32064, 4096, sliding_window=2047),
}
CATALOG = load_catalog()
ARCH_FIELDS = ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "ffn_size", "vocab_size",
               "max_context_tokens", "native_precision", "attention", "moe")


@pytest.mark.parametrize("model_id", sorted(CONFIGS))
def test_import_agrees_with_the_hand_checked_catalog(model_id):
    spec = model_spec_from_config(CONFIGS[model_id], model_id=model_id, source="test")
    shipped = CATALOG.model(model_id)
    for name in ARCH_FIELDS:
        assert getattr(spec, name) == getattr(shipped, name), name
    assert spec.params_total_b == pytest.approx(shipped.params_total_b, rel=0.005)  # catalog: 3-4 digits
    assert "computed from the architecture" in spec.notes


@pytest.mark.parametrize(("model_id", "total", "active"), [
    # embeddings 2 x 128256 x 4096 + 32 x (attention 41,943,040 + FFN 176,160,768 + norms 8,192) + 4,096
    ("llama-3.1-8b", 8_030_261_248, 8_030_261_248),
    # 24 x (attention 26,550,144 + 32 experts x 24,891,840 + router 92,192 + norms 5,760)
    # + embeddings 1,158,266,880 + 2,880; active keeps 4 of 32 experts
    ("gpt-oss-20b", 20_914_757_184, 4_187_440_704),
    # 32 x (41,943,040 + 8 x 176,160,768 + router 32,768 + 8,192) + 262,144,000 + 4,096;
    # active: 32 x (41,943,040 + 2 x 176,160,768 + 32,768 + 8,192) + 262,144,000 + 4,096
    ("mixtral-8x7b", 46_702_792_704, 12_879_925_248),
])
def test_parameter_counts_by_hand(model_id, total, active):
    assert count_parameters(parse_architecture(CONFIGS[model_id])) == (total, active)


def test_active_parameters_of_moe_models():
    qwen = model_spec_from_config(CONFIGS["qwen3-30b-a3b"], model_id="q", source="t")
    deepseek = model_spec_from_config(CONFIGS["deepseek-v3"], model_id="d", source="t")
    assert qwen.params_active_b == pytest.approx(3.35, abs=0.01)       # published 3.3B
    assert deepseek.params_active_b == pytest.approx(37.55, abs=0.01)  # published 37B (37.5 with embedding)
    assert deepseek.moe is not None and deepseek.moe.moe_layers == 58 and deepseek.ffn_size == 18432


@pytest.mark.parametrize(("model_id", "window", "fraction"), [
    ("gemma-2-9b", 4096, 0.5), ("gpt-oss-20b", 128, 0.5), ("phi-3-mini", 2047, 1.0),
    ("qwen2.5-7b", None, 0.0), ("mistral-7b", None, 0.0), ("llama-3.1-8b", None, 0.0),
])
def test_sliding_window_detection(model_id, window, fraction):
    a = parse_architecture(CONFIGS[model_id])
    assert (a.sliding_window, a.sliding_fraction) == (window, fraction)


def test_mistral_v01_window_applies_to_every_layer():
    a = parse_architecture(cfg("mistral", 32, 4096, 32, 8, 14336, 32000, 32768, sliding_window=4096))
    assert (a.sliding_window, a.sliding_fraction) == (4096, 1.0)


def test_params_override_and_active_scaling():
    spec = model_spec_from_config(CONFIGS["mixtral-8x7b"], model_id="m", source="t", params_b=47.0)
    assert spec.params_total_b == 47.0
    assert spec.params_active_b == pytest.approx(47.0 * 12_879_921_152 / 46_702_792_704, rel=1e-4)
    assert "--params-b 47" in spec.notes
    fixed = model_spec_from_config(CONFIGS["mixtral-8x7b"], model_id="m", source="t", params_b=47.0,
                                   active_params_b=13.0)
    assert fixed.params_active_b == 13.0


def test_multimodal_text_config_is_read():
    wrapped = {"model_type": "llava", "text_config": dict(LLAMA_31_8B)}
    assert parse_architecture(wrapped).layers == 32


def test_unknown_model_type_is_imported_with_a_note():
    spec = model_spec_from_config(cfg("olmo2", 16, 2048, 16, 16, 8192, 100352, 4096), model_id="o", source="t")
    assert spec.attention.kind == "mha" and "not one the importer knows" in spec.notes


# ---- files and errors ----------------------------------------------------------------------------

def test_import_from_a_file_round_trips_through_the_loader(tmp_path):
    path = tmp_path / "Llama-3.1-8B-Instruct" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(LLAMA_31_8B, indent=2))
    spec = import_config(path)
    assert spec.id == "llama-3.1-8b-instruct" and spec.aliases == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert "sha256" in spec.source
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "mine.yaml").write_text(catalog_yaml([spec]))
    cat = load_catalog([folder])
    assert cat.model("llama-3.1-8b-instruct") == spec


def test_id_from_the_folder_when_the_config_has_no_name(tmp_path):
    path = tmp_path / "My_Model-7B" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIGS["mistral-7b"]))
    assert import_config(path).id == "my-model-7b"
    assert import_config(path, model_id="other").id == "other"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "malformed JSON: line 1"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"model_type": "llama", "hidden_size": 4096}), "lacks num_hidden_layers"),
    (json.dumps({**LLAMA_31_8B, "num_hidden_layers": -1}), "num_hidden_layers must be a whole number"),
    (json.dumps({**LLAMA_31_8B, "hidden_size": "big"}), "hidden_size must be a whole number"),
    (json.dumps({**LLAMA_31_8B, "num_key_value_heads": 64}), "kv_heads must not exceed attention_heads"),
])
def test_bad_configs_are_input_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        import_config(path, model_id="x")
    assert str(path) in str(info.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        import_config(tmp_path / "nope.json", model_id="x")
