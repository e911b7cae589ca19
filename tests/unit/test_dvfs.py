"""Clock/voltage domains and the DVFS study (docs/dvfs.md).

Invariants, not golden numbers: a bandwidth in B/s keeps DRAM time per byte whatever the core clock;
a per-cycle bandwidth in a domain ticks on that domain's clock; in the V–f table's voltage floor a
core-bound layer's dynamic energy is constant and its leakage ∝ 1/f; a core-bound layer's
energy-to-completion is convex in f where the model's V(f) is convex (the A30 table's slopes
rise); the per-layer schedule is the brute-force optimum of its discretized problem and never
worse than the best single clock.
"""
import itertools
import json

import numpy as np
import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

import accelsim
from accelsim.cli import main
from accelsim.dvfs.schedule import best_single_point, evaluate, per_layer_schedule
from accelsim.dvfs.sweep import DvfsSweep, LayerPoint, dvfs_sweep
from accelsim.energy.domains import at_frequency, frequency_range_hz
from accelsim.energy.model import action_energies
from accelsim.ir.arch import min_voltage_v

A30 = ARCH_DIR / "a30_like.yaml"
GEMM_AND_GEMV = """
name: gemm_and_gemv
precision: fp16
layers:
  - name: gemm
    matmul: {m: 1024, n: 1024, k: 1024}
  - name: gemv
    matmul: {m: 1, n: 4096, k: 4096}
"""


@pytest.fixture(scope="module")
def a30():
    return accelsim.load_arch(A30)


@pytest.fixture(scope="module")
def study(a30, tmp_path_factory):
    path = tmp_path_factory.mktemp("wl") / "w.yaml"
    path.write_text(GEMM_AND_GEMV)
    workload = accelsim.load_workload(path)
    return dvfs_sweep(a30, workload, points=12, options=accelsim.SimOptions(dataflow="os"))


def _hbm_bytes_per_s(arch):
    hbm = arch.level("HBM")
    return hbm.shared_bw_words * hbm.word_bits / 8 * arch.frequency_hz


def test_core_clock_leaves_dram_time_per_byte_unchanged(a30, study):
    for f in (210e6, 700e6, 1440e6):  # 768 B per HBM clock (1215 MHz): 933 GB/s
        assert _hbm_bytes_per_s(at_frequency(a30, "core", f)) == pytest.approx(768 * 1215e6, rel=1e-12)
    # the GEMV streams 32 MiB of weights from HBM: where HBM bounds it, its runtime does not move
    # with the core clock (to within a cycle of rounding); below, the core-clocked L2 takes over
    gemv = study.layers.index("gemv")
    hbm_bound = [row[gemv].runtime_s for row in study.points if row[gemv].bound_by == "HBM"]
    assert len(hbm_bound) >= 4 and study.points[-1][gemv].bound_by == "HBM"
    assert max(hbm_bound) - min(hbm_bound) <= 2 / min(study.frequencies_hz)
    assert hbm_bound[0] == pytest.approx(4096 * 4096 * 2 / 933e9, rel=0.01)


def test_bandwidth_in_bytes_per_second_is_fixed_and_per_cycle_ticks_on_its_domains_clock(tmp_path):
    arch = accelsim.load_arch(A30, ["levels.0.memory.shared_bandwidth=933 GB/s"])
    for f in (300e6, 1400e6):
        assert _hbm_bytes_per_s(at_frequency(arch, "core", f)) == pytest.approx(933e9, rel=1e-12)
    # give the HBM domain a V–f table and sweep it: its per-cycle bandwidth follows its clock
    text = A30.read_text().replace("    operating_point: {voltage: 1.2V, frequency: 1215MHz}\n",
                                   "    operating_point: {voltage: 1.2V, frequency: 1215MHz}\n"
                                   "    voltage_frequency:\n      source: test\n      table:\n"
                                   "        - {voltage: 1.1V, frequency: 600MHz}\n"
                                   "        - {voltage: 1.2V, frequency: 1215MHz}\n")
    path = tmp_path / "a30_hbm_vf.yaml"
    path.write_text(text)
    arch = accelsim.load_arch(path)
    assert frequency_range_hz(arch, "hbm") == (600e6, 1215e6)
    slow = at_frequency(arch, "hbm", 600e6)
    assert _hbm_bytes_per_s(slow) == pytest.approx(768 * 600e6, rel=1e-12)
    assert slow.domains[0].voltage_v == pytest.approx(1.1)
    assert action_energies(slow).read_pj["HBM"] == pytest.approx(998.4 * (1.1 / 1.2) ** 2, rel=1e-12)


