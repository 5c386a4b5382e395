"""The shipped and user catalog files, parsed once per user rather than once per command: a cold
`planner solve` spends some 20 ms of CPU parsing the same 110 kB of catalog YAML otherwise.

One entry per catalog file (named after its path, so the folder holds as many entries as there are
catalog files) in ``$PLANNER_CACHE_DIR``, ``$XDG_CACHE_HOME/planner`` or ``~/.cache/planner``
(the folder planner.report.bytecode_cache uses). An entry holds the parsed document and a key:
the SHA-256 of the file's bytes together with the parser's own source, the Python and PyYAML
versions. A file edited, or a planner whose YAML reading changed, misses and parses again. Only
documents that parsed cleanly are kept (so every message about a bad file is the parser's), in
``marshal`` form (plain dicts, lists, strings and numbers; a document holding anything else, a
date say, is not kept). A cache that cannot be used is silently no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from planner.io import files
from planner.paths import CACHE_ENV_VAR as CACHE_ENV_VAR  # re-exported: the tests and docs name it here
from planner.paths import cache_root, private_cache_folder

_FORMAT = b"planner-parsed-yaml-1"


@lru_cache(maxsize=1)
def _parser_fingerprint() -> bytes | None:
    """What the parsed document depends on besides the bytes: planner's YAML reader (its source),
    PyYAML with or without libyaml, Python. None when the reader's source cannot be read."""
    try:
        source = Path(files.__file__).read_bytes()
    except (OSError, TypeError):
        return None
    versions = f"{sys.version_info[:3]}|{yaml.__version__}|{getattr(yaml, '__with_libyaml__', False)}"
    return _FORMAT + hashlib.sha256(source).digest() + versions.encode()


class ParsedYamlCache:
    """planner.io.files.ParsedCache kept in a private folder."""

    def __init__(self, folder: Path, fingerprint: bytes) -> None:
        self.folder = folder
        self.fingerprint = fingerprint

    def _entry(self, path: Path) -> Path:
        name = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.folder / f"{name}.marshal"

    def _key(self, raw: bytes) -> bytes:
        return hashlib.sha256(self.fingerprint + raw).digest()

    def get(self, path: Path, raw: bytes) -> tuple[bool, Any]:
        try:
            kept = marshal.loads(self._entry(path).read_bytes())
        except Exception:  # missing, unreadable, truncated or damaged: parse the file
            return False, None
        if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == self._key(raw):
            return True, kept[1]
        return False, None

    def put(self, path: Path, raw: bytes, data: Any) -> None:
        try:
            blob = marshal.dumps((self._key(raw), data))
        except ValueError:  # a type marshal does not hold (a YAML date): not kept
            return
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".entry.", suffix=".tmp", dir=self.folder)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, self._entry(path))  # a reader sees the old entry or the new, never half
        except OSError:  # read-only, full or vanished folder: the next run parses again
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def parsed_yaml_cache() -> ParsedYamlCache | None:
    """The cache of parsed catalog files, or None when there is none to use."""
    root = cache_root()
    fingerprint = _parser_fingerprint()
    if root is None or fingerprint is None:
        return None
    folder = root / "parsed-yaml"
    return ParsedYamlCache(folder, fingerprint) if private_cache_folder(folder) else None
