"""template_kernel.best_passes_checks (the whole-network kernel's check of a template's mapping, which
spares a sweep simulate's check_mapping where it passes) against check_mapping itself, on the
Mapping template_pack.scratch_mapping builds of the same BEST slot: the templates' own mappings of
ResNet-50's and BERT-Base's layers on shipped archs at odd array sides (all passing), and random
BEST slots (loops on any dim, level and axis, bounds that may not cover a dim or start past it,
fan-outs wider than their sides, bypass masks anywhere), about half of which fail."""
import numpy as np
import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR
from numba import njit

from accelsim.errors import MappingError
from accelsim.load import load_arch, load_workload
from accelsim.mapping.mapping import check_mapping
from accelsim.mapping.template_kernel import BEST, M_BEST, best_passes_checks, map_layer_kernel, template_scratch
from accelsim.mapping.template_pack import pack_arch, pack_layer, scratch_mapping

_passes = njit(lambda lay, arc, sc: best_passes_checks(lay, arc, sc))


def _check_mapping_passes(arch, einsum, mapping) -> bool:
    try:
        check_mapping(arch, einsum, mapping)
    except MappingError:
        return False
    return True


def _cases(arch_name, overrides, workload, dataflow):
    arch = load_arch(ARCH_DIR / f"{arch_name}.yaml", overrides)
    arc = pack_arch(arch)
    for layer in load_workload(WORKLOAD_DIR / f"{workload}.yaml").layers[:40]:
        einsum = layer.run_einsum
        lay = pack_layer(einsum, dataflow)
        if lay is not None:
            yield arch, arc, einsum, lay, template_scratch(lay, len(arch.levels))


@pytest.mark.parametrize("arch_name, overrides, workload, dataflow", [
    ("simba_like", ["levels.PE_array.x=5", "levels.PE_array.y=3"], "resnet50", "ws"),
    ("simba_like", ["levels.PE_array.x=7", "levels.GlobalBuffer.size=16KiB"], "bert_base", "os"),
    ("simple_ws", [], "resnet50", "ws"),
    ("tpu_like", [], "bert_base", "ws"),
])
def test_the_kernels_check_equals_check_mapping_on_template_mappings(arch_name, overrides, workload, dataflow):
    for arch, arc, einsum, lay, sc in _cases(arch_name, overrides, workload, dataflow):
        map_layer_kernel(lay, arc, sc)
        mapping = scratch_mapping(arch, einsum, dataflow, sc)
        assert _passes(lay, arc, sc) == _check_mapping_passes(arch, einsum, mapping)


@pytest.mark.parametrize("arch_name, workload", [("simba_like", "resnet50"), ("simple_ws", "bert_base")])
def test_the_kernels_check_equals_check_mapping_on_random_slots(arch_name, workload):
    rng = np.random.default_rng(7)
    verdicts = []
    for arch, arc, einsum, lay, sc in _cases(arch_name, ["levels.PE_array.x=5", "levels.PE_array.y=3"]
                                              if arch_name == "simba_like" else [], workload, "ws"):
        n_levels, n_dims, max_loops = len(arch.levels) - 1, len(einsum.dims), sc.s_dim.shape[2]
        for _ in range(30):
            map_layer_kernel(lay, arc, sc)  # a real mapping, then changed at random (or not)
            for _ in range(rng.integers(0, 3)):
                i, q = rng.integers(0, n_levels), rng.integers(0, max_loops)
                what = rng.integers(0, 5)
                if what == 0 and sc.s_n[BEST, i] < max_loops:  # a loop more
                    q = sc.s_n[BEST, i]
                    sc.s_n[BEST, i] += 1
                    sc.s_dim[BEST, i, q], sc.s_bound[BEST, i, q] = rng.integers(0, n_dims), rng.integers(1, 9)
                    sc.s_axis[BEST, i, q] = rng.integers(-1, 2)
                elif what == 1 and q < sc.s_n[BEST, i]:  # another bound
                    sc.s_bound[BEST, i, q] = max(1, sc.s_bound[BEST, i, q] + rng.integers(-2, 3))
                elif what == 2 and q < sc.s_n[BEST, i]:  # another axis
                    sc.s_axis[BEST, i, q] = rng.integers(-1, 2)
                elif what == 3:  # a bypass flipped
                    r = rng.integers(0, 3)
                    sc.mask[M_BEST, i, r] = not sc.mask[M_BEST, i, r]
                elif sc.s_n[BEST, i] > 0:  # a loop fewer
                    sc.s_n[BEST, i] -= 1
            mapping = scratch_mapping(arch, einsum, "ws", sc)
            verdict = _check_mapping_passes(arch, einsum, mapping)
            assert _passes(lay, arc, sc) == verdict
            verdicts.append(verdict)
    assert 0.2 < np.mean(verdicts) < 0.9  # both outcomes, often
