"""The generic templates' rules (mapping/dataflows.py, docs/dataflows.md): the fill that holds one
tensor on chip when that moves the fewest DRAM words, psums kept on chip, window taps kept
together, and buffers that bypass what they do not reuse unless the arch says they keep it."""
import pytest
from conftest import ARCH_DIR

import accelsim
from accelsim.ir.layers import conv2d
from accelsim.mapping.dataflows import map_layer
from accelsim.mapping.lower import lower
from accelsim.model import analytical


def dram_traffic(arch, einsum, mapping):
    counts = analytical.analyze(arch, einsum, lower(arch, einsum, mapping))
    top = counts.levels[0]
    return {r: (c.reads, c.fills, c.updates) for r, c in top.tensors.items()}


@pytest.mark.parametrize("arch_name, dataflow", [("simple_ws", "ws"), ("simple_os", "os")])
def test_a_layer_whose_weights_fit_crosses_dram_once(arch_name, dataflow):
    # 64 × 64 weights fit in the 256 PEs' scratchpads (ws) or the GLB (os): the weights stay on
    # chip while the pixels stream, so every word crosses the DRAM boundary once (the compulsory
    # traffic): no input re-read per filter group, no partial sum written back and read again.
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    e = conv2d(c=64, k=64, h=56, w=56, r=1, s=1)
    assert dram_traffic(arch, e, map_layer(arch, e, dataflow)) == {
        "weights": (64 * 64, 0, 0), "inputs": (64 * 56 * 56, 0, 0), "outputs": (0, 0, 64 * 56 * 56)}


def test_window_taps_stay_in_one_level():
    # a 3 × 3 window split above the buffers re-reads the rows the shifted tiles share
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    mapping = map_layer(arch, conv2d(c=256, k=256, h=16, w=16, r=3, s=3), "ws")
    for tap in ("r", "s"):
        levels = [m.level for m in mapping.levels for l in m.loops if l.dim == tap]
        assert levels == ["pe_spad"], tap


def test_a_buffer_bypasses_what_it_does_not_reuse():
    # simple_ws: the PE scratchpads hold the weights and no GLB loop indexes them, so the GLB
    # does not keep a copy; it keeps the inputs and outputs it serves
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    mapping = map_layer(arch, conv2d(c=64, k=64, h=56, w=56, r=1, s=1), "ws")
    assert mapping.at("GLB").bypass == {"weights"}
    assert not any(m.bypass for m in mapping.levels if m.level != "GLB")


def test_a_buffer_the_arch_says_keeps_a_tensor_keeps_it():
    # tpu_like's constraints: every result lands in the Unified Buffer (ISCA 2017, Sec. 2), though
    # the Accumulators below already hold the outputs; tpu_v1's residency level keeps activations
    for name in ("tpu_like", "tpu_v1"):
        arch = accelsim.load_arch(ARCH_DIR / f"{name}.yaml")
        mapping = map_layer(arch, conv2d(c=64, k=64, h=56, w=56, r=1, s=1), "ws")
        assert "outputs" not in mapping.at("UnifiedBuffer").bypass, name
        assert "inputs" not in mapping.at("UnifiedBuffer").bypass, name
