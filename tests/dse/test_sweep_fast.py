"""A sweep's fast path (the whole network in one jitted call, template mappings from the jitted kernel, each arch file parsed once per
worker, the layers packed for the counting kernel from cached parts, the arch's constraints
resolved once per layer shape, the ragged fallback's padded layers cached) stores exactly the rows
the Python templates, a fresh load of every arch, the one-piece packing and uncached resolutions give."""
import importlib
from pathlib import Path

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR
from naive_packed import pack_problem_reference

from accelsim.dse import evaluate
from accelsim.dse.spec import load_sweep
from accelsim.load import load_arch
from accelsim.mapping import ragged, template_pack
from accelsim.mapping.dataflows import map_layer
from accelsim.model import analytical
from accelsim.search.constraints import Constraints, violations

simulate = importlib.import_module("accelsim.simulate")  # the module (the package exports its function)

SWEEPS = {
    "simple_ws": f"""name: fast
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}, {WORKLOAD_DIR / 'gemm_small.yaml'}]
dataflows: [ws, os, is]
axes:
  arch.levels.PE_array.x: [2, 8]
  arch.levels.GLB.size: [4KiB, 64KiB]
""",
    # Simba's hardware constraints make its os and is points infeasible: those rows must agree too
    "simba_like": f"""name: fast_simba
arch: {ARCH_DIR / 'simba_like.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]
dataflows: [ws, os, is]
axes:
  arch.levels.GlobalBuffer.size: [32KiB, 128KiB]
""",
    # sides that divide no dim: the templates' ragged choice on every layer, arrays sharing a side
    # (their padded layers' records, dse/network._Padded), buffer sizes sharing mappings (the
    # template kernel's memo), ragged winners priced from the kernel's arrays
    "simba_odd_sides": f"""name: fast_simba_odd
arch: {ARCH_DIR / 'simba_like.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}, ODD_LAYERS]
dataflows: [ws]
axes:
  arch.levels.PE_array.x: [3, 7]
  arch.levels.PE_array.y: [3, 5]
  arch.levels.GlobalBuffer.size: [24KiB, 128KiB]
""",
    # os and is on such arrays: the template breaks Simba's constraints, so the choice keeps only the
    # candidates that do not (dse/network.hardware_rules), or finds none and raises the template's error
    "simba_odd_sides_os_is": f"""name: fast_simba_odd_os_is
arch: {ARCH_DIR / 'simba_like.yaml'}
workloads: [{WORKLOAD_DIR / 'bert_base.yaml'}]
dataflows: [os, is]
axes:
  arch.levels.PE_array.x: [1, 3]
  arch.levels.PE_array.y: [3]
  arch.levels.GlobalBuffer.size: [16KiB, 128KiB]
""",
}


# layers whose ragged candidates win on such arrays (a ResNet-50 3×3 conv's channels, a ViT's 197 tokens)
ODD_LAYERS = """name: odd_layers
layers:
  - name: conv
    conv2d: {c: 64, k: 64, h: 14, w: 14, r: 3, s: 3, padding: 1}
  - name: tokens
    matmul: {m: 197, n: 384, k: 384}
"""


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_the_fast_sweep_path_stores_the_rows_of_the_python_templates(tmp_path, monkeypatch, name):
    path = tmp_path / "s.yaml"
    (tmp_path / "odd_layers.yaml").write_text(ODD_LAYERS)
    path.write_text(SWEEPS[name].replace("ODD_LAYERS", str(tmp_path / "odd_layers.yaml")))
    points = load_sweep(path).points()
    kernel_calls = []
    real = template_pack.template_mapping

    def counted(*args):
        kernel_calls.append(args[2])
        return real(*args)
    monkeypatch.setattr(template_pack, "template_mapping", counted)
    whole = evaluate._network_result  # the whole-network kernel maps without template_mapping
    monkeypatch.setattr(evaluate, "_network_kernel_ready", lambda: True)  # (compiled here if not cached)
    monkeypatch.setattr(evaluate, "_network_result",
                        lambda *a: (lambda r: r and kernel_calls.append("network") or r)(whole(*a)))
    evaluate._arch.cache_clear()
    fast = [evaluate.evaluate_point(p) for p in points]
    assert "network" in kernel_calls, "no point ran the whole-network kernel"
    slow = _reference_rows(monkeypatch, points)
    assert fast == slow
    assert {r["status"] for r in fast} >= ({"ok", "infeasible"} if name == "simba_odd_sides_os_is" else {"ok"})


def _reference_rows(monkeypatch, points) -> list[dict]:
    """The rows without any of the fast path's kernels and caches."""
    monkeypatch.setattr(evaluate, "_network_result", lambda arch, workload, options: None)  # layer by layer
    monkeypatch.setattr(template_pack, "map_layer_fast", map_layer)  # the Python templates
    monkeypatch.setattr(evaluate, "_arch", lambda stamp, overrides, allowed: load_arch(stamp[0], list(overrides)))
    monkeypatch.setattr(simulate, "pack_problem", pack_problem_reference)
    monkeypatch.setattr(analytical, "pack_problem", pack_problem_reference)
    monkeypatch.setattr(simulate, "_violations", lambda arch, layer, mapping: violations(
        arch, mapping, Constraints(arch.constraints).for_layer(layer.name, layer.run_einsum).levels))
    monkeypatch.setattr(ragged, "padded_layers_for", ragged.padded_layers_for.__wrapped__)
    monkeypatch.setattr(ragged, "padded_to_side", ragged.padded_to_side.__wrapped__)
    return [evaluate.evaluate_point(p) for p in points]


BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_the_benchmark_sweeps_rows_equal_the_reference_path(tmp_path, monkeypatch, model):
    """benchmarks/bench_sweep.py's issue 15 grid (ResNet-50 and BERT-Base on Simba: ragged
    candidates, hardware constraints, infeasible points), every point, fast path against reference."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_sweep
    path = tmp_path / "s.yaml"
    path.write_text(bench_sweep.SWEEP.replace("MODEL", model).replace("AXES", bench_sweep.GRIDS["issue15"]))
    points = load_sweep(path).points()
    evaluate._arch.cache_clear()
    fast = [evaluate.evaluate_point(p) for p in points]
    assert fast == _reference_rows(monkeypatch, points)
    assert {r["status"] for r in fast} == {"ok", "infeasible"}


def test_a_full_pack_memo_starts_again(tmp_path, monkeypatch):
    """With room for three entries, a pack's memos fill and start again point after point (its
    padded layers' typed lists and the candidates that index them too): the same rows."""
    from accelsim.dse import network
    monkeypatch.setattr(network, "PACK_MEMO", 3)
    test_the_fast_sweep_path_stores_the_rows_of_the_python_templates(tmp_path, monkeypatch, "simba_odd_sides")
