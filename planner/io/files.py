"""Read YAML safely and validate it into a schema, reporting file, key path and fix; write atomically."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import SHOWN_CHARS, InputError, shown

M = TypeVar("M", bound=BaseModel)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader (10x faster than the pure-Python one, same semantics as
    yaml.safe_load) that refuses a key given twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`, flattened by SafeConstructor
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # `? [a, b]`: a complex key no planner file uses
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain name, found a {type(key).__name__}", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {_shown(key)} (the second would silently win)", key_node.start_mark)
            seen.add(key)
        self.flatten_mapping(node)  # merges `<<` keys; explicit keys win, as YAML's merge key says
        return super().construct_mapping(node, deep=deep)


MAX_YAML_BYTES = 4 * 1024 * 1024
"""Largest YAML file read (scenarios are a few kB, the shipped catalogs under 100 kB)."""
MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings and lists (a scenario nests 5 levels)."""
MAX_YAML_VALUES = 200_000
"""Most values (mappings, lists, scalars) a document may hold once its aliases are expanded."""
MAX_YAML_SCALAR_CHARS = 65_536
"""Longest single string."""
MAX_YAML_NUMBER_CHARS = 100
"""Longest number (Python refuses to read integers of over 4,300 digits, with a traceback)."""
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_BOUND_FIX = "planner refuses larger documents: shorten it"


def _bound_error(file: str, what: str, line: int | None, fix: str = _BOUND_FIX) -> InputError:
    where = f"line {line + 1}: " if line is not None else ""
    return InputError(f"{where}{what}", file=file, fix=fix)


class _Bounds:
    """Running totals of a YAML event stream: depth, values after alias expansion, scalar length."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values = 0
        self.open: list[tuple[str | None, int]] = []  # (anchor, values before the collection began)
        self.anchored: dict[str, int] = {}  # anchor -> values its node expands to
        self.resolver = yaml.resolver.Resolver()

    def see(self, event: yaml.Event) -> None:
        line = event.start_mark.line if event.start_mark is not None else None
        if isinstance(event, yaml.CollectionStartEvent):
            self.open.append((event.anchor, self.values))
            self._add(1, line)
            if len(self.open) > MAX_YAML_DEPTH:
                raise _bound_error(self.file, f"nested deeper than {MAX_YAML_DEPTH} levels", line,
                                   "flatten the document; planner refuses deeper nesting")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = self.open.pop()
            if anchor is not None:
                self.anchored[anchor] = self.values - before
        elif isinstance(event, yaml.ScalarEvent):
            if len(event.value) > MAX_YAML_SCALAR_CHARS:
                raise _bound_error(self.file, f"a value longer than {MAX_YAML_SCALAR_CHARS:,} characters", line)
            if len(event.value) > MAX_YAML_NUMBER_CHARS and self._is_number(event):
                raise _bound_error(self.file, f"a number longer than {MAX_YAML_NUMBER_CHARS} characters", line,
                                   "write the number in a shorter form (e.g. 1.5e9)")
            if event.anchor is not None:
                self.anchored[event.anchor] = 1
            self._add(1, line)
        elif isinstance(event, yaml.AliasEvent):
            self._add(self.anchored.get(event.anchor, 1), line)

    def _is_number(self, event: yaml.ScalarEvent) -> bool:
        return bool(event.implicit[0]) and self.resolver.resolve(yaml.ScalarNode, event.value,
                                                                 (True, False)) in _NUMBER_TAGS

    def _add(self, n: int, line: int | None) -> None:
        self.values += n
        if self.values > MAX_YAML_VALUES:
            raise _bound_error(self.file, f"more than {MAX_YAML_VALUES:,} values (an alias *name counts as all the "
                               "values it repeats)", line, "use fewer list items and aliases; planner refuses larger "
                               "documents")


def _check_bounds(text: str, file: str) -> None:
    """Refuse, before building any object, a document too large, too deep or whose aliases expand
    to too many values ("billion laughs"): each would make validation or messages hang."""
    size_bytes = len(text.encode("utf-8"))
    if size_bytes > MAX_YAML_BYTES:
        raise InputError(f"{size_bytes:,} bytes, more than the {MAX_YAML_BYTES:,} planner reads", file=file,
                         fix="is this the right file? planner's YAML files are a few kB")
    bounds = _Bounds(file)
    for event in yaml.parse(text, Loader=_UniqueKeyLoader):
        bounds.see(event)


def read_bounded(path: str | Path, limit_bytes: int, error: type[InputError] = InputError) -> bytes:
    """The bytes of a regular file of at most ``limit_bytes``, read without trusting its size: a
    symlink to /dev/zero or a FIFO (which a pull request can commit) is refused, never read forever
    or waited on. A missing file or a folder raise FileNotFoundError / IsADirectoryError as open() does."""
    p = Path(path)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(p))
        if not stat.S_ISREG(st.st_mode):
            raise error("is not a regular file (a device, pipe or socket)", file=str(p), fix="pass the file itself")
        if st.st_size > limit_bytes:  # refuse before reading it all
            raise _too_large(p, st.st_size, limit_bytes, error)
        with p.open("rb") as fh:
            data = fh.read(limit_bytes + 1)
    except PermissionError:
        raise error("cannot read it (permission denied)", file=str(p), fix="check the file's permissions") from None
    if len(data) > limit_bytes:  # it grew while being read
        raise _too_large(p, len(data), limit_bytes, error)
    return data


def _too_large(p: Path, size_bytes: int, limit_bytes: int, error: type[InputError]) -> InputError:
    return error(f"more than the {limit_bytes:,} bytes planner reads ({size_bytes:,} or more)", file=str(p),
                 fix="is this the right file? planner's files are usually a few kB")


def read_yaml(path: str | Path) -> Any:
    """``yaml.safe_load`` a file; malformed YAML becomes one InputError naming file, line and column."""
    return read_yaml_and_bytes(path)[0]


class ParsedCache(Protocol):
    """Where documents already parsed are kept by their bytes (planner.catalog.parsed_cache)."""

    def get(self, path: Path, raw: bytes) -> tuple[bool, Any]:
        """(True, the document ``raw`` parses to) when kept, else (False, None)."""

    def put(self, path: Path, raw: bytes, data: Any) -> None:
        """Keep ``data``, what ``raw`` (the bytes of ``path``) parsed to; never raises."""


def read_yaml_and_bytes(path: str | Path, cache: ParsedCache | None = None) -> tuple[Any, bytes]:
    """The parsed document and the bytes it was parsed from (read once: callers hash these bytes).

    With a ``cache``, a document parsed before from the same bytes is taken from it; only documents
    that parsed without a problem are kept, so every message about a bad file is the parser's."""
    p = Path(path)
    try:
        raw = read_bounded(p, MAX_YAML_BYTES)
    except FileNotFoundError:
        raise InputError("file not found", file=str(p), fix="check the path") from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", file=str(p)) from None
    if cache is None:
        return parse_yaml(raw, str(p)), raw
    found, data = cache.get(p, raw)
    if not found:
        data = parse_yaml(raw, str(p))
        cache.put(p, raw, data)
    return data, raw


