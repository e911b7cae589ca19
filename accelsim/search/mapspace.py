"""The mapspace of a layer on an arch under constraints, as arrays the search kernels take.

A point of the mapspace is
  fac[slot, dim]   the loop bound of each dim at each slot: a memory level's temporal loops,
                   or one axis (x, y) of a spatial fan-out; per dim the factors multiply to its bound,
                   or, in a ragged mapspace, to more (below);
  perm[mem, :]     each memory level's loop order, outer → inner (a permutation of all dims; unit
                   loops drop out): the free dims first, then the constrained innermost tail;
  keeps[level, t]  which tensors each memory keeps (the top keeps all).
Equivalent points are pruned where that is exact: unit loops carry no order; the loop order of a
memory level with no keeping memory below it cannot change any count; a fixed factor or a
forbidden dim is not searched.

A ragged mapspace (build_mapspace(ragged=True)) also holds rows whose factors multiply to more
than the dim: ceil-division tiling, a smaller last tile (docs/notes/ragged-tiles.md). Such a row is
the factorization of the dim padded to a multiple of a fan-out side (D' = ⌈D/side⌉·side, for each
side the arch has, dims above half a side, as mapping/ragged.padded_layers pads) shrunk onto D as
mapping/ragged.unpad shrinks a padded mapping: inner → outer, each factor to at most ⌈D / what the
factors inside cover⌉. So the outermost non-unit factor is ⌈D / inner⌉, no iteration is wholly
idle ((f − 1)·inner < D at every slot: check_mapping's rule), and each such dim's rows are finite:
the factorizations of a few nearby padded sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import factorial, prod

import numpy as np

from ..counting.nest import TEMPORAL, X, Y
from ..errors import MappingError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..ir.factors import divisors
from ..mapping.mapping import LevelMapping, Loop, Mapping
from .constraints import Constraints

MAX_FACTORIZATIONS = 2_000_000  # per dim: far beyond any real layer's bound


@dataclass(frozen=True)
class Mapspace:
    dims: tuple[str, ...]
    roles: tuple[str, ...]
    slot_level: np.ndarray     # [slot] arch level index, top-down (x before y)
    slot_axis: np.ndarray      # [slot] TEMPORAL, X or Y
    slot_size: np.ndarray      # [slot] fan-out along the axis (0 for temporal slots)
    slot_mem: np.ndarray       # [slot] index into mem_levels for temporal slots, else −1
    fixed: np.ndarray          # [slot, dim] a fixed factor, 0 = free
    allowed: np.ndarray        # [slot, dim] may this dim have a factor > 1 here
    rows: np.ndarray           # [row, slot] every factorization of each dim over the slots (ragged ones after)
    row_start: np.ndarray      # [dim + 1] the dim's rows are rows[row_start[d]:row_start[d+1]]
    mem_levels: np.ndarray     # [mem] arch level index of each memory level
    order_matters: np.ndarray  # [mem] bool
    tail: np.ndarray           # [mem, dim] the constrained innermost dims, outer → inner (−1 pad)
    n_tail: np.ndarray         # [mem]
    keep_base: np.ndarray      # [level, tensor] kept when its free bit is off
    keep_free: np.ndarray      # [level, tensor] the search decides
    bound: np.ndarray          # [dim] the layer's dims
    n_dense: np.ndarray        # [dim] the dim's first rows that multiply to its bound; the rest are ragged

    @property
    def ragged(self) -> bool:
        """Some dim has ragged rows."""
        return bool((np.diff(self.row_start) > self.n_dense).any())

    @property
    def n_slots(self) -> int:
        return len(self.slot_level)

    def size(self, limit: int | None = None) -> int:
        """Points an exhaustive search visits (before the spatial-fit and capacity prunes):
        Σ over factorizations of Π over levels whose order matters of (its free non-unit loops)!,
        times the bypass choices. Past `limit` it may return any number above it."""
        factorizations = prod(int(c) for c in np.diff(self.row_start))
        bypasses = 2 ** int(self.keep_free.sum())
        if limit is not None and factorizations * bypasses > limit:
            return factorizations * bypasses
        matters = [(mi, s) for s in range(self.n_slots) if (mi := int(self.slot_mem[s])) >= 0
                   and self.order_matters[mi]]
        states = {tuple(0 for _ in matters): 1}  # free non-unit loops per level → factorizations
        for d in range(len(self.dims)):
            step = {}
            for row in self.rows[self.row_start[d]:self.row_start[d + 1]]:
                add = tuple(int(row[s] > 1 and d not in self.tail[mi, :self.n_tail[mi]]) for mi, s in matters)
                for state, n in states.items():
                    key = tuple(a + b for a, b in zip(state, add))
                    step[key] = step.get(key, 0) + n
            states = step
        return sum(n * prod(factorial(m) for m in state) for state, n in states.items()) * bypasses


def _factorizations(bound: int, fixed, allowed, sizes) -> list[tuple]:
    return list(_factorizations_of(int(bound), tuple(int(f) for f in fixed), tuple(bool(a) for a in allowed),
                                   tuple(int(s) for s in sizes)))


@lru_cache(maxsize=256)  # a network's layers share dims: one enumeration per dim, slots and constraints
def _factorizations_of(bound: int, fixed: tuple, allowed: tuple, sizes: tuple) -> tuple:
    out = []
    factors = divisors(bound)  # every factor divides the bound

    def rec(s: int, remaining: int, acc: tuple):
        if len(out) > MAX_FACTORIZATIONS:
            return
        if s == len(fixed):
            if remaining == 1:
                out.append(acc)
            return
        if fixed[s]:
            if remaining % fixed[s] == 0:
                rec(s + 1, remaining // fixed[s], acc + (fixed[s],))
            return
        if not allowed[s]:
            rec(s + 1, remaining, acc + (1,))
            return
        for f in factors:
            if f > remaining:
                break
            if remaining % f == 0 and (sizes[s] == 0 or f <= sizes[s]):
                rec(s + 1, remaining // f, acc + (f,))

    rec(0, bound, ())
    return tuple(out)


def shrink(row: tuple, bound: int) -> tuple:
    """A factorization of a padded bound shrunk onto `bound` (mapping/ragged.unpad's rule on one
    dim, slots top-down = outer → inner): each factor to at most ⌈bound / what the ones inside cover⌉."""
    out, stride = [], 1
    for f in reversed(row):
        f = min(f, -(-bound // stride))
        stride *= f
        out.append(f)
    return tuple(reversed(out))


def padded_bounds(bound: int, sides) -> list[int]:
    """The padded sizes whose factorizations give a dim's ragged rows: the dim rounded up to a
    multiple of each fan-out side it exceeds half of (as mapping/ragged.padded_layers pads)."""
    out = []
    for side in sorted(set(sides), reverse=True):
        padded = -(-bound // side) * side
        if side > 1 and bound > side // 2 and padded != bound and padded not in out:
            out.append(padded)
    return out


def ragged_rows(bound: int, fixed: list[int], allowed: list[bool], sizes: list[int], dense: list[tuple]) -> list[tuple]:
    """A dim's ragged rows: each padded bound's factorizations shrunk onto the dim, those that still
    multiply to more than it, each once, none that changed a fixed factor."""
    seen, out = set(dense), []
    for padded in padded_bounds(bound, [s for s in sizes if s > 1]):
        for row in _factorizations(padded, fixed, allowed, sizes):
            row = shrink(row, bound)
            if row in seen or prod(row) == bound or any(f and f != r for f, r in zip(fixed, row)):
                continue
            seen.add(row)
            out.append(row)
    return out


def build_mapspace(arch: Arch, einsum: Einsum, constraints: Constraints, ragged: bool = False) -> Mapspace:
    """`ragged`: also the rows whose factors multiply to more than their dim (the module docstring)."""
    dims, roles = einsum.dims, einsum.roles
    slots = []  # (level index, axis, size)
    for i, level in enumerate(arch.levels[:-1]):
        if isinstance(level, Memory):
            slots.append((i, TEMPORAL, 0))
        elif isinstance(level, Spatial):
            slots += [(i, axis, size) for axis, size in ((X, level.x), (Y, level.y)) if size > 1]
    mem_levels = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    top = mem_levels[0]
    fixed = np.zeros((len(slots), len(dims)), dtype=np.int64)
    allowed = np.ones((len(slots), len(dims)), dtype=np.bool_)
    for s, (i, axis, _) in enumerate(slots):
        c = constraints.levels.get(arch.levels[i].name)
        if c is None:
            continue
        factors, only = (c.factors, None) if axis == TEMPORAL else c.axis(axis)
        for d, f in factors.items():
            if d in dims:
                fixed[s, dims.index(d)] = f
            elif f != 1:
                raise MappingError(f"the constraints fix {d}={f} at {arch.levels[i].name}, but the layer "
                                   f"has no dim {d} (dims: {', '.join(dims)})")
        if only is not None:
            for di, d in enumerate(dims):
                allowed[s, di] = d in only or d in factors
    rows, row_start, n_dense = [], [0], []
    sizes = [size for _, _, size in slots]
    # the ragged kernel counts no output whose axes mix dims with a ragged dim (ragged_kernel.py)
    fixed_size = {term.dim for t in einsum.tensors if t.role == "outputs" and any(len(a) > 1 for a in t.axes)
                  for a in t.axes for term in a}
    for di, d in enumerate(dims):
        found = _factorizations(einsum.bound[d], list(fixed[:, di]), list(allowed[:, di]), sizes)
        if not found:
            raise MappingError(f"the constraints leave no way to split {d}={einsum.bound[d]} over the "
                               f"levels (fixed factors {[(arch.levels[slots[s][0]].name, int(f)) for s, f in enumerate(fixed[:, di]) if f]})")
        if len(found) > MAX_FACTORIZATIONS:
            raise MappingError(f"{d}={einsum.bound[d]} has more than {MAX_FACTORIZATIONS} factorizations; "
                               f"constrain some of its factors")
        n_dense.append(len(found))
        if ragged and found and d not in fixed_size:
            found = found + ragged_rows(einsum.bound[d], [int(f) for f in fixed[:, di]], list(allowed[:, di]),
                                        sizes, found)
        rows += found
        row_start.append(len(rows))
    keep_base = np.zeros((len(arch.levels), len(roles)), dtype=np.bool_)
    keep_free = np.zeros_like(keep_base)
    for i in mem_levels:
        level = arch.levels[i]
        c = constraints.levels.get(level.name)
        for t, role in enumerate(roles):
            if role not in level.keeps or (c and role in c.bypass):
                continue
            keep_base[i, t] = True
            keep_free[i, t] = i != top and not (c and role in c.keep)
    # A level's loop order matters only to the tiles of memories below it.
    order_matters = np.array([bool(keep_base[i + 1:].any()) for i in mem_levels], dtype=np.bool_)
    tail = np.full((len(mem_levels), len(dims)), -1, dtype=np.int64)
    n_tail = np.zeros(len(mem_levels), dtype=np.int64)
    for mi, i in enumerate(mem_levels):
        c = constraints.levels.get(arch.levels[i].name)
        order = [dims.index(d) for d in (c.order if c else ()) if d in dims]
        tail[mi, :len(order)] = order
        n_tail[mi] = len(order)
    slot_mem = [mem_levels.index(i) if axis == TEMPORAL else -1 for i, axis, _ in slots]
    as_i64 = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    return Mapspace(dims, roles, as_i64([s[0] for s in slots]), as_i64([s[1] for s in slots]),
                    as_i64([s[2] for s in slots]), as_i64(slot_mem), fixed, allowed,
                    np.array(rows, dtype=np.int64).reshape(len(rows), len(slots)), as_i64(row_start),
                    as_i64(mem_levels), order_matters, tail, n_tail, keep_base, keep_free,
                    as_i64([einsum.bound[d] for d in dims]), as_i64(n_dense))


def decode(arch: Arch, space: Mapspace, fac: np.ndarray, perm: np.ndarray, keeps: np.ndarray,
           dataflow: str = "search") -> Mapping:
    """A mapspace point as a Mapping (the same loops the kernels lower it to)."""
    loops: dict[int, list[Loop]] = {i: [] for i in range(len(arch.levels) - 1)}
    for s in range(space.n_slots):
        i, axis = int(space.slot_level[s]), int(space.slot_axis[s])
        if axis == TEMPORAL:
            order = perm[space.slot_mem[s]]
            loops[i] += [Loop(space.dims[d], int(fac[s, d])) for d in order if fac[s, d] > 1]
        else:
            name = "x" if axis == X else "y"
            loops[i] += [Loop(space.dims[d], int(fac[s, d]), name) for d in range(len(space.dims))
                         if fac[s, d] > 1]
    levels = []
    for i, level in enumerate(arch.levels[:-1]):
        bypass = frozenset()
        if isinstance(level, Memory):
            bypass = frozenset(r for t, r in enumerate(space.roles) if r in level.keeps and not keeps[i, t])
        levels.append(LevelMapping(level.name, tuple(loops[i]), bypass))
    return Mapping(tuple(levels), dataflow)
