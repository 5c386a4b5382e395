"""`planner sweep`: solve a scenario over a grid and a seeded Monte-Carlo sample of its key paths.

spec (the sweep file) -> variants (the stable, seeded list) -> prepare (every variant checked before
any solve) -> runner (serial, local processes or Dask; worker solves one variant) -> store (completed
variants on disk, for resuming) -> table (CSV, Parquet) and report (Markdown, HTML). The entry point
is planner.sweep.sweep.run_sweep.
"""
