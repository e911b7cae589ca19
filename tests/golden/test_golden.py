"""Committed results for every shipped arch × small workload.

A golden number says that something changed, not that it is right; the invariants and the
validation tests say whether it is right. Regenerate after an intended model change with
`python -m pytest tests/golden --update-golden` and explain the change in the commit.
"""
import json
from pathlib import Path

import pytest

import accelsim
from conftest import ARCH_DIR, WORKLOAD_DIR

DATA = Path(__file__).parent / "data"
ARCHS = sorted(p.stem for p in ARCH_DIR.glob("*.yaml"))
WORKLOADS = ["conv_tiny", "gemm_small"]


def summary(result) -> dict:
    return {
        "macs": result.macs,
        "cycles": result.cycles,
        "energy_pj": result.energy_pj,
        "layers": {
            l.name: {
                "cycles": l.cycles,
                "energy_pj": l.energy_pj,
                "levels": {lv.name: {role: [c.reads, c.fills, c.updates, c.tile_elements]
                                     for role, c in lv.tensors.items()} for lv in l.counts.levels},
            } for l in result.layers},
    }


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("workload_name", WORKLOADS)
def test_golden(arch_name, workload_name, request):
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    wl = accelsim.load_workload(WORKLOAD_DIR / f"{workload_name}.yaml")
    got = summary(accelsim.simulate(arch, wl))
    path = DATA / f"{arch_name}__{workload_name}.json"
    if request.config.getoption("--update-golden"):
        path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.skip("golden file rewritten")
    if not path.exists():
        pytest.fail(f"no golden file {path.name}; run pytest tests/golden --update-golden")
    want = json.loads(path.read_text())
    assert got["layers"].keys() == want["layers"].keys()
    for name, layer in want["layers"].items():
        assert got["layers"][name]["cycles"] == layer["cycles"], name
        assert got["layers"][name]["levels"] == layer["levels"], name
        assert got["layers"][name]["energy_pj"] == pytest.approx(layer["energy_pj"], rel=1e-9), name
    assert got["macs"] == want["macs"] and got["cycles"] == want["cycles"]
