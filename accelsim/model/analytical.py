"""The analytical model: closed-form action counts per level and tensor, and the bandwidth-bound
cycle count, from the counting core's jitted kernel (counting/nest_kernel.py) — the same code the
mapper evaluates, so a template, a mapping file and a search are counted alike.

Per memory level m and tensor t that m keeps (per instance of m):
  fills    elements written into m from its parent (tile loads; for outputs, minus the
           first touch of each output, which needs no partial sum from above);
  reads    elements read out of m: for operands, what its children load (merged across a
           multicast fan-out), or one per MAC step at the innermost level; for outputs,
           updates minus first writes (partial sums sent back down or read for accumulation);
  updates  partial-sum writes arriving from below (outputs only), merged across a
           reduction fan-out.
Compute cycles are the temporal steps; a level with finite bandwidth may take longer.
tests/kernels/naive_analytical.py is the slow Python reference it is checked against.
"""
from __future__ import annotations

from ..counting import records as R
from ..counting.counts import ActionCounts, LevelCounts, TensorCounts
from ..counting.nest import LoweredNest
from ..counting.rules import MAX_CYCLES
from ..errors import AccelsimBug, MappingError, SpecError
from ..ir.arch import Arch, Memory
from ..ir.einsum import Einsum
from ..counting.ragged_kernel import RAGGED_UNSUPPORTED
from .packed import PackedProblem, PackedResult, covered, evaluate_packed, is_ragged, layer_part, pack_problem
from .performance import PERFORMANCE_MODELS, PerformanceModel


def analyze(arch: Arch, einsum: Einsum, nest: LoweredNest, problem: PackedProblem | None = None,
            result: PackedResult | None = None) -> ActionCounts:
    """`problem`: the layer packed for the kernel (pack_problem), if the caller has it; `result`:
    the nest's PackedResult, if the caller has counted it (evaluate_packed on this layer, at any
    energies and density: they price the counts, they do not change them)."""
    if result is not None:
        return action_counts(arch, einsum, nest, result, is_ragged(layer_part(einsum), nest))
    problem = problem or pack_problem(arch, einsum)
    ragged = is_ragged(problem, nest)
    return action_counts(arch, einsum, nest, evaluate_packed(problem, nest, ragged), ragged)


def action_counts(arch: Arch, einsum: Einsum, nest, result: PackedResult, ragged: bool) -> ActionCounts:
    """The counting kernel's result as count objects, or the error it means. `nest`: what has the
    nest's roles, keeps and loops (a LoweredNest; for a dense result, roles and keeps suffice)."""
    if result.status == R.OVER_CAPACITY:
        raise MappingError(_over_capacity(arch, nest.roles, result.counts, result.output_words))
    if result.status == RAGGED_UNSUPPORTED:
        raise MappingError(_ragged_unsupported(einsum, nest, result))
    if result.status != R.OK:
        raise AccelsimBug(f"the counting kernel found fewer output loads or serves than distinct outputs "
                          f"(status {result.status})")
    levels = []
    # the arrays as Python ints, in bulk (tolist: one call, not one int() per count)
    counts, keeps, all_totals = result.counts.tolist(), nest.keeps.tolist(), result.totals.tolist() if ragged else None
    instances, level_cycles = result.instances.tolist(), result.level_cycles.tolist()
    charged, output_words, all_blocks = result.charged.tolist(), result.output_words.tolist(), result.blocks.tolist()
    for i, mem in enumerate(arch.levels):
        if not isinstance(mem, Memory):
            continue
        blocks = [tuple(b) for b in all_blocks[i]]
        tensors = {role: TensorCounts(*counts[i][t], None if ragged else blocks[t])
                   for t, role in enumerate(nest.roles) if keeps[i][t]}
        totals = None
        if ragged:  # instances differ: the sums over them (tile: the busiest's; blocks: every instance's)
            totals = {role: TensorCounts(*all_totals[i][t], tensors[role].tile_elements, blocks[t])
                      for t, role in enumerate(nest.roles) if keeps[i][t]}
        levels.append(LevelCounts(mem.name, instances[i], mem.instances, mem.block_words, tensors,
                                  level_cycles[i], charged[i], output_words[i], totals))
    if result.cycles >= MAX_CYCLES:
        slow = [arch.levels[i].name for i in range(len(arch.levels)) if result.level_cycles[i] >= MAX_CYCLES]
        raise SpecError(f"{', '.join(slow)}: at its bandwidth the layer would take more than 2^62 cycles; "
                        f"give the level a realistic bandwidth (words per cycle)")
    temporal_steps, spatial_used = result.steps  # of the busiest MAC; MACs with any work
    return ActionCounts(einsum.macs, spatial_used, temporal_steps, result.cycles, tuple(levels))


def _ragged_unsupported(einsum: Einsum, nest: LoweredNest, result) -> str:
    """The one ragged case the kernel refuses: a fan-out that merges a sliding-window tensor (or
    outputs whose axes mix dims) on a ragged dim."""
    loops = dict(zip(einsum.dims, covered(nest).tolist()))
    ragged = ", ".join(f"{d} ({loops[d]} covers {einsum.bound[d]})" for d in einsum.dims
                       if loops[d] != einsum.bound[d])
    return (f"ragged tiles on {ragged}: a fan-out multicasts (or reduces) a tensor whose axes mix dims "
            f"(a sliding window) over a ragged dim, which ragged tiles do not count yet; make that dim's "
            f"factors multiply to its size, or pad the layer (pad:)")



def _over_capacity(arch: Arch, roles, counts, output_words) -> str:
    """The first level (top-down) whose tiles do not fit: the kernel checks them in that order (in
    words: partial sums may take several)."""
    for i, mem in enumerate(arch.levels):
        capacity = mem.capacity_words if isinstance(mem, Memory) else None
        tiles = {role: int(counts[i, t, R.TILE]) * (int(output_words[i]) if role == "outputs" else 1)
                 for t, role in enumerate(roles) if counts[i, t, R.TILE]}
        used = sum(tiles.values())
        if capacity is not None and used > capacity:
            detail = ", ".join(f"{r} {n}" for r, n in tiles.items())
            return (f"{mem.name}: the tiles need {used} words ({detail}) but it holds "
                    f"{capacity} word{'' if capacity == 1 else 's'}"
                    f"{' (half, double-buffered)' if mem.double_buffered else ''}")
    raise AccelsimBug("the counting kernel reported a level over capacity, but every tile fits")


@PERFORMANCE_MODELS.register("analytical")
class AnalyticalModel(PerformanceModel):
    """Cycles = max(compute steps, each level's traffic ÷ its bandwidth): the counts' own bound."""

    name = "analytical"

    @staticmethod
    def layer_cycles(arch, layer, nest, counts) -> tuple[int, dict]:
        return counts.cycles, {}
