"""The Python API and its tables: frames equal the JSON, the store frame, `accelsim export`, and
docs/api.md (its examples run; every column of the store's table is documented)."""
import json
import re
import shlex
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import accelsim
from accelsim.cli import main
from accelsim.dse.store import COLUMNS, Store, read_rows, store_frame
from accelsim.errors import SpecError
from accelsim.dse.export import export, source_frame
from accelsim.report.frames import levels_frame
from accelsim.report.serialize import result_dict, write_json
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

DOC = REPO / "docs" / "api.md"
SWEEP = f"""name: t
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]
dataflows: [ws, os]
axes:
  arch.levels.PE_array.x: [4, 8]
  arch.levels.GLB.size: [1KiB, 64KiB]
"""


@pytest.fixture(scope="module")
def result():
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    return accelsim.simulate(arch, accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml"),
                             accelsim.SimOptions(dataflow="ws"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "s.yaml").write_text(SWEEP)
    return accelsim.sweep(folder / "s.yaml", jobs=1)


def test_importing_accelsim_does_not_import_pandas():
    code = "import sys, accelsim; print('pandas' in sys.modules, 'accelsim.dse.runner' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_api_names():
    assert {"load_arch", "load_workload", "simulate", "sweep", "SimOptions", "store_frame"} <= set(accelsim.__all__)
    assert all(hasattr(accelsim, name) for name in accelsim.__all__)


def test_layers_frame_equals_the_json(result, tmp_path):
    write_json(result, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    frame = accelsim.layers_frame(result)
    assert list(frame.layer) == [l.name for l in result.layers]
    for (_, row), layer in zip(frame.iterrows(), data["layers"]):
        for column in ("count", "macs", "cycles", "compute_cycles", "utilization", "latency_s", "energy_pj",
                       "tops", "tops_per_watt"):
            assert row[column] == layer[column], column
        for boundary, v in layer["tops_per_watt_by_boundary"].items():
            assert row[f"tops_per_watt_by_boundary.{boundary}"] == v
        for boundary, w in layer["power_w_by_boundary"].items():
            assert row[f"power_w_by_boundary.{boundary}"] == w
            assert w == pytest.approx(layer["tops"] / layer["tops_per_watt_by_boundary"][boundary], rel=1e-9)
        for kind in ("dynamic", "leakage"):
            for component, v in layer["energy_breakdown_pj"][kind].items():
                assert row[f"energy_breakdown_pj.{kind}.{component}"] == v
        for level, roles in layer["energy_breakdown_pj"]["by_tensor"].items():
            for role, v in roles.items():
                assert row[f"energy_breakdown_pj.by_tensor.{level}.{role}"] == v
        assert row["dataflow"] == layer["mapping"]["dataflow"] == "ws"
    # the JSON read back gives the same frame (export of a run JSON)
    pd.testing.assert_frame_equal(source_frame(tmp_path / "r.json"), frame)
    pd.testing.assert_frame_equal(source_frame(tmp_path / "r.json", levels=True), accelsim.levels_frame(result))


def test_levels_frame_equals_the_json_and_the_counts(result):
    layers = result_dict(result)["layers"]
    frame = accelsim.levels_frame(result)
    expected = sum(len(level["tensors"]) for l in layers for level in l["levels"].values())
    assert len(frame) == expected
    for layer, l in zip(layers, result.layers):
        for level in l.counts.levels:
            for role, c in level.tensors.items():
                row = frame[(frame.layer == l.name) & (frame.level == level.name) & (frame.tensor == role)]
                assert len(row) == 1
                row = row.iloc[0]
                js = layer["levels"][level.name]["tensors"][role]
                for key in ("reads", "fills", "updates", "reads_per_instance", "fills_per_instance",
                            "updates_per_instance", "tile_elements"):
                    assert row[key] == js[key], key
                assert row.reads == c.reads * level.instances and row.instances == level.instances
                assert row.energy_pj == layer["energy_breakdown_pj"]["by_tensor"][level.name][role]
    # the per-tensor energies add up to each memory level's dynamic energy
    per_level = frame.groupby(["layer", "level"]).energy_pj.sum()
    for l in result.layers:
        for level in l.counts.levels:
            assert per_level[(l.name, level.name)] == pytest.approx(l.energy.dynamic_pj[level.name], rel=1e-12)


def test_empty_levels_frame_has_its_columns():
    assert list(levels_frame([]).columns)[:3] == ["layer", "count", "level"]


def test_sweep_api_and_store_frame(store):
    assert (store.total, store.skipped, store.ok, store.infeasible) == (8, 0, 8, 0)
    assert store.store.name == "t.sqlite"
    frame = store.frame()
    rows = Store(store.store).rows()
    assert len(frame) == len(rows) == 8
    assert list(frame.key) == [r["key"] for r in rows]
    for column in COLUMNS:
        if column != "detail":
            assert column in frame.columns, column
    for (_, f), r in zip(frame.iterrows(), rows):
        for column in ("macs", "cycles", "energy_pj", "tops_per_watt_chip", "utilization"):
            assert f[column] == r[column]
        for axis, value in r["axes"].items():
            assert f[axis] == value
        for component, parts in r["detail"].items():
            assert f[f"detail.{component}.dynamic"] == parts["dynamic"]
        assert json.loads(f["overrides"]) == r["overrides"]
    again = accelsim.sweep(store.store.parent / "s.yaml")
    assert (again.total, again.skipped, again.ok) == (8, 8, 0)
    assert read_rows(store.store) == rows
    from accelsim.dse.spec import load_sweep  # a loaded Sweep, into another store: all points run
    elsewhere = accelsim.sweep(load_sweep(store.store.parent / "s.yaml"), store=store.store.parent / "b.sqlite")
    assert (elsewhere.store.name, elsewhere.ok, elsewhere.skipped) == ("b.sqlite", 8, 0)
    assert list(elsewhere.frame().key) == list(frame.key) or set(elsewhere.frame().key) == set(frame.key)


def test_store_frame_rejects_what_is_not_a_store(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x01" * 200)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    for path, match in ((junk, "not a sweep store"), (other, "no table 'points'"),
                        (tmp_path / "none.sqlite", "no such store")):
        with pytest.raises(SpecError, match=match):
            store_frame(path)
    with sqlite3.connect(other) as db:  # opened read-only: nothing was added to it
        assert [n for (n,) in db.execute("SELECT name FROM sqlite_master")] == ["t"]


def test_export_cli(result, store, tmp_path, capsys):
    write_json(result, tmp_path / "r.json")
    assert main(["export", str(tmp_path / "r.json"), "--csv", str(tmp_path / "l.csv")]) == 0
    back = pd.read_csv(tmp_path / "l.csv")
    assert list(back.layer) == [l.name for l in result.layers]
    assert list(back.columns) == list(accelsim.layers_frame(result).columns)
    assert (back.macs == accelsim.layers_frame(result).macs).all()
    assert main(["export", str(tmp_path / "r.json"), "--csv", str(tmp_path / "v.csv"), "--levels"]) == 0
    assert len(pd.read_csv(tmp_path / "v.csv")) == len(accelsim.levels_frame(result))
    assert main(["export", str(store.store), "--csv", str(tmp_path / "p.csv")]) == 0
    points = pd.read_csv(tmp_path / "p.csv")
    assert len(points) == 8 and "arch.levels.GLB.size" in points.columns
    assert "wrote" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_export_errors_exit_2(result, store, tmp_path, capsys):
    write_json(result, tmp_path / "r.json")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "other.json").write_text('{"layers": [1]}')
    cases = [
        ([str(tmp_path / "notes.txt"), "--csv", str(tmp_path / "o.csv")], "not a result of `accelsim run --json`"),
        ([str(tmp_path / "other.json"), "--csv", str(tmp_path / "o.csv")], "not a result of `accelsim run --json`"),
        ([str(tmp_path / "missing.json"), "--csv", str(tmp_path / "o.csv")], "no such file"),
        ([str(tmp_path / "r.json"), "--csv", str(tmp_path / "o.xlsx")], "written to a .csv file"),
        ([str(tmp_path / "r.json"), "--parquet", str(tmp_path / "o.csv")], "written to a .parquet file"),
        ([str(store.store), "--csv", str(tmp_path / "o.csv"), "--levels"], "--levels needs a run's JSON"),
    ]
    for argv, message in cases:
        assert main(["export", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_parquet_needs_the_extra_or_writes_a_table(result, tmp_path, capsys, monkeypatch):
    import importlib.util
    write_json(result, tmp_path / "r.json")
    out = tmp_path / "l.parquet"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    assert main(["export", str(tmp_path / "r.json"), "--parquet", str(out)]) == 2
    assert "pip install 'accelsim[parquet]'" in capsys.readouterr().err and not out.exists()
    monkeypatch.undo()
    if real("pyarrow") is not None:
        path, rows = export(tmp_path / "r.json", out, "parquet")
        pd.testing.assert_frame_equal(pd.read_parquet(path), accelsim.layers_frame(result))


def test_pyproject_has_pandas_and_the_parquet_extra():
    text = (REPO / "pyproject.toml").read_text()
    deps = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert '"pandas' in deps and "pyarrow" not in deps
    assert re.search(r'^parquet = \["pyarrow', text, re.M)


def test_every_store_column_is_documented(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    table = [(name, kind) for _, name, kind, *_ in store.db.execute("PRAGMA table_info(points)")]
    store.close()
    assert {name for name, _ in table} >= set(COLUMNS)
    text = DOC.read_text()
    for name, kind in table:
        assert re.search(rf"^\| `{name}` \| {kind} \| \S", text, re.M), f"docs/api.md: column {name} ({kind})"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), re.M | re.S)


def test_the_examples_in_the_api_doc_run(tmp_path, monkeypatch, capsys):
    """The python blocks run in order in one namespace, in a folder with the repo's arch/ and
    workloads/; the bash block's accelsim commands run through the CLI's main() after them."""
    for name in ("arch", "workloads"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    python = _blocks("python")
    assert len(python) >= 4
    namespace = {}
    for i, code in enumerate(python):
        exec(compile(code, f"docs/api.md python block {i + 1}", "exec"), namespace)
    import importlib.util
    commands = [shlex.split(line.split("#")[0]) for block in _blocks("bash") for line in block.splitlines()
                if line.startswith("accelsim ")]
    assert any(c[1] == "export" for c in commands)
    for argv in commands:
        if "--parquet" in argv and importlib.util.find_spec("pyarrow") is None:
            assert main(argv[1:]) == 2  # the message names the extra (tested above)
            continue
        assert main(argv[1:]) == 0, argv
    assert len(pd.read_csv("levels.csv")) > 0 and len(pd.read_csv("points.csv")) == 4


def test_readme_links_the_api_doc():
    assert "(docs/api.md)" in (REPO / "README.md").read_text()