def parse_yaml(text: str | bytes, file: str) -> Any:
    """``yaml.safe_load`` of a document within the MAX_YAML_* bounds; every problem is one InputError."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("is not UTF-8 text", file=file, fix="save the file as UTF-8") from None
    try:
        _check_bounds(text, file)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fix = "fix the YAML syntax at that position"
        if "nesting depth" in problem:  # libyaml's own bound on flow nesting ([[[[...)
            fix = "flatten the document; planner refuses deeper nesting"
        raise InputError(f"malformed YAML: {where}{problem}", file=file, fix=fix) from None


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def key_path(loc: Sequence[int | str]) -> str:
    """Render a pydantic error location as ``workloads[0].slo.itl_p95_ms``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for a problem with a mapping's key itself
            out += " (the key)"
        else:
            # a key holding a newline must not split the message, nor an escape sequence restyle it
            name = " ".join(_CONTROL.sub(" ", str(part)).split())
            out += ("." if out else "") + (name if len(name) <= 60 else name[:60] + "...")
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
    "finite_number": "use a finite number (not .inf or .nan)",
    "invalid_key": "use a plain name as the key (quote it if YAML reads it as a date, number or null)",
    "string_too_long": "use a shorter value",
    "string_pattern_mismatch": "use only the characters the pattern allows",
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


_UNION_TAGS = frozenset({"float", "int", "str", "bool", "none", "list", "dict"})
"""Names pydantic adds to a location for each member of a union (``x.float``, ``x.str``)."""
MAX_PROBLEMS_SHOWN = 20
"""Problems listed per ValidationError; the rest are counted (a 10^6-item list has 10^6 problems)."""


