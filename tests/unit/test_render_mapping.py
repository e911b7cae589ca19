"""render_mapping's ragged note reads each loop's own stride, even where a mapping holds one Loop
object at two levels (template_pack._loop and ragged.unpad share equal, frozen Loops)."""
from pathlib import Path

from accelsim.ir.layers import matmul
from accelsim.load import load_arch
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping, render_mapping

ARCH = Path(__file__).resolve().parents[2] / "arch" / "simple_ws.yaml"


def _mapping(outer: Loop, inner: Loop) -> Mapping:
    return Mapping((LevelMapping("DRAM", (outer,)), LevelMapping("GLB", (inner,)),
                    LevelMapping("PE_array"), LevelMapping("pe_spad")))


def test_shared_loop_object_renders_as_distinct_equal_loops():
    arch, einsum = load_arch(ARCH), matmul(m=3, n=1, k=1)  # m: 2 × 2 covers 4 > 3, ragged at DRAM only
    loop = Loop("m", 2)
    shared = render_mapping(arch, _mapping(loop, loop), einsum)
    assert shared == render_mapping(arch, _mapping(Loop("m", 2), Loop("m", 2)), einsum)
    notes = [line for line in shared.splitlines() if "last covers" in line]
    assert len(notes) == 1 and "the last covers 1 of 2" in notes[0]  # the outer loop's, stride 2
