"""The lowered loop nest: a mapping as flat arrays, the one description every model counts from.

Loops run outer → inner across all levels (bound-1 loops dropped); mapping/lower.py builds it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
