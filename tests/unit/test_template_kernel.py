"""The jitted template kernel (mapping/template_kernel.py) against its reference, the Python
templates (mapping/dataflows.map_layer): the same Mapping, loop for loop, on the shipped workloads'
layers on the shipped archs that run the generic templates, and on random layers and arch sizes."""
import random
from dataclasses import replace

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

import accelsim
from accelsim.counting.nest_kernel import evaluate_nest
from accelsim.errors import SpecError
from accelsim.ir.arch import with_precision
from accelsim.ir.layers import batched_matmul, conv2d, matmul
from accelsim.mapping.dataflows import SIMPLE_TEMPLATES, map_layer
from accelsim.mapping.lower import lower
from accelsim.mapping.template_pack import (
    map_layer_fast,
    pack_layer,
    packed_arch,
    template_mapping,
    template_nest,
)
from accelsim.model.packed import (
    evaluate_packed,
    nest_record,
    outputs_and_scratch,
    pack_problem,
)
from accelsim.report.serialize import result_dict

DATAFLOWS = ("ws", "os", "is")
# The shipped archs whose own dataflow is a generic template (rs: Eyeriss, not this kernel's).
TEMPLATE_ARCHS = ("simba_like", "tpu_like", "simple_ws", "simple_os", "a30_like", "h100_like",
                  "sparse_tc_like", "tpu_v1", "vsquant_5nm")


def distinct_layers(workload):
    seen = {}
    for layer in workload.layers:
        seen.setdefault((layer.run_einsum, layer.precision), layer)
    return list(seen.values())


def assert_same(arch, einsum, dataflow):
    expected = map_layer(arch, einsum, dataflow)
    got = template_mapping(arch, einsum, dataflow)
    assert got is not None, f"the kernel declined {einsum.render()} {einsum.bound}"
    assert got == expected, (arch.name, einsum.render(), dataflow)


@pytest.mark.parametrize("arch_name", ["simba_like", "tpu_like", "simple_os"])
def test_the_kernel_maps_resnet_and_bert_layers_as_the_templates_do(arch_name):
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    resnet = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "resnet50.yaml"))
    bert = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "bert_base.yaml"))
    # the stem (7×7 stride 2), a 1×1, the classifier; two of BERT's matmuls
    for layer in resnet[:2] + resnet[-1:] + bert[:2]:
        for dataflow in DATAFLOWS:
            assert_same(with_precision(arch, layer.precision), layer.run_einsum, dataflow)


