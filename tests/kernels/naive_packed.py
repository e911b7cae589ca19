"""The one-piece packing `model/packed.pack_problem` did before it was built from cached parts (the
layer's, the arch's at its energies, and both's): kept as the slow reference the parts are checked
against (tests/unit/test_packed_parts.py)."""
from __future__ import annotations

import numpy as np

from accelsim.counting import records as R
from accelsim.counting.conventions import convention_of
from accelsim.energy.activity import (
    DENSE_ACTIVITY,
    HELD,
    LayerActivity,
    held_by,
    is_dense,
    mac_activity_table,
    storage_activity,
)
from accelsim.energy.domains import background_pj
from accelsim.energy.model import ActionEnergies, leaking_instances
from accelsim.ir.arch import Memory, Spatial, cluster_span
from accelsim.ir.workload import DENSE
from accelsim.model.packed import (
    PackedProblem,
    _build_no_energies,
    _check_int64_range,
    psum_words_per_level,
)


def pack_problem_reference(arch, einsum, energies: ActionEnergies | None = None,
                           density=DENSE) -> PackedProblem:
    """`density`: the operands' non-zero fractions, for data-dependent energy (energy/activity.py):
    storage factors per tensor, and the MACs' factor for each held operand and reduction fan-in,
    which the kernel picks from the loops as layer_activity does from the mapping. Without
    `energies` the kernel counts only (every energy is 0)."""
    dims, roles = einsum.dims, einsum.roles
    convention = convention_of(arch)
    energies = energies or _build_no_energies(arch)
    activity = DENSE_ACTIVITY if is_dense(density) else LayerActivity(1.0, storage_activity(einsum, density))
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
    _check_int64_range(einsum, span)
    n_levels = len(arch.levels)
    level_int = np.zeros((n_levels, 9), dtype=np.int64)
    cluster_axes = np.zeros((n_levels, 2 * n_levels, 2), dtype=np.int64)
    level_float = np.zeros((n_levels, 7), dtype=np.float64)
    merging = np.zeros((n_levels, len(roles), len(dims)), dtype=np.bool_)
    e_factor = np.ones((n_levels, len(roles)), dtype=np.float64)
    for i, level in enumerate(arch.levels):
        if isinstance(level, Memory):
            cap = level.capacity_words
            level_int[i, :R.CLUSTER_R] = (R.MEMORY, -1 if cap is None else cap, level.block_words, level.cluster,
                                          level.instances)
            block = level.block_words  # accesses by a shift when a power of two (nest_kernel._accesses)
            level_int[i, R.BLOCK_SHIFT] = block.bit_length() - 1 if block & (block - 1) == 0 else -1
            rounding = level.block_rounding or convention.block_rounding
            level_int[i, R.BLOCK_RULE] = {"layer": R.LAYER_BLOCKS, "transfer": R.TRANSFER_BLOCKS}[rounding]
            if level.cluster > 1:  # the fan-out axes its clusters are counted on (ir/arch.clusters_used)
                axes, level_int[i, R.CLUSTER_R] = cluster_span(arch.levels, i)
                level_int[i, R.CLUSTER_AXES] = len(axes)
                for q, (spatial, xy, _) in enumerate(axes):
                    cluster_axes[i, q] = spatial, xy
            level_float[i, :R.LEAK] = (level.read_bw_words or 0.0, level.write_bw_words or 0.0,
                                       energies.read_pj[level.name], energies.write_pj[level.name],
                                       energies.update_pj[level.name])
            level_float[i, R.SHARED_BW] = level.shared_bw_words or 0.0
            e_factor[i] = [activity.memory_factor(level, r) for r in roles]
        elif isinstance(level, Spatial):
            level_int[i, R.KIND] = R.SPATIAL
            merging[i] = [[convention.merges(arch, einsum, i, r, d) for d in dims] for r in roles]
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
    per_cycle = float(per_cycle)  # as pack_problem: a float even when nothing leaks
    return PackedProblem(dims, roles, axis_of, coef, axis_dims, axis_nd,
                         np.array([len(t.axes) for t in tensors], dtype=np.int64),
                         np.array([r == "outputs" for r in roles], dtype=np.bool_),
                         np.array([all(len(axis) == 1 for axis in t.axes) for t in tensors], dtype=np.bool_),
                         level_int, cluster_axes, level_float,
                         merging, e_factor, einsum.macs * energies.mac_pj * mac_activity_table(arch, density),
                         np.array([HELD.index(held_by(einsum, d)) for d in dims], dtype=np.int64),
                         np.array([not einsum.relevant("outputs", d) for d in dims], dtype=np.bool_), per_cycle,
                         convention.operands_held_when_spatial_innermost, convention.cluster_rule,
                         np.array([r in arch.compute.operand_latch for r in roles], dtype=np.bool_),
                         psum_words_per_level(arch), span,
                         np.array([einsum.bound[d] for d in dims], dtype=np.int64))


