"""A layer on an arch as the records nest_kernel.evaluate_nest takes, and one-mapping evaluation.

`pack_problem` runs once per (arch, layer); the mapper then evaluates many nests against it.
`evaluate_packed` is the wrapper for one lowered nest: it allocates, calls the kernel and
returns the energy, the cycles and the counts (the same numbers `analyze` and `layer_energy`
give, which tests/kernels/test_nest_kernel.py checks).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..counting import records as R
from ..counting.conventions import CountingConvention, block_rounding_of, convention_of
from ..counting.nest import LoweredNest
from ..counting.nest_kernel import evaluate_nest
from ..counting.ragged_kernel import evaluate_ragged, ragged_work
from ..energy.activity import (
    DENSE_ACTIVITY,
    HELD,
    LayerActivity,
    held_by,
    is_dense,
    mac_activity_table,
    storage_activity,
)
from ..energy.domains import background_pj
from ..energy.mac import mac_dynamic_pj
from ..energy.model import ActionEnergies, leaking_instances
from ..errors import AccelsimBug, SpecError
from ..ir.arch import Arch, Memory, Spatial, cluster_span
from ..ir.einsum import Einsum
from ..ir.workload import DENSE, Density


@dataclass(frozen=True)
class PackedProblem:
    dims: tuple[str, ...]
    roles: tuple[str, ...]
    axis_of: np.ndarray       # [tensor, dim] int64: the axis the dim indexes, −1 none
    coef: np.ndarray          # [tensor, dim] int64: its coefficient there
    axis_dims: np.ndarray     # [tensor, axis, q] nest_kernel.INDEX: the dims each axis sums (axis_nd of them)
    axis_nd: np.ndarray       # [tensor, axis] int64: how many
    n_axes: np.ndarray        # [tensor] int64
    is_output: np.ndarray     # [tensor] bool
    one_dim: np.ndarray       # [tensor] bool: every axis indexes one dim (nest_kernel's product shortcut)
    level_int: np.ndarray     # [level, KIND|CAPACITY|BLOCK|CLUSTER|HW_INSTANCES|CLUSTER_R|CLUSTER_AXES|BLOCK_SHIFT]
    cluster_axes: np.ndarray  # [level, q, 0:2] (spatial level, x 0 | y 1) of the fan-out axes clusters count on
    level_float: np.ndarray   # [level, READ_BW|WRITE_BW|E_READ|E_WRITE|E_UPDATE|LEAK|SHARED_BW] float64
    merges: np.ndarray        # [level, tensor, dim] bool: a fan-out loop there merges the tensor
    e_factor: np.ndarray      # [level, tensor] float64
    mac_energy_pj: np.ndarray  # [held operand (energy.activity.HELD), reduction fan-in] the layer's MAC energy
    held_by_dim: np.ndarray   # [dim] the HELD code of the operand an innermost temporal loop on it holds
    output_ignores: np.ndarray  # [dim] bool: a fan-out over it reduces partial sums
    energy_per_cycle_pj: float  # overhead components and leakage not charged per utilized instance
    hold_spatial_innermost: bool  # the counting convention's rules (counting/conventions):
    cluster_rule: int         # MAC operands held under a spatial innermost loop; clusters' charging
    latched: np.ndarray       # [tensor] bool: operands the MACs latch (Compute.operand_latch)
    psum_words: np.ndarray    # [level] words a partial sum takes there (psum_words_per_level)
    max_span: int             # the longest tensor axis (points), for the occupancy scratch
    dim_size: np.ndarray      # [dim] int64: the layer's dims (a ragged nest's bounds multiply to more)

    @property
    def max_axes(self) -> int:
        return int(self.n_axes.max())

    def record(self) -> R.Problem:
        """evaluate_nest's `problem`: the fields of the same names."""
        return R.Problem(*(getattr(self, name) for name in R.Problem._fields))


