"""Tile point sets in Python: a tensor axis over a tile's loops as (step, count) terms, and its size.

The templates size tiles with these and the cycle model builds its per-step tables from them; the
jitted counting core (nest_kernel.py) has the same rules for the analytical model and the mapper.
How tiles are reused between steps:

A level's tile (the data under its loops) moves as the loops above it advance. Data the
new tile shares with the previous one is reused only while the tile keeps moving with
the same stride; when the stride changes (an outer loop steps and inner ones rewind)
the whole tile is reloaded, and an unchanged tile costs nothing. This is Timeloop's
reset-on-stride-change rule ("hardware pattern generators may be unable to generate
complicated patterns"), and with it its uniform-loop extrapolation: each loop's first
iteration is walked, its second is walked once and weighted by (bound − 1).

Loops are (dim, bound, stride) triples, where stride is how far one step of the loop
moves its dimension (the product of the bounds of the loops inside it on that dim).
"""
from __future__ import annotations

from math import prod

from .point_sets import axis_size


def axis_terms(axis, loops) -> tuple[tuple[int, int], ...]:
    """The point set of one tensor axis over the tile's loops, as (step, count) terms.

    A tile made of the innermost loops of each dim covers an interval; a union that
    skips a loop in between (a fan-out above a temporal loop on the same dim) has holes.
    """
    return tuple(sorted((t.coef * stride, bound) for t in axis for d, bound, stride in loops
                        if d == t.dim and bound > 1))


def tile_size(axes, loops) -> int:
    return prod(axis_size(axis_terms(axis, loops)) for axis in axes)
