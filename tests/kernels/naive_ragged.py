"""Slow reference for ragged nests (counting/ragged_kernel.py): every iteration walked, point sets
built explicitly and truncated at each dim's size.

A dim's value at an iteration is Σ digit·stride over its loops; an iteration exists iff every
dim's value is below its size. Per memory level and tensor, for each instance (a tuple of the
fan-out digits above the level; it exists iff its offsets are valid):
  loads    walk the valid visits of the temporal loops above the level in order; a visit's tile is
           the tensor's points over every loop at or below the level; a step that is in the reuse
           class of the innermost temporal loop above (R_k = Σ_{j<k} move_j + 2·move_k equal to
           R_{K−1}, as vectors over the tensor's axes) loads only the points its tile does not share
           with itself moved back by that innermost loop's step, any other step reloads the whole
           tile: Timeloop's uniform-loop extrapolation, the dense kernel's rule (which a walk over
           consecutive tiles would not reproduce on a sliding window), applied to every valid visit;
  served   the same walk for the set the child loads (its tile and the fan-outs on the way that
           merge the tensor), per position of the other fan-outs on the way; or, for MACs that do not
           hold the operand, the distinct points each valid step reads;
  distinct the tensor's points over every loop but the fan-outs above.
The busiest instance is the one at offset 0; totals sum every instance.

Per-transfer block accesses (docs/energy.md#block-rounding; `transfer_blocks`): every load the walk
makes (a visit's whole tile or its new points) is a transfer, rounded up to whole blocks on its own;
for outputs, a transfer's points already seen by the instance (tracked as the walk goes) are its
partial sums read back or loaded, the others first touches. A memory child's fill is a transfer per
position of the separate fan-outs; what the MACs take in a step (or, held, the new part of it) is one
transfer of every separate position's points, copies included.
"""
from __future__ import annotations

from itertools import product

import numpy as np

from accelsim.counting.nest import LoweredNest
from accelsim.ir.arch import Arch, Memory
from accelsim.ir.einsum import Einsum


class _Nest:
    def __init__(self, arch: Arch, einsum: Einsum, nest: LoweredNest, merges):
        self.n = nest.n_loops
        self.dim = [int(d) for d in nest.loop_dim]
        self.bound = [int(b) for b in nest.loop_bound]
        self.stride = [int(s) for s in nest.loop_stride]
        self.spatial = [bool(s) for s in nest.loop_spatial]
        self.level = [int(l) for l in nest.loop_level]
        self.start = [int(s) for s in nest.level_start]
        self.size = [einsum.bound[d] for d in nest.dims]
        self.dims = nest.dims
        self.merges = merges  # (level, role, dim name) -> bool

    def values(self, digits: dict) -> list[int] | None:
        """Each dim's value for loop digits (absent loops at 0); None if an offset reaches a size."""
        x = [0] * len(self.size)
        for j, v in digits.items():
            x[self.dim[j]] += v * self.stride[j]
        return None if any(v >= s for v, s in zip(x, self.size)) else x

    def tuples(self, loops):
        return product(*[range(self.bound[j]) for j in loops])


def _points(nn: _Nest, tensor, fixed: dict, free) -> set:
    """The tensor's points over the `free` loops' digits, the `fixed` digits given, truncated."""
    out = set()
    for digits in nn.tuples(free):
        x = nn.values({**fixed, **dict(zip(free, digits))})
        if x is not None:
            out.add(tuple(sum(t.coef * x[nn.dims.index(t.dim)] for t in axis) for axis in tensor.axes))
    return out


def _walk_loads(nn: _Nest, tensor, fixed: dict, moving, free, transfers=None) -> int:
    """Loads of the set over `free` loops as the `moving` temporal loops step (see the module); each
    transfer's (digits of the moving loops, points it loads) appended to `transfers` if given."""
    if not moving:
        points = _points(nn, tensor, fixed, free)
        if transfers is not None:
            transfers.append(((), points))
        return len(points)
    moves = []
    for j in moving:
        move = np.zeros(len(tensor.axes), dtype=np.int64)
        for a, axis in enumerate(tensor.axes):
            move[a] = sum(t.coef for t in axis if t.dim == nn.dims[nn.dim[j]]) * nn.stride[j]
        moves.append(move)
    r = [sum(moves[:k], np.zeros(len(tensor.axes), np.int64)) + 2 * moves[k] for k in range(len(moving))]
    reuses = [bool((r[k] == r[-1]).all()) for k in range(len(moving))]
    total, prev, prev_digits = 0, None, None  # prev: whether a visit came before
    for digits in nn.tuples(moving):
        at = {**fixed, **dict(zip(moving, digits))}
        if nn.values(at) is None:
            continue
        points = _points(nn, tensor, at, free)
        new = points
        if prev is not None:
            k = next(q for q in range(len(moving)) if digits[q] != prev_digits[q])  # the loop that stepped
            back = {tuple(int(c) for c in np.array(q) - moves[-1]) for q in points}  # the tile one step back
            new = points - back if reuses[k] else points
        total += len(new)
        if transfers is not None:
            transfers.append((digits, new))
        prev, prev_digits = points, digits
    return total


