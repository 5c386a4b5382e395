"""estimate_table on many rows equals estimate() row by row (same numbers, same feasibility)."""

from __future__ import annotations

import itertools
import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from planner.errors import DoesNotFitError, UnsupportedPrecisionError
from planner.estimation import Estimate, estimate, estimate_table

MODELS = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "deepseek-v3", "gemma-2-9b", "gpt-oss-20b",
          "qwen3-30b-a3b"]
GPUS = ["h100-sxm", "a100-sxm-80gb", "l4", "v100-sxm", "b200", "mi300x"]
PRECISIONS = ["bf16", "fp8", "int4"]
SHAPES = [(1, 1, None, 512, 128), (4, 1, 8, 4096, 512), (8, 2, 64, 1000, 1000)]
NUMERIC = [f.name for f in fields(Estimate) if f.type in ("float", "int", "bool")
           and f.name not in ("tdp_w", "weight_only")]


def grid() -> pd.DataFrame:
    rows = [{"model": m, "gpu": g, "precision": p, "tp": tp, "pp": pp, "batch_size": b, "input_tokens": n_in,
             "output_tokens": n_out, "engine": "vllm"}
            for m, g, p, (tp, pp, b, n_in, n_out) in itertools.product(MODELS, GPUS, PRECISIONS, SHAPES)]
    return pd.DataFrame(rows)


def test_table_equals_row_by_row():
    configs = grid()
    table = estimate_table(configs)
    assert len(table) == len(configs) > 300
    checked = {"ok": 0, "does_not_fit": 0, "unsupported": 0}
    for i, row in configs.iterrows():
        kw = row.to_dict()
        batch = None if kw["batch_size"] is None or (isinstance(kw["batch_size"], float)
                                                     and math.isnan(kw["batch_size"])) else int(kw["batch_size"])
        try:
            e = estimate(kw["model"], kw["gpu"], precision=kw["precision"], tp=int(kw["tp"]), pp=int(kw["pp"]),
                         batch_size=batch, input_tokens=kw["input_tokens"], output_tokens=kw["output_tokens"])
        except UnsupportedPrecisionError:
            assert table["problem"][i] != ""
            checked["unsupported"] += 1
            continue
        except DoesNotFitError:
            assert not table["fits_memory"][i]
            checked["does_not_fit"] += 1
            continue
        assert table["problem"][i] == ""
        for name in NUMERIC:
            assert float(table[name][i]) == pytest.approx(float(getattr(e, name)), rel=1e-9), (i, name)
        checked["ok"] += 1
    assert min(checked.values()) > 0, checked


def test_table_accepts_a_mapping_of_columns():
    t = estimate_table({"model": ["llama-3.1-8b"] * 2, "gpu": ["h100-sxm", "l4"], "input_tokens": [100, 100],
                        "output_tokens": [50, 50]})
    assert list(t["precision"]) == ["bf16", "bf16"] and t["fits_memory"].all()


def test_rows_with_bad_values_are_marked_not_raised():
    t = estimate_table({"model": ["llama-3.1-8b"] * 3, "gpu": ["h100-sxm", "v100-sxm", "h100-sxm"],
                        "precision": ["bf16", "bf16", "bf16"], "input_tokens": [100, 100, 0],
                        "output_tokens": [50, 50, 50]})
    assert t["problem"][0] == "" and "bf16" in t["problem"][1] and "input_tokens" in t["problem"][2]
    assert np.isnan(t["itl_s"][1]) and not t["fits_memory"][1]


def test_table_rows_may_omit_optional_keys():
    t = estimate_table([{"model": "llama-3.1-8b", "gpu": "h100-sxm", "input_tokens": 1000, "output_tokens": 200}])
    assert t["fits_memory"][0]
