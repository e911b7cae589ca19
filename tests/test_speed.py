"""What the start-up and throughput work may not change: the results. (The timings are measured in
benchmarks/, never asserted here.)"""
import sys
from dataclasses import replace

import accelsim
from accelsim.report.serialize import result_dict
from conftest import REPO

WORKLOAD = """name: repeats
layers:
  - {name: a, matmul: {m: 32, n: 48, k: 64}}
  - {name: b, matmul: {m: 32, n: 48, k: 64}, count: 3}
  - {name: c, matmul: {m: 16, n: 48, k: 64}}
  - {name: d, matmul: {m: 32, n: 48, k: 64}}
"""


def test_a_repeated_template_layer_is_run_once_with_its_own_result(tmp_path, monkeypatch):
    # simulate() copies the result of a template layer whose shape it ran before (ResNet-50
    # repeats 30 of its 54 weight layers): each copy equals the layer's own run, its name and count its own.
    simulate = sys.modules["accelsim.simulate"]
    real, ran = simulate.simulate_layer, []

    def counted(arch, layer, *args):
        ran.append(layer.name)
        return real(arch, layer, *args)
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    arch = accelsim.load_arch(REPO / "arch" / "simple_ws.yaml")
    workload = accelsim.load_workload(tmp_path / "w.yaml")
    for model in ("analytical", "cycle"):
        options = accelsim.SimOptions(model=model, dataflow="ws")
        monkeypatch.setattr(simulate, "simulate_layer", counted)
        ran.clear()
        together = simulate.simulate(arch, workload, options)
        assert ran == ["a", "c"]
        monkeypatch.setattr(simulate, "simulate_layer", real)
        alone = [simulate.simulate(arch, replace(workload, layers=(layer,)), options) for layer in workload.layers]
        assert result_dict(together)["layers"] == [result_dict(r)["layers"][0] for r in alone]
        assert [l.count for l in together.layers] == [1, 3, 1, 1]
        assert together.energy_pj == sum(r.energy_pj for r in alone)  # each alone counts its copies
