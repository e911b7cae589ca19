"""CLI smoke tests: the README's commands, JSON contents, overrides, errors without tracebacks."""
import json
import re
import subprocess
import sys
from math import ceil
from pathlib import Path

import pytest

import accelsim
from accelsim.cli import main
from accelsim.kernel_cache import clear_numba_cache, numba_cache_files
from accelsim.energy.tables import table_names
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

ARCH = str(ARCH_DIR / "simple_ws.yaml")
WL = str(WORKLOAD_DIR / "conv_tiny.yaml")


def test_run_prints_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", ARCH, WL, "--json", str(out), "--show-mapping"]) == 0
    text = capsys.readouterr().out
    assert "TOPS/W" in text and "for " in text and "totals:" in text
    data = json.loads(out.read_text())
    for key in ("totals", "layers", "inputs", "options", "accelsim_version", "arch", "workload"):
        assert key in data
    for entry in [data["totals"]] + data["layers"]:
        for key in ("macs", "cycles", "utilization", "energy_pj", "tops", "tops_per_watt", "latency_s",
                    "energy_breakdown_pj"):
            assert key in entry
    layer = data["layers"][0]
    assert layer["name"] == "conv3x3"
    assert set(layer["levels"]["GLB"]["tensors"]["inputs"]) >= {"reads", "fills", "updates"}
    assert data["totals"]["macs"] == sum(l["macs"] * l["count"] for l in data["layers"])


def test_set_overrides_change_the_result(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["run", ARCH, WL, "--json", str(a)]) == 0
    assert main(["run", ARCH, WL, "--json", str(b), "--set", "arch.operating_point.frequency=500MHz",
                 "--set", "arch.levels.DRAM.read_bandwidth=1 words/cycle"]) == 0
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert rb["totals"]["cycles"] > ra["totals"]["cycles"]
    assert rb["operating_point"]["frequency_hz"] == 5e8
    assert rb["inputs"]["overrides"] == ["arch.operating_point.frequency=500MHz",
                                         "arch.levels.DRAM.read_bandwidth=1 words/cycle"]


