"""`accelsim import timeloop`: the reference cases' own Timeloop v0.4 inputs, converted and run,
reproduce Timeloop's stats (counts, cycles, utilization exact; energy per component to 1e-4, as in
test_timeloop.py). Fixed-mapping cases use their input mapping and timeloop-model's ERT; the T05
mapper cases use the mapping the mapper chose (ref/timeloop-mapper.map.yaml) and its ERT."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.importers.timeloop import import_timeloop
from test_timeloop import REFCASES, parity_problems, refcase_stats

MODEL_CASES = ["T00_conv1d_1level", "T01_conv1d_2level_ws", "T01_conv1d_2level_os",
               "T02_conv1d_oc_2level_os", "T02_conv1d_oc_2level_os_tiled", "T03_conv1d_oc_3level",
               "T03_conv1d_oc_3level_bypass", "T04_conv1d_oc_ic_16pe_cp", "T04_conv1d_oc_ic_16pe_kp"]
MAPPER_CASES = ["T05_mapper_baked", "T05_mapper_freebypass", "T05_mapper_null"]


def inputs(case_id):
    folder = REFCASES / case_id / "inputs"
    files = sorted(folder.glob("*.yaml"))
    pick = lambda key: next(f for f in files if key in f.name)  # noqa: E731
    return pick("arch"), pick("prob"), folder


def run_imported(case_id, tool, tmp_path):
    arch, problem, folder = inputs(case_id)
    mapping = (next(folder.glob("*.map.yaml")) if tool == "timeloop-model"
               else REFCASES / case_id / "ref" / "timeloop-mapper.map.yaml")
    imp = import_timeloop(arch, problem, tmp_path, mapping, REFCASES / case_id / "ref" / f"{tool}.ERT.yaml")
    a = accelsim.load_arch(imp.arch_path)
    w = accelsim.load_workload(imp.workload_path)
    result = accelsim.simulate(a, w, mappings=accelsim.load_mapping_file(imp.mapping_path, a, w))
    return result.layers[0]


@pytest.mark.parametrize("case_id, tool", [(c, "timeloop-model") for c in MODEL_CASES]
                         + [(c, "timeloop-mapper") for c in MAPPER_CASES])
def test_imported_case_reproduces_timeloop(case_id, tool, tmp_path):
    ref = refcase_stats(case_id, tool)
    problems = parity_problems(ref, run_imported(case_id, tool, tmp_path))
    assert not problems, f"{case_id} (imported) disagrees with Timeloop:\n  " + "\n  ".join(problems)


def test_import_command(tmp_path, capsys):
    from accelsim.cli import main
    ref = refcase_stats("T04_conv1d_oc_ic_16pe_kp")
    arch, problem, folder = inputs("T04_conv1d_oc_ic_16pe_kp")
    out = tmp_path / "t04"
    assert main(["import", "timeloop", "--arch", str(arch), "--problem", str(problem),
                 "--mapping", str(next(folder.glob("*.map.yaml"))), "--ert",
                 str(REFCASES / "T04_conv1d_oc_ic_16pe_kp" / "ref" / "timeloop-model.ERT.yaml"),
                 "--out", str(out)]) == 0
    assert main(["run", str(out / "timeloop.arch.yaml"), str(out / "timeloop.workload.yaml"),
                 "--mapping", str(out / "timeloop.map.yaml"), "--json", str(tmp_path / "r.json")]) == 0
    import json
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    assert totals["cycles"] == ref.cycles
    assert totals["energy_pj"] == pytest.approx(ref.fj_per_compute["Total"] * ref.computes / 1000, rel=1e-4)


def test_unsupported_architecture_format_is_a_spec_error(tmp_path):
    if not REFCASES.is_dir():
        pytest.skip(f"Timeloop reference cases not found at {REFCASES}")
    folder = REFCASES / "T06_eyeriss_vgg02_l5" / "inputs"
    with pytest.raises(accelsim.SpecError, match="node tag !Parallel is not supported"):
        import_timeloop(folder / "eyeriss_like.yaml", folder / "VGG02_layer5.yaml", tmp_path)
