"""A nest's floor: cycles and energy that no count of it (dense or ragged) goes below, from what
every mapping of the layer must do. The templates' ragged choice (model/network_kernel.choose_ragged)
passes over a candidate whose floor cannot beat the best it has counted, without counting it.

- Cycles: at least the temporal steps, Π_d count_below(D_d, the temporal loops on d) (the ragged
  kernel's valid iterations; on a dense nest, the product of the temporal bounds), and at least the
  top memory level's port time for its compulsory traffic.
- Energy: the MACs' energy (the counting kernels' own _mac_energy), the top level's compulsory
  accesses, and the per-cycle energy over the floor's cycles (leakage only adds to it).
- Compulsory traffic: the top memory level serves each element of an operand it keeps at least once
  and takes each output at least once (level_actions: reads = served; updates = served ≥ the
  distinct outputs), a word or more each, so at least ⌈words / block⌉ block accesses under either
  rounding rule (per transfer rounds each part up). Its energy counts only where the top level is
  one instance charged once (the arch's first level, no clusters).
- Before a mapping is known (spread_floor): the temporal steps are at least Π_d ⌈D_d / reach_d⌉ when
  the fan-outs span at most reach_d positions on dim d, and the MACs' energy at least its table's least.

tests/kernels/test_floor.py checks both against the counting kernels on random nests.
"""
from __future__ import annotations

import numpy as np

from ..jit import helper
from .nest_kernel import _mac_energy
from .ragged_kernel import count_below
from .records import BLOCK, BLOCK_SHIFT, CLUSTER, E_READ, E_UPDATE, KIND, MEMORY, READ_BW, SHARED_BW, WRITE_BW
from .rules import bandwidth_cycles, block_accesses


def footprint(einsum) -> np.ndarray:
    """Per tensor (einsum.roles' order), the elements the layer touches: Einsum.tensor_size, the
    product of its axes' point counts (a dim indexes one axis of a tensor at most)."""
    return np.array([einsum.tensor_size(role) for role in einsum.roles], dtype=np.int64)


@helper()
def temporal_steps(nest, dim_size, stride, member):
    """The nest's temporal steps on dims of these sizes: Π_d count_below over its temporal loops.
    `stride`, `member`: scratch of ≥ nest.n entries."""
    for j in range(nest.n):
        member[j] = not nest.loop_spatial[j]
        stride[j] = 1
        for k in range(j + 1, nest.n):  # the product of the loops inside j on its dim
            if nest.loop_dim[k] == nest.loop_dim[j]:
                stride[j] *= nest.loop_bound[k]
    steps = 1
    for d in range(dim_size.shape[0]):
        steps *= count_below(nest.loop_dim, nest.loop_bound, stride, nest.n, member, d, dim_size[d])
    return steps


@helper()
def spread_steps(dim_size, reach, n_options):
    """The temporal steps of any nest whose fan-outs span at most reach[o, d] positions on each dim d,
    for some o < n_options: at least min_o Π_d ⌈D_d / reach[o, d]⌉ (a step covers at most reach[o, d]
    of a dim's points, and every point is covered)."""
    least = np.int64(-1)
    for o in range(n_options):
        steps = np.int64(1)
        for d in range(dim_size.shape[0]):
            steps *= -(-dim_size[d] // reach[o, d])
        if least < 0 or steps < least:
            least = steps
    return least


@helper()
def floor_of(p, elements, keeps, steps, mac_pj):
    """(cycles, energy pJ) below which no count on Problem p with these temporal steps and this MAC
    energy goes (module docstring); `keeps`: the nest's, of which the top level's row is read."""
    top = 0
    while p.level_int[top, KIND] != MEMORY:
        top += 1
    block, shift = p.level_int[top, BLOCK], p.level_int[top, BLOCK_SHIFT]
    read_words, write_words, top_pj = np.int64(0), np.int64(0), 0.0
    for t in range(p.axis_of.shape[0]):
        if not keeps[top, t]:
            continue
        blocks = block_accesses(elements[t], block, shift)
        if p.is_output[t]:
            write_words += elements[t]
            top_pj += p.e_factor[top, t] * blocks * p.level_float[top, E_UPDATE]
        else:
            read_words += elements[t]
            top_pj += p.e_factor[top, t] * blocks * p.level_float[top, E_READ]
    cycles = max(steps, bandwidth_cycles(read_words, write_words, p.level_float[top, READ_BW],
                                         p.level_float[top, WRITE_BW], p.level_float[top, SHARED_BW]))
    one = top == 0 and p.level_int[top, CLUSTER] == 1  # one instance, charged once
    return cycles, mac_pj + (top_pj if one else 0.0) + p.energy_per_cycle_pj * cycles


@helper()
def nest_floor(nest, p, elements, stride, member):
    """floor_of a lowered nest: its temporal steps, its MACs' energy. `elements`: footprint's."""
    return floor_of(p, elements, nest.keeps, temporal_steps(nest, p.dim_size, stride, member), _mac_energy(nest, p))


@helper()
def spread_floor(p, elements, keeps, reach, n_options):
    """floor_of any nest whose fan-outs span at most reach[o] (spread_steps), before it is known:
    its MACs' energy at least the table's least."""
    mac_pj = p.mac_energy_pj[0, 0]
    for h in range(p.mac_energy_pj.shape[0]):
        for f in range(p.mac_energy_pj.shape[1]):
            mac_pj = min(mac_pj, p.mac_energy_pj[h, f])
    return floor_of(p, elements, keeps, spread_steps(p.dim_size, reach, n_options), mac_pj)
