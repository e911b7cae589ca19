"""A whole network's template layers in one jitted call: per distinct layer, the template's choice
(mapping/template_kernel.map_layer_kernel), its lowering (lower_best) and the counting kernel
(counting/nest_kernel.evaluate_nest) — the same kernels `simulate` runs one layer at a time through
their Python wrappers (template_pack.map_layer_fast, mapping/lower.lower, model/analytical.analyze).

A sweep point re-maps and re-counts every distinct layer of its network on its arch variant; what
does not change from point to point is packed once per (workload, template, number of levels)
(`NetworkPack`, built by dse/network.py): the layers' template records, their layer parts
(model/packed.layer_part) and every work array. Per point only the arch's records and the arch ×
layer parts change (`evaluate_network`'s other arguments). The kernel writes, per layer, the
counting kernel's status, energy and cycles, and leaves its counts in the layer's Outputs record
and its mapping in the template scratch's BEST slot, for the wrapper to read.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.typed import List

from ..counting import records as R
from ..counting.nest_kernel import evaluate_nest
from ..energy.mac import mac_dynamic_pj
from ..mapping.template_kernel import lower_best, map_layer_kernel


class ArchArrays(NamedTuple):
    """A point's arch as the counting kernel reads it (model/packed.arch_part, the convention's rules)."""
    level_int: np.ndarray
    cluster_axes: np.ndarray
    level_float: np.ndarray
    energy_per_cycle_pj: float
    psum_words: np.ndarray
    hold_spatial_innermost: bool
    cluster_rule: int
    mac_pj: float             # ActionEnergies.mac_pj
    mac_table: np.ndarray     # [held, fan-in] energy.activity.mac_activity_table (one density for every layer)


class Mixed(NamedTuple):
    """The arch × layer parts of every layer (model/packed.mixed_part), padded to the widest layer."""
    merges: np.ndarray        # [layer, level, tensor, dim] bool
    e_factor: np.ndarray      # [layer, level, tensor] float64
    latched: np.ndarray       # [layer, tensor] bool


class Work(NamedTuple):
    """A layer's copy of its Mixed rows and its MAC energies, shaped as pack_problem's (C-contiguous,
    so evaluate_nest runs with the argument types `simulate` compiles it for, and Numba loads that
    compilation from its cache instead of compiling the counting kernel again)."""
    merges: np.ndarray        # [level, tensor, dim] bool
    e_factor: np.ndarray      # [level, tensor] float64
    latched: np.ndarray       # [tensor] bool
    mac_energy_pj: np.ndarray  # [held, fan-in] float64: pack_problem's (energy/mac.mac_dynamic_pj)


_mac_dynamic_pj = njit(cache=True)(mac_dynamic_pj)  # the energy model's own formula, compiled


@njit(cache=True)
def list_of(item):
    """A typed list holding `item` (jitted and cached: a typed list built from Python compiles its
    methods in every process, ~1 s per item type; built here they are compiled once, with this)."""
    items = List()
    items.append(item)
    return items


@njit(cache=True)
def append(items, item):
    items.append(item)


def typed_list(items: list):
    """A Python list of records (one type) as a typed list for evaluate_network."""
    out = list_of(items[0])
    for item in items[1:]:
        append(out, item)
    return out


@njit(cache=True, _nrt=False)
def _clear(out):
    """An Outputs record as model/packed.outputs_and_scratch allocates it (zeros; one word per output)."""
    out.counts[:] = 0
    out.instances[:] = 0
    out.charged[:] = 0
    out.level_cycles[:] = 0
    out.per_cycle_pj[:] = 0.0
    out.output_words[:] = 1
    out.blocks[:] = 0


@njit(cache=True, _nrt=False)
def _fill_work(w, mixed, l, macs, mac_pj, mac_table):
    """Layer l's Work from the point's Mixed rows and MAC energy (pack_problem's, by the same formula)."""
    n_levels, n_t, n_d = w.merges.shape[0], w.merges.shape[1], w.merges.shape[2]
    for i in range(n_levels):
        for t in range(n_t):
            w.e_factor[i, t] = mixed.e_factor[l, i, t]
            for d in range(n_d):
                w.merges[i, t, d] = mixed.merges[l, i, t, d]
    for t in range(n_t):
        w.latched[t] = mixed.latched[l, t]
    for h in range(mac_table.shape[0]):
        for f in range(mac_table.shape[1]):
            w.mac_energy_pj[h, f] = _mac_dynamic_pj(macs, mac_pj, mac_table[h, f])


@njit(cache=True)
def evaluate_network(templates, t_scratch, layers, loops, keeps, outs, scratch, work, arc, arch, mixed,
                     status, energy_pj, cycles, steps, first, stop):
    """For each layer l in [first, stop): the template's mapping on `arc` (TemplateArch), lowered into
    loops[l] and keeps[l], counted by evaluate_nest into outs[l]; status[l], energy_pj[l], cycles[l]
    as evaluate_nest returns them, steps[l] = (temporal steps, spatial positions) of the nest.
    templates … work: typed lists, one entry per layer."""
    for l in range(first, stop):
        lay, sc, part, lp, kp, out, ns, w = (templates[l], t_scratch[l], layers[l], loops[l], keeps[l], outs[l],
                                             scratch[l], work[l])
        map_layer_kernel(lay, arc, sc)
        n = lower_best(lay, arc, sc, lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, kp)
        _fill_work(w, mixed, l, part.macs, arch.mac_pj, arch.mac_table)
        problem = R.Problem(part.axis_of, part.coef, part.axis_dims, part.axis_nd, part.n_axes, part.is_output,
                            part.one_dim, arch.level_int, arch.cluster_axes, arch.level_float, w.merges, w.e_factor,
                            w.mac_energy_pj, part.held_by_dim, part.output_ignores, arch.energy_per_cycle_pj,
                            arch.hold_spatial_innermost, w.latched, arch.cluster_rule, arch.psum_words, part.dim_size)
        nest = R.Nest(lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, n, kp)
        _clear(out)
        ns.memo_ext[:] = -1  # its tiles were for another point's problem
        ns.memo_tile[:] = -1
        s, e, c = evaluate_nest(nest, problem, out, ns)
        status[l], energy_pj[l], cycles[l] = s, e, c
        temporal, spatial = 1, 1
        for j in range(n):
            if lp.loop_spatial[j]:
                spatial *= lp.loop_bound[j]
            else:
                temporal *= lp.loop_bound[j]
        steps[l, 0], steps[l, 1] = temporal, spatial
