"""The rs template's PE-set rule (mapping/dataflows.py: rs_plan) on hand cases: fold, strip-mine,
replicate, pad, and the generic rule for layers without a sliding window."""
from math import prod

import pytest

from accelsim.ir.layers import conv2d, depthwise_conv2d, matmul
from accelsim.ir.workload import pad_einsum
from accelsim.mapping.dataflows import rs_plan


def shape(plan):
    return {(l.dim, l.axis): l.bound for l in plan.loops}


def test_a_set_that_fits_is_replicated_with_filters_first():
    plan = rs_plan(conv2d(c=8, k=6, h=10, w=10, r=3, s=3), x=14, y=12)  # E = 8: 3 × 8, room for 4 rows
    assert shape(plan) == {("r", "y"): 3, ("p", "x"): 8, ("k", "y"): 3}
    assert plan.padding == {}


def test_channels_replicate_when_filters_run_out():
    plan = rs_plan(conv2d(c=8, k=2, h=10, w=10, r=3, s=3), x=14, y=12)
    assert shape(plan) == {("r", "y"): 3, ("p", "x"): 8, ("k", "y"): 2, ("c", "y"): 2}


def test_fold_pads_the_last_segment():
    e = conv2d(c=4, k=4, h=27, w=27, r=5, s=5, padding=2)  # E = 27 on 14 columns, 5 × 2 rows fit
    plan = rs_plan(e, x=14, y=12)
    assert shape(plan) == {("r", "y"): 5, ("p", "y"): 2, ("p", "x"): 14}
    assert plan.padding == {"p": 28}
    again = rs_plan(pad_einsum(e, plan.padding), x=14, y=12)  # the padded layer maps the same way
    assert again.loops == plan.loops and again.padding == {}


def test_strip_mining_takes_the_narrowest_strip_with_the_most_pes():
    plan = rs_plan(conv2d(c=3, k=96, h=227, w=227, r=11, s=11, stride=4), x=14, y=12)
    assert shape(plan) == {("r", "y"): 11, ("p", "x"): 7, ("k", "x"): 2}
    assert plan.padding == {"p": 7}


def test_depthwise_and_1x1_and_tall_filters():
    dw = rs_plan(depthwise_conv2d(c=32, h=16, w=16, r=3, s=3, padding=1), x=14, y=12)
    assert shape(dw)[("r", "y")] == 3 and prod(l.bound for l in dw.loops) <= 14 * 12
    one = rs_plan(conv2d(c=64, k=64, h=7, w=7, r=1, s=1), x=14, y=12)
    assert shape(one)[("p", "x")] == 7 and prod(l.bound for l in one.loops) <= 14 * 12
    tall = rs_plan(conv2d(c=1, k=1, h=30, w=30, r=15, s=3), x=14, y=12)  # 15 rows: 5 on the array
    assert shape(tall)[("r", "y")] == 5


def test_no_window_no_plan():
    assert rs_plan(matmul(m=64, n=64, k=64), x=14, y=12) is None


@pytest.mark.parametrize("x, y", [(14, 12), (8, 8), (16, 4), (3, 5)])
def test_plans_fit_the_array(x, y):
    for e in (conv2d(c=3, k=96, h=227, w=227, r=11, s=11, stride=4),
              conv2d(c=96, k=256, h=27, w=27, r=5, s=5, padding=2, groups=2),
              conv2d(c=256, k=384, h=13, w=13, r=3, s=3, padding=1)):
        plan = rs_plan(e, x=x, y=y)
        for axis, size in (("x", x), ("y", y)):
            assert prod(l.bound for l in plan.loops if l.axis == axis) <= size


def test_active_pes_count_a_padded_dim_at_its_real_extent(tmp_path):
    """CONV2-like: 5 × 27 folded onto 10 × 14 configures 140 PEs; 135 do real work (JSSC 2017)."""
    import accelsim
    from accelsim.mapping.dataflows import map_layer
    from accelsim.mapping.occupancy import active_pes
    from conftest import ARCH_DIR

    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_v1.yaml")
    real = conv2d(c=48, k=128, h=27, w=27, r=5, s=5, padding=2)
    padded = pad_einsum(real, {"p": 28})
    mapping = map_layer(arch, padded, "rs")
    assert active_pes(arch, mapping, padded) == 140
    assert active_pes(arch, mapping, real) == 135


def test_a_saved_padded_mapping_reloads_to_the_same_result(tmp_path):
    # AlexNet conv1's 55 output rows run as strips of 7 (padded to 56): the saved mapping's factors
    # cover 56 rows, and reloading it runs the same padded layer (a 55-row mapping would be an error).
    import accelsim
    from accelsim.load import load_mapping_file
    from accelsim.mapping.mapping_file import save_mapping_file
    from conftest import ARCH_DIR

    (tmp_path / "conv1.yaml").write_text("name: conv1only\nlayers:\n  - name: conv1\n"
                                         "    conv2d: {n: 1, k: 96, c: 3, h: 227, w: 227, r: 11, s: 11, stride: 4}\n")
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_v1.yaml")
    workload = accelsim.load_workload(tmp_path / "conv1.yaml")
    first = accelsim.simulate(arch, workload)
    assert first.layers[0].mapping.factor("p") == 56
    save_mapping_file(tmp_path / "m.yaml", {l.name: l.mapping for l in first.layers})
    again = accelsim.simulate(arch, workload, mappings=load_mapping_file(tmp_path / "m.yaml", arch, workload))
    assert (again.cycles, again.energy_pj, again.macs) == (first.cycles, first.energy_pj, first.macs)
