"""Experiment files: loading, schema validation, overrides, building engine objects, run dirs."""
