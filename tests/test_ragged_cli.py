"""Ragged tiles from a user's mapping file, end to end (issue 15's opening case: a 97×101×1009
GEMM on simple_ws). The kernel's counts are checked against a walk in tests/kernels/test_ragged.py;
here: the file is accepted, the layer is never slower than the same mapping on the layer padded to
its loops (under the analytical and the cycle model), utilization counts real MACs, the JSON's
totals are the instances' sums, and what is not supported yet exits 2 with a message."""
import json

from accelsim.cli import main
from conftest import ARCH_DIR

ARCH = str(ARCH_DIR / "simple_ws.yaml")
WORKLOAD = """name: odd
layers:
  - {name: odd, matmul: {m: 97, n: 101, k: 1009}}
  - {name: padded, matmul: {m: 97, n: 105, k: 1024}}
"""
# Both layers take the same loops: k 4 × 16 (array rows) × 16, n 15 (array columns) × 7, m 97.
MAPPING = """layers:
  {layer}:
    DRAM: {{temporal: {{k: 4}}}}
    GLB: {{bypass: [weights]}}
    PE_array: {{spatial: {{y: {{k: 16}}, x: {{n: {columns}}}}}}}
    pe_spad: {{temporal: {{n: 7, k: 16, m: 97}}}}
"""


def _files(tmp_path, columns=15):
    workload, mapping = tmp_path / "w.yaml", tmp_path / "m.yaml"
    workload.write_text(WORKLOAD)
    mapping.write_text("".join(MAPPING.format(layer=n, columns=columns).replace("layers:\n", "" if i else "layers:\n")
                               for i, n in enumerate(("odd", "padded"))))
    return str(workload), str(mapping)


def test_a_ragged_gemm_is_never_slower_than_padded(tmp_path):
    workload, mapping = _files(tmp_path)
    out = tmp_path / "r.json"
    assert main(["run", ARCH, workload, "--mapping", mapping, "--json", str(out)]) == 0
    odd, padded = json.loads(out.read_text())["layers"]
    assert odd["cycles"] <= padded["cycles"] and odd["energy_pj"] < padded["energy_pj"]
    assert odd["macs"] == 97 * 101 * 1009  # real MACs only
    dram = odd["levels"]["DRAM"]["tensors"]["weights"]
    assert dram["reads"] == 101 * 1009  # every weight read once: the ragged edge tiles hold only real ones
    spad = odd["levels"]["pe_spad"]
    assert spad["instances"] == 15 * 16  # n: 15 columns; k: 16 rows, each with work (1009 > 15·16·4)
    assert spad["tensors"]["weights"]["fills"] == 101 * 1009  # over all instances: each weight once
    assert spad["tensors"]["weights"]["fills_per_instance"] == 7 * 64  # the busiest PE: full tiles


def test_ragged_mapping_errors_exit_2(tmp_path, capsys):
    workload, mapping = _files(tmp_path, columns=16)  # 16 · 7 = 112: the 16th column starts at 105 > 101
    assert main(["run", ARCH, workload, "--mapping", mapping]) == 2
    assert "use n: 15 there (ceil division)" in capsys.readouterr().err
    workload, mapping = _files(tmp_path)
    assert main(["run", ARCH, workload, "--mapping", mapping, "--model", "scalesim"]) == 2
    assert "ragged tiles" in capsys.readouterr().err


def test_the_cycle_model_walks_a_ragged_gemm_never_slower_than_padded(tmp_path):
    workload, mapping = _files(tmp_path)
    out = tmp_path / "r.json"
    assert main(["run", ARCH, workload, "--mapping", mapping, "--model", "cycle", "--json", str(out)]) == 0
    odd, padded = json.loads(out.read_text())["layers"]
    assert odd["ragged"] == {"n": [105, 101], "k": [1024, 1009]}
    assert odd["cycles"] <= padded["cycles"] and odd["energy_pj"] < padded["energy_pj"]
    # The walk is never faster than the analytical model's bound on the same counts.
    assert main(["run", ARCH, workload, "--mapping", mapping, "--json", str(out)]) == 0
    assert odd["cycles"] >= json.loads(out.read_text())["layers"][0]["cycles"]


def test_a_ragged_window_runs_under_the_cycle_model(tmp_path):
    # p = 7 covered by p: 4 × 2 = 8; the inputs' index p+r mixes it with r: walked point by point.
    (tmp_path / "w.yaml").write_text("name: c\nlayers:\n  - {name: c1, conv2d: {c: 4, k: 8, h: 9, w: 9, r: 3, s: 3}}\n")
    (tmp_path / "m.yaml").write_text("layers:\n  c1:\n    DRAM: {temporal: {p: 4, q: 7, k: 8, c: 4}}\n"
                                     "    pe_spad: {temporal: {p: 2, r: 3, s: 3}}\n")
    args = ["run", ARCH, str(tmp_path / "w.yaml"), "--mapping", str(tmp_path / "m.yaml")]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--model", "cycle", "--json", str(tmp_path / "c.json")]) == 0
    analytical, cycle = (json.loads((tmp_path / f"{m}.json").read_text())["layers"][0] for m in "ac")
    assert cycle["ragged"] == {"p": [8, 7]} and cycle["macs"] == analytical["macs"]
    assert cycle["cycles"] >= analytical["compute_cycles"]


def test_a_window_merged_over_two_of_its_dims_under_the_cycle_model_exits_2(tmp_path, capsys):
    # The MACs read the inputs (index p+r) multicast over the array's p and r positions, p ragged
    # (7 covered by 2 × 4): the points per MAC step depend on both, which the walk refuses.
    (tmp_path / "w.yaml").write_text("name: c\nlayers:\n  - {name: c1, conv2d: {c: 4, k: 8, h: 9, w: 9, r: 3, s: 3}}\n")
    (tmp_path / "m.yaml").write_text("layers:\n  c1:\n    DRAM: {temporal: {p: 2, q: 7, k: 8, c: 4}}\n"
                                     "    PE_array: {spatial: {x: {p: 4}, y: {r: 3}}}\n"
                                     "    pe_spad: {temporal: {s: 3}}\n")
    args = ["run", ARCH, str(tmp_path / "w.yaml"), "--mapping", str(tmp_path / "m.yaml")]
    assert main(args) == 0  # the analytical model counts it
    capsys.readouterr()
    assert main([*args, "--model", "cycle"]) == 2
    err = capsys.readouterr().err
    assert "layer 'c1'" in err and "inputs are merged over p, r" in err
