"""How many elements a tile loads over a loop nest: temporal reuse between tile steps.

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

from ..ir.footprint import axis_overlap, axis_size


def axis_terms(axis, loops) -> tuple[tuple[int, int], ...]:
    """The point set of one tensor axis over the tile's loops, as (step, count) terms.

    A tile made of the innermost loops of each dim covers an interval; a union that
    skips a loop in between (a fan-out above a temporal loop on the same dim) has holes.
    """
    return tuple(sorted((t.coef * stride, bound) for t in axis for d, bound, stride in loops
                        if d == t.dim and bound > 1))


def tile_size(axes, loops) -> int:
    return prod(axis_size(axis_terms(axis, loops)) for axis in axes)


def tile_loads(axes, loops, outer: list[tuple[str, int, int]]) -> int:
    """Elements loaded into one instance of a tile over the whole nest.

    axes: the tensor's affine axes (tuples of Term).
    loops: the loops inside the tile, as (dim, bound, stride).
    outer: temporal loops above the tile, outer → inner, as (dim, bound, stride).
    """
    terms = [axis_terms(axis, loops) for axis in axes]
    full = prod(axis_size(tt) for tt in terms)
    # Per outer loop, per axis: how far the axis offset moves per unit of the loop index.
    moves = [[sum(t.coef for t in axis if t.dim == dim) * stride for axis in axes]
             for dim, _, stride in outer]
    index = [0] * len(outer)
    state = {"prev": None, "translation": None, "total": 0}

    def visit_tile(weight: int) -> None:
        offset = tuple(sum(index[k] * moves[k][j] for k in range(len(outer))) for j in range(len(axes)))
        prev = state["prev"]
        if prev is None:
            delta = full
        else:
            translation = tuple(o - p for o, p in zip(offset, prev))
            if state["translation"] is None or translation == state["translation"]:
                kept = prod(axis_overlap(tt, s) for tt, s in zip(terms, translation))
                delta = full - kept
                state["translation"] = translation
            else:  # stride changed: the tile is reloaded whole
                delta = full
                state["translation"] = None
        state["prev"] = offset
        state["total"] += weight * delta

    def walk(k: int, weight: int) -> None:
        if k == len(outer):
            visit_tile(weight)
            return
        bound = outer[k][1]
        index[k] = 0
        walk(k + 1, weight)
        if bound > 1:
            index[k] = 1
            walk(k + 1, weight * (bound - 1))
        index[k] = 0

    walk(0, 1)
    return state["total"]

