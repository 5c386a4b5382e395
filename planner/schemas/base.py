"""One strict base for every schema: unknown keys are errors, models are immutable, and a YAML
boolean (yes/no/on/off/true) is never read as a number."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _numeric(annotation: Any) -> bool:
    """True when a field takes a number (int/float, maybe optional) and not a bool."""
    if annotation in (int, float):
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return bool not in args and any(_numeric(a) for a in args)
    return False


class StrictModel(BaseModel):
    # allow_inf_nan=False: `.inf` or `.nan` is never a meaningful limit, price or rate, and it would
    # pass every `gt=0` bound and then break the solver
    # field docstrings are read only when `planner schema` prints them (planner/schemas/docs.py)
    # defer_build: a model's validator is built when first used, not at import; a model used only
    # nested inside another (most of them) never builds its own (a cold `planner solve` skips ~40 builds)
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False,
                              defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode turns `pue: yes` into 1.0; a boolean where a number belongs is a typo
        if isinstance(data, dict):
            bad = [name for name, field in cls.model_fields.items()
                   if isinstance(data.get(name), bool) and _numeric(field.annotation)]
            if bad:
                # hand the field a string so pydantic reports it at its own key path as not a number
                data = {**data, **{name: f"{str(data[name]).lower()} (a YAML boolean)" for name in bad}}
        return data
