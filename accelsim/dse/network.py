"""A sweep point's whole network through one jitted call (model/network_kernel.py), with the
result `simulate` gives, field for field.

`network_result(arch, workload, options)` covers the points a template sweep is made of: the
analytical model, a template the template kernel reproduces (template_pack.supported), dense
layers in the arch's own number format, no inter-layer residency, no explicit mappings; it returns
None for any other point (then `simulate` runs it). A layer that does not map or count cleanly
(over capacity, a hardware constraint the template breaks) runs simulate's own per-layer path,
which raises simulate's error, so an infeasible row's reason is simulate's.

Per distinct layer (simulate's: a layer of a shape run before copies its result) the kernel maps
and counts; Python then builds what the row needs from its arrays with simulate's own functions:
the Mapping (template_pack.scratch_mapping) for the mapping and hardware checks, the count objects
(analytical.action_counts) and the energy (simulate.price_layer), so one formula stays in one
place. A layer the templates' ragged fallback may remap (its mapping leaves MACs idle and padded
layers offer candidates) goes through simulate's choice (simulate.choose_template_counted, given the
kernel's mapping); a layer that takes a candidate runs simulate's own per-layer path.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..counting import records as R
from ..counting.conventions import convention_of
from ..counting.counts import average_blocks
from ..counting.floor import footprint
from ..counting.ragged_kernel import ragged_work
from ..counting.rules import MAX_CYCLES
from ..energy.activity import mac_activity_table
from ..energy.model import BlockCounts
from ..errors import MappingError, SpecError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.workload import Workload
from ..mapping.mapping import check_mapping
from ..mapping.ragged import fanout_sides, padded_layers_for, spatial_positions, unpad
from ..mapping.template_kernel import BEST, M_BEST, template_scratch
from ..mapping.template_pack import (
    map_layer_fast,
    pack_layer,
    packed_arch,
    scratch_mapping,
    supported,
)
from ..model.analytical import action_counts
from ..model.network_kernel import (
    ArchArrays,
    Mixed,
    Rules,
    Work,
    append,
    choose_ragged,
    evaluate_network,
    padded_memo,
    typed_list,
)
from ..model.packed import (
    ByIdentity,
    PackedResult,
    arch_part,
    layer_part,
    mixed_part,
    mixed_reads,
    nest_steps,
    new_outputs,
    packed_result,
)
from ..model.performance import performance_model
from ..options import SimOptions
from ..results import LayerResult, WorkloadResult, off_chip_levels
from ..sparse.run import is_sparse


class NetworkPack:
    """A workload's distinct layers packed for one template and arch depth, with every work array
    (built once per worker and reused point after point; see network_kernel's docstring)."""

    def __init__(self, workload: Workload, dataflow: str, n_levels: int):
        self.workload, self.dataflow, self.n_levels = workload, dataflow, n_levels
        self.index, self.distinct = [], []  # per layer: its distinct layer; the distinct layers
        seen = {}
        for layer in workload.layers:
            key = replace(layer, name="", count=1)
            if key not in seen:
                seen[key] = len(self.distinct)
                self.distinct.append(layer)
            self.index.append(seen[key])
        self.mappings, self.work = {}, {}  # the kernel's mappings seen; Work arrays per MAC table width
        self.verdicts = {}  # (mapping key, _check_reads) -> its _verdict
        self.rules = {}  # (distinct layer, _check_reads) -> (its hardware_rules, their entry in rule_lists)
        self.rule_lists = ()  # (a typed list of every Rules in `rules`,)
        self.lock = threading.Lock()
        records = {name: [] for name in LAYER_RECORDS}
        self.ok = True
        for layer in self.distinct:
            einsum = layer.run_einsum
            template = pack_layer(einsum, dataflow)
            if template is None:  # the kernel does not reproduce the template on this layer
                self.ok = False
                return
            for name, item in zip(LAYER_RECORDS, layer_records(einsum, template, layer_part(einsum), n_levels)):
                records[name].append(item)
        # The records twice: typed lists for the kernel, Python lists for the wrapper to read (a typed
        # list's item costs ~10 µs from Python); both hold the same arrays.
        self.t_scratch, self.outs, self.keeps = records["t_scratch"], records["outs"], records["keeps"]
        self.parts, self.loops = records["layers"], records["loops"]
        self.candidates = {}  # (layer, fan-out sides, MAC table shape) -> its _Candidates
        self.padded = {}  # (layer, id(padded layer), MAC table shape) -> its _Padded
        self.padded_lists = ()  # every _Padded's items, as CANDIDATE_RECORDS' typed lists (its index)
        self.set_lists = ()  # every _Candidates' arrays, as SET_RECORDS' typed lists (its slot)
        self.lists = tuple(typed_list(records[name]) for name in records)
        self.max_tensors = max(len(layer.run_einsum.roles) for layer in self.distinct)
        self.max_dims = max(len(layer.run_einsum.dims) for layer in self.distinct)
        self.outputs = [layer.run_einsum.tensor_size("outputs") for layer in self.distinct]
        self.elements = typed_list([footprint(layer.run_einsum) for layer in self.distinct])  # choose_ragged's floors
        n = len(self.distinct)
        self.status, self.energy_pj = np.zeros(n, dtype=np.int64), np.zeros(n)
        self.cycles, self.steps = np.zeros(n, dtype=np.int64), np.zeros((n, 3), dtype=np.int64)
        self.passes = np.zeros(n, dtype=np.bool_)  # check_mapping passes the template's mapping (the kernel's check)
        self.obeys = np.zeros(n, dtype=np.bool_)  # its nest obeys the layer's Rules (the kernel's check; False: none)
        self.rule_entry = np.full(n, -1, dtype=np.int64)  # the layer's Rules in rule_lists[0] (rules_for's)

    def work_for(self, mac_table: np.ndarray):
        """The layers' Work arrays (a typed list, and the same as a Python list) for a MAC table of
        this many fan-in columns."""
        width = mac_table.shape[1]
        if width not in self.work:
            work = [new_work(layer.run_einsum, self.n_levels, mac_table.shape) for layer in self.distinct]
            self.work[width] = (typed_list(work), work)
        return self.work[width]

    def trim(self) -> None:
        """Before a point: a full memo of candidate sets, padded layers or rules (PACK_MEMO entries)
        starts again empty, with the typed lists that index them (never within a point, whose
        choice kernel call indexes them)."""
        if len(self.candidates) >= PACK_MEMO or len(self.padded) >= PACK_MEMO:
            self.candidates.clear()
            self.padded.clear()
            self.padded_lists, self.set_lists = (), ()
        if len(self.rules) >= PACK_MEMO:
            self.rules.clear()
            self.rule_lists = ()

    def candidates_for(self, l: int, sides: tuple, mac_shape: tuple) -> _Candidates:
        """Distinct layer l's padded layers for these fan-out sides, packed (once per worker)."""
        key = (l, sides, mac_shape)
        held = self.candidates.get(key)
        if held is None:
            held = self.candidates[key] = _Candidates(self, l, sides, mac_shape)
        return held

    def padded_for(self, l: int, padded, mac_shape: tuple) -> _Padded:
        """Distinct layer l's padded layer `padded` packed, once while the pack holds it
        (padded_to_side gives one object per padded layer; the entry holds it, so its id stays its),
        its items appended to padded_lists (its index there)."""
        key = (l, id(padded), mac_shape)
        held = self.padded.get(key)
        if held is None:
            held = self.padded[key] = _Padded(self, l, padded, mac_shape)
            if held.items is not None:
                self.padded_lists, held.index = _appended(self.padded_lists, held.items)
        return held

    def mapping(self, arch: Arch, l: int) -> tuple:
        """(key, the Mapping) the kernel chose for distinct layer l (template_pack.scratch_mapping),
        built once per choice (the key): a sweep's points often repeat the mappings of others."""
        sc = self.t_scratch[l]
        key = (l, tuple(level.name for level in arch.levels[:-1]), sc.s_n[BEST].tobytes(), sc.s_dim[BEST].tobytes(),
               sc.s_bound[BEST].tobytes(), sc.s_axis[BEST].tobytes(), sc.mask[M_BEST].tobytes())
        return key, _memoized(self.mappings, key,
                              lambda: scratch_mapping(arch, self.distinct[l].run_einsum, self.dataflow, sc))

    def verdict(self, arch: Arch, l: int, key: tuple, mapping, checked: bool = False) -> int:
        """_verdict of the kernel's mapping of distinct layer l (`key`: self.mapping's): once per
        mapping and what the checks read of an arch (_check_reads): a sweep's variants of the
        buffers' sizes share their fan-outs and constraints. `checked`: check_mapping is known to
        pass it (the kernel's check of the template's mapping)."""
        return _memoized(self.verdicts, (key, _check_reads(arch)),
                         lambda: _verdict(arch, self.distinct[l], mapping, checked))

    def rules_for(self, arch: Arch, l: int) -> tuple:
        """(hardware_rules of distinct layer l on the arch, their entry in rule_lists[0], −1 for
        None), once per what the checks read of it."""
        key = (l, _check_reads(arch))
        held = self.rules.get(key)
        if held is None:
            rules, entry = hardware_rules(arch, self.distinct[l].run_einsum), -1
            if rules is not None:
                self.rule_lists, entry = _appended(self.rule_lists, (rules,))
            held = self.rules[key] = (rules, entry)
        return held


def _appended(lists: tuple, items: tuple) -> tuple:
    """(typed lists with each item appended to its list (made if `lists` is empty), the items'
    index there)."""
    if not lists:
        return tuple(typed_list([item]) for item in items), 0
    length = 0
    for typed, item in zip(lists, items):
        length = append(typed, item)
    return lists, length - 1


def _memoized(memo: dict, key, make):
    """memo[key], made by make() if absent; a full memo (PACK_MEMO entries) starts again empty."""
    held = memo.get(key)
    if held is None:
        if len(memo) >= PACK_MEMO:
            memo.clear()
        held = memo[key] = make()
    return held


PACK_MEMO = 4096  # entries each of a pack's memos holds (a sweep worker's variants, layers, choices)


LAYER_RECORDS = ("templates", "t_scratch", "layers", "loops", "keeps", "outs", "scratch")


def layer_records(einsum, template, part, n_levels: int) -> tuple:
    """What the kernels take of a layer to map it with the template and count it (LAYER_RECORDS):
    its template record and scratch, its layer part, and the nest's loops, keeps, outputs and scratch."""
    n_t, n_d = len(einsum.roles), len(einsum.dims)
    sc = template_scratch(template, n_levels)
    max_loops = sc.s_dim.shape[1] * sc.s_dim.shape[2]
    return (template, sc, part, R.nest_loops(max_loops), np.zeros((n_levels, n_t), dtype=np.bool_),
            new_outputs(n_levels, n_t), R.nest_scratch(max_loops, int(part.n_axes.max()), part.span, n_d, n_levels, n_t))


def new_work(einsum, n_levels: int, mac_shape: tuple) -> Work:
    """A layer's Work arrays (filled by the kernels from the point's Mixed rows)."""
    n_t, n_d = len(einsum.roles), len(einsum.dims)
    return Work(np.zeros((n_levels, n_t, n_d), dtype=np.bool_), np.zeros((n_levels, n_t)),
                np.zeros(n_t, dtype=np.bool_), np.zeros(mac_shape))


class _Padded:
    """One padded layer of a distinct layer (mapping/ragged.padded_to_side's), packed for
    network_kernel.choose_ragged: its LAYER_RECORDS and the unpadded nest's work arrays (`items`,
    CANDIDATE_RECORDS' order), or None where the kernel does not reproduce simulate's choice (the
    template kernel does not cover the padded layer, or its counting would refuse it). Every set of
    fan-out sides with the padded layer's side shares it (the pack's lock: one point at a time)."""

    def __init__(self, pack: NetworkPack, l: int, padded, mac_shape: tuple):
        einsum = pack.distinct[l].run_einsum
        self.padded, self.einsum, self.items, self.same_mixed, self.index = padded, einsum, None, {}, -1
        template = pack_layer(padded, pack.dataflow)
        try:
            part = layer_part(padded)
        except SpecError:  # simulate's choice raises it (its padded layer's count)
            return
        if template is None:
            return
        n_levels, n_t, n_d = pack.n_levels, len(einsum.roles), len(einsum.dims)
        real = pack.parts[l]
        padded_records = layer_records(padded, template, part, n_levels)
        max_loops = len(padded_records[3].loop_dim)
        # the padded layer's MAC energies; the unpadded nest's loops (no more than the padded
        # one's), outputs, scratch and ragged work
        self.items = padded_records + (
            new_work(padded, n_levels, mac_shape), R.nest_loops(max_loops), new_outputs(n_levels, n_t),
            R.nest_scratch(max_loops, int(real.n_axes.max()), real.span, n_d, n_levels, n_t),
            ragged_work(max_loops, n_levels, n_t, n_d, int(real.dim_size.max())),
            padded_memo(max_loops, n_levels, n_t, n_d))

    def shares_mixed(self, arch: Arch, density) -> bool:
        """Does the padded layer take the real layer's Mixed rows on this arch (the kernel reuses
        them; the built-in counting conventions read no dim's size there)? Once per mixed_reads."""
        reads = mixed_reads(arch)
        verdict = self.same_mixed.get(reads)
        if verdict is None:
            verdict = self.same_mixed[reads] = all(
                np.array_equal(a, b) for a, b in zip(mixed_part(arch, self.padded, density)[:3],
                                                     mixed_part(arch, self.einsum, density)[:3]))
        return verdict


CANDIDATE_RECORDS = (*LAYER_RECORDS, "work", "u_loops", "u_outs", "u_scratch", "rgs", "memos")
SET_RECORDS = ("index", "status", "energy_pj", "cycles", "ragged", "u_n")  # a _Candidates' arrays, choose_ragged's


class _Candidates:
    """A distinct layer's padded layers for one set of fan-out sides (mapping/ragged.padded_layers'),
    their _Padded records' indices in the pack's padded_lists (choose_ragged's), and its
    per-candidate results. `ok` is False where the kernel does not reproduce simulate's choice (a
    _Padded without items)."""

    def __init__(self, pack: NetworkPack, l: int, sides: tuple, mac_shape: tuple):
        einsum = pack.distinct[l].run_einsum
        self.einsum, self.padded, self.dataflow = einsum, padded_layers_for(sides, einsum), pack.dataflow
        self.mappings, self.l = pack.mappings, l  # (the pack's memo: not the pack, which holds this)
        self.same_mixed = None  # (mixed_reads, shares_mixed's verdict)
        self.parts = [pack.padded_for(l, padded, mac_shape) for padded in self.padded]
        self.ok = all(part.items is not None for part in self.parts)
        if not self.ok:
            return
        self.index = np.array([part.index for part in self.parts], dtype=np.int64)  # in the pack's padded_lists
        self.t_scratch, self.u_loops, self.u_outs, self.rgs, self.keeps = (
            [part.items[CANDIDATE_RECORDS.index(k)] for part in self.parts]
            for k in ("t_scratch", "u_loops", "u_outs", "rgs", "keeps"))
        n = len(self.padded)
        self.status, self.energy_pj = np.zeros(n, dtype=np.int64), np.zeros(n)
        self.cycles, self.ragged, self.u_n = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.int64)
        self.slot = -1  # its entry in the pack's set_lists
        if n:
            pack.set_lists, self.slot = _appended(pack.set_lists, tuple(getattr(self, k) for k in SET_RECORDS))

    def shares_mixed(self, arch: Arch, density) -> bool:
        """Do the padded layers take the real layer's Mixed rows on this arch (_Padded.shares_mixed)?
        Once per mixed_reads (the last one's verdict kept: a worker's points come arch by arch)."""
        reads = mixed_reads(arch)
        if self.same_mixed is None or self.same_mixed[0] != reads:
            self.same_mixed = (reads, all(part.shares_mixed(arch, density) for part in self.parts))
        return self.same_mixed[1]

    def result(self, c: int) -> PackedResult:
        """Candidate c's count as evaluate_packed gives it (copies: the arrays serve the next point)."""
        out = R.Outputs(*(a.copy() for a in self.u_outs[c]))
        if self.ragged[c]:
            return packed_result(self.status[c], self.energy_pj[c], self.cycles[c], out, self.rgs[c].steps,
                                 self.rgs[c].totals.copy())
        loops, n = self.u_loops[c], int(self.u_n[c])
        return packed_result(self.status[c], self.energy_pj[c], self.cycles[c], out,
                             nest_steps(loops.loop_bound[:n], loops.loop_spatial[:n]))

    def mapping(self, arch: Arch, c: int) -> tuple:
        """(key, candidate c's Mapping): the template's of its padded layer (the kernel left it in
        the scratch's BEST slot), unpadded onto the real layer; built once per key (a sweep's
        variants of the buffers' sizes often choose the same candidate mapping)."""
        sc = self.t_scratch[c]  # (the Mapping reads the padded layer's dim names only: the real layer's)
        key = ("padded", self.l, tuple(level.name for level in arch.levels[:-1]), sc.s_n[BEST].tobytes(),
               sc.s_dim[BEST].tobytes(), sc.s_bound[BEST].tobytes(), sc.s_axis[BEST].tobytes(),
               sc.mask[M_BEST].tobytes())
        return key, _memoized(self.mappings, key, lambda: unpad(
            scratch_mapping(arch, self.padded[c], self.dataflow, sc), self.einsum))


