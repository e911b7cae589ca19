"""Lower a mapping to flat loop arrays (counting.nest.LoweredNest): the only input the models need.

Loops are flattened outer → inner across all levels, dropping bound-1 loops (they change
nothing). `level_start[i]` is the index of the first loop at or below arch level i.
"""
from __future__ import annotations

import numpy as np

from ..counting.nest import AXIS_CODE, LoweredNest, append_loop
from ..ir.arch import Arch, Memory
from ..ir.einsum import Einsum
from .mapping import Mapping


def lower(arch: Arch, einsum: Einsum, mapping: Mapping) -> LoweredNest:
    dims = einsum.dims
    size = sum(len(m.loops) for m in mapping.levels)
    loop_dim, loop_bound, loop_level = (np.zeros(size, dtype=np.int64) for _ in range(3))
    loop_spatial, loop_axis = np.zeros(size, dtype=bool), np.zeros(size, dtype=np.int64)
    level_start, n = [], 0
    for i, m in enumerate(mapping.levels):
        level_start.append(n)
        for loop in m.loops:
            n = append_loop(loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, n, dims.index(loop.dim),
                            loop.bound, i, AXIS_CODE[loop.axis])
    level_start += [n, n]  # the compute level, and the end
    loop_dim, loop_bound, loop_level, loop_spatial, loop_axis = (a[:n].copy() for a in (
        loop_dim, loop_bound, loop_level, loop_spatial, loop_axis))
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
    return LoweredNest(dims, loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, stride,
                       np.array(level_start, dtype=np.int64), keeps, roles)
