"""The SCALE-Sim-compatible systolic kernel (accelsim/model/scalesim/) against the slow
per-address reference (naive_systolic.py): hand cases and hypothesis shapes, CALC and USER."""
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from accelsim.errors import SpecError
from accelsim.model.scalesim import (SystolicConfig, SystolicLayer, fold_geometry,
                                     simulate_systolic)
from naive_systolic import naive_systolic

INT_FIELDS = ("total_cycles", "stall_cycles", "total_cycles_incl_prefetch",
              "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes",
              "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes",
              "ifmap_dram_start", "ifmap_dram_stop", "filter_dram_start", "filter_dram_stop",
              "ofmap_dram_start", "ofmap_dram_stop", "ifmap_sram_start", "ifmap_sram_stop",
              "filter_sram_start", "filter_sram_stop", "ofmap_sram_start", "ofmap_sram_stop")
FLOAT_FIELDS = ("overall_util_pct", "mapping_efficiency_pct", "compute_util_pct",
                "avg_ifmap_sram_bw", "avg_filter_sram_bw", "avg_ofmap_sram_bw",
                "avg_ifmap_dram_bw", "avg_filter_dram_bw", "avg_ofmap_dram_bw")


def run_both(layer, rows, cols, df, isz, fsz, osz, mode="CALC", bw=10):
    cfg = SystolicConfig(rows, cols, df, isz, fsz, osz, bandwidth_mode=mode, bandwidth=bw)
    got = simulate_systolic(layer, cfg).as_dict()
    want = naive_systolic(layer.H, layer.W, layer.R, layer.S, layer.C, layer.F, layer.stride,
                          rows, cols, df, isz, fsz, osz, mode, bw)
    return got, want


def assert_same(got, want):
    for k in ("M", "N", "K") + INT_FIELDS:
        assert got[k] == want[k], (k, got[k], want[k])
    for k in FLOAT_FIELDS:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k


HAND = [
    # layer, array, SRAM words (ifmap, filter, ofmap)
    (SystolicLayer(6, 6, 3, 3, 2, 5, 1), (4, 4), (164, 164, 32)),          # no epoch shift
    (SystolicLayer(9, 9, 3, 3, 2, 6, 2), (4, 3), (100, 100, 8)),         # shifts, drains
    (SystolicLayer(8, 8, 1, 1, 4, 9, 2), (3, 5), (300, 200, 16)),        # overhanging windows
    (SystolicLayer.from_gemm(13, 7, 11), (4, 4), (120, 110, 6)),
    (SystolicLayer.from_gemm(5, 3, 2), (8, 8), (1000, 1000, 1000)),      # tiny layer, big array
    (SystolicLayer.from_gemm(9, 10, 7), (1, 1), (150, 150, 4)),          # 1×1 array
]


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("mode,bw", [("CALC", 10), ("USER", 3)])
@pytest.mark.parametrize("case", range(len(HAND)))
def test_hand_cases(case, mode, bw, df):
    layer, (r, c), (i, f, o) = HAND[case]
    assert_same(*run_both(layer, r, c, df, i, f, o, mode, bw))


@st.composite
def shapes(draw):
    if draw(st.booleans()):
        layer = SystolicLayer.from_gemm(draw(st.integers(1, 14)), draw(st.integers(1, 10)),
                                        draw(st.integers(1, 12)))
    else:
        H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        layer = SystolicLayer(H, W, draw(st.integers(1, H)), draw(st.integers(1, W)),
                              draw(st.integers(1, 3)), draw(st.integers(1, 6)),
                              draw(st.integers(1, 3)))
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    mode = draw(st.sampled_from(["CALC", "USER"]))
    lo = 100 if mode == "CALC" else 2
    sizes = [draw(st.integers(lo, 400)) for _ in range(2)] + [draw(st.integers(2, 400))]
    return layer, rows, cols, draw(st.sampled_from(["os", "ws", "is"])), sizes, mode, \
        draw(st.integers(1, 6))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes())
def test_kernel_matches_reference(params):
    layer, rows, cols, df, (i, f, o), mode, bw = params
    g = fold_geometry(df, rows, cols, *layer.gemm_view())
    assume(g["folds"] * g["cycles_per_fold"] > 1)      # SCALE-Sim divides by zero otherwise
    assert_same(*run_both(layer, rows, cols, df, i, f, o, mode, bw))


@pytest.mark.parametrize("df,layer,isz", [
    ("os", SystolicLayer(10, 10, 3, 3, 4, 24, 1), 300),
    ("ws", SystolicLayer(6, 6, 3, 3, 2, 12, 1), 100),
    ("is", SystolicLayer(10, 10, 3, 3, 4, 24, 1), 300),
    # a pass over the ifmap that reads each word once and outlasts the window (1x1 windows):
    # the later passes in closed form at once, the last window shift in the middle of a pass
    ("os", SystolicLayer.from_gemm(20, 12, 15), 100),
    ("ws", SystolicLayer.from_gemm(20, 12, 15), 100),
    ("os", SystolicLayer(8, 8, 1, 1, 4, 9, 2), 100),
    ("ws", SystolicLayer(9, 9, 1, 1, 6, 7, 1), 130)])
def test_large_layer_repetition_shortcut(df, layer, isz):
    """Many folds with operands bigger than the 50-set window: the kernel skips repeated
    ifmap passes once the window state repeats (os, ws), or after the first when a pass reads
    each word once and is longer than the window, and counts filter passes in closed form
    (all); the reference walks every address."""
    assert_same(*run_both(layer, 4, 2, df, isz, 250, 40))


def test_closed_forms():
    layer = SystolicLayer.from_gemm(100, 20, 70)
    for df, (Sr, Sc, T) in {"os": (100, 20, 70), "ws": (70, 20, 100), "is": (70, 100, 20)}.items():
        g = fold_geometry(df, 8, 8, 100, 20, 70)
        F = math.ceil(Sr / 8) * math.ceil(Sc / 8)
        cpf = T + 14 if df == "os" else T + 22
        assert (g["folds"], g["cycles_per_fold"]) == (F, cpf)
        res = simulate_systolic(layer, SystolicConfig(8, 8, df, 65536, 65536, 32768))
        assert res.stall_cycles == 0
        assert res.total_cycles == F * cpf - 1
        assert res.mapping_efficiency_pct == pytest.approx(100 * Sr * Sc / (F * 64))
        assert 0 < res.overall_util_pct <= 100


def test_compat_off_drops_quirks():
    layer = SystolicLayer(8, 8, 1, 1, 32, 64, 2)          # E = 5 with SCALE-Sim, 4 without
    cfg = SystolicConfig(8, 8, "os", 65536, 65536, 32768)
    on = simulate_systolic(layer, cfg)
    off = simulate_systolic(layer, cfg, scalesim_compat=False)
    assert on.M == 25 and off.M == 16
    F = math.ceil(16 / 8) * math.ceil(64 / 8)
    assert off.total_cycles == F * off.cycles_per_fold
    assert off.ofmap_sram_writes == 16 * 64
    assert on.ofmap_sram_writes == 25 * 64 + on.folds * 16


def test_bad_inputs_raise_spec_error():
    with pytest.raises(SpecError) as err:
        simulate_systolic(SystolicLayer.from_gemm(4, 4, 4),
                          SystolicConfig(0, 4, "xs", 10, 10, 1, bandwidth_mode="FOO"))
    text = str(err.value)
    for word in ("dataflow", "bandwidth_mode", "rows", "ofmap_sram_words"):
        assert word in text
