"""Mappings (loops per level, spatial axes, bypass), dataflow templates, and lowering."""
