"""Read YAML safely and validate it into a schema, reporting file, key path and fix; write atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import InputError

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader (10x faster than the pure-Python one, same semantics as
    yaml.safe_load) that refuses a key given twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (the second would silently win)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """``yaml.safe_load`` a file; malformed YAML becomes one InputError naming file, line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(p), fix="check the path") from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", file=str(p)) from None
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", file=str(p), fix="save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {where}{problem}", file=str(p),
                         fix="fix the YAML syntax at that position") from None


def key_path(loc: Sequence[int | str]) -> str:
    """Render a pydantic error location as ``workloads[0].slo.itl_p95_ms``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_FIXES = {
    "extra_forbidden": "remove this key or check its spelling against `planner schema`",
    "missing": "add this key",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "literal_error": "use one of the allowed values",
    "float_parsing": "use a number",
    "int_parsing": "use a whole number",
    "string_type": "use a string",
    "list_type": "use a list",
    "dict_type": "use a mapping (key: value)",
    "model_type": "use a mapping (key: value)",
}


def _fields_at(schema: type[BaseModel] | None, loc: Sequence[int | str]) -> list[str]:
    """Field names of the model that holds the key at ``loc`` (for "did you mean" suggestions)."""
    import typing

    model: Any = schema
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        for arg in list(candidates):
            candidates += list(typing.get_args(arg))
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return list(getattr(model, "model_fields", {})) if model is not None else []


def describe_validation_error(exc: ValidationError, file: str | None,
                              schema: type[BaseModel] | None = None) -> str:
    """Every problem of a ValidationError, one per line: file: key.path: message (fix)."""
    import difflib

    lines = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        msg = err["msg"]
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            shown = repr(err["input"])
            if len(shown) <= 60:
                msg += f", got {shown}"
        fix = _FIXES.get(err["type"])
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            close = difflib.get_close_matches(loc[-1], _fields_at(schema, loc), n=1, cutoff=0.6)
            if close:
                fix = f"did you mean `{close[0]}`? otherwise {_FIXES['extra_forbidden']}"
        prefix = f"{file}: " if file else ""
        lines.append(f"{prefix}{key_path(loc)}: {msg}" + (f" ({fix})" if fix else ""))
    return "\n".join(lines)


def validate_data(schema: type[M], data: Any, file: str | None) -> M:
    """Validate parsed YAML into ``schema``; every problem is collected into one InputError."""
    if data is None:
        raise InputError("file is empty", file=file, fix="write the document or pick another file")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = InputError(describe_validation_error(exc, file, schema))
        err.message = str(err)
        raise err from None


def load_yaml_as(schema: type[M], path: str | Path) -> M:
    return validate_data(schema, read_yaml(path), str(path))


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a file so a reader never sees half of it: temp file in the same folder, then rename."""
    p = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise InputError(f"cannot write here ({exc.strerror})", file=str(p),
                         fix="choose a writable folder (--out)") from None
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would (umask applies)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write ({exc.strerror})", file=str(p),
                         fix="check free space and permissions") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
