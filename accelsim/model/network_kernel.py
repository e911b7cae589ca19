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

`choose_ragged` is the templates' ragged choice (simulate.choose_template_counted) for the layers
of a point whose template mapping leaves MACs idle: each layer padded to the array's sides, each
padded layer mapped by the template and counted, and its mapping unpadded onto the real layer and
counted (dense or ragged kernel), in one call instead of a Mapping, a lowering and a count per candidate
in Python. Its inputs are packed once per (layer, fan-out sides) by dse/network.py.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import literal_unroll
from numba.typed import List

from ..counting import records as R
from ..counting.floor import nest_floor, spread_floor, spread_steps
from ..counting.nest_kernel import evaluate_nest
from ..counting.ragged_kernel import evaluate_ragged, fits_again, ragged_energy, reset_ragged_work
from ..energy.mac import mac_dynamic_pj
from ..jit import helper, kernel
from ..mapping.template_kernel import best_passes_checks, fanout_reach, lower_best, map_layer_kernel, n_options


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


class PaddedMemo(NamedTuple):
    """What choose_ragged keeps of a padded record from point to point (`padded_memo` allocates it).
    Its last ragged count: the nest counted and `count` = (count key, its loops, its cycles; key −1:
    none); the counts stay in the record's u_outs and rgs until it is counted again, so at the same
    count key (an arch differing only in capacities and energies) the capacities are checked and the
    counts priced again instead (ragged_kernel.fits_again, ragged_energy). Its fan-outs' reach
    (template_kernel.fanout_reach, `reach`'s first rows) and spread steps at the fan-outs numbered
    `spread` = (fan-out key, spread steps; key −1: none): the template's splits read only the fan-outs."""
    loops: R.Loops
    keeps: np.ndarray         # [level, tensor] bool
    count: np.ndarray         # [3] int64
    reach: np.ndarray         # [MEMO_OPTIONS, dim] int64
    spread: np.ndarray        # [2] int64


MEMO_OPTIONS = 16  # x options a PaddedMemo holds the reach of (more: fanout_reach runs each time)


def padded_memo(max_loops: int, n_levels: int, n_tensors: int, n_dims: int) -> PaddedMemo:
    return PaddedMemo(R.nest_loops(max_loops), np.zeros((n_levels, n_tensors), dtype=np.bool_),
                      np.array([-1, 0, 0], dtype=np.int64), np.zeros((MEMO_OPTIONS, n_dims), dtype=np.int64),
                      np.array([-1, 0], dtype=np.int64))


class Mixed(NamedTuple):
    """The arch × layer parts of every layer (model/packed.mixed_part), padded to the widest layer."""
    merges: np.ndarray        # [layer, level, tensor, dim] bool
    e_factor: np.ndarray      # [layer, level, tensor] float64
    latched: np.ndarray       # [layer, tensor] bool


class Rules(NamedTuple):
    """What a layer's mapping must not do on the arch's hardware (its `constraints:`), as the choice
    kernel checks a nest: the subset dse/network.hardware_rules encodes (search/constraints.py's
    checker is the definition)."""
    allowed: np.ndarray       # [level, axis X 0 / Y 1, dim] bool: the fan-out axis may unroll the dim
    must: np.ndarray          # [level, tensor] bool: the level must keep the tensor
    never: np.ndarray         # [level, tensor] bool: the level may not keep it


class Work(NamedTuple):
    """A layer's copy of its Mixed rows and its MAC energies, shaped as pack_problem's (C-contiguous,
    so evaluate_nest runs with the argument types `simulate` compiles it for, and Numba loads that
    compilation from its cache instead of compiling the counting kernel again)."""
    merges: np.ndarray        # [level, tensor, dim] bool
    e_factor: np.ndarray      # [level, tensor] float64
    latched: np.ndarray       # [tensor] bool
    mac_energy_pj: np.ndarray  # [held, fan-in] float64: pack_problem's (energy/mac.mac_dynamic_pj)


_mac_dynamic_pj = kernel()(mac_dynamic_pj)  # the energy model's own formula, compiled