def test_bad_inputs_exit_2_without_traceback(write, capsys):
    assert main(["run", ARCH, WL, "--set", "levels.GLB.size=1KiB"]) == 2
    assert "start the path with 'arch.'" in capsys.readouterr().err
    assert main(["run", ARCH, WL, "--set", "arch.levels.GLB.size=16b"]) == 2
    # 16 bits hold one 16-bit word; the smallest tiles need one per tensor the GLB keeps (the ws
    # template bypasses the weights there: the PE scratchpads hold them and no GLB loop reuses them)
    err = capsys.readouterr().err
    assert err.startswith("mapping error: layer 'conv3x3': GLB: the tiles need 2 words "
                          "(outputs 1, inputs 1) but it holds 1 word")
    assert "Traceback" not in err
    bad = write("bad.yaml", "name: x\nlayers:\n  - name: a\n    matmul: {m: 1, n: 2}\n")
    assert main(["run", ARCH, str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "Traceback" not in err


def test_python_dash_m_and_info():
    proc = subprocess.run([sys.executable, "-m", "accelsim", "run", ARCH, WL, "--dataflow", "os"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "dataflow os" in proc.stdout
    assert main(["info", "dataflows"]) == 0


def test_cache_warm_runs_every_kernel_and_leaves_none_to_compile(capsys):
    from accelsim.kernel_cache import compile_note
    assert main(["cache", "warm"]) == 0
    assert "compiled and cached" in capsys.readouterr().out
    from accelsim.compile_ahead import JOBS, pending
    assert pending(JOBS) == []
    for options in (accelsim.SimOptions(dataflow="search"), accelsim.SimOptions(), accelsim.SimOptions(model="cycle"),
                    accelsim.SimOptions(model="cycle", scalesim_compat=True)):
        assert compile_note(options) is None


def test_mapping_file(tmp_path, capsys):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("layers:\n  gemm_16x16x16:\n    PE_array: {spatial: {x: {n: 16}, y: {k: 16}}}\n"
                       "    DRAM: {temporal: {m: 16}}\n")
    assert main(["run", ARCH, str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--mapping", str(mapping),
                 "--show-mapping"]) == 0
    out = capsys.readouterr().out
    assert "for m in [0:16)  (temporal)" in out and "for n in [0:16)  (spatial-x)" in out
    assert "dataflow ws" in out  # layers without an explicit mapping would use the arch's dataflow


def test_voltage_and_frequency_shorthands(tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", ARCH, WL, "--voltage", "0.45V", "--frequency", "250MHz", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["operating_point"] == {"voltage_v": 0.45, "frequency_hz": 2.5e8}
    assert data["inputs"]["overrides"][:2] == ["arch.operating_point.voltage=0.45V",
                                               "arch.operating_point.frequency=250MHz"]


def test_cycle_model_from_the_cli(tmp_path):
    out = tmp_path / "c.json"
    assert main(["run", ARCH, WL, "--model", "cycle", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["options"]["model"] == "cycle"
    for layer in data["layers"]:
        assert layer["cycles"] >= layer["compute_cycles"]
        assert set(layer["cycle_model"]) >= {"stall_cycles", "skew_cycles", "steps"}


def test_banks_is_an_unknown_key(tmp_path, capsys):
    """No model uses a bank count, so the schema has none: `banks:` is an ordinary unknown key."""
    text = (ARCH_DIR / "simple_ws.yaml").read_text()
    banked = tmp_path / "banked.yaml"
    banked.write_text(text.replace("      size: 128KiB\n", "      size: 128KiB\n      banks: 4\n", 1))
    assert banked.read_text() != text
    assert main(["check", str(banked)]) == 2
    err = capsys.readouterr().err
    assert "banked.yaml:" in err and "levels.1.memory.banks: unknown key 'banks'" in err
    assert "allowed: name, class, size" in err and "Traceback" not in err


TIMELOOP_ARCH = """\
architecture:
  version: 0.4
  nodes:
  - !Container {name: system, attributes: {technology: 45nm}}
  - !Component {name: DRAM, class: DRAM, attributes: {width: 64, datawidth: 8}}
  - !Component {name: Buffer, class: SRAM, attributes: {depth: 1024, width: 64, datawidth: 8%s}}
  - !Container {name: PE, spatial: {meshX: 4}}
  - !Component {name: mac, class: intmac, attributes: {multiplier_width: 8}}
"""
TIMELOOP_PROBLEM = """\
problem:
  version: 0.4
  shape:
    name: gemm
    dimensions: [M, N, K]
    data_spaces:
    - {name: A, projection: [[[M]], [[K]]]}
    - {name: B, projection: [[[N]], [[K]]]}
    - {name: Z, projection: [[[M]], [[N]]], read_write: true}
  instance: {M: 8, N: 4, K: 2}
"""


def test_timeloop_n_banks_is_accepted_and_dropped(tmp_path, capsys):
    """Timeloop's counts and cycles ignore n_banks (an Accelergy area/energy attribute); so does accelsim."""
    (tmp_path / "prob.yaml").write_text(TIMELOOP_PROBLEM)
    for name, extra in (("plain", ""), ("banked", ", n_banks: 4")):
        (tmp_path / f"{name}.yaml").write_text(TIMELOOP_ARCH % extra)
        assert main(["import", "timeloop", "--arch", str(tmp_path / f"{name}.yaml"), "--problem",
                     str(tmp_path / "prob.yaml"), "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    plain, banked = ((tmp_path / name / "timeloop.arch.yaml").read_text() for name in ("plain", "banked"))
    assert "banks" not in banked
    assert banked.replace("banked.yaml", "plain.yaml") == plain


@pytest.mark.parametrize("args, arch_sourced", [
    ([ARCH, WL], set()),  # every energy from the 45 nm table
    ([str(ARCH_DIR / "vsquant_5nm.yaml"), str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--precision", "int8",
      "--voltage", "0.8V"],  # explicit energies and an overhead, off the 0.67 V calibration point
     {"OutputBuffer", "BBuffer", "ABuffer", "AccumCollector", "ACollector", "VectorMAC", "Other", "PPU"}),
])
def test_json_energy_per_action_and_its_source(args, arch_sourced, tmp_path):
    """The JSON's action_energies (Accelergy's ERT at the operating point) carry, per memory level,
    MAC and overhead, the energy per action and its source; they are the energies the totals used."""
    out = tmp_path / "r.json"
    assert main(["run", *args, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    for layer in data["layers"]:
        ert = data["action_energies"][layer["precision"]]
        dynamic = layer["energy_breakdown_pj"]["dynamic"]
        assert set(ert) == set(dynamic)  # every component that costs energy, and nothing else
        for name, e in ert.items():
            assert (e["source"] == "arch") if name in arch_sourced else (e["source"] in table_names())
        for name, level in layer["levels"].items():
            e = ert[name]
            blocks = lambda n: ceil(n / e["block_words"])  # noqa: E731
            expected = level["instances"] * sum(
                blocks(c["reads_per_instance"]) * e["read_pj"] + blocks(c["fills_per_instance"]) * e["write_pj"]
                + blocks(c["updates_per_instance"]) * e["update_pj"] for c in level["tensors"].values())
            if e["block_rounding"] == "transfer":  # each transfer whole blocks: the JSON's block accesses
                expected = sum(b["reads"] * e["read_pj"] + b["fills"] * e["write_pj"] + b["updates"] * e["update_pj"]
                               for b in (c["block_accesses"] for c in level["tensors"].values()))
            assert dynamic[name] == pytest.approx(expected, rel=1e-12, abs=1e-9)
        (mac,) = [name for name, e in ert.items() if "mac_pj" in e]
        assert dynamic[mac] == pytest.approx(layer["macs"] * ert[mac]["mac_pj"], rel=1e-12)
        for name in (name for name, e in ert.items() if "cycle_pj" in e):
            assert dynamic[name] == pytest.approx(layer["cycles"] * ert[name]["cycle_pj"]
                                                  + layer["outputs"] * ert[name]["output_pj"], rel=1e-12)
        for name in (name for name, e in ert.items() if "vector_scale_pj" in e):  # data-dependent, ≤ dense
            dense = layer["macs"] / ert[name]["vector_size"] * ert[name]["vector_scale_pj"]
            assert 0.0 <= dynamic[name] <= dense * (1 + 1e-12)
    if arch_sourced:  # explicit energies are at the nominal voltage; the table holds them at 0.8 V
        from accelsim.load import load_arch
        nominal = load_arch(ARCH_DIR / "vsquant_5nm.yaml").level("BBuffer").read_energy_pj
        bbuffer = data["action_energies"]["int8"]["BBuffer"]
        assert bbuffer["read_pj"] == pytest.approx(nominal * (0.8 / 0.67) ** 2, rel=1e-12)
        assert data["layers"][0]["outputs"] > 0 and data["action_energies"]["int8"]["PPU"]["output_pj"] > 0


def test_cache_clear_deletes_only_numba_files_in_the_package(tmp_path):
    pkg, outside = tmp_path / "pkg", tmp_path / "outside"
    files = {pkg / "__pycache__" / "nest_kernel.evaluate-12.py311.nbi": 10,
             pkg / "model" / "__pycache__" / "tile_events.walk-288.py311.1.nbc": 20,
             pkg / "__pycache__" / "cli.cpython-311.pyc": 40,      # Python's own cache: kept
             pkg / "model" / "stray.nbi": 80,                      # not in a __pycache__: kept
             outside / "__pycache__" / "other.f-1.py311.nbi": 160}  # another package: kept
    for path, size in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    (pkg / "linked").symlink_to(outside, target_is_directory=True)  # nothing reached through a link
    cache = [pkg / "__pycache__" / "nest_kernel.evaluate-12.py311.nbi",
             pkg / "model" / "__pycache__" / "tile_events.walk-288.py311.1.nbc"]
    assert numba_cache_files(pkg) == sorted(p.resolve() for p in cache)
    assert clear_numba_cache(pkg) == (2, 30)
    assert sorted(p for p in files if p.exists()) == sorted(set(files) - set(cache))
    assert clear_numba_cache(pkg) == (0, 0)


def test_a_changed_kernel_module_clears_the_cache(tmp_path):
    # Numba checks only a kernel's own file: the search kernels would keep stale code after the
    # counting kernel they inline changed, and a kernel keeps the constants it imported.
    # refresh() clears the cache when a kernel module, or a module one imports, changes.
    from accelsim.kernel_cache import refresh
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    kernel, consts, plain = pkg / "kernel.py", pkg / "consts.py", pkg / "plain.py"
    kernel.write_text("from numba import njit\nfrom .consts import X\n")
    consts.write_text("X = 1\n")
    plain.write_text("x = 1\n")
    cached = pkg / "__pycache__" / "search.f-1.py311.nbi"
    assert refresh(pkg)  # no stamp yet: cleared, stamp written
    cached.write_bytes(b"x")
    assert not refresh(pkg) and cached.exists()  # nothing changed
    plain.write_text("x = 2\n")
    assert not refresh(pkg) and cached.exists()  # a module no kernel imports changed
    consts.write_text("X = 2\n")
    assert refresh(pkg) and not cached.exists()  # a constant a kernel reads changed
    cached.write_bytes(b"x")
    kernel.write_text("from numba import njit  # edited\nfrom .consts import X\n")
    assert refresh(pkg) and not cached.exists()


def test_the_kernel_digest_covers_what_the_kernels_import():
    from accelsim.kernel_cache import PACKAGE, kernel_sources
    names = {str(p.relative_to(PACKAGE)) for p in kernel_sources()}
    assert {"counting/nest_kernel.py", "counting/records.py", "counting/conventions/__init__.py",
            "counting/rules.py", "search/search_kernels.py"} <= names
    assert "cli.py" not in names and "dse/plot.py" not in names


def test_a_run_says_which_kernels_it_compiles_first(monkeypatch):
    from accelsim import kernel_cache
    from accelsim.options import SimOptions
    monkeypatch.setattr(kernel_cache, "is_compiled", lambda kernel: False)
    note = kernel_cache.compile_note(SimOptions(dataflow="search", model="cycle"))
    assert "the counting kernel" in note and "the mapper's search kernel" in note and "the cycle model" in note
    assert "SCALE-Sim" not in note and "load them from the cache" in note
    assert "the ragged-loop kernel" in note  # the cycle model runs templates' ragged candidates too
    assert "the ragged-loop kernel" in kernel_cache.compile_note(SimOptions(dataflow="ws"))  # analytical: may run ragged
    monkeypatch.setattr(kernel_cache, "is_compiled", lambda kernel: kernel.__name__ != "evaluate_nest")
    assert "load it" in kernel_cache.compile_note(SimOptions(dataflow="ws"))
    monkeypatch.setattr(kernel_cache, "is_compiled", lambda kernel: True)
    assert kernel_cache.compile_note(SimOptions(dataflow="search")) is None


def test_cache_info_and_help(capsys):
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    package_dir = Path(accelsim.__file__).resolve().parent
    assert f"the __pycache__ folders under {package_dir}" in out
    assert re.search(r"\n\d+ files \(\*\.nbi, \*\.nbc\), [\d,]+ bytes", out), out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "cache" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["cache", "--help"])
    out = capsys.readouterr().out
    assert "delete accelsim's Numba cache files" in out and "where accelsim's Numba cache lives" in out


def test_a_run_reports_progress_per_layer_with_the_search_rate(capsys):
    calls = []
    arch, workload = accelsim.load_arch(ARCH), accelsim.load_workload(WL)
    accelsim.simulate(arch, workload, accelsim.SimOptions(dataflow="search"),
                      progress=lambda *args: calls.append(args))
    assert [(done, total, name) for done, total, name, _ in calls] == [
        (i + 1, len(workload.layers), layer.name) for i, layer in enumerate(workload.layers)]
    assert all(search is not None and search.evaluations > 0 for *_, search in calls)
    # The CLI's bar writes to a terminal only: a captured (non-terminal) stderr stays clean.
    assert main(["run", ARCH, WL]) == 0
    assert "layer/s" not in capsys.readouterr().err


def test_check_validates_sweeps_and_energy_table_names(tmp_path, capsys):
    sweeps = sorted(str(p) for p in (REPO / "docs" / "sweeps").glob("*.yaml"))
    assert main(["check", *sweeps]) == 0
    assert capsys.readouterr().out.count("ok (sweep)") == len(sweeps)
    arch = tmp_path / "a.yaml"
    arch.write_text((ARCH_DIR / "simple_ws.yaml").read_text().replace("energy_table: horowitz_45nm",
                                                                      "energy_table: horowitz_45n"))
    assert "horowitz_45n" in arch.read_text()
    assert main(["check", str(arch)]) == 2
    err = capsys.readouterr().err
    assert "unknown energy table 'horowitz_45n'" in err and "did you mean 'horowitz_45nm'" in err


def test_info_tables_shows_values_and_sources(capsys):
    from accelsim.energy.tables import load_table
    assert main(["info", "tables"]) == 0
    out = capsys.readouterr().out
    for name in ("horowitz_45nm", "tpuv4i_7nm"):
        table = load_table(name)
        assert f"{name}: {table.node_nm:g} nm" in out and table.source in out
        assert f"{table.dram_pj_per_bit:.4g} pJ/bit" in out
    assert "interpolated:" in out


def test_the_layer_progress_shows_the_layer_and_the_searchs_speed_on_a_terminal(monkeypatch):
    import io
    from types import SimpleNamespace

    from accelsim.cli.commands import _layer_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with _layer_progress(2) as step:
        step(1, 2, "conv1", SimpleNamespace(evaluations=3_000_000, seconds=2.0))
        shown = screen.getvalue()
    assert "1/2" in shown and "conv1" in shown and "1.50 M evals/s" in shown
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: no bar
    with _layer_progress(2) as step:
        assert step is None


def test_a_sweep_says_which_kernels_it_compiles_and_compiles_them_before_its_workers(monkeypatch, tmp_path, capsys):
    """A sweep on a cold cache printed nothing and stood at 0 points/s while its first point compiled."""
    from accelsim import compile_ahead, kernel_cache
    from accelsim.cli.commands import _compile_for_sweep
    from accelsim.dse.spec import load_sweep
    def sweep_file(dataflows):
        (tmp_path / "s.yaml").write_text(f"name: s\narch: {ARCH_DIR / 'simba_like.yaml'}\n"
                                         f"workloads: [{WORKLOAD_DIR / 'gemm_tiny.yaml'}]\ndataflows: {dataflows}\n")
        return load_sweep(tmp_path / "s.yaml").points()

    asked = []
    monkeypatch.setattr(kernel_cache, "is_compiled", lambda kernel: False)
    monkeypatch.setattr(compile_ahead, "pending", lambda jobs: jobs)
    monkeypatch.setattr(compile_ahead, "compile_in_parallel", lambda jobs, report=None: asked.append(jobs))
    _compile_for_sweep(sweep_file("[arch]"))  # simba_like's own template, ws: the template kernel, no search
    note = capsys.readouterr().err
    assert "the sweeps' template kernel" in note and "search" not in note and "later sweeps load them" in note
    assert asked == [[compile_ahead.COUNTING, compile_ahead.RAGGED, compile_ahead.TEMPLATE]]
    _compile_for_sweep(sweep_file("[search]"))
    assert "the mapper's search kernel" in capsys.readouterr().err
    _compile_for_sweep(sweep_file("[arch]\naxes: {arch.dataflow: [search]}"))  # an axis sets the arch's own
    assert "the mapper's search kernel" in capsys.readouterr().err
    assert asked[-1] == [compile_ahead.COUNTING, compile_ahead.RAGGED, compile_ahead.SEARCH]
    monkeypatch.setattr(kernel_cache, "is_compiled", lambda kernel: True)
    _compile_for_sweep(sweep_file("[arch, search]"))
    assert capsys.readouterr().err == "" and len(asked) == 3  # all cached: no note, nothing compiled
