"""Field descriptions for `planner schema`, read from the attribute docstrings of the schema classes.

A field's docstring (the string literal on the line after ``name: type``) is its description in the
JSON Schema editors read. Pydantic can collect them when each class is built
(``use_attribute_docstrings``), but that parses the source of every class on every import: about a
third of the schemas' import time, paid by every `planner solve` for text only `planner schema`
prints. So the classes are built without it, and this module adds the descriptions to the JSON
Schema when one is asked for, by the same rule: the docstring of the class in the MRO that
declares the field, cleaned with ``inspect.cleandoc``; a description given in ``Field(...)`` wins.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from typing import Any

from pydantic import BaseModel


@cache
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """class name -> {field: docstring} for every class defined at the top level of a module."""
    module = sys.modules[module_name]
    tree = ast.parse(inspect.getsource(module))
    out: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = _class_docstrings(node)
    return out


def _class_docstrings(node: ast.ClassDef) -> dict[str, str]:
    docs: dict[str, str] = {}
    body = node.body
    for stmt, after in zip(body, body[1:], strict=False):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """field -> docstring of the class in ``model``'s MRO that declares the field."""
    docs: dict[str, str] = {}
    for name in model.model_fields:
        for klass in model.__mro__:
            if name in getattr(klass, "__annotations__", {}):
                text = _module_docstrings(klass.__module__).get(klass.__name__, {}).get(name)
                if text is not None:
                    docs[name] = text
                break
    return docs


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model class reachable from ``root`` through its fields, by class name."""
    seen: dict[str, type[BaseModel]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if seen.get(model.__name__) is model:
            continue
        seen[model.__name__] = model
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return seen


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def json_schema_with_docs(root: type[BaseModel]) -> dict[str, Any]:
    """``root.model_json_schema()`` with each property's description from its attribute docstring."""
    schema = root.model_json_schema()
    models = _models(root)
    _describe(schema, models.get(str(schema.get("title")), root))
    for name, sub in schema.get("$defs", {}).items():
        if name in models:
            _describe(sub, models[name])
    return schema


def _describe(schema: dict[str, Any], model: type[BaseModel]) -> None:
    docs = field_docstrings(model)
    for field_name, prop in schema.get("properties", {}).items():
        field = model.model_fields.get(_python_name(model, field_name))
        if field is None or field.description is not None:
            continue
        text = docs.get(_python_name(model, field_name))
        if text is not None:
            prop["description"] = text


def _python_name(model: type[BaseModel], json_name: str) -> str:
    """The attribute behind a JSON property (fields with an alias are written under the alias)."""
    for name, field in model.model_fields.items():
        if (field.serialization_alias or field.alias) == json_name:
            return name
    return json_name
