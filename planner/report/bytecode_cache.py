"""A per-user cache of the compiled report templates, so a cold `planner solve` does not compile
the same Jinja templates again (some 30 ms of CPU on a 2-core machine).

Where: ``$PLANNER_CACHE_DIR`` or ``$XDG_CACHE_HOME/planner`` or ``~/.cache/planner``, in a folder named
after the Jinja version (code compiled by one Jinja is never run by another; Jinja's own magic
number adds the Python version, and each entry holds its template source's checksum, so an edited
template is compiled again). Entries are named after the environment's settings too, as the same
template compiles to different code with and without autoescaping or trimmed blocks. A cache that
cannot be used (no home, a read-only or foreign folder, a damaged file) is silently no cache: the
report's bytes never depend on it.
"""

from __future__ import annotations

import contextlib

import jinja2
from jinja2.bccache import Bucket

from planner.paths import CACHE_ENV_VAR as CACHE_ENV_VAR  # re-exported: the tests and docs name it here
from planner.paths import cache_root, private_cache_folder


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache (atomic writes: a temporary file renamed into place) that treats any
    failure to read or write an entry as a miss."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged or truncated entry: compile as if there were none
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # read-only, full or vanished folder: the next run compiles again
            super().dump_bytecode(bucket)


_COMPILE_SETTINGS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
                     "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
                     "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized",
                     "autoescape", "finalize", "undefined", "extensions")


def _settings_key(env: jinja2.Environment) -> str:
    """A digest of the settings that change the code a template compiles to (escaping, whitespace
    control, finalize, delimiters), so an environment whose settings change never runs old code."""
    import hashlib

    def shown(value: object) -> str:  # names, not reprs holding an object's address
        if isinstance(value, dict):
            return ",".join(sorted(value))
        return getattr(value, "__qualname__", None) or repr(value)

    text = "|".join(f"{name}={shown(getattr(env, name, None))}" for name in _COMPILE_SETTINGS)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def template_cache(env: jinja2.Environment) -> jinja2.BytecodeCache | None:
    """The bytecode cache for templates compiled by ``env``, or None when there is none."""
    root = cache_root()
    if root is None:
        return None
    folder = root / f"jinja2-{jinja2.__version__}"
    if not private_cache_folder(folder):
        return None
    return _QuietCache(str(folder), f"{_settings_key(env)}-%s.cache")