_PACKS: dict = {}  # (id(workload), dataflow, levels) -> (workload, NetworkPack)


def network_pack(workload: Workload, dataflow: str, n_levels: int) -> NetworkPack:
    """The workload's pack, kept by identity (a sweep worker's workloads are cached objects)."""
    key = (id(workload), dataflow, n_levels)
    held = _PACKS.get(key)
    if held is None or held[0] is not workload:
        if len(_PACKS) >= 64:
            _PACKS.clear()
        held = _PACKS[key] = (workload, NetworkPack(workload, dataflow, n_levels))
    return held[1]


_MIXED: dict = {}  # (mixed_reads(arch), id(workload)) -> (workload, Mixed)


def mixed_for(arch: Arch, pack: NetworkPack) -> tuple[Mixed, np.ndarray]:
    """The arch × layer parts of the pack's distinct layers stacked (model/packed.mixed_part's), and
    the MACs' activity table; once per workload and what mixed_part reads of an arch (a sweep's
    variants of an arch's sizes share them; its templates too)."""
    key = (mixed_reads(arch), id(pack.workload))
    held = _MIXED.get(key)
    if held is None or held[0] is not pack.workload:
        if len(_MIXED) >= 64:
            _MIXED.clear()
        n, n_levels = len(pack.distinct), len(arch.levels)
        merges = np.zeros((n, n_levels, pack.max_tensors, pack.max_dims), dtype=np.bool_)
        e_factor = np.ones((n, n_levels, pack.max_tensors))
        latched = np.zeros((n, pack.max_tensors), dtype=np.bool_)
        for l, layer in enumerate(pack.distinct):
            einsum = layer.run_einsum
            merging, factor, latch, _ = mixed_part(arch, einsum, layer.density)
            n_t, n_d = len(einsum.roles), len(einsum.dims)
            merges[l, :, :n_t, :n_d], e_factor[l, :, :n_t], latched[l, :n_t] = merging, factor, latch
        held = _MIXED[key] = (pack.workload, Mixed(merges, e_factor, latched))
    return held[1], mac_activity_table(arch, pack.distinct[0].density)  # _layers_covered: one density