def pack_problem(arch: Arch, einsum: Einsum, energies: ActionEnergies | None = None,
                 density: Density = DENSE) -> PackedProblem:
    """`density`: the operands' non-zero fractions, for data-dependent energy (energy/activity.py):
    storage factors per tensor, and the MACs' factor for each held operand and reduction fan-in,
    which the kernel picks from the loops as layer_activity does from the mapping. Without
    `energies` the kernel counts only (every energy is 0).

    Built from three parts, each computed once and shared (a sweep packs every distinct layer of
    every point; the arrays are read-only to the kernels): the layer's (`layer_part`, once per
    layer shape in a process), the arch's at its energies (`arch_part`, once per arch and
    energies object: once per point), and what needs both (`mixed_part`, once per layer and set of
    arch fields it reads: `mixed_reads`, shared by a sweep's size variants).
    tests/unit/test_packed_parts.py checks the result against the one-piece packing."""
    lay = layer_part(einsum)
    energies = energies or _no_energies(arch)
    level_int, cluster_axes, level_float, per_cycle, psum_words = arch_part(arch, energies)
    merging, e_factor, latched, mac_table = mixed_part(arch, einsum, density)
    return PackedProblem(einsum.dims, einsum.roles, lay.axis_of, lay.coef, lay.axis_dims, lay.axis_nd, lay.n_axes,
                         lay.is_output, lay.one_dim, level_int, cluster_axes, level_float, merging, e_factor,
                         mac_dynamic_pj(lay.macs, energies.mac_pj, mac_table), lay.held_by_dim, lay.output_ignores,
                         per_cycle, convention_of(arch).operands_held_when_spatial_innermost,
                         convention_of(arch).cluster_rule,
                         latched, psum_words, lay.span, lay.dim_size)


class LayerPart(NamedTuple):
    """A layer's own arrays, the same on every arch (PackedProblem's fields of the same names; a
    NamedTuple, so the sweeps' whole-network kernel takes it as it is: model/network_kernel.py)."""
    axis_of: np.ndarray
    coef: np.ndarray
    axis_dims: np.ndarray
    axis_nd: np.ndarray
    n_axes: np.ndarray
    is_output: np.ndarray
    one_dim: np.ndarray
    held_by_dim: np.ndarray
    output_ignores: np.ndarray
    span: int                 # PackedProblem.max_span
    dim_size: np.ndarray
    macs: int                 # the layer's MACs (Einsum.macs)


@lru_cache(maxsize=4096)
def layer_part(einsum: Einsum) -> LayerPart:
    """The layer's own arrays (its tensors' axes, dims and bounds): the same on every arch."""
    dims, roles = einsum.dims, einsum.roles
    tensors = [einsum.tensor(r) for r in roles]
    axis_of = np.full((len(roles), len(dims)), -1, dtype=np.int64)
    coef = np.zeros((len(roles), len(dims)), dtype=np.int64)
    max_axes = max(len(t.axes) for t in tensors)
    axis_dims = np.zeros((len(roles), max_axes, len(dims)), dtype=R.INDEX)
    axis_nd = np.zeros((len(roles), max_axes), dtype=np.int64)
    span = 1
    for ti, t in enumerate(tensors):
        for a, axis in enumerate(t.axes):
            for q, term in enumerate(axis):
                axis_of[ti, dims.index(term.dim)] = a
                coef[ti, dims.index(term.dim)] = term.coef
                axis_dims[ti, a, q] = dims.index(term.dim)
            axis_nd[ti, a] = len(axis)
            span = max(span, 1 + sum(term.coef * (einsum.bound[term.dim] - 1) for term in axis))
    _check_int64_range(einsum, span)  # raised again on every call: lru_cache keeps no exceptions
    return LayerPart(axis_of, coef, axis_dims, axis_nd,
                      np.array([len(t.axes) for t in tensors], dtype=np.int64),
                      np.array([r == "outputs" for r in roles], dtype=np.bool_),
                      np.array([all(len(axis) == 1 for axis in t.axes) for t in tensors], dtype=np.bool_),
                      np.array([HELD.index(held_by(einsum, d)) for d in dims], dtype=np.int64),
                      np.array([not einsum.relevant("outputs", d) for d in dims], dtype=np.bool_), span,
                      np.array([einsum.bound[d] for d in dims], dtype=np.int64), einsum.macs)


