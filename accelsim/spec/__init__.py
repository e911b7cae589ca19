"""Strict YAML specs: loading with line numbers, schemas, and validation into frozen objects."""
