"""How many PEs a mapping keeps busy: the product of its spatial factors, where a dim the
template padded (ragged strips, accelsim/mapping/dataflows.py) counts only its real extent.

The count is the busiest pass's (Eyeriss's "active PEs"): a strip-mined dim keeps its full
strip width, a folded dim whose spatial loops cover all of it counts its real bound."""
from __future__ import annotations

from math import prod

from ..ir.arch import Arch, Spatial
from ..ir.einsum import Einsum
from .mapping import Mapping


def active_pes(arch: Arch, mapping: Mapping, einsum: Einsum) -> int:
    """PEs in use under `mapping` of the real (unpadded) `einsum`, over every fan-out level."""
    spatial: dict[str, int] = {}
    for level, m in zip(arch.levels, mapping.levels):
        if isinstance(level, Spatial):
            for loop in m.loops:
                spatial[loop.dim] = spatial.get(loop.dim, 1) * loop.bound
    return prod(min(f, einsum.bound[d]) for d, f in spatial.items())