def count_key(arch: Arch, arrays: ArchArrays) -> int:
    """A number for what the counting kernels read of a point's arch besides its capacities and
    energies (which choose_ragged checks and prices again for a nest it counted at the same
    number): the levels' records less their capacities, bandwidths, cluster axes, partial-sum
    words, the counting convention's rules, and what the layers' Mixed rows read (mixed_reads)."""
    level_int = arrays.level_int.copy()
    level_int[:, R.CAPACITY] = 0
    return _numbered(("counts", level_int.tobytes(), arrays.cluster_axes.tobytes(),
                      arrays.level_float[:, (R.READ_BW, R.WRITE_BW, R.SHARED_BW)].tobytes(),
                      arrays.psum_words.tobytes(), arrays.hold_spatial_innermost, arrays.cluster_rule,
                      mixed_reads(arch)))


def fanout_key(arc) -> int:
    """A number for what the templates' fan-out splits read of a TemplateArch (choose_ragged keeps a
    padded layer's reach per number): the levels' kinds, fan-out sides and x options' bits."""
    return _numbered(("fanouts", arc.kind.tobytes(), arc.fan_x.tobytes(), arc.fan_y.tobytes(), arc.wide_bit.tobytes()))


def _numbered(key: tuple) -> int:
    """The number of a key (count_key's, fanout_key's); a full memo starts again with new numbers."""
    number = _KEY_NUMBER.get(key)
    if number is None:
        if len(_KEY_NUMBER) >= PACK_MEMO:
            _KEY_NUMBER.clear()
        number = _KEY_NUMBER[key] = next(_NUMBERS)
    return number