class ByIdentity:
    """A small cache keyed by objects' identities (an Arch, its ActionEnergies: frozen, but hashing
    one walks every level). It keeps the keys alive, so an id is never reused while cached."""

    def __init__(self, size: int):
        self.size, self.entries = size, {}

    def get(self, objects: tuple, build):
        key = tuple(map(id, objects))
        hit = self.entries.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], objects)):
            return hit[1]
        if len(self.entries) >= self.size:
            self.entries.clear()  # rare (a worker sees few archs at a time); safe under threads (Dask)
        value = build(*objects)
        self.entries[key] = (objects, value)
        return value


_ARCH_PARTS = ByIdentity(64)
_MIXED_READS = ByIdentity(64)   # per arch: what mixed_part reads of it (mixed_reads)
_MIXED_PARTS: dict = {}          # mixed_reads(arch) -> {(einsum, density): parts}
_READS_NUMBER: dict = {}         # what mixed_part reads of an arch -> mixed_reads' number for it
_NUMBERS = itertools.count()
_NO_ENERGIES = ByIdentity(64)


def arch_part(arch: Arch, energies: ActionEnergies):
    """(level_int, cluster_axes, level_float, energy per cycle pJ, psum_words): PackedProblem's fields
    of those names, once per arch and energies object."""
    return _ARCH_PARTS.get((arch, energies), _build_arch_part)


def _build_arch_part(arch: Arch, energies: ActionEnergies):
    """The levels' records at these energies, leakage and the per-cycle energy: the same for every layer."""
    n_levels = len(arch.levels)
    level_int = np.zeros((n_levels, R.LEVEL_INT_COLUMNS), dtype=np.int64)
    cluster_axes = np.zeros((n_levels, 2 * n_levels, 2), dtype=np.int64)
    level_float = np.zeros((n_levels, 7), dtype=np.float64)
    for i, level in enumerate(arch.levels):
        if isinstance(level, Memory):
            cap = level.capacity_words
            level_int[i, :R.CLUSTER_R] = (R.MEMORY, -1 if cap is None else cap, level.block_words, level.cluster,
                                          level.instances)
            block = level.block_words  # accesses by a shift when a power of two (nest_kernel._accesses)
            level_int[i, R.BLOCK_SHIFT] = block.bit_length() - 1 if block & (block - 1) == 0 else -1
            level_int[i, R.BLOCK_RULE] = (R.TRANSFER_BLOCKS if block_rounding_of(arch, level) == "transfer"
                                          else R.LAYER_BLOCKS)
            if level.cluster > 1:  # the fan-out axes its clusters are counted on (ir/arch.clusters_used)
                axes, level_int[i, R.CLUSTER_R] = cluster_span(arch.levels, i)
                level_int[i, R.CLUSTER_AXES] = len(axes)
                for q, (spatial, xy, _) in enumerate(axes):
                    cluster_axes[i, q] = spatial, xy
            level_float[i, :R.LEAK] = (level.read_bw_words or 0.0, level.write_bw_words or 0.0,
                                       energies.read_pj[level.name], energies.write_pj[level.name],
                                       energies.update_pj[level.name])
            level_float[i, R.SHARED_BW] = level.shared_bw_words or 0.0
        elif isinstance(level, Spatial):
            level_int[i, R.KIND] = R.SPATIAL
        else:
            level_int[i, R.KIND] = R.COMPUTE
    # Leakage per cycle: of every hardware instance, or of a buffer's utilized instances only (None
    # in leaking_instances), which the kernel multiplies in (level_float LEAK, pJ per cycle per instance).
    instances = leaking_instances(arch)
    pj_per_cycle = {name: w / arch.frequency_hz * 1e12 for name, w in energies.leakage_w.items()}
    for i, level in enumerate(arch.levels):
        if instances[level.name] is None:
            level_float[i, R.LEAK] = pj_per_cycle.get(level.name, 0.0)
    per_cycle = sum((energies.overhead_pj_per_cycle or {}).values()) + sum(
        pj * instances[name] for name, pj in pj_per_cycle.items() if instances[name] is not None)
    per_cycle += sum(background_pj(arch, 1.0 / arch.frequency_hz).values())  # declared domains' background power
    per_cycle = float(per_cycle)  # 0 when nothing leaks: an int would compile the kernels a second time
    return level_int, cluster_axes, level_float, per_cycle, psum_words_per_level(arch)


