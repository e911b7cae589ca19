"""Slow reference for the analytical model (accelsim/model/analytical.py runs the jitted
counting core, accelsim/counting/nest_kernel.py): per level and tensor, tile loads walked over
2^K tile visits with explicit overlaps (Timeloop's reset-on-stride-change rule with uniform-loop
extrapolation), multicast and reduction from the merged loops, and clusters charged from the
fan-out positions used. It is the Python closed form the kernel replaced, kept as the check."""
from __future__ import annotations

from dataclasses import replace
from math import ceil, prod

from accelsim.counting.conventions import CLUSTERS_SPREAD, block_rounding_of, convention_of
from accelsim.counting.counts import ActionCounts, LevelCounts, TensorCounts
from accelsim.counting.nest import LoweredNest
from accelsim.counting.reuse import axis_terms, tile_size
from accelsim.errors import AccelsimBug, MappingError
from accelsim.ir.arch import Arch, Memory, cluster_span
from accelsim.ir.einsum import Einsum
from naive_point_sets import axis_overlap, axis_size


def _loops(nest: LoweredNest, indices) -> list[tuple[str, int, int]]:
    return [(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in indices]


def analyze(arch: Arch, einsum: Einsum, nest: LoweredNest) -> ActionCounts:
    n = nest.n_loops
    all_loops = range(n)
    temporal_steps = prod(int(nest.loop_bound[j]) for j in all_loops if not nest.loop_spatial[j])
    spatial_used = prod(int(nest.loop_bound[j]) for j in all_loops if nest.loop_spatial[j])
    memory_idx = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    compute_idx = len(arch.levels) - 1
    convention = convention_of(arch)
    hold = convention.holds_operands(nest)

    def start(i):
        return int(nest.level_start[i])

    def inner(i):
        return range(start(i), n)

    def outer_temporal(i):
        return _loops(nest, [j for j in range(start(i)) if not nest.loop_spatial[j]])

    def spatial_between(i_parent, i_child, role):
        """Loops of fan-outs between two levels: merged ones (in the union) and the rest."""
        merged, separate = [], 1
        for j in range(start(i_parent), start(i_child)):
            if nest.loop_spatial[j]:
                if convention.merges(arch, einsum, int(nest.loop_level[j]), role, nest.dims[nest.loop_dim[j]]):
                    merged.append(j)
                else:
                    separate *= int(nest.loop_bound[j])
        return merged, separate

    levels = []
    for i in memory_idx:
        mem = arch.levels[i]
        instances = prod(int(nest.loop_bound[j]) for j in range(start(i)) if nest.loop_spatial[j])
        tensors = {}
        output_words = 1
        for r, role in enumerate(nest.roles):
            if not nest.keeps[i, r]:
                continue
            axes = einsum.tensor(role).axes
            tile = tile_size(axes, _loops(nest, inner(i)))
            # Traffic with the nearest level below that keeps the tensor (or the MACs).
            child = next((c for c in memory_idx if c > i and nest.keeps[c, r]), compute_idx)
            merged, separate = spatial_between(i, child, role)
            if child == compute_idx and (hold or role in arch.compute.operand_latch):  # reused like a tile
                served = tile_loads(axes, _loops(nest, merged), outer_temporal(compute_idx)) * separate
            elif child == compute_idx:
                below = tile_size(axes, _loops(nest, merged)) * separate
                served = temporal_steps * below
            else:
                union = _loops(nest, list(merged) + list(inner(child)))
                served = tile_loads(axes, union, outer_temporal(child)) * separate
            is_top = i == memory_idx[0]
            loads = 0 if is_top else tile_loads(axes, _loops(nest, inner(i)), outer_temporal(i))
            if role == "outputs":
                distinct = tile_size(axes, _loops(nest, [j for j in all_loops
                                                         if j >= start(i) or not nest.loop_spatial[j]]))
                fills = 0 if is_top else loads - distinct
                if fills < 0 or served < distinct:
                    raise AccelsimBug(f"{mem.name}: outputs loaded {loads} or served {served} "
                                      f"fewer than the {distinct} distinct outputs")
                counts = TensorCounts(reads=served - distinct, fills=fills, updates=served, tile_elements=tile)
                if arch.compute.psum_bits and (fills > 0 or served > distinct):  # accumulates: partial sums
                    output_words = ceil(arch.compute.psum_bits / mem.word_bits)
            else:
                counts = TensorCounts(reads=served, fills=loads, updates=0, tile_elements=tile)
            tensors[role] = counts
        level = LevelCounts(mem.name, instances, mem.instances, mem.block_words, tensors, 0,
                            _charged(arch, nest, i, instances), output_words)
        levels.append(_with_bandwidth_cycles(mem, level))
    # Capacity as the kernel checks it: every level's tiles in elements first (one word each: the
    # widths are known only from the counts), then in words with the partial sums' width.
    for in_words in (False, True):
        for i, level in zip(memory_idx, levels):
            _check_capacity(arch.levels[i], level, in_words)
    cycles = max([temporal_steps] + [l.cycles for l in levels])
    return ActionCounts(einsum.macs, spatial_used, temporal_steps, cycles, tuple(levels))


def _check_capacity(mem: Memory, level: LevelCounts, in_words: bool) -> None:
    capacity = mem.capacity_words
    words = {r: c.tile_elements * (level.words_per_element(r) if in_words else 1) for r, c in level.tensors.items()}
    used = sum(words.values())
    if capacity is not None and used > capacity:
        detail = ", ".join(f"{r} {w}" for r, w in words.items())
        raise MappingError(f"{mem.name}: the tiles need {used} words ({detail}) but it holds "
                           f"{capacity} word{'' if capacity == 1 else 's'}{' (half, double-buffered)' if mem.double_buffered else ''}")


def _with_bandwidth_cycles(mem: Memory, level: LevelCounts) -> LevelCounts:
    return replace(level, cycles=_port_cycles(mem, level.read_words, level.write_words))


def _port_cycles(mem: Memory, reads: int, writes: int) -> int:
    cycles = 0
    if mem.read_bw_words:
        cycles = max(cycles, ceil(reads / mem.read_bw_words))
    if mem.write_bw_words:
        cycles = max(cycles, ceil(writes / mem.write_bw_words))
    if mem.shared_bw_words:  # one port that reads and writes share
        cycles = max(cycles, ceil((reads + writes) / mem.shared_bw_words))
    return cycles


def timed_in_blocks(arch: Arch, counts: ActionCounts, kernel_counts: ActionCounts) -> ActionCounts:
    """`counts` (this walk's) with each level's port time in whole blocks where the level rounds per
    transfer (docs/energy.md#port-time): a port `block_words` wide moves Σ block accesses × block_words
    words (never fewer than the words), the block accesses being the kernel's per instance (dense;
    test_block_rounding.py checks them against a walk that rounds every transfer). Other levels: words."""
    levels = []
    for level, kernel_level in zip(counts.levels, kernel_counts.levels):
        mem = arch.level(level.name)
        blocks = [kernel_level.tensors[r].blocks for r in level.tensors]
        if block_rounding_of(arch, mem) != "transfer" or mem.block_words == 1:
            levels.append(level)
            continue
        reads = max(level.read_words, sum(b[0] for b in blocks) * mem.block_words)
        writes = max(level.write_words, sum(b[1] + b[2] for b in blocks) * mem.block_words)
        levels.append(replace(level, cycles=_port_cycles(mem, reads, writes)))
    cycles = max([counts.compute_cycles] + [l.cycles for l in levels])
    return replace(counts, levels=tuple(levels), cycles=cycles)


def _charged(arch: Arch, nest: LoweredNest, index: int, instances: int) -> int:
    """Instances a clustered memory charges dynamic energy (counting.conventions: cluster_rule)."""
    mem = arch.levels[index]
    if mem.cluster == 1:
        return instances
    if convention_of(arch).cluster_rule == CLUSTERS_SPREAD:
        return min(instances, mem.instances // mem.cluster)

    def used(level: int, xy: int) -> int:
        return prod(int(nest.loop_bound[j]) for j in range(nest.n_loops)
                    if nest.loop_spatial[j] and nest.loop_level[j] == level and nest.loop_axis[j] == xy)
    return _clusters_used(arch.levels, index, used)


def _clusters_used(levels, index: int, used_on_axis) -> int:
    """The clusters a mapping touches: ⌈u_m / r⌉ · Π_{a>m} u_a, u_a the positions [0, u_a) it uses
    on fan-out axis a (used_on_axis(level, xy)); axes inside a cluster do not count."""
    axes, r = cluster_span(levels, index)
    if not axes:
        return 1
    (level, xy, _), *outer = axes
    touched = -(-used_on_axis(level, xy) // r)
    for level, xy, _ in outer:
        touched *= used_on_axis(level, xy)
    return touched


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
