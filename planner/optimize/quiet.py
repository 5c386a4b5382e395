"""Keep solver output off stdout, whatever the solver version.

highspy 1.16 prints a "Running HiGHS ..." banner from C++ on file descriptor 1 when it creates its
first model, before any option (``output_flag``, ``log_to_console``, PuLP's ``msg=False``) applies,
so `planner solve --format json` would print two lines that are not JSON. Python's ``sys.stdout``
cannot catch a C library's writes: the descriptor itself is pointed at the null device around the
solver call and restored afterwards (also when the solver raises). A CBC subprocess inherits it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer, so nothing the solver wrote leaks out after the restore."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library handle (Windows): skip
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def solver_output_silenced(fd: int = 1) -> Iterator[None]:
    """Send everything written to file descriptor ``fd`` (stdout) to the null device meanwhile."""
    with contextlib.suppress(ValueError, OSError):  # a closed or detached sys.stdout
        sys.stdout.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # fd is not open: nothing can reach stdout anyway
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, fd)
        os.close(saved)