def test_energies_follow_their_own_domains_voltage(a30):
    low, high = at_frequency(a30, "core", 300e6), at_frequency(a30, "core", 1440e6)
    e_low, e_high = action_energies(low), action_energies(high)
    assert e_low.read_pj["HBM"] == e_high.read_pj["HBM"] == 998.4  # HBM: its own 1.2 V supply
    ratio = (high.voltage_v / low.voltage_v) ** 2
    assert e_high.mac_pj / e_low.mac_pj == pytest.approx(ratio, rel=1e-12)
    assert e_high.read_pj["SMEM"] / e_low.read_pj["SMEM"] == pytest.approx(ratio, rel=1e-12)


def test_voltage_is_the_lowest_the_table_allows(a30):
    assert min_voltage_v(a30.vf_table, 210e6) == 0.70  # the floor
    assert min_voltage_v(a30.vf_table, 1440e6) == pytest.approx(0.95)
    assert min_voltage_v(a30.vf_table, 960e6) == pytest.approx(0.75)
    with pytest.raises(accelsim.SpecError, match="above the V–f table"):
        min_voltage_v(a30.vf_table, 1500e6)
    with pytest.raises(accelsim.SpecError, match="no voltage_frequency table"):
        frequency_range_hz(a30, "hbm")


def test_voltage_floor_compute_bound_dynamic_constant_leakage_inverse_f(study):
    gemm = study.layers.index("gemm")
    floor = [j for j, v in enumerate(study.voltages_v) if v == 0.70]
    assert len(floor) >= 3 and all(study.points[j][gemm].bound_by != "HBM" for j in floor)  # core-clocked
    dyn = [study.points[j][gemm].energy_j["compute"] for j in floor]
    assert max(dyn) == pytest.approx(min(dyn), rel=1e-12)
    leak_f = [study.points[j][gemm].energy_j["leakage"] * study.frequencies_hz[j] for j in floor]
    assert max(leak_f) == pytest.approx(min(leak_f), rel=1e-9)
    totals = [study.points[j][gemm].total_j for j in floor]
    assert all(b < a for a, b in itertools.pairwise(totals))  # the U's falling arm


def test_compute_bound_energy_is_convex_and_u_shaped(study):
    gemm = study.layers.index("gemm")
    assert all(row[gemm].bound_by != "HBM" for row in study.points)  # compute or a core-clocked level
    f = np.array(study.frequencies_hz)
    e = np.array([row[gemm].total_j for row in study.points])
    # uniform grid: second differences ≥ 0 (V(f) is convex on the A30 table, so V², V·exp(V)/f are)
    assert np.allclose(np.diff(f, 2), 0, atol=1)
    assert (np.diff(e, 2) >= -1e-12 * e.max()).all()
    j = int(np.argmin(e))
    assert 0 < j < len(e) - 1, "an interior minimum: leakage-bound on the left, V²-bound on the right"


def test_memory_bound_energy_rises_with_the_clock(study):
    gemv = study.layers.index("gemv")
    e = [row[gemv].total_j for row in study.points if row[gemv].bound_by == "HBM"]
    assert len(e) >= 4 and all(b > a for a, b in itertools.pairwise(e))  # same time, more cycles, higher V
    knee = next(j for j, row in enumerate(study.points) if row[gemv].bound_by == "HBM")
    assert study.optimum()[gemv] in (knee - 1, knee)  # the optimum sits at the roofline knee


