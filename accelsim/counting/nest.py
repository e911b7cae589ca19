"""The lowered loop nest: a mapping as flat arrays, the one description every model counts from.

Loops run outer → inner across all levels (bound-1 loops dropped); mapping/lower.py builds it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..jit import kernel

TEMPORAL, X, Y = -1, 0, 1  # loop_axis codes
AXIS_CODE = {None: TEMPORAL, "x": X, "y": Y}


@dataclass(frozen=True)
class LoweredNest:
    dims: tuple[str, ...]
    loop_dim: np.ndarray      # int64 index into dims
    loop_bound: np.ndarray    # int64
    loop_level: np.ndarray    # int64 arch level index
    loop_spatial: np.ndarray  # bool
    loop_axis: np.ndarray     # int64: X, Y for spatial loops, TEMPORAL
    loop_stride: np.ndarray   # int64: product of bounds of inner loops on the same dim
    level_start: np.ndarray   # int64, one per arch level (len(levels)), plus the end
    keeps: np.ndarray         # bool [memory level index in arch.levels, tensor role index]
    roles: tuple[str, ...]

    @property
    def n_loops(self) -> int:
        return len(self.loop_dim)


@kernel(_nrt=False, forceinline=True)
def append_loop(loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, n, dim, bound, level, axis):
    """Lower one loop into the nest arrays at position n; returns the next position. A loop of
    bound 1 changes nothing and is dropped (the counting kernel's reuse steps assume every loop
    moves). Both lowerings — a Mapping's (mapping/lower.py) and a mapspace point's
    (search/search_kernels.py) — go through here."""
    if bound > 1:
        loop_dim[n], loop_bound[n], loop_level[n], loop_spatial[n] = dim, bound, level, axis != TEMPORAL
        loop_axis[n] = axis
        n += 1
    return n
