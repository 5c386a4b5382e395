"""Strict pydantic schemas: the boundary where YAML becomes typed, SI-unit data."""