def _synthetic(energy, runtime, counts, static):
    points = tuple(tuple(LayerPoint(float(runtime[j, i]), {"compute": float(energy[j, i]), "overhead": 0.0,
                                                             "leakage": 0.0, "memory": 0.0}, False, "compute")
                         for i in range(energy.shape[1])) for j in range(energy.shape[0]))
    n = energy.shape[0]
    return DvfsSweep("a", "w", "core", tuple(np.linspace(1e8, 1e9, n)), tuple(np.linspace(0.6, 1.0, n)),
                     tuple(f"l{i}" for i in range(energy.shape[1])), tuple(counts), points, tuple(static), None)


@pytest.mark.parametrize("seed", range(4))
def test_schedule_is_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    n_points, n_layers = 4, 4
    energy = rng.uniform(1.0, 3.0, (n_points, n_layers))
    runtime = rng.uniform(1.0, 3.0, (n_points, n_layers))
    counts = [3, 3, 3, 1] if seed % 2 else [1, 1, 1, 1]
    sweep = _synthetic(energy, runtime, counts, rng.uniform(0.01, 0.05, n_points))
    budget = float(np.median(runtime.sum(axis=1)))
    best = None
    for choice in itertools.product(range(n_points), repeat=n_layers):
        s = evaluate(sweep, choice, 0.1, 0.02)
        if s.runtime_s <= budget and (best is None or s.energy_j < best.energy_j):
            best = s
    found = per_layer_schedule(sweep, latency_budget_s=budget, switch_time_s=0.1, switch_energy_j=0.02, bins=4000)
    assert found.runtime_s <= budget
    # within the discretization: one bin of the budget per rounded term, priced at the steepest trade
    assert found.energy_j <= best.energy_j * 1.02
    single = best_single_point(sweep, latency_budget_s=budget)
    assert single is None or found.energy_j <= single.energy_j + 1e-12


def test_unconstrained_schedule_without_switch_cost_takes_each_layers_optimum(study):
    s = per_layer_schedule(study)
    assert list(s.points) == study.optimum()
    assert s.energy_j <= best_single_point(study).energy_j


