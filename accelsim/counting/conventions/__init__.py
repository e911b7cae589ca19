"""Counting conventions: the rules on which peers disagree, as registered implementations.

A convention answers five questions; every model asks it instead of testing a name:

  merges(arch, einsum, level, role, dim)
      Does a fan-out loop over `dim` at spatial level `level` merge its children's traffic of
      tensor `role` — one parent read multicast to them (operands), or their partial sums added
      in the network (outputs)? Must be False where the fan-out cannot multicast (reduce).
  holds_operands(nest)
      Are the MACs' operand accesses counted like a buffer's tile (an operand unchanged from one
      step to the next is not read again), rather than once per MAC step?
  cluster_rule
      How a clustered memory (`cluster: N` instances sharing one array) is charged dynamic
      energy: CLUSTERS_TOUCHED (the clusters the mapping's fan-out touches) or CLUSTERS_SPREAD
      (min(utilized instances, clusters): the utilized instances assumed spread over them all).
  leaks_utilized_only
      Do buffers leak in utilized instances only (else in every hardware instance)?
  cycle_model
      Does the cycle model reproduce this convention (else only the analytical model runs it)?
  block_rounding
      How a memory wider than a word is charged when the arch does not say (a level's
      `block_rounding`): "transfer" (each tile transfer a whole number of blocks) or "layer" (a
      layer's words of one action rounded up to blocks once, as Timeloop does); docs/energy.md.

Adding a convention: one module here that builds a CountingConvention and registers it, and
its name in the import line at the bottom of this file.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import Registry

CLUSTERS_TOUCHED, CLUSTERS_SPREAD = 0, 1

CONVENTIONS = Registry("counting convention")


@dataclass(frozen=True)
class CountingConvention:
    name: str
    merge_different_tiles: bool  # a multicast (reduction) also merges children whose tiles differ
    operands_held_when_spatial_innermost: bool  # holds_operands when the innermost loop is spatial
    cluster_rule: int            # CLUSTERS_TOUCHED or CLUSTERS_SPREAD
    leaks_utilized_only: bool
    cycle_model: bool
    doc: str                     # where the convention comes from
    block_rounding: str = "transfer"  # a memory's block rounding when its spec does not give one

    def merges(self, arch, einsum, level_index: int, role: str, dim: str) -> bool:
        if not spatial_capable(arch, level_index, role):
            return False
        return self.merge_different_tiles or not einsum.relevant(role, dim)

    def holds_operands(self, nest) -> bool:
        return self.operands_held_when_spatial_innermost and nest.n_loops > 0 and bool(nest.loop_spatial[-1])


def spatial_capable(arch, level_index: int, role: str) -> bool:
    """Can this fan-out merge children's traffic for the tensor (multicast or reduction)?"""
    level = arch.levels[level_index]
    return level.reduction if role == "outputs" else level.multicast


def convention_of(arch) -> CountingConvention:
    return CONVENTIONS.get(arch.counting)


def block_rounding_of(arch, memory) -> str:
    """A memory level's block rounding: its own (`block_rounding`), else its convention's."""
    return memory.block_rounding or convention_of(arch).block_rounding


from . import accelsim, timeloop  # noqa: E402,F401  (the built-in conventions register themselves)