def mixed_part(arch: Arch, einsum: Einsum, density: Density):
    """What needs both the arch and the layer: the fan-outs' merging, the storage activity factors,
    the latched operands and the MACs' activity table (energy-free: the same at any energies).
    Shared by the archs that agree on all it reads of them (mixed_reads): a sweep's variants of an
    arch's sizes share them."""
    reads = mixed_reads(arch)
    per_arch = _MIXED_PARTS.get(reads)
    if per_arch is None:
        if len(_MIXED_PARTS) >= 64:
            _MIXED_PARTS.clear()
        per_arch = _MIXED_PARTS[reads] = {}
    key = (einsum, density)
    if key not in per_arch:
        dims, roles = einsum.dims, einsum.roles
        convention = convention_of(arch)
        activity = DENSE_ACTIVITY if is_dense(density) else LayerActivity(1.0, storage_activity(einsum, density))
        merging = np.zeros((len(arch.levels), len(roles), len(dims)), dtype=np.bool_)
        e_factor = np.ones((len(arch.levels), len(roles)), dtype=np.float64)
        for i, level in enumerate(arch.levels):
            if isinstance(level, Memory):
                e_factor[i] = [activity.memory_factor(level, r) for r in roles]
            elif isinstance(level, Spatial):
                merging[i] = [[convention.merges(arch, einsum, i, r, d) for d in dims] for r in roles]
        per_arch[key] = merging, e_factor, np.array([r in arch.compute.operand_latch for r in roles], dtype=np.bool_)
    return (*per_arch[key], mac_activity_table(arch, density))  # per compute level (its MACs) and density


def mixed_reads(arch: Arch) -> int:
    """All mixed_part reads of an arch, as a number (once per arch object): its counting convention,
    each memory's switching share (activity.memory_factor), each fan-out's multicast and reduction
    (the built-in conventions' merges: conventions.spatial_capable), the MACs' operand latches (the
    MACs' activity table, which reads their number, is not shared). A convention of another class
    may read more: then the arch gets a number of its own."""
    return _MIXED_READS.get((arch,), _build_mixed_reads)


def _build_mixed_reads(arch: Arch) -> int:
    if type(convention_of(arch)) is not CountingConvention:
        return next(_NUMBERS)  # a number of its own (an Arch holds dicts: it is no dict key itself)
    reads = (arch.counting, arch.compute.operand_latch, tuple(
        ("memory", level.switching_share) if isinstance(level, Memory) else
        ("spatial", level.multicast, level.reduction) if isinstance(level, Spatial) else ("compute",)
        for level in arch.levels))
    number = _READS_NUMBER.get(reads)
    if number is None:
        if len(_READS_NUMBER) >= 4096:
            _READS_NUMBER.clear()  # a number is never given twice, so none can name other reads
        number = _READS_NUMBER[reads] = next(_NUMBERS)
    return number


@dataclass(frozen=True)
class PackedResult:
    status: int               # nest_kernel.OK, OVER_CAPACITY or BROKEN (ragged_kernel.RAGGED_UNSUPPORTED)
    energy_pj: float
    cycles: int
    counts: np.ndarray        # [level, tensor, READS|FILLS|UPDATES|TILE] per instance (the busiest, if ragged)
    instances: np.ndarray     # [level] utilized instances
    charged: np.ndarray       # [level] instances charged dynamic energy (utilized clusters)
    level_cycles: np.ndarray  # [level] bandwidth-bound cycles
    per_cycle_pj: np.ndarray  # [1] energy per cycle (leakage, clocked overheads) in energy_pj
    output_words: np.ndarray  # [level] words an output element takes there (psum_words while partial)
    blocks: np.ndarray        # [level, tensor, READS|FILLS|UPDATES] block accesses per instance (ragged: all instances')
    totals: np.ndarray        # [level, tensor, READS|FILLS|UPDATES] over every utilized instance
    steps: tuple[int, int]    # temporal steps of the busiest MAC, MACs utilized


