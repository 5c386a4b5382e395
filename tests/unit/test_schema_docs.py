"""`planner schema` describes each field with its attribute docstring, read only when a schema is
printed (planner/schemas/docs.py), so building the schema classes on import parses no source."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from planner.schemas.base import StrictModel
from planner.schemas.docs import field_docstrings, json_schema_with_docs
from planner.schemas.plan import Plan, PlanModel
from planner.schemas.scenario import Scenario

pytestmark = pytest.mark.unit


class _Inner(StrictModel):
    size_w: float = 1.0
    """Size of the thing, W."""
    plain: int = 0


class _Outer(StrictModel):
    inner: _Inner | None = None
    """The inner part."""
    named: float = Field(2.0, description="given in Field")
    """ignored: Field(description=...) wins"""


class _Child(_Inner):
    extra: str = "x"
    """Only on the child."""


def test_the_docstring_under_a_field_becomes_its_description() -> None:
    schema = json_schema_with_docs(_Outer)
    assert schema["properties"]["inner"]["description"] == "The inner part."
    assert schema["properties"]["named"]["description"] == "given in Field"
    inner = schema["$defs"]["_Inner"]["properties"]
    assert inner["size_w"]["description"] == "Size of the thing, W." and "description" not in inner["plain"]


def test_inherited_fields_keep_the_docstring_of_the_class_that_declares_them() -> None:
    assert field_docstrings(_Child) == {"size_w": "Size of the thing, W.", "extra": "Only on the child."}


def test_shipped_schemas_describe_their_fields() -> None:
    site = json_schema_with_docs(Scenario)["$defs"]["Site"]["properties"]["power_cap_kw"]
    assert "Datacenter IT power" in site["description"]
    plan = json_schema_with_docs(Plan)
    described = [p for d in plan["$defs"].values() for p in d.get("properties", {}).values() if "description" in p]
    assert len(described) > 50


@pytest.mark.parametrize("base", [StrictModel, PlanModel])
def test_schema_classes_are_built_without_reading_their_source(base: type[BaseModel]) -> None:
    assert not base.model_config.get("use_attribute_docstrings", False)
