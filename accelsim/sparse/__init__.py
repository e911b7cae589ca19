"""Sparsity with Sparseloop's semantics (Wu et al., MICRO 2022; Timeloop v3 src/sparse-analysis):
density models per tensor, representation formats per level, and gating / skipping of storage
actions, applied as a pass over the dense per-level counts and the mapping (docs/sparsity.md)."""
