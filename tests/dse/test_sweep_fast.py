"""A sweep's fast path (template mappings from the jitted kernel, each arch file parsed once per
worker) stores exactly the rows the Python templates and a fresh load of every arch give."""
import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

from accelsim.dse import evaluate
from accelsim.dse.spec import load_sweep
from accelsim.load import load_arch
from accelsim.mapping import template_pack
from accelsim.mapping.dataflows import map_layer

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
}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_the_fast_sweep_path_stores_the_rows_of_the_python_templates(tmp_path, monkeypatch, name):
    path = tmp_path / "s.yaml"
    path.write_text(SWEEPS[name])
    points = load_sweep(path).points()
    kernel_calls = []
    real = template_pack.template_mapping

    def counted(*args):
        kernel_calls.append(args[2])
        return real(*args)
    monkeypatch.setattr(template_pack, "template_mapping", counted)
    evaluate._arch.cache_clear()
    fast = [evaluate.evaluate_point(p) for p in points]
    assert kernel_calls, "the sweep did not map through the kernel"
    # the reference: the Python templates, and every arch variant loaded from its file
    monkeypatch.setattr(template_pack, "map_layer_fast", map_layer)
    monkeypatch.setattr(evaluate, "_arch", lambda stamp, overrides, allowed: load_arch(stamp[0], list(overrides)))
    slow = [evaluate.evaluate_point(p) for p in points]
    assert fast == slow
    assert {r["status"] for r in fast} >= {"ok"}
