"""Invariants of the sparse pass on the shipped architectures (no reference numbers needed)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

import accelsim
from accelsim.ir.workload import Density
from accelsim.sparse.density import FixedStructured


def _with(wl, sparsity, density=None):
    return replace(wl, layers=tuple(replace(l, sparsity=sparsity, density=density or l.density) for l in wl.layers))


@pytest.mark.parametrize("arch_name, dataflow", [("eyeriss_v1.yaml", None), ("simple_ws.yaml", "ws"),
                                                 ("tpu_like.yaml", None)])
@pytest.mark.parametrize("density", [None, Density(0.6, 0.8)])
def test_all_dense_tensors_reproduce_the_dense_run(arch_name, dataflow, density):
    """Density models of 1 and no formats or optimizations: the pass changes nothing (cycles and
    every component's energy equal the dense run's, also with switching activity from density:) but
    the block rounding: it prices a layer's accesses per block once (Sparseloop's rule), so the dense
    run is priced so too (block_rounding: layer; docs/energy.md#block-rounding)."""
    from dataclasses import replace
    from accelsim.ir.arch import Memory
    arch = accelsim.load_arch(ARCH_DIR / arch_name)
    arch = replace(arch, levels=tuple(replace(l, block_rounding="layer") if isinstance(l, Memory) else l
                                      for l in arch.levels))
    wl = accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    opts = accelsim.SimOptions(dataflow=dataflow)
    sparse = accelsim.simulate(arch, _with(wl, (("weights", FixedStructured(1.0)),), density), opts)
    # the same mappings: a dense run may take a ragged one (mapping/ragged.py), which sparse runs do not
    dense = accelsim.simulate(arch, _with(wl, (), density), opts,
                              mappings={lr.name: lr.mapping for lr in sparse.layers})
    for a, b in zip(dense.layers, sparse.layers):
        assert "sparse" in b.extra and "sparse" not in a.extra
        assert b.cycles == a.cycles
        for name, pj in a.energy.dynamic_pj.items():
            assert b.energy.dynamic_pj[name] == pytest.approx(pj, rel=1e-12), name
        assert b.energy_pj == pytest.approx(a.energy_pj, rel=1e-12)


def test_sparser_weights_never_cost_more_when_the_inputs_skip_on_them(tmp_path):
    """Skipping inputs led by weights: lower weight density → fewer actual input reads, MACs,
    cycles and less energy (monotone), and algorithmic counts unchanged."""
    from test_sparse_spec import ARCH, MAPPING, WORKLOAD
    arch = ARCH.replace("OPTIMIZATION", "skipping").replace("formats: {weights: [CP]}", "formats: {}")
    (tmp_path / "a.yaml").write_text(arch)
    (tmp_path / "m.yaml").write_text(MAPPING)
    last = None
    for d in (1.0, 0.75, 0.5, 0.25, 0.0625):
        (tmp_path / "w.yaml").write_text(WORKLOAD.replace("density: 0.25", f"density: {d}"))
        a, w = accelsim.load_arch(tmp_path / "a.yaml"), accelsim.load_workload(tmp_path / "w.yaml")
        layer = accelsim.simulate(a, w, mappings=accelsim.load_mapping_file(tmp_path / "m.yaml", a, w)).layers[0]
        rec = layer.extra["sparse"]["levels"]["Buffer"]["inputs"]
        now = (rec["actual"]["read"], layer.extra["sparse"]["computes"]["random_compute"], layer.cycles,
               layer.energy_pj)
        assert rec["algorithmic"]["read"] == 16
        assert rec["actual"]["read"] + rec["skipped"]["read"] == 16
        if last:
            assert all(n <= p for n, p in zip(now, last))
        last = now
