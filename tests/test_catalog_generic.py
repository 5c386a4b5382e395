"""The generic architecture for a bare parameter count (`--params`)."""

from __future__ import annotations

import pytest

from planner.catalog.generic import (
    generic_architecture,
    generic_id,
    generic_model,
    generic_warning,
    layer_params,
    parse_param_count,
    with_model,
)
from planner.catalog.loader import load_catalog
from planner.errors import InputError
from planner.estimation import estimate


@pytest.mark.parametrize(("params", "layers", "hidden", "ffn"), [
    (8.03e9, 32, 4096, 14336),     # Llama-3.1-8B
    (70.6e9, 80, 8192, 28672),     # Llama-3.1-70B
])
def test_reproduces_llama_shapes(params, layers, hidden, ffn):
    a = generic_architecture(params)
    assert (a["layers"], a["hidden_size"], a["ffn_size"]) == (layers, hidden, ffn)
    assert (a["kv_heads"], a["head_dim"], a["vocab_size"]) == (8, 128, 128256)


@pytest.mark.parametrize("params", [0.5e9, 1e9, 3e9, 7e9, 13e9, 34e9, 70e9, 175e9, 405e9, 1e12, 5e12])
def test_architecture_holds_the_stated_count(params):
    a = generic_architecture(params)
    embeddings = a["vocab_size"] * a["hidden_size"] * (1 if a["tied_embeddings"] else 2)
    built = a["layers"] * layer_params(a["hidden_size"]) + embeddings + a["hidden_size"]
    half_a_layer = layer_params(a["hidden_size"]) / 2 / params
    assert built / params == pytest.approx(1.0, abs=half_a_layer + 1e-9)
    assert 8 <= a["layers"] <= 200 and a["attention_heads"] * 128 == a["hidden_size"]


def test_hidden_size_grows_with_the_count():
    hidden = [generic_architecture(p)["hidden_size"] for p in (1e9, 3e9, 8e9, 30e9, 70e9, 200e9, 1e12)]
    assert hidden == sorted(hidden)


def test_generic_model_is_flagged_and_validated():
    m = generic_model(70e9)
    assert m.generic and m.id == "generic-70b" and m.params_total_b == 70
    assert m.attention.kind == "gqa" and m.moe is None
    assert "generic" in m.source.lower() or "generic" in m.notes.lower()
    assert "79 layers" in generic_warning(m) and "import-hf" in generic_warning(m)


@pytest.mark.parametrize(("params", "ident"), [(70e9, "generic-70b"), (7.5e9, "generic-7.5b"),
                                               (1e13, "generic-10000b"), (1.2345e9, "generic-1.234b")])
def test_ids_are_valid_catalog_ids(params, ident):
    assert generic_id(params) == ident


@pytest.mark.parametrize(("text", "value"), [("70e9", 70e9), ("70E9", 70e9), ("70B", 70e9), ("7.5b", 7.5e9),
                                             ("500M", 5e8), ("70_000_000_000", 70e9), ("1.8T", 1.8e12)])
def test_parse_param_count(text, value):
    assert parse_param_count(text) == pytest.approx(value)


@pytest.mark.parametrize(("text", "message"), [("70", "did you mean --params 70e9"), ("abc", "not a parameter"),
                                               ("-7e9", "not a parameter"), ("1e20", "outside"),
                                               ("1e6", "outside")])
def test_parse_param_count_errors(text, message):
    with pytest.raises(InputError, match=message):
        parse_param_count(text)


def test_with_model_adds_the_generic_model_and_estimates():
    cat = load_catalog()
    spec = generic_model(8e9)
    cat2 = with_model(cat, spec)
    assert cat2.gpus == cat.gpus and set(cat2.models) == set(cat.models) | {spec.id}
    e = estimate(spec.id, "h100-sxm", input_tokens=1000, output_tokens=100, catalog=cat2)
    assert e.weights_per_gpu_bytes == pytest.approx(8e9 * 2)
