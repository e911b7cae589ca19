"""2:4 weights on arch/sparse_tc_like.yaml: skipped and gated MACs against hand counts."""
from __future__ import annotations

import pytest
import yaml
from conftest import ARCH_DIR

import accelsim

WORKLOAD = """
name: nm_tiny
layers:
- name: gemm
  matmul: {m: 16, n: 16, k: 64}
  sparsity: {weights: {distribution: structured, n: 2, m: 4, axis: k}}
- name: pool
  pool2d: {c: 16, h: 8, w: 8, r: 2, s: 2, stride: 2}
"""


def _run(tmp_path, gating: bool):
    spec = yaml.safe_load((ARCH_DIR / "sparse_tc_like.yaml").read_text())
    if gating:  # the MAC idles on a zero weight instead of the LRF skipping the activation
        lrf = next(lv["memory"] for lv in spec["levels"] if lv.get("memory", {}).get("name") == "LRF")
        del lrf["sparse"]
        spec["levels"][-1]["compute"]["sparse"] = {"gate_on_zero_operand": True,
                                                   "energy": {"gated_compute": "0pJ"}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    return accelsim.simulate(accelsim.load_arch(tmp_path / "a.yaml"), accelsim.load_workload(tmp_path / "w.yaml"))


def test_two_of_four_weights_skip_half_the_macs_and_their_activation_reads(tmp_path):
    gemm, pool = _run(tmp_path, gating=False).layers
    sp = gemm.extra["sparse"]
    # 16 x 16 x 64 = 16384 MACs; each weight is zero with probability exactly 2/4
    assert sp["computes"] == {"random_compute": 8192, "gated_compute": 0, "skipped_compute": 0,
                              "algorithmic": 16384}
    inputs = sp["levels"]["SMEM"]["inputs"]
    assert inputs["skipped"]["read"] == inputs["algorithmic"]["read"] // 2
    assert inputs["actual"]["read"] + inputs["skipped"]["read"] == inputs["algorithmic"]["read"]
    # the pool has one (dense) operand: every window position computes
    assert pool.extra["sparse"]["computes"]["random_compute"] == pool.macs


def test_gating_keeps_the_slots_and_the_activation_reads(tmp_path):
    (tmp_path / "skip").mkdir()
    skip = _run(tmp_path / "skip", gating=False)
    gate = _run(tmp_path, gating=True)
    gemm, pool = gate.layers
    sp = gemm.extra["sparse"]
    assert sp["computes"] == {"random_compute": 8192, "gated_compute": 8192, "skipped_compute": 0,
                              "algorithmic": 16384}
    inputs = sp["levels"]["SMEM"]["inputs"]
    assert inputs["actual"]["read"] == inputs["algorithmic"]["read"]
    # a gated MAC keeps its cycle: 16384 MACs' cycles on the 256 MACs the template uses (n = 16
    # output channels x 16 of k), twice the skipping run's 8192
    assert sp["compute_cycles"] == 16384 // 256
    assert skip.layers[0].extra["sparse"]["compute_cycles"] == 8192 // 256
    assert pool.extra["sparse"]["computes"]["random_compute"] == pool.macs
    assert gate.energy_pj > skip.energy_pj


@pytest.mark.slow
def test_h100_like_claims_say_which_vendor_figures_the_model_supports():
    """arch/h100_like.yaml's claims: the dense INT8 peak follows from the published structure
    (derived); the sparse peak on a large 2:4 GEMM is a prediction the model meets with the mapper
    (2:4 skipping halves the cycles); board TOPS/W is a prediction it misses, high, because it
    holds no control, clock or leakage energy (no source): `accelsim claims` shows both."""
    from accelsim.claims import evaluate_claims
    from conftest import ARCH_DIR

    results = {r.name: r for r in evaluate_claims(ARCH_DIR / "h100_like.yaml")}
    assert results["dense INT8 peak"].role == "derived" and results["dense INT8 peak"].within
    sparse = results["sparse INT8 throughput on a large 2:4 GEMM"]
    assert sparse.role == "prediction" and sparse.within
    assert sparse.modelled == pytest.approx(2 * results["dense INT8 peak"].modelled, rel=0.01)
    watts = results["board TOPS/W at the sparse peak"]
    assert watts.role == "prediction" and not watts.within and watts.modelled > watts.claimed
