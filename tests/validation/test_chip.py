"""The 5 nm VS-Quant chip (arch/vsquant_5nm.yaml) against Keller et al., JSSC 2023.

Calibration claims must be reproduced within 2 % (the constants were fitted to them, see
docs/calibration/vsquant_5nm.py); prediction claims within the tolerance each states (set before
the model was run on them: 2 % for peak throughput, which is structural, 10 % for networks, whose
real operand densities the paper does not give). Published values and sources are in the arch
file's claims block.
"""
import pytest

import accelsim
from accelsim.claims import evaluate_claims
from accelsim.load import load_arch, load_workload
from accelsim.options import SimOptions
from accelsim.simulate import simulate
from conftest import ARCH_DIR, WORKLOAD_DIR

ARCH = ARCH_DIR / "vsquant_5nm.yaml"
# Prediction claims the model misses, each with the reason; strict, so a fix shows as a failure (XPASS).
KNOWN_MISSES = {"core_area": "the area model counts SRAM bit cells × 1.3 (a large-array periphery figure), "
                "flip-flops and ideal operators from the 7 nm table; it leaves out control, the PPU, wiring "
                "and the small macros' larger periphery (docs/area.md): -62 %"}


def pytest_generate_tests(metafunc):
    """One test_claim per claim of the arch's claims: block, named by the claim. Collection
    reads only the names (a validated load of the arch file); nothing is simulated until a test runs."""
    if "name" in metafunc.fixturenames:
        metafunc.parametrize("name", [
            pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n])) if n in KNOWN_MISSES
            else n for n in sorted(c.name for c in load_arch(ARCH).claims)])


@pytest.fixture(scope="module")
def results():
    """Every claim evaluated once per module, as `accelsim claims` evaluates them."""
    return {r.name: r for r in evaluate_claims(ARCH)}


def test_claim(name, results):
    r = results[name]
    assert abs(r.error) <= r.tolerance, f"{name}: claimed {r.claimed}, modelled {r.modelled:.4g} ({r.source})"


def test_calibration_tolerance_is_two_percent(results):
    calibration = [r for r in results.values() if r.role == "calibration"]
    assert len(calibration) == 8 and all(r.tolerance == 0.02 for r in calibration)


def bench(**overrides):
    arch = load_arch(ARCH, [f"{k}={v}" for k, v in overrides.pop("arch", {}).items()])
    return simulate(arch, load_workload(WORKLOAD_DIR / "matmul_benchmark.yaml"), SimOptions(**overrides))


