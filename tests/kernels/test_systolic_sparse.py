"""The SCALE-Sim emulator's sparse paths (layer-wise N:M: condensed reduction; row-wise N:M:
the row-wise fold reads and prefetch streams in geometry.py / prefetch.py) against the slow
per-address reference (naive_systolic.py with `sparse`), which builds SCALE-Sim's condensed
operand and demand matrices literally.  Shapes are chosen so windows overhang, patterns do not
divide K, the CALC window rolls over and USER buffers refill."""
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from naive_systolic import naive_systolic
from test_systolic import FLOAT_FIELDS, INT_FIELDS, shapes

from accelsim.model.scalesim import SystolicConfig, SystolicLayer, fold_geometry, simulate_systolic

SPARSE_FIELDS = ("original_filter_storage", "new_filter_storage", "filter_metadata_storage",
                 "avg_filter_metadata_sram_bw")
LAYERWISE = [
    # layer (weight_nm), array, SRAM words (ifmap, filter, ofmap)
    (SystolicLayer(9, 9, 3, 3, 2, 6, 2, weight_nm=(2, 4)), (4, 3), (100, 100, 8)),   # K = 18
    (SystolicLayer(8, 8, 1, 1, 7, 9, 1, weight_nm=(3, 4)), (3, 5), (300, 200, 16)),  # last block short
    (SystolicLayer.from_gemm(13, 7, 11, weight_nm=(1, 8)), (4, 4), (120, 110, 6)),
]
ROWWISE = [
    (SystolicLayer(9, 9, 3, 3, 2, 6, 2, weight_nm=(2, 4)), (4, 3), (100, 100, 8), 4, 40),
    (SystolicLayer.from_gemm(13, 7, 21), (4, 4), (120, 110, 6), 2, 7),
    (SystolicLayer.from_gemm(6, 9, 30, weight_nm=(1, 8)), (8, 2), (200, 150, 10), 8, 123),
]


def check(layer, rows, cols, df, words, mode, bw, rep, block=0, seed=40):
    cfg = SystolicConfig(rows, cols, df, *words, bandwidth_mode=mode, bandwidth=bw, sparse_rep=rep,
                         rowwise_block=block, sparse_seed=seed)
    got = simulate_systolic(layer, cfg).as_dict()
    want = naive_systolic(layer.H, layer.W, layer.R, layer.S, layer.C, layer.F, layer.stride,
                          rows, cols, df, *words, mode, bw,
                          sparse={"rep": rep, "nm": layer.weight_nm, "block": block, "seed": seed})
    for k in ("M", "N", "K") + INT_FIELDS:
        assert got[k] == want[k], (k, got[k], want[k])
    for k in FLOAT_FIELDS + SPARSE_FIELDS:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("mode,bw", [("CALC", 10), ("USER", 3)])
@pytest.mark.parametrize("case", range(len(LAYERWISE)))
def test_layerwise_matches_reference(case, mode, bw, df):
    layer, (r, c), words = LAYERWISE[case]
    check(layer, r, c, df, words, mode, bw, ("ellpack_block", "csr", "csc")[case])


@pytest.mark.parametrize("mode,bw", [("CALC", 10), ("USER", 3)])
@pytest.mark.parametrize("case", range(len(ROWWISE)))
def test_rowwise_matches_reference(case, mode, bw):
    layer, (r, c), words, block, seed = ROWWISE[case]
    check(layer, r, c, "ws", words, mode, bw, ("csr", "csc", "ellpack_block")[case], block, seed)


def test_rowwise_needs_ws_and_a_block_scalesim_can_cut():
    from accelsim.errors import SpecError

    layer = SystolicLayer.from_gemm(8, 8, 8)
    for df, block, message in (("os", 4, "ws dataflow only"), ("ws", 3, "must be even"),
                               ("ws", 8, "at most ArrayHeight")):
        cfg = SystolicConfig(4, 4, df, 1000, 1000, 100, sparse_rep="csr", rowwise_block=block)
        with pytest.raises(SpecError, match=message):
            simulate_systolic(layer, cfg)


@st.composite
def sparse_shapes(draw):
    """A random small layer with a random N:M (layer-wise, any dataflow) or a random row-wise
    block and seed (ws): the same draws as test_systolic's shapes, plus the sparsity."""
    layer, rows, cols, df, sizes, mode, bw = draw(shapes())
    m = draw(st.integers(1, 8))
    layer = replace(layer, weight_nm=(draw(st.integers(1, m)), m))
    block = 0
    if draw(st.booleans()):
        rows = draw(st.integers(2, 6))
        blocks = [b for b in range(2, rows + 1, 2) if (2 * rows) % b == 0]
        df, block = "ws", draw(st.sampled_from(blocks))
    rep = draw(st.sampled_from(["ellpack_block", "csr", "csc"]))
    return layer, rows, cols, df, sizes, mode, bw, rep, block, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sparse_shapes())
def test_sparse_kernel_matches_reference(params):
    layer, rows, cols, df, sizes, mode, bw, rep, block, seed = params
    g = fold_geometry(df, rows, cols, *layer.gemm_view())
    assume(g["folds"] * g["cycles_per_fold"] > 1)      # SCALE-Sim divides by zero otherwise
    check(layer, rows, cols, df, tuple(sizes), mode, bw, rep, block, seed)
