"""Lower a mapping to flat loop arrays (counting.nest.LoweredNest): the only input the models need.

Loops are flattened outer → inner across all levels, dropping bound-1 loops (they change
nothing). `level_start[i]` is the index of the first loop at or below arch level i.
"""
from __future__ import annotations

import numpy as np

from ..counting.nest import LoweredNest
from ..ir.arch import Arch, Memory
from ..ir.einsum import Einsum
from .mapping import Mapping


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