def new_outputs(n_levels: int, n_tensors: int) -> R.Outputs:
    """A fresh `out` for evaluate_nest (records.Outputs: counts, instances, charged instances, level
    cycles, per-cycle energy, output words, block accesses)."""
    return R.Outputs(np.zeros((n_levels, n_tensors, 4), dtype=np.int64), np.zeros(n_levels, dtype=np.int64),
                     np.zeros(n_levels, dtype=np.int64), np.zeros(n_levels, dtype=np.int64), np.zeros(1),
                     np.ones(n_levels, dtype=np.int64), np.zeros((n_levels, n_tensors, 3), dtype=np.int64))


def outputs_and_scratch(problem: PackedProblem, max_loops: int) -> tuple[R.Outputs, R.Scratch]:
    """evaluate_nest's `out` (counts, instances, charged instances, level cycles) and `scratch`."""
    n_levels = problem.level_int.shape[0]
    return (new_outputs(n_levels, len(problem.roles)),
            R.nest_scratch(max_loops, problem.max_axes, problem.max_span, len(problem.dims), n_levels,
                           len(problem.roles)))


def nest_record(nest: LoweredNest) -> R.Nest:
    """evaluate_nest's `nest` for a lowered nest (index arrays as nest_kernel.INDEX)."""
    return R.Nest(nest.loop_dim.astype(R.INDEX), nest.loop_bound, nest.loop_level.astype(R.INDEX), nest.loop_spatial,
                  nest.loop_axis, nest.n_loops, np.ascontiguousarray(nest.keeps))


def covered(nest: LoweredNest) -> np.ndarray:
    """[dim] what each dim's loops cover: the product of their bounds."""
    extent = np.ones(len(nest.dims), dtype=np.int64)
    np.multiply.at(extent, nest.loop_dim, nest.loop_bound)
    return extent


def is_ragged(problem: PackedProblem | LayerPart, nest: LoweredNest) -> bool:
    """Some dim's loop bounds multiply to more than the dim (a smaller last tile); `problem`: the
    packed layer, or its layer part (both hold dim_size)."""
    return bool((covered(nest) != problem.dim_size).any())


def lowest_scoring(problem: PackedProblem, arch: Arch, einsum: Einsum, candidates, score, allowed=None,
                   counted=None):
    """Among candidate mappings of the packed layer, the one the counting kernel (dense or ragged)
    counts with the lowest score(energy pJ, cycles), passing over those `allowed(mapping)` refuses
    and those it cannot count; (mapping, PackedResult), or (None, None). `counted`: a candidate's
    (mapping, PackedResult) already counted on this problem (the sweeps' network kernel counts the
    template's mapping), not counted again. A candidate equal to an earlier one is passed over: it
    would be refused or counted alike, and the earlier one wins a tie (the templates' padded
    layers often unpad to the same mapping, or to the template's own). `score` is called only to
    compare two counted candidates (a lone one wins unscored: simulate's score needs the padded
    layers counted)."""
    from ..mapping.lower import lower
    best, best_result, best_score = None, None, None
    seen = []
    for mapping in candidates:
        if any(mapping == earlier for earlier in seen):
            continue
        seen.append(mapping)
        if allowed is not None and not allowed(mapping):
            continue
        result = (counted[1] if counted is not None and mapping is counted[0]
                  else evaluate_packed(problem, lower(arch, einsum, mapping)))
        if result.status != R.OK:
            continue
        if best is None:
            best, best_result = mapping, result
            continue
        if best_score is None:
            best_score = score(best_result.energy_pj, best_result.cycles)
        this = score(result.energy_pj, result.cycles)
        if this < best_score:
            best, best_result, best_score = mapping, result, this
    return best, best_result


