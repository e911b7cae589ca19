"""What the start-up and throughput work may not change: the results. (The timings are measured in
benchmarks/, never asserted here.)"""
from dataclasses import replace

import accelsim
from accelsim.model.scalesim import api
from conftest import REPO


def test_a_repeated_scalesim_shape_gives_the_report_of_its_own_run(monkeypatch):
    # scalesim_layer_cycles keeps each shape's report for the process (ResNet-50 repeats 30 of its
    # 54 weight layers): a layer of a shape seen before, under another name, gets what its own
    # run gives; another shape or another array runs again.
    calls = []
    real = api.simulate_systolic

    def counted(layer, config, **kw):
        calls.append(layer.name)
        return real(layer, config, **kw)
    monkeypatch.setattr(api, "simulate_systolic", counted)
    monkeypatch.setattr(api, "_REPORTS", {})
    arch = accelsim.load_arch(REPO / "arch" / "tpu_like.yaml")
    workload = accelsim.load_workload(REPO / "workloads" / "resnet50.yaml")
    first, again = (next(l for l in workload.layers if l.name == n) for n in ("res2b_branch2b", "res2c_branch2b"))
    assert first.einsum == again.einsum
    got_first = api.scalesim_layer_cycles(arch, first)
    got_again = api.scalesim_layer_cycles(arch, again)
    assert calls == ["res2b_branch2b"] and got_again == got_first
    layer, config = api.systolic_params(arch, again.einsum, again.name, again.input_size)
    own = real(layer, config, scalesim_compat=True)
    assert got_again == (own.total_cycles, {"stall_cycles": own.stall_cycles, "scalesim": own.as_dict()})
    smaller = replace(arch, name="other")  # same array: the key is the SCALE-Sim view, not the arch's name
    api.scalesim_layer_cycles(smaller, again)
    assert calls == ["res2b_branch2b"]

