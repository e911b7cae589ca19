"""The template kernel's memo (mapping/template_kernel.TemplateMemo): a layer mapped again on an
arch that differs only in its buffers' sizes takes a remembered mapping when every capacity lies in
the range that gave it. The mappings must stay the Python templates' (dataflows.map_layer) through
a sweep's worth of sizes, visited out of order and again."""
import random

import numpy as np
from conftest import ARCH_DIR, WORKLOAD_DIR

import accelsim
from accelsim.mapping.dataflows import map_layer
from accelsim.mapping.template_kernel import BEST, map_layer_kernel, template_scratch
from accelsim.mapping.template_pack import pack_layer, packed_arch, template_mapping
from test_template_kernel import distinct_layers

SIZES = ["8KiB", "16KiB", "20000B", "24KiB", "32KiB", "48KiB", "64KiB", "100000B", "128KiB", "256KiB", "768KiB"]
# what besides the sizes the memo's key holds (template_kernel._arc_field): the fan-outs' sides (and
# with them an x option), a memory's keeps, a constraint's keep (a forced keep), an unbounded memory
FIELDS = ([], ["levels.PE_array.x=1"], ["levels.PE_array.y=1"], ["levels.GlobalBuffer.keeps=[weights, inputs, outputs]"],
          ["constraints.InputBuffer.keep=[]"], ["levels.GlobalBuffer.size=unlimited"])


def _variants(seed: int):
    """simba_like with every GlobalBuffer size on two array shapes, and three sizes with each other
    field the memo's key holds changed, shuffled, each twice."""
    archs = [accelsim.load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.GlobalBuffer.size={size}",
                                                               f"levels.PE_array.x={x}", f"levels.PE_array.y={y}"])
             for size in SIZES for x, y in ((4, 4), (7, 5))]
    archs += [accelsim.load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.GlobalBuffer.size={size}", *fields])
              for size in SIZES[1::5] for fields in FIELDS[1:]]
    archs *= 2
    random.Random(seed).shuffle(archs)
    return archs


def test_remembered_mappings_are_the_templates_over_a_sweep_of_sizes():
    resnet = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))
    bert = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "bert_base.yaml"))
    layers = [layer.run_einsum for layer in resnet[:2] + resnet[10:11] + resnet[-1:] + bert[:1]]
    for dataflow in ("ws", "os"):
        for arch in _variants(seed=len(dataflow)):
            for einsum in layers:
                try:
                    want = map_layer(arch, einsum, dataflow)
                except accelsim.errors.MappingError:
                    continue
                assert template_mapping(arch, einsum, dataflow) == want, (
                    [getattr(level, "size_bits", None) for level in arch.levels], einsum.bound)


def test_the_memo_answers_a_repeated_arch():
    """A remembered entry is what a repeat gets: one altered in place comes back altered (on a
    scratch of the test's own, not template_pack's)."""
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml")
    einsum = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))[1].run_einsum
    layer = pack_layer(einsum, "ws")
    sc = template_scratch(layer, len(arch.levels))
    map_layer_kernel(layer, packed_arch(arch), sc)
    memo = sc.memo
    entry = int(np.argmax(memo.used[:-1, 0]))  # the entry just remembered
    fresh = _loops(sc)
    memo.slot[entry, 1] += 1000  # its bounds
    map_layer_kernel(layer, packed_arch(arch), sc)
    assert (sc.s_bound[BEST] == memo.slot[entry, 1]).all()
    memo.used[:] = 0  # emptied: the kernel maps afresh
    map_layer_kernel(layer, packed_arch(arch), sc)
    assert _loops(sc) == fresh


def _loops(sc):
    """The BEST slot's loops per level: (dim, bound, axis) each."""
    return [[(int(sc.s_dim[BEST, i, q]), int(sc.s_bound[BEST, i, q]), int(sc.s_axis[BEST, i, q]))
             for q in range(sc.s_n[BEST, i])] for i in range(sc.s_n.shape[1])]


def test_a_capacity_at_a_range_edge():
    """Per memory, a capacity of the range's lower end (the most words that fitted) takes the entry,
    one of its upper end (the fewest words that did not fit: now they do) maps afresh, as a scratch
    without a memo does."""
    from accelsim.mapping.template_kernel import HI, LO
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=7", "levels.PE_array.y=5"])
    arc = packed_arch(arch)
    edges = 0
    for layer_ in distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))[:8]:
        layer = pack_layer(layer_.run_einsum, "ws")
        sc = template_scratch(layer, len(arch.levels))
        map_layer_kernel(layer, arc, sc)
        entry = int(np.argmax(sc.memo.used[:-1, 0]))
        first, key = _loops(sc), sc.memo.key[entry].copy()
        for i in np.flatnonzero(arc.cap >= 0):
            for edge, hit in ((key[i, LO], True), (key[i, HI], False)):
                if edge >= np.iinfo(np.int64).max or edge == 0:
                    continue
                other = arc._replace(cap=arc.cap.copy())
                other.cap[i] = edge
                alone = template_scratch(layer, len(arch.levels))
                map_layer_kernel(layer, other, alone)
                map_layer_kernel(layer, other, sc)
                assert _loops(sc) == _loops(alone), (i, edge)
                if hit:
                    assert _loops(sc) == first
                edges += 1
    assert edges > 10