_KEY_NUMBER: dict = {}  # count_key's and fanout_key's tuples -> their numbers (never reused)
_NUMBERS = itertools.count()


_CHECK_READS: dict = {}  # id(arch) -> (arch, _check_reads's tuple)


def _check_reads(arch: Arch) -> tuple:
    """What check_mapping, check_hardware and hardware_rules read of an arch: each level's name and
    kind, a fan-out's sides, a memory's kept tensors, and the hardware constraints (their repr:
    frozen dataclasses, so equal reprs are equal constraints). The error's wording (the arch's name)
    is not read: a failed check's error comes from the arch itself (simulate's layer, or
    check_hardware where the choice kernel keeps no candidate)."""
    held = _CHECK_READS.get(id(arch))
    if held is None or held[0] is not arch:
        if len(_CHECK_READS) >= 64:
            _CHECK_READS.clear()
        levels = tuple((level.name, type(level).__name__, getattr(level, "x", None), getattr(level, "y", None),
                        getattr(level, "keeps", None)) for level in arch.levels)
        held = _CHECK_READS[id(arch)] = (arch, (levels, repr(arch.constraints)))
    return held[1]


_ENERGIES: dict = {}  # id(arch) -> (arch, its ActionEnergies): a sweep's arch variant serves several points


def _action_energies(arch: Arch):
    from ..energy.model import action_energies
    held = _ENERGIES.get(id(arch))
    if held is None or held[0] is not arch:
        if len(_ENERGIES) >= 64:
            _ENERGIES.clear()
        held = _ENERGIES[id(arch)] = (arch, action_energies(arch))
    return held[1]


def covered(arch: Arch, workload: Workload, options: SimOptions) -> bool:
    """Does the fast path cover this point (else simulate runs it)?"""
    dataflow = options.dataflow or arch.dataflow
    return (options.performance_model == "analytical" and dataflow is not None and supported(dataflow)
            and options.precision is None and options.density is None and not arch.residency_level
            and _layers_covered(workload)
            and not is_sparse(arch, workload.layers[0]))  # no layer has sparsity: the arch's alone decides


_LAYERS_COVERED: dict = {}  # id(workload) -> (workload, verdict)