def _blocks(transfers, words: int, block: int, seen: set | None) -> tuple[int, int]:
    """(block accesses of the transfers, of their elements already in `seen`), each transfer (a
    list of point sets, served apart: copies count) rounded up to whole blocks of `words`-word
    elements; `seen` (outputs) grows with every transfer."""
    every = again = 0
    for parts in transfers:
        size = sum(len(points) for points in parts)
        every += -(-size * words // block)
        if seen is not None:
            union = set().union(*parts)
            again += -(-(size - len(union - seen)) * words // block)
            seen |= union
    return every, again


def ragged_counts(arch: Arch, einsum: Einsum, nest: LoweredNest, merges, hold: bool,
                  words: dict | None = None) -> dict:
    """{(level index, role): (busiest (reads, fills, updates, tile), totals (reads, fills, updates))},
    'instances': {level index: utilized}, 'steps': (temporal steps of the busiest MAC, MACs used),
    'blocks': {(level index, role): (reads, fills, updates) per-transfer block accesses over every
    instance} (docs/energy.md#block-rounding), 'feeds_macs': {(level index, role): (the level feeds the
    MACs, they hold the operand)}.
    `merges(level, role, dim)`: the counting convention's; `hold`: its operands held under a
    spatial innermost loop; `words`: {level index: words an output takes there} (partial sums)."""
    nn = _Nest(arch, einsum, nest, merges)
    temporal = [j for j in range(nn.n) if not nn.spatial[j]]
    spatial = [j for j in range(nn.n) if nn.spatial[j]]
    compute = len(arch.levels) - 1
    memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    top = memories[0]
    out = {"instances": {}, "blocks": {}, "feeds_macs": {}, "steps": (
        sum(1 for d in nn.tuples(temporal) if nn.values(dict(zip(temporal, d))) is not None),
        sum(1 for d in nn.tuples(spatial) if nn.values(dict(zip(spatial, d))) is not None))}
    for i in range(len(arch.levels)):
        above = [j for j in spatial if j < nn.start[i]]
        out["instances"][i] = sum(1 for d in nn.tuples(above) if nn.values(dict(zip(above, d))) is not None)
    for i in memories:
        above = [j for j in spatial if j < nn.start[i]]
        instances = [dict(zip(above, d)) for d in nn.tuples(above) if nn.values(dict(zip(above, d))) is not None]
        for r, role in enumerate(nest.roles):
            if not nest.keeps[i, r]:
                continue
            tensor = einsum.tensor(role)
            child = next((c for c in memories if c > i and nest.keeps[c, r]), compute)
            between = [j for j in spatial if nn.start[i] <= j < nn.start[child]]
            merged = [j for j in between if merges(nn.level[j], role, nn.dims[nn.dim[j]])]
            separate = [j for j in between if j not in merged]
            held = child == compute and (hold or role in arch.compute.operand_latch)
            inside = list(range(nn.start[i], nn.n))
            child_inside = list(range(nn.start[child], nn.n)) if child != compute else []
            moves_i = [j for j in temporal if j < nn.start[i]]
            moves_child = temporal if child == compute else [j for j in temporal if j < nn.start[child]]
            per_instance = []
            w = (words or {}).get(i, 1) if role == "outputs" else 1
            block = arch.levels[i].block_words
            level_blocks = [0, 0, 0]
            for sigma in instances:
                load_transfers, served_transfers = [], []
                loads = 0 if i == top else _walk_loads(nn, tensor, sigma, moves_i, inside, load_transfers)
                load_transfers = [[points] for _, points in load_transfers]
                served = 0
                by_step = {}  # what the MACs take: a step's points over every separate position
                for sep in nn.tuples(separate):
                    at = {**sigma, **dict(zip(separate, sep))}
                    if child == compute and not held:
                        for digits in nn.tuples(temporal):
                            step = {**at, **dict(zip(temporal, digits))}
                            if nn.values(step) is not None:
                                points = _points(nn, tensor, step, merged)
                                served += len(points)
                                by_step.setdefault(digits, []).append(points)
                    else:
                        moved = []
                        served += _walk_loads(nn, tensor, at, moves_child, merged + child_inside, moved)
                        for digits, points in moved:
                            if child == compute:
                                by_step.setdefault(digits, []).append(points)
                            else:  # a memory child's fill: a transfer of its own
                                served_transfers.append([points])
                if child == compute:
                    served_transfers = [by_step[digits] for digits in sorted(by_step)]
                # the transfers in time order (a memory child's positions one after the other)
                if role == "outputs":
                    every, again = _blocks(load_transfers, w, block, set())
                    level_blocks[1] += again  # a load of seen outputs brings their partial sums
                    every, again = _blocks(served_transfers, w, block, set())
                    level_blocks[0] += again  # an update of a seen output reads it back
                    level_blocks[2] += every
                else:
                    level_blocks[1] += _blocks(load_transfers, w, block, None)[0]
                    level_blocks[0] += _blocks(served_transfers, w, block, None)[0]
                tile = len(_points(nn, tensor, sigma, inside)) if not sigma or all(v == 0 for v in sigma.values()) \
                    else None
                if role == "outputs":
                    everything = [j for j in range(nn.n) if j >= nn.start[i] or not nn.spatial[j]]
                    distinct = len(_points(nn, tensor, sigma, everything))
                    fills = 0 if i == top else loads - distinct
                    per_instance.append((served - distinct, fills, served, tile))
                else:
                    per_instance.append((served, loads, 0, tile))
            busiest = per_instance[0]  # instance 0 (offset 0) comes first
            totals = tuple(sum(c[q] for c in per_instance) for q in range(3))
            out[(i, role)] = (busiest, totals)
            out["blocks"][(i, role)] = tuple(level_blocks)
            out["feeds_macs"][(i, role)] = (child == compute, held)
    return out