@kernel()
def list_of(item):
    """A typed list holding `item` (jitted and cached: a typed list built from Python compiles its
    methods in every process, ~1 s per item type; built here they are compiled once, with this)."""
    items = List()
    items.append(item)
    return items


@kernel()
def append(items, item):
    """Append `item`; the list's new length (a typed list's len from Python is a jitted call of
    its own, compiled per item type in each process)."""
    items.append(item)
    return len(items)


def typed_list(items: list):
    """A Python list of records (one type) as a typed list for evaluate_network."""
    out = list_of(items[0])
    for item in items[1:]:
        append(out, item)
    return out


@helper()
def _clear(out):
    """An Outputs record as model/packed.outputs_and_scratch allocates it (zeros; one word per output)."""
    out.counts[:] = 0
    out.instances[:] = 0
    out.charged[:] = 0
    out.level_cycles[:] = 0
    out.per_cycle_pj[:] = 0.0
    out.output_words[:] = 1
    out.blocks[:] = 0


@helper()
def _ready(out, scratch):
    """Outputs zeroed and the scratch's tile memos emptied (their tiles were for another nest or
    problem), as model/packed.outputs_and_scratch leaves them for a count."""
    _clear(out)
    scratch.memo_ext[:] = -1
    scratch.memo_tile[:] = -1


@helper()
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


@kernel()  # (with reference counts: it returns arrays)
def _problem(part, arch, w):
    """evaluate_nest's Problem of a layer (its LayerPart, model/packed.layer_part) on the point's arch
    (ArchArrays), with the layer's Work (its Mixed rows and MAC energies, filled by _fill_work)."""
    return R.Problem(part.axis_of, part.coef, part.axis_dims, part.axis_nd, part.n_axes, part.is_output,
                     part.one_dim, arch.level_int, arch.cluster_axes, arch.level_float, w.merges, w.e_factor,
                     w.mac_energy_pj, part.held_by_dim, part.output_ignores, arch.energy_per_cycle_pj,
                     arch.hold_spatial_innermost, w.latched, arch.cluster_rule, arch.psum_words, part.dim_size)


@kernel()
def evaluate_network(templates, t_scratch, layers, loops, keeps, outs, scratch, work, arc, arch, mixed,
                     status, energy_pj, cycles, steps, passes, rules, rule_entry, obeys, first, stop):
    """For each layer l in [first, stop): the template's mapping on `arc` (TemplateArch), lowered into
    loops[l] and keeps[l], counted by evaluate_nest into outs[l]; status[l], energy_pj[l], cycles[l]
    as evaluate_nest returns them, steps[l] = (temporal steps, spatial positions, loops) of the nest,
    passes[l]: check_mapping passes the mapping (template_kernel.best_passes_checks), obeys[l]: the
    nest does what the hardware can (_obeys) by Rules entry rule_entry[l] of `rules` (−1: no Rules,
    obeys[l] False). templates … work: typed lists, one entry per layer."""
    for l in range(first, stop):
        lay, sc, part, lp, kp, out, ns, w = (templates[l], t_scratch[l], layers[l], loops[l], keeps[l], outs[l],
                                             scratch[l], work[l])
        map_layer_kernel(lay, arc, sc)
        passes[l] = best_passes_checks(lay, arc, sc)
        n = lower_best(lay, arc, sc, lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, kp)
        _fill_work(w, mixed, l, part.macs, arch.mac_pj, arch.mac_table)
        problem = _problem(part, arch, w)
        nest = R.Nest(lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, n, kp)
        obeys[l] = rule_entry[l] >= 0 and _obeys(nest, rules[rule_entry[l]])
        _ready(out, ns)  # (its tiles were for another point's problem)
        s, e, c = evaluate_nest(nest, problem, out, ns)
        status[l], energy_pj[l], cycles[l] = s, e, c
        temporal, spatial = 1, 1
        for j in range(n):
            if lp.loop_spatial[j]:
                spatial *= lp.loop_bound[j]
            else:
                temporal *= lp.loop_bound[j]
        steps[l, 0], steps[l, 1], steps[l, 2] = temporal, spatial, n