def _layers_covered(workload: Workload) -> bool:
    """Every layer dense (no sparsity, no N:M pruning), in the arch's number format, one density
    without data to re-measure it from; once per workload object."""
    held = _LAYERS_COVERED.get(id(workload))
    if held is None or held[0] is not workload:
        if len(_LAYERS_COVERED) >= 64:
            _LAYERS_COVERED.clear()
        density = workload.layers[0].density if workload.layers else None
        verdict = bool(workload.layers) and all(
            layer.precision is None and not layer.sparsity and layer.density == density
            and layer.density.inputs_data is None and layer.density.weights_data is None
            and not (layer.weight_nm and layer.weight_nm[0] < layer.weight_nm[1]) for layer in workload.layers)
        held = _LAYERS_COVERED[id(workload)] = (workload, verdict)
    return held[1]


def network_result(arch: Arch, workload: Workload, options: SimOptions, row_only: bool = False) -> WorkloadResult | None:
    """simulate(arch, workload, options, map_template=map_layer_fast)'s result, or None when the
    fast path does not cover the point (see the module docstring).

    `row_only`: the result a sweep's row reads (dse/evaluate.py: the workload's sums, each layer's
    energy breakdown, cycles and extras), bit for bit, without the count objects: a layer the kernel
    mapped and counted cleanly carries the energy model's BlockCounts (priced straight from the
    kernel's arrays, `_block_counts`) instead of an ActionCounts. Any other layer is as without it."""
    from ..residency import check_model
    from ..simulate import price_layer, simulate_layer

    if not covered(arch, workload, options):
        return None
    dataflow = options.dataflow or arch.dataflow
    options = replace(options, dataflow=dataflow)
    model = performance_model(options.performance_model)
    model.check(arch, options)
    check_model(arch, options.performance_model)
    if arch.constraint_names:  # as simulate checks them for a template
        from ..search.constraints import check_names
        check_names(arch.constraint_names, workload.layers)
    pack = network_pack(workload, dataflow, len(arch.levels))
    if not pack.ok:
        return None
    energies, kernel, off_chip = _point_parts(arch, pack)
    arc, arch_arrays, mixed = kernel.arc, kernel.arch, kernel.mixed
    done = []
    # The first layer alone, then the rest: a point whose template the hardware refuses (or that does
    # not fit) stops at its first layer, as simulate does, having run one layer's kernel.
    with pack.lock:  # its work arrays serve one point at a time (a Dask worker runs points in threads)
        pack.trim()
        for first, stop in ((0, 1), (1, len(pack.distinct))):
            for l in range(first, stop):
                pack.rule_entry[l] = _rule_entry(pack, arch, l)
            evaluate_network(*pack.lists, kernel.work[0], arc, arch_arrays, mixed, pack.status,
                             pack.energy_pj, pack.cycles, pack.steps, pack.passes,
                             pack.rule_lists[0] if pack.rule_lists else _no_rules(), pack.rule_entry, pack.obeys,
                             first, stop)
            plans = _plans(pack, first, stop, arch, options, kernel)
            for l in range(first, stop):
                done.append(_layer_result(pack, l, arch, options, model, energies, off_chip, price_layer,
                                          simulate_layer, kernel, row_only, plans.get(l)))
    layers, ran = [], set()
    for layer, l in zip(workload.layers, pack.index):  # simulate's copies of a shape run before
        layers.append(_renamed(done[l], layer.name, layer.count) if l in ran else done[l])
        ran.add(l)
    return WorkloadResult(arch, workload.name, tuple(layers), options.as_dict(), {})


def _rule_entry(pack: NetworkPack, arch: Arch, l: int) -> int:
    """Distinct layer l's Rules entry (rules_for's), −1 where it has none or they do not resolve
    (then simulate's checks say what is wrong)."""
    try:
        return pack.rules_for(arch, l)[1]
    except (MappingError, SpecError):
        return -1


_POINT_PARTS = ByIdentity(64)  # (arch, pack) -> _point_parts' answer
_ARCH_SIDE = ByIdentity(64)  # (arch,) -> _arch_side's answer


def _point_parts(arch: Arch, pack: NetworkPack) -> tuple:
    """(the arch's ActionEnergies, the _Kernel, the off-chip levels) of a point, once per arch and
    pack objects: an arch variant serves each of a sweep's workloads and dataflows (each of these
    lookups is itself memoized, but together they cost ≈ 60 µs a point)."""
    return _POINT_PARTS.get((arch, pack), _build_point_parts)


def _build_point_parts(arch: Arch, pack: NetworkPack) -> tuple:
    energies, level, hold, cluster_rule, arc, sides, counts, fanouts, off_chip = _ARCH_SIDE.get((arch,), _arch_side)
    mixed, mac_table = mixed_for(arch, pack)
    arch_arrays = ArchArrays(*level, hold, cluster_rule, energies.mac_pj, mac_table)
    kernel = _Kernel(arc, arch_arrays, mixed, pack.work_for(mac_table), sides, counts, fanouts)
    return energies, kernel, off_chip


def _arch_side(arch: Arch) -> tuple:
    """What _point_parts takes of the arch alone, once per arch object (a variant's workloads and
    dataflows share it): its ActionEnergies, arch_part's arrays, the convention's two rules, the
    TemplateArch, the fan-out sides, count_key's and fanout_key's numbers, the off-chip levels."""
    energies = _action_energies(arch)
    level = arch_part(arch, energies)
    convention = convention_of(arch)
    hold, cluster_rule = convention.operands_held_when_spatial_innermost, convention.cluster_rule
    arc = packed_arch(arch)
    counts = count_key(arch, ArchArrays(*level, hold, cluster_rule, energies.mac_pj, None))
    return (energies, level, hold, cluster_rule, arc, fanout_sides(arch), counts, fanout_key(arc),
            frozenset(off_chip_levels(arch)))


