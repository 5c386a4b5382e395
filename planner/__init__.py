"""planner: declarative capacity planning for LLM inference.

The public API is small and re-exported here; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
