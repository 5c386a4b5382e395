"""planner: declarative capacity planning for LLM inference.

The public API is small and re-exported here; everything else is internal. Names are resolved on
first use (PEP 562), so ``import planner`` and the CLI's start-up stay free of numpy, pydantic and
the catalogs until they are needed.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.1.0"

__all__ = ["Catalog", "Estimate", "__version__", "compare", "errors", "estimate", "estimate_table", "load_catalog",
           "solve"]

# public name -> module that defines it (the module itself for `errors`)
_LAZY = {
    "estimate": "planner.estimation",
    "estimate_table": "planner.estimation",
    "Estimate": "planner.estimation",
    "load_catalog": "planner.catalog.loader",
    "Catalog": "planner.catalog.loader",
    "errors": "planner.errors",
    "solve": "planner.api",
    "compare": "planner.comparison",
}

if _TYPE_CHECKING:
    from planner import errors
    from planner.api import solve
    from planner.catalog.loader import Catalog, load_catalog
    from planner.comparison import compare
    from planner.estimation import Estimate, estimate, estimate_table


def __getattr__(name: str) -> _Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    module = _importlib.import_module(_LAZY[name])
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
