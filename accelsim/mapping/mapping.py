"""A mapping: ordered loops per architecture level, spatial axes, and bypass.

Loops are listed outer → inner at each level. Memory levels hold temporal loops (the
loops that level iterates while supplying its children); spatial levels hold loops on
their x and y axes. A dim's factors multiply to its size, or to more: a ragged dim runs
⌈size / inner⌉ iterations of each loop with a smaller last tile (counting/ragged_kernel.py), as
long as every loop's last iteration starts inside the dim.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from ..errors import MappingError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum


@dataclass(frozen=True)
class Loop:
    dim: str
    bound: int
    axis: str | None = None  # 'x' or 'y' for spatial loops


@dataclass(frozen=True)
class LevelMapping:
    level: str
    loops: tuple[Loop, ...] = ()
    bypass: frozenset = field(default_factory=frozenset)


@dataclass(frozen=True)
class Mapping:
    """One LevelMapping per non-compute arch level, top-down."""

    levels: tuple[LevelMapping, ...]
    dataflow: str = "explicit"

    def at(self, level_name: str) -> LevelMapping:
        return next(m for m in self.levels if m.level == level_name)

    def factor(self, dim: str) -> int:
        return self.factors().get(dim, 1)

    def factors(self) -> dict[str, int]:
        """Each dim's loops' bounds multiplied (what the loops cover of it), in one pass over them."""
        covered: dict[str, int] = {}
        for m in self.levels:
            for loop in m.loops:
                covered[loop.dim] = covered.get(loop.dim, 1) * loop.bound
        return covered


def check_mapping(arch: Arch, einsum: Einsum, mapping: Mapping) -> None:
    """Raise MappingError naming every way the mapping does not fit."""
    errors = []
    expected = [l.name for l in arch.levels[:-1]]
    got = [m.level for m in mapping.levels]
    if got != expected:
        raise MappingError(f"the mapping must list the levels {expected} in order, got {got}")
    bounds = einsum.bound
    by_dim = {dim: [] for dim in bounds}  # each dim's loops, outer → inner (one pass: a sweep checks every layer)
    for m in mapping.levels:
        for loop in m.loops:
            if loop.dim not in bounds:
                errors.append(f"{m.level}: dimension '{loop.dim}' is not in the layer "
                              f"(dims: {', '.join(einsum.dims)})")
            else:
                by_dim[loop.dim].append((m.level, loop))
            if loop.bound < 1:
                errors.append(f"{m.level}: loop bound {loop.bound} for '{loop.dim}' must be ≥ 1")
    for dim, bound in bounds.items():
        errors += _loop_errors(by_dim[dim], dim, bound)
    for level, m in zip(arch.levels, mapping.levels):
        if isinstance(level, Spatial):
            for axis, size in (("x", level.x), ("y", level.y)):
                used = prod(l.bound for l in m.loops if l.axis == axis)
                if used > size:
                    errors.append(f"{level.name}: {axis} unrolls {used} but the fan-out has {size}")
            if any(l.axis is None for l in m.loops):
                errors.append(f"{level.name}: loops at a spatial level need an axis (x or y)")
            if m.bypass:
                errors.append(f"{level.name}: a spatial level holds no data, so it cannot bypass")
        elif isinstance(level, Memory):
            if any(l.axis is not None for l in m.loops):
                errors.append(f"{level.name}: a memory level has only temporal loops")
            not_kept = m.bypass - level.keeps
            if not_kept:
                errors.append(f"{level.name}: bypasses {sorted(not_kept)}, which it never keeps")
    top = mapping.levels[0]
    if top.bypass:
        errors.append(f"{top.level}: the outermost memory keeps every tensor and cannot bypass")
    if errors:
        raise MappingError("; ".join(errors))


def _loop_errors(loops: list, dim: str, size: int) -> list[str]:
    """A dim's loops ((level name, loop), outer → inner over every level) must cover it, and each
    loop's last iteration must start below its size: (bound − 1) · stride < size, stride = the
    product of the loops inside."""
    covered = 1
    for _, loop in loops:
        covered *= loop.bound
    if covered < size:
        return [f"the factors of '{dim}' multiply to {covered}, but the layer has {dim}={size}"]
    errors, stride = [], 1
    for level, loop in reversed(loops):
        if (loop.bound - 1) * stride >= size:
            errors.append(f"{level}: the last of the {loop.bound} iterations of '{dim}' starts at "
                          f"{(loop.bound - 1) * stride}, past {dim}={size} (the loops inside it cover {stride}); "
                          f"use {dim}: {-(-size // stride)} there (ceil division)")
        stride *= loop.bound
    return errors


def _inner_coverage(mapping: Mapping) -> dict:
    """(level index, loop index) -> what the loops inside that loop on its dim cover (its stride).
    Keyed by position, not id(loop): mappings share equal Loop objects (template_pack._loop, unpad)."""
    cover, out = {}, {}
    for i in reversed(range(len(mapping.levels))):
        loops = mapping.levels[i].loops
        for j in reversed(range(len(loops))):
            loop = loops[j]
            out[i, j] = cover.get(loop.dim, 1)
            cover[loop.dim] = out[i, j] * loop.bound
    return out


def render_mapping(arch: Arch, mapping: Mapping, einsum: Einsum | None = None) -> str:
    """The loop nest, outer → inner, with each level's kept tensors."""
    lines, depth = [], 0
    inner = _inner_coverage(mapping)
    for i, (level, m) in enumerate(zip(arch.levels, mapping.levels)):
        if isinstance(level, Memory):
            kept = [r for r in ("weights", "inputs", "outputs")
                    if r in level.keeps and r not in m.bypass and (einsum is None or einsum.tensor(r))]
            lines.append(f"{'  ' * depth}{level.name} [keeps {', '.join(kept) or 'nothing'}]")
        for j, loop in enumerate(m.loops):
            if loop.bound == 1:
                continue
            kind = f"spatial-{loop.axis}" if loop.axis else "temporal"
            size, step = (einsum.bound[loop.dim], inner[i, j]) if einsum is not None else (0, 0)
            if einsum is not None and loop.bound * step > size:  # ragged: a smaller last tile
                kind += f"; the last covers {size - (loop.bound - 1) * step} of {step}"
            lines.append(f"{'  ' * depth}| for {loop.dim} in [0:{loop.bound})  ({kind})")
            depth += 1
    lines.append(f"{'  ' * depth}<< {arch.compute.name}: MAC >>")
    return "\n".join(lines)