NOT_COUNTED = -1  # choose_ragged's status of a candidate it passes over


@helper()
def _fresh(record):
    """Every array of a record zeroed, as nest_scratch allocates it: the ragged kernel's scratch
    as it first had it (its own work arrays: ragged_kernel.reset_ragged_work)."""
    for a in literal_unroll(record):
        a.fill(0)


@kernel()
def _count(nest, problem, out, scratch, rg):
    """evaluate_packed's count of a lowered nest: the ragged kernel when a dim's bounds multiply to
    more than the dim, else the dense one; returns (status, energy pJ, cycles, ragged)."""
    n_d = problem.dim_size.shape[0]
    ragged = False
    for d in range(n_d):
        covered = 1
        for j in range(nest.n):
            if nest.loop_dim[j] == d:
                covered *= nest.loop_bound[j]
        ragged = ragged or covered != problem.dim_size[d]
    if ragged:
        _fresh(scratch)
        reset_ragged_work(rg)
    _ready(out, scratch)
    if ragged:
        s, e, c = evaluate_ragged(nest, problem, out, scratch, rg)
    else:
        s, e, c = evaluate_nest(nest, problem, out, scratch)
    return s, e, c, ragged


@kernel()
def _unpad(lp, n, dim_size, up):
    """mapping/ragged.unpad on a lowered nest, lowered again (mapping/lower.py drops unit loops):
    inner → outer, each loop takes at most ⌈D / stride⌉ iterations (stride: what the loops inside
    it on its dim cover). Writes `up`; returns its number of loops."""
    stride = np.ones(dim_size.shape[0], dtype=np.int64)
    bound = np.empty(n, dtype=np.int64)
    for j in range(n - 1, -1, -1):
        d = lp.loop_dim[j]
        bound[j] = min(lp.loop_bound[j], -(-dim_size[d] // stride[d]))
        stride[d] *= bound[j]
    m = 0
    for j in range(n):
        if bound[j] > 1:
            up.loop_dim[m], up.loop_bound[m], up.loop_level[m] = lp.loop_dim[j], bound[j], lp.loop_level[j]
            up.loop_spatial[m], up.loop_axis[m] = lp.loop_spatial[j], lp.loop_axis[j]
            m += 1
    return m


@kernel()
def _same_nest(a, n_a, keeps_a, b, n_b, keeps_b):
    """Two lowered nests alike (loops and keeps): one mapping, which counts alike."""
    if n_a != n_b:
        return False
    for j in range(n_a):
        if (a.loop_dim[j] != b.loop_dim[j] or a.loop_bound[j] != b.loop_bound[j] or a.loop_level[j] != b.loop_level[j]
                or a.loop_axis[j] != b.loop_axis[j]):
            return False
    for i in range(keeps_a.shape[0]):
        for t in range(keeps_a.shape[1]):
            if keeps_a[i, t] != keeps_b[i, t]:
                return False
    return True


@kernel()
def choose_ragged(templates, t_scratch, layers, loops, keeps, outs, scratch, work, u_loops, u_outs, u_scratch,
                  rgs, memos, index, status, energy_pj, cycles, ragged, u_n, rules, elements, parts, t_loops, t_keeps,
                  works, steps, t_energy_pj, t_cycles, arc, arch, mixed, count_key, fanout_key, call_layer, call_set,
                  call_rules, call_ok, best):
    """_choose_one for each call k, in one call (a call from Python per layer costs its dispatch and
    finds the kernel's code out of the caches): distinct layer call_layer[k], its candidate set
    call_set[k] (entry of index … u_n: typed lists, one entry per candidate set), its Rules entry
    call_rules[k], template_ok call_ok[k]; the layer's records are entry l of elements … works, its
    template's count steps[l, 2] loops, t_energy_pj[l] pJ, t_cycles[l] cycles. Writes best[k]."""
    for k in range(call_layer.shape[0]):
        l, s = call_layer[k], call_set[k]
        best[k] = _choose_one(templates, t_scratch, layers, loops, keeps, outs, scratch, work, u_loops, u_outs,
                              u_scratch, rgs, memos, index[s], arc, arch, mixed, l, parts[l], works[l], t_loops[l],
                              steps[l, 2], t_keeps[l], call_ok[k], t_energy_pj[l], t_cycles[l], rules[call_rules[k]],
                              elements[l], count_key, fanout_key, status[s], energy_pj[s], cycles[s], ragged[s], u_n[s])


@helper(_nrt=True)  # (allocates; typed lists)
def _choose_one(templates, t_scratch, layers, loops, keeps, outs, scratch, work, u_loops, u_outs, u_scratch,
                rgs, memos, index, arc, arch, mixed, l, part, w, t_loops, t_n, t_keeps, template_ok,
                template_energy_pj, template_cycles, rules, elements, count_key, fanout_key, status, energy_pj,
                cycles, ragged, u_n):
    """simulate.choose_template_counted for distinct layer l, whose template mapping (lowered by
    evaluate_network into t_loops, t_n loops, t_keeps; counted there: template_energy_pj,
    template_cycles, status OK) leaves MACs idle; `template_ok`: it does what the hardware can (else
    only a candidate can be chosen, as model/packed.lowest_scoring passes over a mapping that breaks
    the arch's constraints; so are the candidates that break `rules`). Candidate c is the layer
    padded to one of the array's sides (mapping/ragged.padded_layers' order), whose records are entry
    index[c] of the typed lists (the pack's padded layers); it is mapped by the template, and its
    mapping unpadded onto the real layer is counted there, unless it equals the template's or an
    earlier candidate's (as model/packed.lowest_scoring passes over them) or its floor
    (counting/floor.py; `elements`: the layer's footprint) shows it cannot come first: then its
    status is −1. A candidate is mapped only when its floor before mapping (the template's fan-out
    splits: spread_floor) does not show that already. Per candidate: status, energy_pj, cycles,
    ragged, u_n; its nest in u_loops (u_n loops), its counts in u_outs, and rgs' totals and steps when
    ragged (entry index[c]). A ragged count whose nest and `count_key` (what the count reads of the
    arch: dse/network.count_key) are its record's last (memos) is re-priced, not counted again; its
    fan-outs' reach is kept there too, per `fanout_key` (dse/network.fanout_key). The padded layers
    counted with their own mappings give the limit, their fewest cycles (what padding by hand
    gives); they are mapped and counted only when a comparison needs it (their spread steps bound
    it from below).
    Returns the candidate of lowest (cycles > limit, energy · cycles), the first on a tie, or −1 for
    the template's own mapping (or none, if the template breaks the rules)."""
    n_c = index.shape[0]
    n_padded, mapped = np.zeros(n_c, dtype=np.int64), np.zeros(n_c, dtype=np.bool_)
    max_loops = t_loops.loop_dim.shape[0]
    for c in range(n_c):
        max_loops = max(max_loops, loops[index[c]].loop_dim.shape[0], u_loops[index[c]].loop_dim.shape[0])
    stride, member = np.empty(max_loops, dtype=np.int64), np.empty(max_loops, dtype=np.bool_)  # nest_floor's
    n_opt = n_options(arc)
    reach = np.empty((n_c, n_opt, part.dim_size.shape[0]), dtype=np.int64)
    # The padded layers (the limit: the fewest cycles of those counted OK) are counted only as the
    # comparisons need them (_limit_below); each counts at least its spread steps.
    pad = (np.empty(n_c, dtype=np.int64), np.full(n_c, UNCOUNTED, dtype=np.int64), np.empty(n_c, dtype=np.int64))
    for c in range(n_c):
        pad[0][c] = _reach(templates, t_scratch, layers, memos[index[c]], index[c], arc, n_opt, fanout_key, reach[c])
    padded = (templates, t_scratch, layers, loops, keeps, outs, scratch, work, u_loops, rgs, index, n_padded, u_n,
              mapped, memos)
    real = _problem(part, arch, w)
    if template_ok:
        best, best_edp = -1, template_energy_pj * template_cycles
        best_late = _limit_below(template_cycles, padded, pad, arc, arch, mixed, l, part)
    else:  # none yet: any candidate kept comes before
        best, best_edp, best_late = -1, np.inf, True
    for c in range(n_c):
        status[c] = NOT_COUNTED
        if not mapped[c]:
            floor_cycles, floor_pj = spread_floor(real, elements, t_keeps, reach[c], n_opt)
            if _cannot_win(floor_cycles, floor_pj, best_edp, best_late, padded, pad, arc, arch, mixed, l, part):
                continue
            _map(padded, arc, part, c)
        p = index[c]
        up = u_loops[p]
        seen = _same_nest(up, u_n[c], keeps[p], t_loops, t_n, t_keeps)
        for e in range(c):  # (an earlier one left unmapped could not come first: nor can its equal)
            seen = seen or (mapped[e] and _same_nest(up, u_n[c], keeps[p], u_loops[index[e]], u_n[e], keeps[index[e]]))
        if seen:
            continue
        nest = _nest(up, u_n[c], keeps[p])
        if not _obeys(nest, rules):
            continue
        floor_cycles, floor_pj = nest_floor(nest, real, elements, stride, member)
        if _cannot_win(floor_cycles, floor_pj, best_edp, best_late, padded, pad, arc, arch, mixed, l, part):
            continue
        memo = memos[p]
        if _remembered(memo, nest, count_key):  # (as _count returns it: over capacity, no energy nor cycles)
            ragged[c] = True
            status[c] = R.OK if fits_again(nest, real, u_outs[p]) else R.OVER_CAPACITY
            cycles[c] = memo.count[2] if status[c] == R.OK else 0
            energy_pj[c] = ragged_energy(nest, real, u_outs[p], cycles[c]) if status[c] == R.OK else 0.0
        else:
            status[c], energy_pj[c], cycles[c], ragged[c] = _count(nest, real, u_outs[p], u_scratch[p], rgs[p])
            _remember(memo, nest, count_key if status[c] == R.OK and ragged[c] else -1, cycles[c])
        if status[c] != R.OK:
            continue
        late, edp = _limit_below(cycles[c], padded, pad, arc, arch, mixed, l, part), energy_pj[c] * cycles[c]
        if (not late and best_late) or (late == best_late and edp < best_edp):
            best, best_late, best_edp = c, late, edp
    return best


@helper(_nrt=True)  # (typed lists)
def _reach(templates, t_scratch, layers, memo, p, arc, n_opt, fanout_key, reach):
    """Padded record p's fanout_reach (into `reach`) and spread steps (returned), from its memo
    where it holds them for these fan-outs (`fanout_key`), else computed and kept there."""
    n_d = reach.shape[1]
    if memo.spread[0] == fanout_key and fanout_key >= 0:
        for o in range(n_opt):
            for d in range(n_d):
                reach[o, d] = memo.reach[o, d]
        return memo.spread[1]
    fanout_reach(templates[p], arc, t_scratch[p], reach)
    steps = spread_steps(layers[p].dim_size, reach, n_opt)
    if n_opt <= memo.reach.shape[0]:
        for o in range(n_opt):
            for d in range(n_d):
                memo.reach[o, d] = reach[o, d]
        memo.spread[0], memo.spread[1] = fanout_key, steps
    return steps


@helper()
def _remembered(memo, nest, count_key):
    """Is the nest, at this count key, the memo's last ragged count (PaddedMemo)?"""
    return (memo.count[0] >= 0 and memo.count[0] == count_key
            and _same_nest(memo.loops, memo.count[1], memo.keeps, nest, nest.n, nest.keeps))


@helper()
def _remember(memo, nest, count_key, cycles):
    """The memo holds this nest's count (count_key −1: none; a count not OK or dense): what
    _same_nest compares of it."""
    memo.count[0], memo.count[1], memo.count[2] = count_key, nest.n, cycles
    if count_key < 0:
        return
    for j in range(nest.n):
        memo.loops.loop_dim[j], memo.loops.loop_bound[j] = nest.loop_dim[j], nest.loop_bound[j]
        memo.loops.loop_level[j], memo.loops.loop_axis[j] = nest.loop_level[j], nest.loop_axis[j]
    for i in range(nest.keeps.shape[0]):
        for t in range(nest.keeps.shape[1]):
            memo.keeps[i, t] = nest.keeps[i, t]


@helper()
def _obeys(nest, rules):
    """Does the nest do only what the hardware can (Rules)?"""
    for j in range(nest.n):
        if nest.loop_spatial[j] and not rules.allowed[nest.loop_level[j], nest.loop_axis[j], nest.loop_dim[j]]:
            return False
    for i in range(rules.must.shape[0]):
        for t in range(rules.must.shape[1]):
            if (rules.must[i, t] and not nest.keeps[i, t]) or (rules.never[i, t] and nest.keeps[i, t]):
                return False
    return True


@helper(_nrt=True)  # (typed lists)
def _cannot_win(floor_cycles, floor_pj, best_edp, best_late, padded, pad, arc, arch, mixed, l, part):
    """Can no count above these floors come before the best in choose_ragged's order? Its EDP is not
    below the best's, and, if the best is late, it is late too (the limit is below its cycles)."""
    if floor_pj * floor_cycles <= best_edp * FLOOR_MARGIN:
        return False
    return not best_late or _limit_below(floor_cycles, padded, pad, arc, arch, mixed, l, part)


@helper(_nrt=True)  # (typed lists)
def _map(padded, arc, part, c):
    """Candidate c's padded layer (entry p = index[c]) mapped by the template, lowered (loops[p],
    n_padded[c] loops, keeps[p]), and unpadded onto the real layer (u_loops[p], u_n[c])."""
    templates, t_scratch, _, loops, keeps, _, _, _, u_loops, _, index, n_padded, u_n, mapped, _ = padded
    p = index[c]
    lay, sc, lp = templates[p], t_scratch[p], loops[p]
    map_layer_kernel(lay, arc, sc)
    n_padded[c] = lower_best(lay, arc, sc, lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis,
                             keeps[p])
    u_n[c] = _unpad(lp, n_padded[c], part.dim_size, u_loops[p])
    mapped[c] = True


UNCOUNTED = -1  # a padded layer's status before _limit_below counts it
FLOOR_MARGIN = 1.0 + 1e-9  # a floor's sum rounds apart from the count's: pass over only beyond it


@helper(_nrt=True)  # (a record of arrays)
def _nest(lp, n, keeps):
    return R.Nest(lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, n, keeps)


@helper(_nrt=True)  # (typed lists)
def _limit_below(x, padded, pad, arc, arch, mixed, l, part):
    """0 ≤ limit < x: is a padded layer counted OK with its own mapping in fewer than x cycles?
    Counts (mapping first where needed) only the padded layers whose spread steps (pad[0]) are
    below x, each once: pad[1] its status (UNCOUNTED before), pad[2] its cycles. The padded nests are
    dense (a template's factors divide the padded dims), so rgs[p], which candidate c's ragged
    count also uses, is left as it was."""
    _, _, layers, loops, keeps, outs, scratch, work, _, rgs, index, n_padded, _, mapped, memos = padded
    floor, status, cycles = pad
    for c in range(index.shape[0]):
        if status[c] == UNCOUNTED:
            if floor[c] >= x:
                continue
            if not mapped[c]:
                _map(padded, arc, part, c)
            p = index[c]
            lp, pp, pw = loops[p], layers[p], work[p]
            _fill_work(pw, mixed, l, pp.macs, arch.mac_pj, arch.mac_table)
            status[c], _, cycles[c], was_ragged = _count(_nest(lp, n_padded[c], keeps[p]), _problem(pp, arch, pw),
                                                         outs[p], scratch[p], rgs[p])
            if was_ragged:  # (not expected: rgs[p] held candidate c's count, which its memo no longer has)
                memos[p].count[0] = -1
        if status[c] == R.OK and cycles[c] < x:
            return True
    return False