def evaluate_packed(problem: PackedProblem, nest: LoweredNest, ragged: bool | None = None) -> PackedResult:
    """One nest through the counting kernel: nest_kernel's for a dense nest, ragged_kernel's when
    a dim's bounds do not divide it (`ragged` forces either; the ragged kernel also counts dense
    nests, which the tests use to check it against the dense one)."""
    if (nest.loop_bound < 2).any():  # the closed form's reuse steps assume every loop moves
        raise AccelsimBug("evaluate_packed takes a lowered nest, which has no unit loops")
    out, scratch = outputs_and_scratch(problem, max(1, nest.n_loops))
    if is_ragged(problem, nest) if ragged is None else ragged:
        work = ragged_work(nest.n_loops, len(problem.level_int), len(problem.roles), len(problem.dims),
                           int(problem.dim_size.max()))
        status, energy, cycles = evaluate_ragged(nest_record(nest), problem.record(), out, scratch, work)
        return packed_result(status, energy, cycles, out, work.steps, work.totals)
    status, energy, cycles = evaluate_nest(nest_record(nest), problem.record(), out, scratch)
    return packed_result(status, energy, cycles, out, nest_steps(nest.loop_bound, nest.loop_spatial))


def packed_result(status, energy_pj, cycles, out: R.Outputs, steps, totals=None) -> PackedResult:
    """A count as a PackedResult: `steps` (temporal steps, MACs utilized); `totals` the ragged
    kernel's over every utilized instance, or None for a dense count, whose instances are alike."""
    if totals is None:
        totals = out.counts[:, :, :R.TILE] * out.instances[:, None, None]
    return PackedResult(int(status), float(energy_pj), int(cycles), *out, totals, (int(steps[0]), int(steps[1])))


def nest_steps(loop_bound: np.ndarray, loop_spatial: np.ndarray) -> tuple[int, int]:
    """A dense nest's (temporal steps, spatial positions): its temporal and its spatial bounds' products."""
    return int(np.prod(loop_bound[~loop_spatial])), int(np.prod(loop_bound[loop_spatial]))


def psum_words_per_level(arch: Arch) -> np.ndarray:
    """Words a partial sum takes at each level: ceil(psum_bits / word_bits) at a memory (1 without
    psum_bits, and at the other levels)."""
    bits = arch.compute.psum_bits
    return np.array([-(-bits // level.word_bits) if bits and isinstance(level, Memory) else 1
                     for level in arch.levels], dtype=np.int64)


def _no_energies(arch: Arch) -> ActionEnergies:
    """Every per-action energy 0: the kernel then counts without pricing (model/analytical.py);
    one object per arch, so that its arch part is built once."""
    return _NO_ENERGIES.get((arch,), _build_no_energies)


def _build_no_energies(arch: Arch) -> ActionEnergies:
    zero = {level.name: 0.0 for level in arch.memories}
    return ActionEnergies(0.0, zero, zero, zero, {}, {}, 1.0)


MAX_MACS = 2 ** 60   # the kernel counts in int64: a level's traffic stays below 2^63 with headroom
MAX_SPAN = 2 ** 27   # points of one tensor axis: the occupancy scratch of an irregular point set


def _check_int64_range(einsum: Einsum, span: int) -> None:
    """Refuse a layer the int64 counting kernel cannot count exactly (a SpecError, not an overflow)."""
    if einsum.macs >= MAX_MACS:
        raise SpecError(f"layer {einsum.render()}: {einsum.macs:,} MACs is beyond the 2^60 the counting "
                        f"kernel counts exactly in 64-bit integers; split the layer or shrink its dims")
    if span > MAX_SPAN:
        raise SpecError(f"layer {einsum.render()}: a tensor axis spans {span:,} points, beyond the 2^27 the "
                        f"counting kernel's point sets hold; split the layer along that dim")