def _renamed(result: LayerResult, name: str, count: int) -> LayerResult:
    """replace(result, name=name, count=count, extra=dict(result.extra)) (simulate's copy of a layer
    of a shape run before), without re-running the dataclass's __init__: a copy of its fields
    (its __dict__, as copy.copy copies it, without the reduce protocol's ~20 µs a layer)."""
    copied = object.__new__(type(result))
    fields = copied.__dict__
    fields.update(result.__dict__)
    fields["name"], fields["count"], fields["extra"] = name, count, dict(result.extra)
    return copied


class _Kernel(NamedTuple):
    """What the kernels take of a point besides a pack (network_result builds it once per point)."""
    arc: object            # the TemplateArch
    arch: ArchArrays
    mixed: Mixed
    work: tuple            # the pack's Work arrays for the point's MAC table: (typed list, list)
    sides: tuple           # the fan-outs' sides (mapping/ragged.fanout_sides)
    count_key: int         # count_key's number for the point
    fanout_key: int        # fanout_key's


_NOT_ASKED = object()  # a plan's answer where the choice kernel was not asked


class _Plan(NamedTuple):
    """What _layer_result needs of a layer that counted OK before building its result (_plan)."""
    mapping: object        # the template's Mapping, as the kernel left it (pack.mapping)
    verdict: int           # its checks' (_verdict)
    idle: bool             # it leaves MACs idle: simulate's ragged choice runs
    answer: object         # the choice kernel's: (the _Candidates, the candidate or −1), None, _NOT_ASKED


class _Call(NamedTuple):
    """A layer's call of the choice kernel (_choice_call's), one of a point's (_chosen)."""
    layer: int
    slot: int              # its candidate set's entry in the pack's set_lists
    rules: int             # its Rules' entry in the pack's rule_lists
    template_ok: bool


def _plan(pack: NetworkPack, l: int, arch: Arch, options: SimOptions) -> _Plan:
    """Distinct layer l's _Plan, its choice not asked. The layer counted OK."""
    from ..simulate import ragged_refused
    key, mapping = pack.mapping(arch, l)
    # the kernel's checks, where they say it passes (check_mapping's, and the Rules', which say all
    # the arch's constraints say: hardware_rules), else simulate's, which also word its error
    verdict = (PASSES if pack.passes[l] and pack.obeys[l]
               else pack.verdict(arch, l, key, mapping, bool(pack.passes[l])))
    idle = not ragged_refused(arch, pack.distinct[l], options) and spatial_positions(mapping) < arch.compute.instances
    return _Plan(mapping, verdict, idle, _NOT_ASKED)


def _plans(pack: NetworkPack, first: int, stop: int, arch: Arch, options: SimOptions, kernel: _Kernel) -> dict:
    """Layer -> its _Plan, with the choice kernel's answer where the choice runs, for the layers
    from `first` on, before any layer's result is built: their Python first, then one call
    of the choice kernel for all of them (a call per layer costs its dispatch and finds the
    kernel's code out of the caches: docs/dse.md, session 22). Plans stop where a layer
    may fail (its count not OK, a plan that raises, a mapping that breaks a check: the layers from
    there are planned by _layer_result in order, so an error raised is the first failing layer's,
    as in simulate, and an infeasible point does no more work than before); the plan of a template
    the hardware refuses, whose layer fails unless a candidate is kept, is the last."""
    plans, calls = {}, []
    for l in range(first, stop):
        if pack.status[l] != R.OK:
            break
        try:
            plan = _plan(pack, l, arch, options)
            if plan.verdict == BREAKS_MAPPING or (plan.verdict == BREAKS_HARDWARE and not plan.idle):
                break
            if plan.idle:
                plan = plan._replace(answer=_choice_call(pack, l, arch, kernel, plan.verdict == PASSES))
        except (MappingError, SpecError):
            break
        plans[l] = plan
        if isinstance(plan.answer, tuple) and isinstance(plan.answer[1], _Call):
            calls.append(l)
        if plan.verdict != PASSES:
            break
    for l, best in zip(calls, _chosen(pack, kernel, [plans[l].answer[1] for l in calls])):
        plans[l] = plans[l]._replace(answer=(plans[l].answer[0], best))
    return plans