def test_cycles_follow_the_papers_formula_and_ignore_density():
    # [J23]: cycles = ceil(M/VL) ceil(N/AD) ceil(K/VS) AD; the chip skips nothing.
    m, n, k = 128, 128, 1024  # accelsim matmul: inputs M x K (the chip's B), weights K x N (A)
    lanes, depth, vector = 16, 16, 64
    want = (n // lanes) * (m // depth) * (k // vector) * depth
    for d in (0.0, 0.5, 1.0):
        assert bench(density=d).cycles == want
    assert bench(precision="int8").cycles == 2 * want  # 32-wide vectors in INT8


def test_energy_falls_with_density_and_int8_costs_more():
    e = [bench(density=d).boundary_energy_pj()["chip"] for d in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert e == sorted(e)
    int4 = bench(precision="int4").boundary_energy_pj()["chip"]
    vsq = bench(precision="int4_vsq").boundary_energy_pj()["chip"]
    int8 = bench(precision="int8").boundary_energy_pj()["chip"]
    assert vsq / int4 == pytest.approx(1.008, abs=0.002)  # the +0.8 % VSQ cost (calibration)
    assert int8 > 2 * vsq


def test_dynamic_energy_scales_with_v_squared_and_leakage_with_runtime():
    lo = bench(arch={"operating_point.voltage": "0.5V"})
    hi = bench(arch={"operating_point.voltage": "0.67V"})
    ratio = (0.5 / 0.67) ** 2
    for component, pj in hi.layers[0].energy.dynamic_pj.items():  # DRAM has its own supply
        factor = 1.0 if component in hi.layers[0].off_chip else ratio
        assert lo.layers[0].energy.dynamic_pj[component] == pytest.approx(pj * factor, rel=1e-12)
    # Same voltage, half the clock: the same dynamic energy, twice the leakage energy.
    half = bench(arch={"operating_point.voltage": "0.67V", "operating_point.frequency": "488MHz"})
    assert half.layers[0].energy.dynamic_pj == pytest.approx(hi.layers[0].energy.dynamic_pj)
    leak = lambda r: sum(r.layers[0].energy.leakage_pj.values())  # noqa: E731
    assert leak(half) == pytest.approx(leak(hi) * hi.arch.frequency_hz / 488e6, rel=1e-9)


def test_energy_to_completion_vs_frequency():
    # Along the V–f curve, energy per op rises with V (dynamic ∝ V² wins over the shorter
    # leakage time); at a fixed voltage it rises as the clock slows (leakage integrates longer).
    volts = [0.46, 0.5, 0.55, 0.6, 0.67, 0.8, 1.05]
    dvfs = [bench(arch={"operating_point.voltage": f"{v}V"}).boundary_energy_pj()["chip"] for v in volts]
    assert dvfs == sorted(dvfs)
    clocks = ["100MHz", "300MHz", "600MHz", "900MHz"]
    fixed = [bench(arch={"operating_point.voltage": "0.67V", "operating_point.frequency": f})
             .boundary_energy_pj()["chip"] for f in clocks]
    assert fixed == sorted(fixed, reverse=True)


def test_frequency_above_fmax_is_a_spec_error():
    with pytest.raises(accelsim.SpecError, match="exceeds f_max"):
        load_arch(ARCH, ["operating_point.voltage=0.46V", "operating_point.frequency=200MHz"])


def test_precision_the_chip_lacks_is_a_spec_error():
    with pytest.raises(accelsim.SpecError, match="does not run precision 'fp16'"):
        bench(precision="fp16")


def test_chip_workloads_mac_totals():
    # Closed forms from the model hyper-parameters (s tokens, h hidden, f FFN, L layers).
    def encoder(s, h, f, layers):
        return layers * (4 * s * h * h + 2 * s * s * h + 2 * s * h * f)
    for name, s, h, f, layers in [("bert_base_s128", 128, 768, 3072, 12), ("bert_base_s384", 384, 768, 3072, 12),
                                  ("bert_large_s128", 128, 1024, 4096, 24),
                                  ("bert_large_s384", 384, 1024, 4096, 24),
                                  ("deit_small", 197, 384, 1536, 12), ("deit_base", 197, 768, 3072, 12)]:
        assert load_workload(WORKLOAD_DIR / f"{name}.yaml").macs == encoder(s, h, f, layers), name
    base = load_workload(WORKLOAD_DIR / "resnet50.yaml")
    vsq = load_workload(WORKLOAD_DIR / "resnet50_vsquant.yaml")
    assert vsq.macs == base.macs
    formats = {l.name: l.precision for l in vsq.layers}
    int4 = {"res2a_branch2a", "res2a_branch1"} | {f"res4{b}_branch2c" for b in "abcdef"} \
        | {f"res5{b}_branch2c" for b in "abc"}
    assert {n for n, f in formats.items() if f == "int8"} == {"conv1", "fc"}
    assert {n for n, f in formats.items() if f == "int4"} == int4
    assert all(f == "int4_vsq" for n, f in formats.items() if n not in int4 | {"conv1", "fc"})


def test_padding_counts_real_macs_and_padded_cycles():
    wl = load_workload(WORKLOAD_DIR / "deit_small.yaml")
    result = simulate(load_arch(ARCH), wl)
    qk = next(l for l in result.layers if l.name == "attn_qk")
    assert qk.macs == 6 * 197 * 197 * 64
    assert qk.cycles == 6 * 13 * 13 * 1 * 16  # heads x ceil(197/16)^2 tiles x 1 vector x 16
    assert result.utilization < 1.0


def test_cycle_model_adds_only_the_first_fill():
    # [J23]: cycles ≈ the formula "plus small fill/drain"; collector reloads hide behind compute.
    analytical = bench().cycles
    cycle = bench(model="cycle")
    assert analytical < cycle.cycles <= analytical + 16


def test_collector_depths_select_the_multilevel_dataflow():
    # With one-vector collectors (the chip) every MAGNet template has OS-LWS's local loops; deeper
    # collectors let WS-LOS reduce over several weight vectors innermost (local output
    # stationary) while OS-LWS keeps streaming inputs past one held weight vector.
    deeper = {"levels.ACollector.size": "2048b", "levels.AccumCollector.size": "1536b"}
    innermost = {}
    for dataflow in ("os_lws", "ws_los", "is_los"):
        local = lambda m: (m.at("ACollector"), m.at("AccumCollector"))  # noqa: E731
        assert local(bench(dataflow=dataflow).layers[0].mapping) == local(bench().layers[0].mapping)
        layer = bench(dataflow=dataflow, arch=deeper).layers[0]
        loops = [l for l in layer.mapping.at("ACollector").loops if l.bound > 1]
        innermost[dataflow] = loops[-1].dim
    assert innermost == {"os_lws": "m", "ws_los": "k", "is_los": "k"}


# --- the calibration script (docs/calibration/vsquant_5nm.py) ----------------------------------

def _calibration_script():
    import importlib.util

    from conftest import REPO
    spec = importlib.util.spec_from_file_location("vsquant_5nm_calibration", REPO / "docs" / "calibration" / "vsquant_5nm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arch_value(data, key: str):
    """The raw value at a dotted key path of the arch YAML; list items by their name."""
    node = data
    for part in key.split("."):
        if isinstance(node, list):
            node = next(item for item in node if (item.get("memory") or item.get("compute") or item).get("name") == part)
            node = node.get("memory") or node.get("compute") or node
        else:
            node = node[part]
    return node


def test_calibration_script_reproduces_the_arch():
    # Every calibration constant of the arch file equals what the committed script computes from
    # the calibration data (at the arch's switching shares; the slow test below checks the grid
    # search chooses those shares). Values compare exactly as the file holds them (4 digits).
    import yaml

    from accelsim import units
    parse = {"pJ": units.parse_energy_pj, "mW": units.parse_power_w, "V": units.parse_voltage_v, "": float}
    data = yaml.safe_load(ARCH.read_text())
    constants = _calibration_script().calibrate()
    assert len(constants) == 20
    for key, (value, unit) in constants.items():
        want = parse[unit](f"{value:g}{unit}")
        assert parse[unit](_arch_value(data, key)) == want, f"{key}: arch {_arch_value(data, key)}, script {value:g}{unit}"


@pytest.mark.slow
def test_calibration_grid_search_chooses_the_arch_shares():
    script = _calibration_script()
    units_ = script.probe_units()
    worst, shares = script.grid_search(units_)
    arch = load_arch(ARCH)
    assert shares == (arch.compute.switching_share, arch.compute.reduction_tree_share,
                      arch.level("ABuffer").switching_share, arch.level("AccumCollector").switching_share)
    assert arch.level("BBuffer").switching_share == arch.level("ABuffer").switching_share
    assert worst < 0.02
    # The grid's ranking (batched normal equations) agrees with the direct least squares.
    _, err = script.fit_energies(units_, shares)
    assert abs(err).max() == pytest.approx(worst, rel=1e-6)


# --- claims: calibration, predictions, derived figures -----------------------------------------

def test_claims_separate_calibration_predictions_and_derived(results):
    roles = {r.name: r.role for r in results.values()}
    assert {n for n, role in roles.items() if role == "prediction"} == {"bert_base_tops_per_watt",
                                                                         "resnet50_tops_per_watt", "core_area"}
    derived = [r for r in results.values() if r.role == "derived"]
    assert {r.name for r in derived} == {"peak_tops_int4_1.05V", "peak_tops_int8_1.05V",
                                         "bert_base_inferences_per_joule", "resnet50_inferences_per_joule"}
    assert all(r.derivation for r in derived)
    # The derivations hold in the model: peak TOPS = 2 x MACs/cycle x f_max(1.05 V) (utilization 1 on
    # the benchmark), and inferences/s/W = TOPS/W x 1e12 / (2 x MACs per inference).
    f = load_arch(ARCH, ["operating_point.voltage=1.05V"]).frequency_hz
    assert results["peak_tops_int4_1.05V"].modelled == pytest.approx(2 * 1024 * f / 1e12, rel=1e-9)
    assert results["peak_tops_int8_1.05V"].modelled == pytest.approx(2 * 512 * f / 1e12, rel=1e-9)
    for net, workload in (("bert_base", "bert_base_s128"), ("resnet50", "resnet50_vsquant")):
        macs = load_workload(WORKLOAD_DIR / f"{workload}.yaml").macs
        assert results[f"{net}_inferences_per_joule"].modelled == pytest.approx(
            results[f"{net}_tops_per_watt"].modelled * 1e12 / (2 * macs), rel=1e-9)


def test_predictions_show_their_density_sensitivity(results):
    # The networks' operand densities are assumed (the paper does not give them): each prediction
    # is also reported at 0.8x and 1.2x those densities and dense; denser data costs more energy.
    for name in ("bert_base_tops_per_watt", "resnet50_tops_per_watt"):
        r = results[name]
        assert list(r.sensitivity) == ["densities x0.8", "densities x1.2", "dense"]
        assert r.sensitivity["densities x0.8"] > r.modelled > r.sensitivity["densities x1.2"] > r.sensitivity["dense"]
    assert all(not r.sensitivity for r in results.values() if r.role != "prediction" or r.metric == "area_mm2")


def test_derivation_only_with_role_derived(tmp_path):
    import yaml
    data = yaml.safe_load(ARCH.read_text())
    data["claims"][0]["derivation"] = "a formula"   # a calibration claim with a derivation
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(accelsim.SpecError, match="derivation"):
        load_arch(path)
