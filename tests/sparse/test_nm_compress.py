"""Compressing an N:M tensor (accelsim/sparse/nm_tiles.py) against hand counts."""
from __future__ import annotations

from math import comb

import pytest
from conftest import ARCH_DIR

import accelsim
from accelsim.errors import SpecError
from accelsim.sparse.density import StructuredNM
from accelsim.sparse.nm_tiles import nm_tile

WORKLOAD = """
name: nm_cp
layers:
- name: gemm
  matmul: {{m: 16, n: 16, k: {k}}}
  sparsity: {{weights: {{distribution: structured, n: 2, m: 4, axis: k}}}}
"""


def test_sub_tile_emptiness_by_hand():
    model, why = nm_tile(StructuredNM(2, 4, "k"), 8, 32, [(4, 2), (1, 1)])
    assert why is None
    assert model.occupancy_distribution(32) == [(16, 1.0)]
    assert model.prob_empty_given(1, 32, 16) == pytest.approx(1 / 2)            # a scalar: 2 of 4 zero
    assert model.prob_empty_given(4, 32, 16) == pytest.approx((comb(2, 2) / comb(4, 2)) ** 2)  # 2 runs of 2
    assert nm_tile(StructuredNM(2, 4, "k"), 6, 6, [])[0] is None              # 6 is not whole groups
    assert nm_tile(StructuredNM(2, 4, "k"), 8, 8, [(3, 3)])[0] is None        # 3 straddles groups


def test_two_of_four_weights_stored_compressed_halve_capacity_and_traffic(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKLOAD.format(k=64))
    arch = accelsim.load_arch(ARCH_DIR / "sparse_tc_like_cp.yaml")
    layer = accelsim.simulate(arch, accelsim.load_workload(tmp_path / "w.yaml")).layers[0]
    levels = layer.extra["sparse"]["levels"]
    dense = accelsim.simulate(accelsim.load_arch(ARCH_DIR / "sparse_tc_like.yaml"),
                              accelsim.load_workload(tmp_path / "w.yaml")).layers[0].extra["sparse"]["levels"]
    for name in ("DRAM", "SMEM"):
        w, d = levels[name]["weights"], dense[name]["weights"]
        assert w["capacity"] * 2 == d["capacity"] == w["tile_shape"]
        for op in ("read", "fill"):
            assert w["actual"][op] * 2 == d["actual"][op]
        # the CP rank: one 2-bit coordinate per kept value (64 x 16 weights, 512 kept)
        cp = w["metadata"]["random"]["read"][-1]
        assert cp == [w["actual"]["read"], 0]
    assert levels["DRAM"]["weights"]["metadata_capacity"][-1] == [512, 0]


def test_a_tile_that_splits_a_group_is_a_clear_error(tmp_path):
    (tmp_path / "w.yaml").write_text(WORKLOAD.format(k=6))
    arch = accelsim.load_arch(ARCH_DIR / "sparse_tc_like_cp.yaml")
    with pytest.raises(SpecError, match="not whole groups of 4"):
        accelsim.simulate(arch, accelsim.load_workload(tmp_path / "w.yaml"))
