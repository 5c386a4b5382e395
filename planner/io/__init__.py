"""The few modules that touch files: YAML/JSON reading with precise errors, atomic writes."""
