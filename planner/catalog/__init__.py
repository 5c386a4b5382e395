"""Catalog loading and name lookup."""

from planner.catalog.loader import Catalog, load_catalog

__all__ = ["Catalog", "load_catalog"]
