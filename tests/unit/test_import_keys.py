"""Issue 19 for the importers: unknown or misspelled keys in Timeloop and SCALE-Sim inputs are
refused at file:line with the allowed keys and a did-you-mean; hostile files end in a SpecError
(exit 2), through the same hardened reader as native specs."""
from __future__ import annotations

import shutil

import pytest

from accelsim.cli import main
from accelsim.errors import SpecError
from accelsim.importers.scalesim import import_scalesim
from accelsim.importers.timeloop import import_timeloop
from conftest import REPO, SHARED

T03 = SHARED / "timeloop_refcases" / "T03_conv1d_oc_3level" / "inputs"
SCALESIM = REPO / "tests" / "data" / "scalesim" / "cases" / "a16x4_is_calc_conv"


def _t03(tmp_path, old, new, which="3level.arch.yaml"):
    if not T03.is_dir():
        pytest.skip("the Timeloop reference cases are not present")
    for f in T03.iterdir():
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / which
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return dict(arch_path=tmp_path / "3level.arch.yaml", problem_path=tmp_path / "conv1d+oc.prob.yaml",
                out_dir=tmp_path / "out", mapping_path=tmp_path / "conv1d+oc-3level.map.yaml")


def test_misspelled_depth_is_refused_not_unlimited(tmp_path):
    """`Depth: 64` used to import as a buffer of unlimited size."""
    with pytest.raises(SpecError) as info:
        import_timeloop(**_t03(tmp_path, "depth: 64", "Depth: 64"))
    p = info.value.problems[0]
    assert p.message == "unknown attributes key 'Depth'" and p.suggestion == "did you mean 'depth'?"
    assert p.file.endswith("3level.arch.yaml") and p.line == 32 and p.key_path.endswith("attributes.Depth")
    assert "depth" in p.allowed and "n_banks" in p.allowed


@pytest.mark.parametrize("which, old, new, message", [
    ("3level.arch.yaml", "class: SRAM", "clas: SRAM", "unknown node key 'clas'"),
    ("conv1d+oc.prob.yaml", "instance:", "instanse:", "unknown problem key 'instanse'"),
    ("conv1d+oc-3level.map.yaml", "permutation:", "permutaton:", "unknown mapping entry key 'permutaton'"),
    ("3level.arch.yaml", "depth: 64", "depth: sixty-four", "expected an integer, found 'sixty-four'"),
    ("3level.arch.yaml", "- !Component", "- !Component [1]\n  - !Component", "the tag !Component is on a list"),
])
def test_unknown_keys_and_bad_values_in_timeloop_files(tmp_path, which, old, new, message):
    with pytest.raises(SpecError, match=message) as info:
        import_timeloop(**_t03(tmp_path, old, new, which))
    assert info.value.problems[0].file.endswith(which) and info.value.problems[0].line


def test_instance_keys_are_checked_against_the_shape(tmp_path):
    with pytest.raises(SpecError, match="problem.instance names 'Kk'") as info:
        import_timeloop(**_t03(tmp_path, "instance:\n", "instance:\n    Kk: 3\n", "conv1d+oc.prob.yaml"))
    assert info.value.problems[0].suggestion == "did you mean 'K'?"


def test_duplicate_keys_and_hostile_files_in_timeloop_inputs(tmp_path):
    with pytest.raises(SpecError, match="duplicate key 'depth'"):
        import_timeloop(**_t03(tmp_path, "depth: 64", "depth: 64\n      depth: 128"))
    kwargs = _t03(tmp_path, "depth: 64", "depth: 64")
    for hostile in ("/dev/zero", str(tmp_path)):
        with pytest.raises(SpecError, match="only regular files are read"):
            import_timeloop(**{**kwargs, "arch_path": hostile})
    (tmp_path / "bad.yaml").write_bytes(b"architecture: \xff\n")
    with pytest.raises(SpecError, match="invalid UTF-8"):
        import_timeloop(**{**kwargs, "mapping_path": tmp_path / "bad.yaml"})


def _cfg(tmp_path, old, new):
    text = (SCALESIM / "config.cfg").read_text()
    assert old in text
    (tmp_path / "c.cfg").write_text(text.replace(old, new, 1))
    return dict(cfg_path=tmp_path / "c.cfg", topology_path=SCALESIM / "topology.csv", gemm=False,
                out_dir=tmp_path / "out")


@pytest.mark.parametrize("old, new, message, line", [
    ("ArrayHeight", "ArrayHight", r"unknown key 'arrayhight' in \[architecture_presets\]", 9),
    ("[layout]", "[layuot]", r"unknown section \[layuot\]", 22),
    ("IfmapCustomLayout = False", "IfmapCustomLayout = True", "custom SRAM layout .* is not supported", 23),
    ("SparsitySupport = false\nSparseRep = ellpack_block", "SparsitySupport = true\nSparseRep = ellpak_block",
     "SparseRep = 'ellpak_block' is not a representation", 34),
    ("ArrayWidth = 4", "ArrayWidth = -4", "ArrayWidth = '-4' is not a positive integer", 10),
    ("ArrayWidth = 4", "ArrayWidth = 4\nArrayWidth = 8", "option 'arraywidth' in section 'architecture_presets' "
                                                         "already exists", 11),
    ("run_name = run", "run_name = ../../x", "run_name '../../x' cannot name the written files", 2),
])
def test_scalesim_config_is_checked(tmp_path, old, new, message, line):
    with pytest.raises(SpecError, match=message) as info:
        import_scalesim(**_cfg(tmp_path, old, new))
    assert info.value.problems[0].line == line
    if "unknown" in message:
        assert info.value.problems[0].allowed and info.value.problems[0].suggestion


def test_scalesim_topology_rows_are_checked(tmp_path, capsys):
    topology = tmp_path / "t.csv"
    topology.write_text((SCALESIM / "topology.csv").read_text().replace(" 20, 20, 7,", " 20, x, 7,", 1))
    args = ["import", "scalesim", "--config", str(SCALESIM / "config.cfg"), "--topology", str(topology),
            "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{topology}:2:" in err and "IFMAP Width is 'x'" in err and "Traceback" not in err
    assert main([*args[:3], "/dev/zero", *args[4:]]) == 2
    assert "only regular files are read" in capsys.readouterr().err