def _shown(value: Any) -> str:
    """``value`` for a message, never longer than about 60 characters, whatever its size."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, bool | int | float) or value is None:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "a very large integer"
        return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
    kinds = {dict: "a mapping", list: "a list"}
    return next((k for t, k in kinds.items() if isinstance(value, t)), f"a {type(value).__name__}")


def describe_errors(errors: list[Any], file: str | None, schema: type[BaseModel] | None = None) -> list[str]:
    """Lines ``file: key.path: message (fix)``, one per pydantic error, at most MAX_PROBLEMS_SHOWN,
    then one line counting the rest."""
    import difflib

    lines, seen = [], set()
    for err in errors[:MAX_PROBLEMS_SHOWN]:
        loc = [p for p in err["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p in _UNION_TAGS))]
        if tuple(loc) in seen:  # the other members of a union (number or text) failing on the same value
            continue
        seen.add(tuple(loc))
        msg = " ".join(str(err["msg"]).split())[:300]
        # a model validator's error (value_error on the whole mapping) already names its values
        whole = err["type"] == "value_error" and isinstance(err.get("input"), dict)
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err and ", got " not in msg and not whole:
            msg += f", got {_shown(err['input'])}"
        fix = _FIXES.get(err["type"])
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            close = difflib.get_close_matches(loc[-1][:100], _fields_at(schema, loc), n=1, cutoff=0.6)
            if close:
                fix = f"did you mean `{close[0]}`? otherwise {_FIXES['extra_forbidden']}"
        prefix = f"{file}: " if file else ""
        lines.append(f"{prefix}{key_path(loc)}: {msg}" + (f" ({fix})" if fix else ""))
    if len(errors) > MAX_PROBLEMS_SHOWN:
        prefix = f"{file}: " if file else ""
        lines.append(f"{prefix}... and {len(errors) - MAX_PROBLEMS_SHOWN:,} more problems (fix those above first)")
    return lines


def describe_validation_error(exc: ValidationError, file: str | None,
                              schema: type[BaseModel] | None = None) -> str:
    """Every problem of a ValidationError (up to MAX_PROBLEMS_SHOWN), one per line: file: key.path: message (fix)."""
    return "\n".join(describe_errors(exc.errors(include_url=False), file, schema))


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
    write_together({Path(path): data})


def write_together(files: Mapping[Path, str | bytes]) -> None:
    """Write several files as one set (plan.json and its reports): every file goes to a temp file
    beside its target first, and only when all are written are they renamed into place. A failure
    while writing (full disk) removes the temp files and leaves the previous set as it was; a
    failure while renaming puts back the files already replaced."""
    staged: list[tuple[Path, Path]] = []  # (temp file, target)
    try:
        for path, data in files.items():
            staged.append((_stage(Path(path), data), Path(path)))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    _rename_all(staged)


def _stage(p: Path, data: str | bytes) -> Path:
    """``data`` written and synced to a temp file in ``p``'s folder; the temp file's path."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _refuse_special_target(p)
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
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write ({exc.strerror})", file=str(p),
                         fix="check free space and permissions") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _refuse_special_target(p: Path) -> None:
    """Refuse a target that exists and is not a regular file: renaming onto it would replace a
    device (as root, ``--out /dev/full`` replaced the device node), a FIFO, a folder, or a symlink
    (the link, not its target) with a regular file."""
    try:
        st = p.lstat()
    except FileNotFoundError:
        return
    except OSError:  # e.g. a parent that is not a folder: mkdir / mkstemp below say why
        return
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a symlink" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
            else "a device, pipe or socket")
    raise InputError(f"is not a regular file ({kind}); planner writes a file by replacing it and will not replace "
                     "this", file=str(p), fix="choose a path that is a regular file or does not exist yet (--out)")


def _backup(p: Path) -> Path | None:
    """A copy of ``p``'s current content beside it (None when there is no file to keep)."""
    if not p.exists():
        return None
    backup = p.with_name(f".{p.name}.{os.getpid()}.bak")
    backup.unlink(missing_ok=True)
    try:
        os.link(p, backup)  # instant, and no extra space
    except OSError:
        shutil.copy2(p, backup)  # file systems without hard links
    return backup


def _rename_all(staged: list[tuple[Path, Path]]) -> None:
    """Rename each temp file onto its target; on a failure put back the targets already replaced."""
    replaced: list[tuple[Path, Path | None]] = []  # (target, backup of its previous content)
    current = staged[0][1] if staged else Path()
    try:
        for tmp, current in staged:  # noqa: B007 (current names the file that failed)
            replaced.append((current, _backup(current)))
            os.replace(tmp, current)
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        _undo(replaced, current, exc)
    for _, backup in replaced:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _undo(replaced: list[tuple[Path, Path | None]], failed: Path, exc: OSError) -> None:
    """Put back every replaced target, then raise one InputError saying what is on disk now."""
    try:
        for target, backup in reversed(replaced):
            if backup is not None:
                os.replace(backup, target)
            elif target != failed:
                target.unlink(missing_ok=True)
    except OSError:
        new = ", ".join(str(t) for t, _ in replaced if t != failed)
        raise InputError(f"cannot write ({exc.strerror}); these files are new and the others are from before: "
                         f"{new}", file=str(failed), fix="check free space and permissions, then write again") from None
    raise InputError(f"cannot write ({exc.strerror}); the previous files are left as they were", file=str(failed),
                     fix="check free space and permissions") from None


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when both paths name one existing file (symlinks and hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_inputs(outputs: Iterable[str | Path], inputs: Iterable[str | Path | None],
                              option: str = "--out") -> None:
    """Raise an InputError when writing any of ``outputs`` would replace one of ``inputs``."""
    wanted = [i for i in inputs if i is not None]
    for out in outputs:
        hit = next((i for i in wanted if same_file(out, i)), None)
        if hit is not None:
            raise InputError(f"writing here would overwrite the input {hit}", file=str(out),
                             fix=f"choose another {option}")
