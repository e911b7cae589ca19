"""The area model (accelsim/energy/area.py): formulas, explicit overrides, TOPS/mm²."""
import json

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

from accelsim.energy.area import arch_area, mac_area_um2
from accelsim.energy.tables import load_table
from accelsim.load import load_arch, load_workload
from accelsim.report.frames import layers_frame
from accelsim.report.serialize import result_dict
from accelsim.simulate import simulate

ARCH = """
name: area_test
technology: {{node: 45nm, energy_table: horowitz_45nm}}
operating_point: {{voltage: 0.9V, frequency: 1GHz}}
levels:
  - memory: {{name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [inputs, weights, outputs]}}
  - memory: {{name: GLB, class: sram, size: {glb}, word_bits: 8, keeps: [inputs, weights, outputs]{glb_area}}}
  - spatial: {{name: PEs, x: 4, y: 2}}
  - memory: {{name: RF, class: regfile, size: 256b, word_bits: 8, keeps: [weights]}}
  - compute: {{name: MAC, format: {fmt}{mac_area}}}
overhead:
  - {{name: Control, energy_per_cycle: 1pJ{ctrl_area}}}
"""


def arch(write, glb="64KiB", fmt="int8", glb_area="", mac_area="", ctrl_area=""):
    return load_arch(write("a.yaml", ARCH.format(glb=glb, fmt=fmt, glb_area=glb_area, mac_area=mac_area,
                                                 ctrl_area=ctrl_area)))


def test_sram_area_follows_capacity_as_the_formula_says(write):
    t = load_table("horowitz_45nm").area
    small = {c.name: c for c in arch_area(arch(write, glb="64KiB")).components}
    big = {c.name: c for c in arch_area(arch(write, glb="128KiB")).components}
    assert small["GLB"].per_instance_um2 == pytest.approx(64 * 1024 * 8 * t.sram_bit_um2 * t.sram_periphery_factor)
    assert big["GLB"].per_instance_um2 == pytest.approx(2 * small["GLB"].per_instance_um2)
    # register files: one flip-flop per bit, in each of the 8 PEs
    assert small["RF"].per_instance_um2 == pytest.approx(256 * t.register_bit_um2)
    assert small["RF"].instances == 8 and small["RF"].total_um2 == pytest.approx(8 * 256 * t.register_bit_um2)


def test_mac_area_by_format_adds_the_table_operators(write):
    # Horowitz ISSCC 2014 (45 nm) areas: int8 mult 282 µm² + 32-bit accumulator add 137 µm²;
    # fp16 mult 1640 + add 1360; fp32 mult 7700 + add 4184.
    t = load_table("horowitz_45nm")
    assert mac_area_um2(t, "int8") == pytest.approx(282 + 137)
    assert mac_area_um2(t, "fp16") == pytest.approx(1640 + 1360)
    assert mac_area_um2(t, "fp32") == pytest.approx(7700 + 4184)
    assert mac_area_um2(t, "int4") < mac_area_um2(t, "int8") < mac_area_um2(t, "int16")
    area = {c.name: c for c in arch_area(arch(write, fmt="fp16")).components}
    assert area["MAC"].instances == 8 and area["MAC"].total_um2 == pytest.approx(8 * 3000)


def test_off_chip_overhead_and_wires_count_no_area(write):
    area = arch_area(arch(write))
    names = [c.name for c in area.components]
    assert names == ["GLB", "RF", "MAC"]
    assert dict(area.excluded).keys() == {"DRAM", "Control", "spatial fan-outs"}
    assert area.total_um2 == pytest.approx(sum(c.total_um2 for c in area.components))


def test_explicit_areas_win(write):
    a = arch(write, glb_area=", area: 0.5mm2", mac_area=", area: 25um2", ctrl_area=", area: 1000um2")
    area = {c.name: c for c in arch_area(a).components}
    assert (area["GLB"].per_instance_um2, area["GLB"].source) == (0.5e6, "arch")
    assert (area["MAC"].total_um2, area["MAC"].source) == (8 * 25.0, "arch")
    assert area["Control"].total_um2 == 1000.0
    assert area["RF"].source == "horowitz_45nm"  # the others are still estimated


def test_the_7nm_operator_areas_are_the_45nm_ones_scaled_by_the_bit_cell_ratio():
    # Derived entries (tpuv4i_7nm.yaml): written to 4 significant digits.
    a, b = load_table("horowitz_45nm").area, load_table("tpuv4i_7nm").area
    ratio = b.sram_bit_um2 / a.sram_bit_um2
    for op, um2 in b.operations_um2.items():
        assert um2 == pytest.approx(a.operations_um2[op] * ratio, rel=5e-4), op


def test_tops_per_mm2_is_tops_over_the_area_in_the_result_json_and_frame():
    result = simulate(load_arch(ARCH_DIR / "simple_ws.yaml"), load_workload(WORKLOAD_DIR / "gemm_small.yaml"))
    area_mm2 = result.area.total_mm2
    assert area_mm2 == pytest.approx(arch_area(result.arch).total_um2 * 1e-6)
    assert result.tops_per_mm2 == pytest.approx(result.tops / area_mm2)
    assert result.peak_tops_per_mm2 == pytest.approx(2 * 256 * 1e9 / 1e12 / area_mm2)  # 256 MACs at 1 GHz
    data = json.loads(json.dumps(result_dict(result)))
    assert data["totals"]["area_mm2"] == pytest.approx(area_mm2)
    assert data["totals"]["tops_per_mm2"] == pytest.approx(data["totals"]["tops"] / area_mm2)
    assert data["peak"]["tops_per_mm2"] == pytest.approx(data["peak"]["tops"] / area_mm2)
    assert sum(c["total_mm2"] for c in data["area"]["by_component"].values()) == pytest.approx(area_mm2)
    frame = layers_frame(result)
    for layer, (_, row) in zip(data["layers"], frame.iterrows()):
        assert layer["tops_per_mm2"] == pytest.approx(layer["tops"] / area_mm2)
        assert row["tops_per_mm2"] == pytest.approx(layer["tops_per_mm2"])