def test_cli_dvfs_and_ucurve_plot_on_the_5nm_chip(tmp_path, capsys):
    out, png = tmp_path / "d.json", tmp_path / "u.png"
    assert main(["dvfs", str(ARCH_DIR / "vsquant_5nm.yaml"), str(WORKLOAD_DIR / "matmul_benchmark.yaml"),
                 "--points", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "energy-optimal" in text and "benchmark" in text
    data = json.loads(out.read_text())
    assert data["kind"] == "accelsim.dvfs" and len(data["frequencies_hz"]) == 3
    assert main(["plot", "ucurve", str(out), "--out", str(png)]) == 0
    assert png.stat().st_size > 0


def test_cli_dvfs_bad_domain_is_a_clear_error(capsys):
    code = main(["dvfs", str(A30), str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--domain", "nope", "--points", "3"])
    assert code == 2
    assert "no domain 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("seed", range(3))
def test_energy_budget_schedule_is_the_brute_force_fastest(seed):
    rng = np.random.default_rng(100 + seed)
    energy = rng.uniform(1.0, 3.0, (4, 4))
    runtime = rng.uniform(1.0, 3.0, (4, 4))
    sweep = _synthetic(energy, runtime, [2, 2, 2, 2], rng.uniform(0.01, 0.05, 4))
    budget = float(np.median(energy.sum(axis=1)))
    fastest = min((s for s in (evaluate(sweep, c, 0.05, 0.01) for c in itertools.product(range(4), repeat=4))
                   if s.energy_j <= budget), key=lambda s: s.runtime_s)
    found = per_layer_schedule(sweep, energy_budget_j=budget, switch_time_s=0.05, switch_energy_j=0.01, bins=4000)
    assert found.energy_j <= budget
    assert found.runtime_s <= fastest.runtime_s * 1.02


@pytest.mark.parametrize(("domain", "message"), [
    ("{name: core, levels: [HBM], operating_point: {voltage: 1.2V, frequency: 1GHz}, source: x}", "reserved"),
    ("{name: d, levels: [Nope], operating_point: {voltage: 1.2V, frequency: 1GHz}, source: x}", "unknown level"),
    ("{name: d, levels: [FMA], operating_point: {voltage: 1.2V, frequency: 1GHz}, source: x}", "core clock"),
    ("{name: d, levels: [HBM], operating_point: {voltage: 1.2V}, source: x}", "needs a frequency"),
])
def test_bad_domain_is_a_clear_spec_error(tmp_path, domain, message):
    text = A30.read_text()
    start = text.index("domains:\n")
    end = text.index("levels:\n", start)
    path = tmp_path / "bad.yaml"
    path.write_text(text[:start] + f"domains:\n  - {domain}\n" + text[end:])
    with pytest.raises(accelsim.SpecError, match=message) as info:
        accelsim.load_arch(path)
    assert "domains.0" in str(info.value)


def test_cli_dvfs_on_the_a30_with_a_budget(tmp_path, capsys):
    out = tmp_path / "d.json"
    assert main(["dvfs", str(A30), str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--points", "4",
                 "--latency-budget", "1.1x", "--switch-time", "1us", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "power cap 165 W" in text and "latency budget 1.1x" in text
    data = json.loads(out.read_text())
    assert [s["label"] for s in data["schedules"]][-1] == "latency budget 1.1x"
    assert all(s["per_layer"]["energy_j"] <= s["single_point"]["energy_j"] * (1 + 1e-12)
               for s in data["schedules"] if s["per_layer"] and s["single_point"])


def test_an_overhead_component_in_a_domain_costs_its_energy_per_domain_cycle(tmp_path):
    text = A30.read_text().replace("levels:\n  - memory:\n      name: HBM",
                                   "  - {name: uncore, levels: [SM_control, L2], operating_point: {voltage: 0.6V, "
                                   "frequency: 720MHz}, nominal_voltage: 0.75V, background_power: 3W, source: test}\n"
                                   "levels:\n  - memory:\n      name: HBM", 1)
    path = tmp_path / "a30_uncore.yaml"
    path.write_text(text)
    arch = accelsim.load_arch(path)
    e = action_energies(arch)
    assert e.overhead_pj_per_cycle["SM_control"] == pytest.approx(3360 * (0.6 / 0.75) ** 2 * 720 / 1440, rel=1e-12)
    assert e.leakage_w["L2"] == pytest.approx(2.0 * 0.6 / 0.75, rel=1e-12)  # no e-fold in this domain
    # L2's 2560 B/cycle tick on the uncore's 720 MHz: half the words per core cycle at 1440 MHz
    assert arch.level("L2").shared_bw_words == pytest.approx(2560 * 8 / 16 * 720 / 1440, rel=1e-12)
    result = accelsim.simulate(arch, accelsim.load_workload(WORKLOAD_DIR / "gemm_tiny.yaml"))
    layer = result.layers[0]
    assert layer.energy.leakage_pj["uncore background"] == pytest.approx(3.0 * 0.6 / 0.75 * layer.latency_s * 1e12)
    assert "uncore background" not in layer.off_chip and "hbm background" in layer.off_chip


@pytest.mark.parametrize(("args", "message"), [
    (["--frequencies", "100MHz,500MHz"], "outside domain 'core'"),
    (["--points", "1"], "at least 2 points"),
    (["--frequencies", "fast"], "--frequencies"),
    (["--latency-budget", "soon"], "--latency-budget"),
])
def test_cli_dvfs_bad_arguments_are_clear_errors(capsys, args, message):
    assert main(["dvfs", str(A30), str(WORKLOAD_DIR / "gemm_tiny.yaml"), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_dvfs_without_a_vf_table_and_ucurve_of_a_run_json_are_clear_errors(tmp_path, capsys):
    assert main(["dvfs", str(ARCH_DIR / "simple_ws.yaml"), str(WORKLOAD_DIR / "gemm_tiny.yaml")]) == 2
    assert "give it a voltage_frequency table" in capsys.readouterr().err
    run = tmp_path / "r.json"
    assert main(["run", str(ARCH_DIR / "simple_ws.yaml"), str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--json", str(run)]) == 0
    assert main(["plot", "ucurve", str(run), "--out", str(tmp_path / "u.png")]) == 2
    assert "not a DVFS study" in capsys.readouterr().err


def test_a_per_output_overhead_follows_its_own_domains_supply(tmp_path):
    # An overhead with a per-output energy in a domain of its own: at 0.6 V against its nominal
    # 1.2 V it costs (0.6/1.2)² = 1/4 of its nominal energy, whatever the core's voltage.
    text = A30.read_text().replace("  - name: SM_control\n", "  - name: ppu\n    energy_per_output: 8pJ\n"
                                   "    source: test\n  - name: SM_control\n", 1)
    text = text.replace("domains:\n", "domains:\n  - name: uncore\n    levels: [ppu]\n"
                        "    operating_point: {voltage: 0.6V, frequency: 1GHz}\n    nominal_voltage: 1.2V\n"
                        "    source: test\n", 1)
    path = tmp_path / "a30_ppu.yaml"
    path.write_text(text)
    workload_path = tmp_path / "w.yaml"
    workload_path.write_text(GEMM_AND_GEMV)
    workload = accelsim.load_workload(workload_path)
    for frequency in (700e6, 1400e6):  # two core voltages
        arch = at_frequency(accelsim.load_arch(path), "core", frequency)
        result = accelsim.simulate(arch, workload, accelsim.SimOptions(dataflow="os"))
        for layer in result.layers:
            outputs = layer.outputs * layer.count
            assert layer.energy.dynamic_pj["ppu"] == pytest.approx(8 * outputs / 4, rel=1e-12)


def test_a_domain_without_nominal_voltage_scales_from_its_declared_operating_point(tmp_path):
    # Without nominal_voltage the energies are given at the domain's declared operating point, a
    # fixed reference: sweeping the domain's clock down its V–f table scales them by (V/V_op)².
    text = A30.read_text().replace("    operating_point: {voltage: 1.2V, frequency: 1215MHz}\n    nominal_voltage: 1.2V\n",
                                   "    operating_point: {voltage: 1.2V, frequency: 1215MHz}\n"
                                   "    voltage_frequency:\n      source: test\n      table:\n"
                                   "        - {voltage: 0.9V, frequency: 600MHz}\n"
                                   "        - {voltage: 1.2V, frequency: 1215MHz}\n", 1)
    assert "nominal_voltage: 1.2V" not in text.split("levels:")[0].split("- name: hbm")[1]
    path = tmp_path / "a30_no_nominal.yaml"
    path.write_text(text)
    arch = accelsim.load_arch(path)
    at_op, low = (action_energies(at_frequency(arch, "hbm", f)) for f in (1215e6, 600e6))
    assert low.read_pj["HBM"] == pytest.approx(at_op.read_pj["HBM"] * (0.9 / 1.2) ** 2, rel=1e-12)


@pytest.mark.parametrize("budget", ["--latency-budget=0x", "--latency-budget=0us", "--energy-budget=-1x"])
def test_a_budget_that_is_not_positive_is_refused(budget, capsys):
    assert main(["dvfs", str(A30), str(WORKLOAD_DIR / "gemm_tiny.yaml"), "--points", "2", budget]) == 2
    assert "positive" in capsys.readouterr().err


def test_a_sweep_reruns_a_template_that_pads_ragged_strips(tmp_path):
    # Eyeriss's rs template pads AlexNet conv1's 55 output rows to 56 (strips of 7): the sweep
    # re-runs that mapping at each clock, on the same padded layer.
    from dataclasses import replace
    path = tmp_path / "conv1.yaml"
    path.write_text("name: conv1only\nlayers:\n  - name: conv1\n"
                    "    conv2d: {n: 1, k: 96, c: 3, h: 227, w: 227, r: 11, s: 11, stride: 4}\n")
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_v1.yaml")
    arch = replace(arch, vf_table=((0.8, 100e6), (1.0, arch.frequency_hz)))
    sweep = dvfs_sweep(arch, accelsim.load_workload(path), "core", None, 2, accelsim.SimOptions(dataflow="rs"))
    assert sweep.frequencies_hz == (100e6, 200e6)
