"""The template kernel's memo (mapping/template_kernel.TemplateMemo): a layer mapped again on an
arch that differs only in its buffers' sizes takes a remembered mapping when every capacity lies in
the range that gave it. The mappings must stay the Python templates' (dataflows.map_layer) through
a sweep's worth of sizes, visited out of order and again."""
import random

import numpy as np
from conftest import ARCH_DIR, WORKLOAD_DIR

import accelsim
from accelsim.mapping.dataflows import map_layer
from accelsim.mapping.template_kernel import BEST, map_layer_kernel
from accelsim.mapping.template_pack import _packed_layer, packed_arch, template_mapping
from test_template_kernel import distinct_layers

SIZES = ["8KiB", "16KiB", "20000B", "24KiB", "32KiB", "48KiB", "64KiB", "100000B", "128KiB", "256KiB", "768KiB"]


def _variants(seed: int):
    """simba_like with every GlobalBuffer size and two array shapes, shuffled, each twice."""
    archs = [accelsim.load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.GlobalBuffer.size={size}",
                                                               f"levels.PE_array.x={x}", f"levels.PE_array.y={y}"])
             for size in SIZES for x, y in ((4, 4), (7, 5))]
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
                assert template_mapping(arch, einsum, dataflow) == want, ([getattr(level, "size_bits", None) for level in arch.levels], einsum.bound)


def test_the_memo_answers_a_repeated_arch():
    """A remembered entry is what a repeat gets: one altered in place comes back altered."""
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml")
    einsum = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))[1].run_einsum
    layer, sc = _packed_layer(einsum, "ws", len(arch.levels))
    map_layer_kernel(layer, packed_arch(arch), sc)
    memo = sc.memo
    entry = int(np.argmax(memo.used[:-1, 0]))  # the entry just remembered
    memo.slot[entry, 1] += 1000  # its bounds
    map_layer_kernel(layer, packed_arch(arch), sc)
    assert (sc.s_bound[BEST] == memo.slot[entry, 1]).all()
    memo.used[:] = 0  # emptied: the kernel maps afresh
    map_layer_kernel(layer, packed_arch(arch), sc)
    assert template_mapping(arch, einsum, "ws") == map_layer(arch, einsum, "ws")
