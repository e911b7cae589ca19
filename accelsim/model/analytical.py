"""Closed-form action counts per level and tensor, and the bandwidth-bound cycle count.

Per memory level m and tensor t that m keeps (per instance of m):
  fills    elements written into m from its parent (tile loads; for outputs, minus the
           first touch of each output, which needs no partial sum from above);
  reads    elements read out of m: for operands, what its children load (merged across a
           multicast fan-out), or one per MAC step at the innermost level; for outputs,
           updates minus first writes (partial sums sent back down or read for accumulation);
  updates  partial-sum writes arriving from below (outputs only), merged across a
           reduction fan-out.
Compute cycles are the temporal steps; a level with finite bandwidth may take longer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil, prod

from ..errors import AccelsimBug, MappingError
from ..ir.arch import Arch, Memory, clusters_used
from ..ir.einsum import Einsum
from ..mapping.lower import LoweredNest, holds_operands, merges
from .reuse import tile_loads, tile_size


@dataclass(frozen=True)
class TensorCounts:
    """Scalar (element) counts per instance of a level, for one tensor."""

    reads: int
    fills: int
    updates: int
    tile_elements: int  # utilized capacity per instance

    def total(self, instances: int) -> "TensorCounts":
        return TensorCounts(self.reads * instances, self.fills * instances,
                            self.updates * instances, self.tile_elements * instances)


@dataclass(frozen=True)
class LevelCounts:
    name: str
    instances: int            # utilized instances
    hardware_instances: int
    block_words: int
    tensors: dict             # role -> TensorCounts (per instance)
    cycles: int               # bandwidth-bound cycles of this level
    charged_instances: int    # instances charged dynamic energy: utilized clusters (cluster: N)

    @property
    def read_words(self) -> int:
        return sum(c.reads for c in self.tensors.values())

    @property
    def write_words(self) -> int:
        return sum(c.fills + c.updates for c in self.tensors.values())


@dataclass(frozen=True)
class ActionCounts:
    macs: int
    compute_instances: int     # utilized MAC units
    compute_cycles: int        # temporal steps
    cycles: int                # max of compute and every level's bandwidth time
    levels: tuple              # LevelCounts for each memory, top-down


def _loops(nest: LoweredNest, indices) -> list[tuple[str, int, int]]:
    return [(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in indices]


def analyze(arch: Arch, einsum: Einsum, nest: LoweredNest) -> ActionCounts:
    n = nest.n_loops
    all_loops = range(n)
    temporal_steps = prod(int(nest.loop_bound[j]) for j in all_loops if not nest.loop_spatial[j])
    spatial_used = prod(int(nest.loop_bound[j]) for j in all_loops if nest.loop_spatial[j])
    memory_idx = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    compute_idx = len(arch.levels) - 1
    hold = holds_operands(arch, nest)

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
                if merges(arch, einsum, int(nest.loop_level[j]), role, nest.dims[nest.loop_dim[j]]):
                    merged.append(j)
                else:
                    separate *= int(nest.loop_bound[j])
        return merged, separate

    levels = []
    for i in memory_idx:
        mem = arch.levels[i]
        instances = prod(int(nest.loop_bound[j]) for j in range(start(i)) if nest.loop_spatial[j])
        tensors = {}
        for r, role in enumerate(nest.roles):
            if not nest.keeps[i, r]:
                continue
            axes = einsum.tensor(role).axes
            tile = tile_size(axes, _loops(nest, inner(i)))
            # Traffic with the nearest level below that keeps the tensor (or the MACs).
            child = next((c for c in memory_idx if c > i and nest.keeps[c, r]), compute_idx)
            merged, separate = spatial_between(i, child, role)
            if child == compute_idx and hold:  # operands reused at the MACs like a tile
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
            else:
                counts = TensorCounts(reads=served, fills=loads, updates=0, tile_elements=tile)
            tensors[role] = counts
        _check_capacity(mem, tensors)
        level = LevelCounts(mem.name, instances, mem.instances, mem.block_words, tensors, 0,
                            _charged(arch, nest, i, instances))
        levels.append(_with_bandwidth_cycles(mem, level))
    cycles = max([temporal_steps] + [l.cycles for l in levels])
    return ActionCounts(einsum.macs, spatial_used, temporal_steps, cycles, tuple(levels))


def _check_capacity(mem: Memory, tensors: dict) -> None:
    capacity = mem.capacity_words
    used = sum(c.tile_elements for c in tensors.values())
    if capacity is not None and used > capacity:
        detail = ", ".join(f"{r} {c.tile_elements}" for r, c in tensors.items())
        raise MappingError(f"{mem.name}: the tiles need {used} words ({detail}) but it holds "
                           f"{capacity} words{' (half, double-buffered)' if mem.double_buffered else ''}")


def _with_bandwidth_cycles(mem: Memory, level: LevelCounts) -> LevelCounts:
    cycles = 0
    if mem.read_bw_words:
        cycles = max(cycles, ceil(level.read_words / mem.read_bw_words))
    if mem.write_bw_words:
        cycles = max(cycles, ceil(level.write_words / mem.write_bw_words))
    return replace(level, cycles=cycles)


def _charged(arch: Arch, nest: LoweredNest, index: int, instances: int) -> int:
    """Instances a clustered memory charges dynamic energy: the clusters the mapping's fan-out use
    touches (ir/arch.clusters_used); under counting: timeloop, Timeloop's min(utilized, clusters),
    which assumes the utilized instances spread over every cluster (src/model/buffer.cpp,
    ComputeScalarAccesses)."""
    mem = arch.levels[index]
    if mem.cluster == 1:
        return instances
    if arch.counting == "timeloop":
        return min(instances, mem.instances // mem.cluster)

    def used(level: int, xy: int) -> int:
        return prod(int(nest.loop_bound[j]) for j in range(nest.n_loops)
                    if nest.loop_spatial[j] and nest.loop_level[j] == level and nest.loop_axis[j] == xy)
    return clusters_used(arch.levels, index, used)
