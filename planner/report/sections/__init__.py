"""One module per report section; each builds format-neutral tables and notes from the plan."""