def random_layer(rng):
    kind = rng.choice(["conv", "conv", "matmul", "batched"])
    if kind == "matmul":
        return matmul(m=rng.choice([1, 3, 16, 49, 128]), n=rng.choice([8, 10, 64, 96, 1000]),
                      k=rng.choice([3, 27, 64, 256, 768]))
    if kind == "batched":
        return batched_matmul(b=rng.choice([2, 12]), m=rng.choice([7, 64]), n=rng.choice([16, 64]),
                              k=rng.choice([32, 64]))
    r = rng.choice([1, 3, 5, 7])
    groups = rng.choice([1, 1, 1, 2])
    return conv2d(c=groups * rng.choice([3, 8, 16, 24]), k=groups * rng.choice([8, 16, 32, 64]),
                  h=rng.choice([13, 14, 28, 31]), w=rng.choice([13, 14, 28]), r=r, s=rng.choice([1, r]),
                  n=rng.choice([1, 2]), stride=rng.choice([1, 2]), padding=rng.choice([0, r // 2]),
                  dilation=rng.choice([1, 1, 2]), groups=groups)


def random_arch(rng):
    name = rng.choice(["simba_like", "simple_ws", "simple_os"])
    buffer = {"simba_like": "GlobalBuffer", "simple_ws": "GLB", "simple_os": "GLB"}[name]
    return accelsim.load_arch(ARCH_DIR / f"{name}.yaml", [
        f"levels.PE_array.x={rng.choice([1, 2, 3, 4, 8, 16])}", f"levels.PE_array.y={rng.choice([1, 2, 4, 6, 16])}",
        f"levels.{buffer}.size={rng.choice(['2KiB', '16KiB', '64KiB', '512KiB'])}"])


def test_the_kernel_maps_random_layers_on_random_array_and_buffer_sizes_as_the_templates_do():
    rng = random.Random(15)
    for _ in range(24):
        arch, einsum = random_arch(rng), random_layer(rng)
        assert_same(arch, einsum, rng.choice(sorted(SIMPLE_TEMPLATES)))


def test_the_kernel_writes_the_lowered_nest_that_lower_makes_of_the_templates_mapping():
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml", ["levels.GlobalBuffer.size=32KiB"])
    layers = distinct_layers(accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml"))
    for einsum in [l.run_einsum for l in layers] + [matmul(m=49, n=1000, k=2048)]:
        expected = nest_record(lower(arch, einsum, map_layer(arch, einsum, "ws")))
        got = template_nest(arch, einsum, "ws")
        assert got.n == expected.n
        for name in got._fields:
            a, b = getattr(got, name), getattr(expected, name)
            assert a == b if name == "n" else (a.dtype == b.dtype and (a == b).all()), name
        # and the counting kernel counts it as the lowered mapping
        problem = pack_problem(arch, einsum)
        out, scratch = outputs_and_scratch(problem, max(1, got.n))
        status, energy, cycles = evaluate_nest(got, problem.record(), out, scratch)  # energy: 0, none packed
        reference = evaluate_packed(problem, lower(arch, einsum, map_layer(arch, einsum, "ws")))
        assert (status, energy, cycles) == (reference.status, reference.energy_pj, reference.cycles)
        assert (out.counts == reference.counts).all()


def test_the_kernel_leaves_what_it_does_not_cover_to_the_python_template():
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    einsum = conv2d(c=8, k=16, h=10, w=10, r=3, s=3)
    assert pack_layer(einsum, "rs") is None and template_mapping(arch, einsum, "rs") is None
    assert map_layer_fast(arch, einsum, "rs") == map_layer(arch, einsum, "rs")
    twice = replace(einsum, tensors=einsum.tensors[:1] + einsum.tensors)  # two tensors of one role
    assert pack_layer(twice, "ws") is None


def test_a_repeated_layer_shape_is_copied_under_hardware_constraints_too():
    # Simba's arch constraints are per level (no per-layer entries), so simulate() copies a layer
    # shape it ran before: each copy equals the layer run alone.
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml")
    assert arch.constraints
    workload = accelsim.load_workload(WORKLOAD_DIR / "bert_base.yaml")
    options = accelsim.SimOptions(dataflow="ws")
    together = accelsim.simulate(arch, workload, options)
    alone = [accelsim.simulate(arch, replace(workload, layers=(layer,)), options) for layer in workload.layers]
    assert result_dict(together)["layers"] == [result_dict(r)["layers"][0] for r in alone]


@pytest.mark.slow
@pytest.mark.parametrize("arch_name", TEMPLATE_ARCHS)
def test_the_kernel_maps_every_shipped_layer_as_the_templates_do(arch_name):
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    checked = 0
    for path in sorted(WORKLOAD_DIR.glob("*.yaml")):
        workload = accelsim.load_workload(path)
        for layer in distinct_layers(workload):
            try:
                variant = with_precision(arch, layer.precision)
            except SpecError:
                continue  # the arch does not run the layer's number format
            for dataflow in DATAFLOWS + ((arch.dataflow,) if arch.dataflow not in DATAFLOWS else ()):
                assert_same(variant, layer.run_einsum, dataflow)
                checked += 1
    assert checked > 0


def test_fanout_reach_bounds_the_templates_fanouts():
    """template_kernel.fanout_reach (the ragged choice's floor before mapping): for some x option,
    every dim's reach is at least what the template's mapping spans on it, and equal to it unless
    the template narrowed a fan-out (rare: most cases must match exactly)."""
    import numpy as np
    from numba import njit

    from accelsim.mapping.template_kernel import fanout_reach, n_options
    from accelsim.mapping.template_pack import _packed_layer

    @njit
    def reach_of(layer, arc, sc):
        reach = np.zeros((n_options(arc), layer.bound.shape[0]), dtype=np.int64)
        fanout_reach(layer, arc, sc, reach)
        return reach

    rng = random.Random(16)
    exact = cases = 0
    while cases < 40:
        arch, einsum, dataflow = random_arch(rng), random_layer(rng), rng.choice(sorted(SIMPLE_TEMPLATES))
        layer, sc = _packed_layer(einsum, dataflow, len(arch.levels))
        if layer is None:
            continue
        spans = [1] * len(einsum.dims)
        for level in map_layer(arch, einsum, dataflow).levels:
            for loop in level.loops:
                if loop.axis is not None:
                    spans[einsum.dims.index(loop.dim)] *= loop.bound
        reach = reach_of(layer, packed_arch(arch), sc).tolist()
        assert any(all(r >= s for r, s in zip(option, spans)) for option in reach), (einsum.render(), dataflow)
        exact += spans in reach
        cases += 1
    assert exact >= 0.8 * cases