def _layer_result(pack: NetworkPack, l: int, arch: Arch, options: SimOptions, model, energies, off_chip,
                  layer_energy, simulate_layer, kernel: _Kernel, row_only: bool = False,
                  plan: _Plan | None = None) -> LayerResult:
    """Distinct layer l's LayerResult from the kernel's arrays, as simulate.simulate_layer builds it.
    A layer that does not map or count cleanly here (a status other than OK, a failed check) is
    simulate's own layer, which gives its result or raises the error simulate would (the layers
    before it have run alike). `plan`: its _plans entry, where made."""
    from ..simulate import check_hardware, choose_template_counted, layer_error, ragged_dims

    layer = pack.distinct[l]
    if pack.status[l] != R.OK:
        return simulate_layer(arch, layer, options, model, None, energies, off_chip, {}, map_layer_fast)
    einsum = layer.run_einsum
    mapping, verdict, idle, asked = plan if plan is not None else _plan(pack, l, arch, options)

    def template(a, e, dataflow):  # the template (map_layer's mapping), the kernel's on this layer
        return mapping if e is einsum else map_layer_fast(a, e, dataflow)
    if verdict == BREAKS_MAPPING or (verdict == BREAKS_HARDWARE and not idle):
        return simulate_layer(arch, layer, options, model, None, energies, off_chip, {}, template)  # its error
    result = packed_result(pack.status[l], pack.energy_pj[l], pack.cycles[l], pack.outs[l], pack.steps[l])
    chosen, counted, keeps, ragged = mapping, result, pack.keeps[l], False  # the layer's: the template's
    if idle:
        # MACs left idle: simulate's choice between the template's mapping (the kernel's, already
        # made and counted; passed over if it breaks the arch's constraints) and its ragged
        # candidates (mapping/ragged.py), by the choice kernel where it reproduces it, else by
        # simulate; a candidate simulate chose runs simulate's own layer
        choice = _kernel_choice(pack, l, arch, layer, mapping, result, kernel, verdict == PASSES, asked)
        if choice is None:
            if verdict != PASSES:
                return simulate_layer(arch, layer, options, model, None, energies, off_chip, {}, template)
            choice = (*choose_template_counted(arch, layer, options, energies, template, (mapping, result)), None, None)
        if choice[0] is mapping and verdict != PASSES:  # no candidate kept: simulate_layer raises the template's error
            try:
                check_hardware(arch, layer, mapping)
            except MappingError as exc:
                raise layer_error(layer, exc) from None
        if choice[0] is not mapping:
            chosen, counted, keeps, ragged = choice
            if keeps is None or not (row_only and _fast_row(counted)):  # (the kernel's choice passed the checks)
                # (counted there: simulate_layer does not count it again)
                return simulate_layer(arch, layer, options, model, chosen, energies, off_chip, {}, map_layer_fast,
                                      counted)
    if row_only and _fast_row(counted):
        counts = _block_counts(arch, einsum, keeps, counted, ragged)
        cycles, extra = model.layer_cycles(arch, layer, None, counted)  # (the analytical model's: its cycles)
        if ragged:
            extra = {**extra, "ragged": ragged_dims(einsum, chosen)}
    else:
        counts = action_counts(arch, einsum, _Keeps(einsum.roles, keeps), counted, False)  # status OK, dense
        cycles, extra = model.layer_cycles(arch, layer, None, counts)
    energy = layer_energy(arch, layer, chosen, counts, energies, cycles)
    return LayerResult(layer.name, layer.count, layer.einsum.macs, counts, energy, chosen, cycles,
                       arch.frequency_hz, arch.peak_macs_per_cycle, off_chip, extra, arch.compute.format,
                       layer.density, energies=(arch, energies), outputs=pack.outputs[l])


def _fast_row(result: PackedResult) -> bool:
    """Can a row's layer be priced from the kernel's arrays (_block_counts)? Not where
    action_counts raises (cycles past MAX_CYCLES) or an unused level would divide 0 by 0."""
    return result.cycles < MAX_CYCLES and bool(result.instances.all())


PASSES, BREAKS_HARDWARE, BREAKS_MAPPING = 0, 1, 2  # _verdict's


def _verdict(arch: Arch, layer, mapping, checked: bool = False) -> int:
    """Does the mapping pass simulate_layer's checks: PASSES, BREAKS_HARDWARE (check_mapping passes,
    check_hardware raises: the arch's constraints) or BREAKS_MAPPING? Where they raise, simulate_layer
    raises their error. `checked`: check_mapping is known to pass."""
    from ..simulate import check_hardware
    try:
        if not checked:
            check_mapping(arch, layer.run_einsum, mapping)
    except MappingError:
        return BREAKS_MAPPING
    try:
        check_hardware(arch, layer, mapping)
    except MappingError:
        return BREAKS_HARDWARE
    return PASSES


_RULES_ALL_ALLOWED: dict = {}  # (levels, dims, tensors) -> Rules that allow everything


@lru_cache(maxsize=1)
def _no_rules():
    """A typed list of one Rules: evaluate_network's `rules` where a pack has none yet."""
    return typed_list([Rules(np.ones((1, 2, 1), dtype=np.bool_), np.zeros((1, 1), dtype=np.bool_),
                             np.zeros((1, 1), dtype=np.bool_))])


def hardware_rules(arch: Arch, einsum) -> Rules | None:
    """The arch's constraints (simulate._hardware_levels', resolved for the layer) as the choice
    kernel's Rules, with search/constraints._check_level's meaning: a fan-out axis's allowed dims,
    the tensors a memory must or may not keep. None where they say more than that (fixed factors,
    loop orders): then simulate's choice runs."""
    from ..simulate import _hardware_levels
    n, dims, roles = len(arch.levels), einsum.dims, einsum.roles
    if not arch.constraints:
        shape = (n, len(dims), len(roles))
        if shape not in _RULES_ALL_ALLOWED:
            _RULES_ALL_ALLOWED[shape] = Rules(np.ones((n, 2, len(dims)), dtype=np.bool_),
                                              np.zeros((n, len(roles)), dtype=np.bool_),
                                              np.zeros((n, len(roles)), dtype=np.bool_))
        return _RULES_ALL_ALLOWED[shape]
    levels = _hardware_levels(arch.constraints, einsum)
    allowed = np.ones((n, 2, len(dims)), dtype=np.bool_)
    must, never = np.zeros((n, len(roles)), dtype=np.bool_), np.zeros((n, len(roles)), dtype=np.bool_)
    for i, level in enumerate(arch.levels):
        c = levels.get(level.name)
        if c is None:
            continue
        if c.factors or c.order or not isinstance(level, (Spatial, Memory)):
            return None
        if isinstance(level, Spatial):
            for axis, (fixed, only) in enumerate((c.x, c.y)):  # X 0, Y 1 (counting/nest.py)
                if fixed:
                    return None
                if only is not None:
                    allowed[i, axis] = [d in only for d in dims]
        else:
            must[i] = [r in c.keep for r in roles]
            never[i] = [r in c.bypass for r in roles]
            # a role the layer lacks is kept as the level keeps it (no mapping bypasses it): a
            # constraint on it holds for every mapping or none (then must and never together)
            if any((r in c.keep) != (r in level.keeps) for r in (c.keep | c.bypass) - set(roles)):
                must[i, 0] = never[i, 0] = True
    return Rules(allowed, must, never)