def test_kept_inner_phases_map_as_afresh_over_random_capacities_of_every_buffer():
    """The first pass's inner phases kept from call to call (template_kernel.fill, _kept_fits): a
    layer's scratch mapped over random capacities of every buffer in turn (a few values each, from
    one word-tile too big to ample, so phases are taken again and not), with its memo emptied before
    each call (the kept phases alone answer) and with it kept (its ranges then hold the taken phases'
    comparisons too), maps as a scratch made afresh for each call."""
    from accelsim.mapping.template_kernel import M_BEST
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=7", "levels.PE_array.y=5"])
    arc = packed_arch(arch)
    bounded = np.flatnonzero(arc.cap >= 0)
    outer = int(arc.memories[1])
    resnet = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))
    bert = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "bert_base.yaml"))
    rng = random.Random(11)
    compared = 0
    for dataflow in ("ws", "os"):
        for layer_ in resnet[::4] + bert[:2]:
            layer = pack_layer(layer_.run_einsum, dataflow)
            if layer is None:
                continue
            for empty_memo in (True, False):
                sc = template_scratch(layer, len(arch.levels))
                for _ in range(16):
                    cap = arc.cap.copy()
                    for i in bounded:
                        scale = (1 / 64, 1 / 4, 1, 1, 4) if i != outer else (1 / 16, 1 / 4, 1 / 2, 1, 2, 4, 8)
                        cap[i] = max(1, int(arc.cap[i] * rng.choice(scale)))
                    other = arc._replace(cap=cap)
                    if empty_memo:
                        sc.memo.used[:] = 0
                    map_layer_kernel(layer, other, sc)
                    alone = template_scratch(layer, len(arch.levels))
                    map_layer_kernel(layer, other, alone)
                    assert _loops(sc) == _loops(alone), (dataflow, layer_.name, cap)
                    assert (sc.mask[M_BEST] == alone.mask[M_BEST]).all()
                    compared += 1
    assert compared > 200


def test_a_kept_inner_phase_is_what_a_call_on_another_outer_buffer_size_takes():
    """A kept phase altered in place comes back altered in a call that misses the memo on a
    GlobalBuffer of another size (on a scratch of the test's own), and not once it is dropped."""
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=7", "levels.PE_array.y=5"])
    arc = packed_arch(arch)
    layer = pack_layer(distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))[1].run_einsum, "ws")
    sc = template_scratch(layer, len(arch.levels))
    map_layer_kernel(layer, arc, sc)
    assert (sc.k_state[:, :, 0] == 1).any()
    inner = [int(i) for i in arc.memories[2:]]
    fresh = [_loops(sc)[i] for i in inner]
    sc.k_loops[:, :, 1] += 1000  # every kept phase's bounds
    bigger = arc._replace(cap=arc.cap.copy())
    bigger.cap[arc.memories[1]] += 1  # one more word: inside every kept phase's range
    sc.memo.used[:] = 0
    map_layer_kernel(layer, bigger, sc)
    assert any(bound >= 1000 for i in inner for _, bound, _ in _loops(sc)[i])
    sc.k_state[:] = 0  # dropped: the kernel fills afresh
    sc.memo.used[:] = 0
    map_layer_kernel(layer, bigger, sc)
    assert [_loops(sc)[i] for i in inner] == fresh


def test_a_remembered_mapping_that_took_a_kept_phase_holds_that_phases_ranges():
    """A call that misses the memo on a GlobalBuffer grown just past its entry's range takes its
    kept inner phases; the entry it leaves must still say which inner capacities give it: each
    inner buffer shrunk or grown then maps as a scratch made afresh (an entry without the taken
    phases' comparisons would answer them all)."""
    from accelsim.mapping.template_kernel import HI
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=7", "levels.PE_array.y=5"])
    arc = packed_arch(arch)
    outer = int(arc.memories[1])
    compared = 0
    for dataflow in ("ws", "os"):
        for layer_ in distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))[::3]:
            layer = pack_layer(layer_.run_einsum, dataflow)
            if layer is None:
                continue
            sc = template_scratch(layer, len(arch.levels))
            map_layer_kernel(layer, arc, sc)
            grown_to = sc.memo.key[int(np.argmax(sc.memo.used[:-1, 0])), outer, HI]
            if grown_to >= np.iinfo(np.int64).max:
                continue
            grown = arc._replace(cap=arc.cap.copy())
            grown.cap[outer] = grown_to
            map_layer_kernel(layer, grown, sc)
            for i in arc.memories[2:]:
                for scale in (1 / 64, 1 / 8, 4):
                    other = grown._replace(cap=grown.cap.copy())
                    other.cap[i] = max(1, int(grown.cap[i] * scale))
                    alone = template_scratch(layer, len(arch.levels))
                    map_layer_kernel(layer, other, alone)
                    map_layer_kernel(layer, other, sc)
                    assert _loops(sc) == _loops(alone), (dataflow, layer_.name, int(i), scale)
                    compared += 1
    assert compared > 50
