"""Lower a mapping to flat loop arrays: the only input the models need.

Loops are flattened outer → inner across all levels, dropping bound-1 loops (they change
nothing). `level_start[i]` is the index of the first loop at or below arch level i.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from .mapping import Mapping


@dataclass(frozen=True)
class LoweredNest:
    dims: tuple[str, ...]
    loop_dim: np.ndarray      # int64 index into dims
    loop_bound: np.ndarray    # int64
    loop_level: np.ndarray    # int64 arch level index
    loop_spatial: np.ndarray  # bool
    loop_axis: np.ndarray     # int64: 0 x, 1 y for spatial loops, −1 temporal
    loop_stride: np.ndarray   # int64: product of bounds of inner loops on the same dim
    level_start: np.ndarray   # int64, one per arch level (len(levels)), plus the end
    keeps: np.ndarray         # bool [memory level index in arch.levels, tensor role index]
    roles: tuple[str, ...]

    @property
    def n_loops(self) -> int:
        return len(self.loop_dim)


def lower(arch: Arch, einsum: Einsum, mapping: Mapping) -> LoweredNest:
    dims = einsum.dims
    loop_dim, loop_bound, loop_level, loop_spatial, loop_axis = [], [], [], [], []
    level_start = []
    for i, m in enumerate(mapping.levels):
        level_start.append(len(loop_dim))
        for loop in m.loops:
            if loop.bound == 1:
                continue
            loop_dim.append(dims.index(loop.dim))
            loop_bound.append(loop.bound)
            loop_level.append(i)
            loop_spatial.append(loop.axis is not None)
            loop_axis.append({"x": 0, "y": 1, None: -1}[loop.axis])
    level_start.append(len(loop_dim))  # the compute level
    level_start.append(len(loop_dim))
    n = len(loop_dim)
    stride = np.ones(n, dtype=np.int64)
    running = np.ones(len(dims), dtype=np.int64)
    for j in range(n - 1, -1, -1):
        stride[j] = running[loop_dim[j]]
        running[loop_dim[j]] *= loop_bound[j]
    roles = einsum.roles
    keeps = np.zeros((len(arch.levels), len(roles)), dtype=bool)
    for i, level in enumerate(arch.levels):
        if isinstance(level, Memory):
            bypass = mapping.levels[i].bypass
            for r, role in enumerate(roles):
                keeps[i, r] = role in level.keeps and role not in bypass
    return LoweredNest(dims, np.array(loop_dim, dtype=np.int64), np.array(loop_bound, dtype=np.int64),
                       np.array(loop_level, dtype=np.int64), np.array(loop_spatial, dtype=bool),
                       np.array(loop_axis, dtype=np.int64), stride, np.array(level_start, dtype=np.int64), keeps, roles)


def spatial_capable(arch: Arch, level_index: int, role: str) -> bool:
    """Can this fan-out merge children's traffic for the tensor (multicast or reduction)?"""
    level = arch.levels[level_index]
    assert isinstance(level, Spatial)
    return level.reduction if role == "outputs" else level.multicast


def merges(arch: Arch, einsum: Einsum, level_index: int, role: str, dim: str) -> bool:
    """Does a fan-out loop over `dim` at this level merge its children's traffic for the tensor?

    accelsim merges the union of the children's tiles (overlapping sliding windows are read once).
    Under `counting: timeloop` only identical tiles merge — children that differ in a dim the tensor
    ignores — as Timeloop multicasts a read only to children with equal deltas
    (src/loop-analysis/nest-analysis.cpp, ComputeAccurateMulticastedAccesses: delta.CheckEquality).
    """
    if not spatial_capable(arch, level_index, role):
        return False
    return arch.counting != "timeloop" or not einsum.relevant(role, dim)


def holds_operands(arch: Arch, nest: LoweredNest) -> bool:
    """Under `counting: timeloop`, when the nest's innermost loop is spatial, the MACs' operand
    accesses follow the same reuse (delta) analysis as a buffer's tile — an operand unchanged from
    one step to the next is not accessed again; with a temporal innermost loop Timeloop counts
    every step (nest-analysis.cpp, ComputeTemporalWorkingSet: the level-0 base case)."""
    return arch.counting == "timeloop" and nest.n_loops > 0 and bool(nest.loop_spatial[-1])