def _kernel_choice(pack: NetworkPack, l: int, arch: Arch, layer, mapping, result: PackedResult,
                   kernel: _Kernel, template_ok: bool, asked=_NOT_ASKED) -> tuple | None:
    """simulate.choose_template_counted(…, (mapping, result)) by network_kernel.choose_ragged:
    (the chosen mapping, its PackedResult, its nest's keeps, whether it runs ragged; the template's
    `mapping` where none is kept, even if it breaks the arch's constraints: `template_ok` False), or
    None where simulate's choice must decide (the kernel does not reproduce it on this layer: its
    candidates, or constraints hardware_rules cannot say, or a chosen candidate that fails
    simulate_layer's checks, which simulate's layer then raises). `asked`: the kernel's answer
    (_plans'), where asked."""
    if asked is _NOT_ASKED:
        asked = _choice_call(pack, l, arch, kernel, template_ok)
        if asked is not None and isinstance(asked[1], _Call):
            asked = (asked[0], _chosen(pack, kernel, [asked[1]])[0])
    if asked is None:
        return None
    cands, best = asked
    if best < 0:
        return mapping, result, pack.keeps[l], False
    key, chosen = cands.mapping(arch, best)
    if pack.verdict(arch, l, key, chosen) != PASSES:  # (the rules keep none that breaks a constraint: a safety net)
        return None
    return chosen, cands.result(best), cands.keeps[best], bool(cands.ragged[best])


def _choice_call(pack: NetworkPack, l: int, arch: Arch, kernel: _Kernel, template_ok: bool) -> tuple | None:
    """Distinct layer l's candidates and its call of the choice kernel (the template's count: the
    pack's arrays): (its _Candidates, its _Call), (its _Candidates, −1) where it has none (the
    template's mapping stays), or None where the kernel does not reproduce simulate's choice (see
    _kernel_choice)."""
    cands = pack.candidates_for(l, kernel.sides, kernel.arch.mac_table.shape)
    entry = int(pack.rule_entry[l])  # (network_result's, for this point: −1 where there are no Rules)
    if not cands.ok or entry < 0 or not cands.shares_mixed(arch, pack.distinct[l].density):
        return None
    if not cands.padded:
        return cands, -1
    return cands, _Call(l, cands.slot, entry, template_ok)


def _chosen(pack: NetworkPack, kernel: _Kernel, calls: list) -> np.ndarray:
    """The candidate network_kernel.choose_ragged chooses (−1: the template's mapping) on each of
    these _Calls, in one call of it."""
    best = np.empty(len(calls), dtype=np.int64)
    if not calls:
        return best
    layer, slot, entry, ok = zip(*calls)
    layers, loops, keeps = (pack.lists[LAYER_RECORDS.index(name)] for name in ("layers", "loops", "keeps"))
    choose_ragged(*pack.padded_lists, *pack.set_lists, pack.rule_lists[0], pack.elements, layers, loops, keeps,
                  kernel.work[0], pack.steps, pack.energy_pj, pack.cycles, kernel.arc, kernel.arch, kernel.mixed,
                  kernel.count_key, kernel.fanout_key, np.array(layer, dtype=np.int64),
                  np.array(slot, dtype=np.int64), np.array(entry, dtype=np.int64), np.array(ok, dtype=np.bool_), best)
    return best


def _block_counts(arch: Arch, einsum, keeps: np.ndarray, result: PackedResult, ragged: bool) -> BlockCounts:
    """energy.model.block_counts(action_counts(…)) of a kernel result, from its arrays: per memory
    level the kept tensors' block accesses over the utilized instances as the average instance's,
    as LevelCounts.total and TensorCounts.block_accesses give them (counting/counts.py's helpers),
    so the energy is bit for bit the same: a dense result's blocks are one instance's, whose total
    over n alike instances averages back to them, (b·n)/n = b, as floats; a ragged one's are every
    instance's, b/n, divided here in float64, as Python divides integers where both are exact
    floats (below 2**53 in magnitude; else by the helpers themselves)."""
    blocks, instances, n = result.blocks, result.instances, result.instances.tolist()
    if not ragged:
        per = blocks.astype(np.float64).tolist()
    elif max(-blocks.min(initial=0), blocks.max(initial=0), instances.max(initial=0)) < _EXACT_FLOAT:
        per = (blocks / instances[:, None, None]).tolist()
    else:
        per = [[average_blocks(b, n[i]) for b in level] for i, level in enumerate(blocks.tolist())]
    kept, roles, charged = keeps.tolist(), einsum.roles, result.charged.tolist()
    levels = []
    for i, mem in enumerate(arch.levels):
        if isinstance(mem, Memory):
            level_kept, level_per = kept[i], per[i]
            levels.append((mem.name, n[i], charged[i],
                           {role: tuple(level_per[t]) for t, role in enumerate(roles) if level_kept[t]}))
    return BlockCounts(einsum.macs, tuple(levels))


_EXACT_FLOAT = 2 ** 53  # integers below it are exact float64s


class _Keeps:
    """What action_counts reads of a dense nest: its roles and keeps."""

    def __init__(self, roles, keeps):
        self.roles, self.keeps = roles, keeps


def warm_network_kernels(arch: Arch, options: SimOptions) -> None:
    """Call the whole-network kernels once on `arch` (Numba compiles them, or loads them from its
    cache), each on two layers, so that every typed list of a pack takes an append besides its
    first item (a sweep's workers fork after this: what it leaves out, each of them loads again):
    two small GEMMs, then compile_ahead.odd_dims_workload's GEMM and another of odd dims, on which
    the templates' ragged choice (its kernel) runs, with a candidate set and a Rules each."""
    from ..compile_ahead import odd_dims_workload
    from ..ir.layers import matmul
    from ..ir.workload import Layer
    layers = (Layer("warm", matmul(m=2, n=2, k=2)), Layer("warm2", matmul(m=2, n=2, k=4)))
    network_result(arch, Workload("warm", "", layers), options)
    odd = odd_dims_workload()
    network_result(arch, replace(odd, layers=(*odd.layers, Layer("odd2", matmul(m=89, n=83, k=79)))), options)
