"""Ragged tiles for the templates: a template maps the layer padded to multiples of the array's
sides, and its mapping runs on the real layer with a smaller last tile where that is better.

A template takes only factors that divide a dim, so a dim with no divisor near the array's side
(97, 101, 1000, 197) leaves most of the array idle or runs on one PE. Padding such a dim to a
multiple of a fan-out side gives the template divisors that fill the array; `unpad` then shrinks
the padded mapping onto the real dims (each loop to ⌈D / (what the loops inside it cover)⌉: a
ragged nest, counted exactly by counting/ragged_kernel.py), which never counts more than the
padded layer would. Only dims that no tensor indexes in a sliding window are padded
(Einsum.separable_dims); convolution planes keep the template's own factors.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..errors import MappingError
from ..ir.arch import Arch, Spatial
from ..ir.einsum import Einsum
from ..ir.workload import pad_einsum
from .mapping import LevelMapping, Mapping


def unpad(mapping: Mapping, einsum: Einsum) -> Mapping:
    """The mapping of a padded layer on the real one: per dim, inner → outer, each loop takes
    ⌈D / stride⌉ iterations at most (stride: what the loops inside it on the dim cover), so every
    loop's last iteration starts inside the dim and the loops still cover it."""
    stride = {d: 1 for d in einsum.dims}
    sizes = einsum.bound
    levels = []
    for m in reversed(mapping.levels):
        loops = []
        for loop in reversed(m.loops):
            bound = min(loop.bound, -(-sizes[loop.dim] // stride[loop.dim]))
            stride[loop.dim] *= bound
            loops.append(loop if bound == loop.bound else replace(loop, bound=bound))  # (frozen: shared)
        loops.reverse()
        # a level whose loops all stay is the padded mapping's own (shared, as its checks' memo reads it)
        same = all(a is b for a, b in zip(loops, m.loops))
        levels.append(m if same else LevelMapping(m.level, tuple(loops), m.bypass))
    return replace(mapping, levels=tuple(reversed(levels)))


def padded_layers(arch: Arch, einsum: Einsum) -> list[Einsum]:
    """The layer padded to a multiple of each fan-out side (largest first), three ways: on the dims
    only one-dim tensors index (Einsum.separable_dims), on every dim no axis mixes with another (a
    convolution's channels too), and on every dim (its planes too). Dims below half a side stay
    (a 3-tap filter is not padded to 16). A candidate the ragged kernel cannot count (a fan-out
    that multicasts a sliding window over a ragged plane) is dropped when evaluated; one whose
    padded mapping unpads to factors that divide the dims is a dense mapping the template alone
    had not found."""
    return list(padded_layers_for(fanout_sides(arch), einsum))


def fanout_sides(arch: Arch) -> tuple[int, ...]:
    """The fan-outs' sides above 1, largest first: what padded_layers pads to."""
    return tuple(sorted({s for level in arch.levels if isinstance(level, Spatial) for s in (level.x, level.y) if s > 1},
                        reverse=True))


@lru_cache(maxsize=4096)  # per fan-out sides and layer shape: a sweep asks for every layer of every point
def padded_layers_for(sides: tuple, einsum: Einsum) -> tuple[Einsum, ...]:
    """padded_layers for these fan-out sides (fanout_sides')."""
    out = []
    for side in sides:
        for padded in padded_to_side(side, einsum):
            if padded not in out:
                out.append(padded)
    return tuple(out)


@lru_cache(maxsize=4096)  # one object per padded layer: arrays with a side in common share its padded layers
def padded_to_side(side: int, einsum: Einsum) -> tuple[Einsum, ...]:
    """The layer padded to a multiple of one side, the three ways padded_layers says (None dropped)."""
    alone = [d for d in einsum.dims if all(len(axis) == 1 for t in einsum.tensors for axis in t.axes
                                           if any(term.dim == d for term in axis))]
    ways = (pad_einsum(einsum, {d: side for d in dims if einsum.bound[d] > side // 2})
            for dims in (einsum.separable_dims, alone, einsum.dims))
    return tuple(padded for padded in ways if padded is not None)


def spatial_positions(mapping: Mapping) -> int:
    """Fan-out positions the mapping's spatial loops span (the MACs it can keep busy)."""
    used = 1
    for m in mapping.levels:
        for loop in m.loops:
            if loop.axis is not None:
                used *= loop.bound
    return used


def padded_candidates(arch: Arch, einsum: Einsum, mapping: Mapping, map_layer) -> list[tuple[Einsum, Mapping, Mapping]]:
    """The template's candidates for the real layer, with where each comes from: (padded layer, the
    template's mapping of it, that mapping unpadded onto the real layer; map_layer(einsum): the
    template); none when the template's own mapping already fills every fan-out. The padded layer run with its own mapping is what a
    user who pads by hand gets, which the ragged one never exceeds (the choice's cycle limit)."""
    if spatial_positions(mapping) >= arch.compute.instances:
        return []
    out = []
    for padded in padded_layers(arch, einsum):
        try:
            padded_mapping = map_layer(padded)
            out.append((padded, padded_mapping, unpad(padded_mapping, einsum)))
        except MappingError:  # the template cannot map this padded layer: no candidate
            continue
    return out
