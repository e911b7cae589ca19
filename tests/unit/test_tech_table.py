"""A user's technology table file (technology.table_file): read, validated, confined, and used
for energies and areas exactly as a built-in table is."""
import json
import re
from importlib import resources

import pytest
import yaml
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

from accelsim.cli import main
from accelsim.energy.area import arch_area
from accelsim.energy.model import action_energies
from accelsim.load import load_arch

BUILT_IN = yaml.safe_load(resources.files("accelsim.energy").joinpath("tables/horowitz_45nm.yaml").read_text())
ARCH_TEXT = (ARCH_DIR / "simple_ws.yaml").read_text()


def scaled(value, factor):
    """Every energy and area of a table times `factor` (capacities, node and voltage kept)."""
    if isinstance(value, dict):
        return {k: v if k in ("bytes", "node_nm", "voltage_v", "sram_periphery_factor") else scaled(v, factor)
                for k, v in value.items()}
    if isinstance(value, list):
        return [scaled(v, factor) for v in value]
    return value * factor if isinstance(value, (int, float)) else value


def user_arch(tmp_path, table: dict | str, name="half.yaml"):
    text = table if isinstance(table, str) else yaml.safe_dump(table)
    (tmp_path / name).write_text(text)
    arch = tmp_path / "arch.yaml"
    arch.write_text(ARCH_TEXT.replace("energy_table: horowitz_45nm", f"table_file: {name}"))
    return arch


def test_a_user_table_scales_energies_and_area_as_its_entries_do(tmp_path):
    half = scaled(BUILT_IN, 0.5) | {"name": "half_45nm"}
    mine, ref = load_arch(user_arch(tmp_path, half)), load_arch(ARCH_DIR / "simple_ws.yaml")
    assert mine.energy_table == "half_45nm" and mine.tech_table.sha256_16
    e, r = action_energies(mine), action_energies(ref)
    # A MAC is a power law in bits through two entries: halving both halves it. The SRAM energy
    # is a power law fitted to its points: halving them all halves it. Registers and DRAM: per bit.
    assert e.mac_pj == pytest.approx(0.5 * r.mac_pj)
    for level in ("DRAM", "GLB", "pe_spad"):
        assert e.read_pj[level] == pytest.approx(0.5 * r.read_pj[level]), level
    assert e.sources["GLB"] == "half_45nm"
    # Areas: bit cells, flip-flops and operators halved, periphery factor kept: the area halves.
    assert arch_area(mine).total_um2 == pytest.approx(0.5 * arch_area(ref).total_um2)


def test_the_run_records_the_table_file_and_info_shows_it(tmp_path, capsys):
    arch = user_arch(tmp_path, scaled(BUILT_IN, 0.5) | {"name": "half_45nm"})
    out = tmp_path / "r.json"
    assert main(["run", str(arch), str(WORKLOAD_DIR / "gemm_small.yaml"), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["inputs"]["technology_table"]["path"].endswith("half.yaml")
    sources = {e["source"] for fmt in data["action_energies"].values() for e in fmt.values()}
    assert sources == {"half_45nm"}
    capsys.readouterr()
    assert main(["info", "tables", str(arch)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("half_45nm: 45 nm") and "half.yaml" in text and "area source:" in text
    assert main(["info", "tables", str(tmp_path / "half.yaml")]) == 0  # the table file itself
    assert capsys.readouterr().out == text
    assert main(["info", "schema", str(arch)]) == 2  # only `info tables` reads files


def test_a_malformed_table_is_exit_2_with_file_line_and_key_path(tmp_path, capsys):
    bad = scaled(BUILT_IN, 1.0) | {"name": "bad_45nm"}
    bad["area"] = dict(bad["area"])
    bad["area"]["sram_bit_um"] = bad["area"].pop("sram_bit_um2")      # a misspelt key
    del bad["operations_pj"]["int32_mult"]                            # an entry the MAC fit needs
    arch = user_arch(tmp_path, bad)
    assert main(["check", str(arch)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"half\.yaml:\d+: area\.sram_bit_um: unknown key", err) and "did you mean 'sram_bit_um2'" in err
    assert main(["check", str(user_arch(tmp_path, yaml.safe_dump(scaled(BUILT_IN, 1.0) | {"name": "x"})
                                        .replace("int32_mult", "int32_mul")))]) == 2
    err = capsys.readouterr().err
    assert "operations_pj.int32_mul" in err and "int32_mult" in err


def test_missing_required_operations_are_named(tmp_path, capsys):
    table = scaled(BUILT_IN, 1.0) | {"name": "few_ops"}
    del table["operations_pj"]["fp32_add"]
    assert main(["check", str(user_arch(tmp_path, table))]) == 2
    assert "operations_pj: missing fp32_add" in capsys.readouterr().err


def test_a_table_outside_the_arch_folder_a_built_in_name_or_two_tables_are_refused(tmp_path, capsys):
    inner = tmp_path / "specs"
    inner.mkdir()
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(scaled(BUILT_IN, 1.0) | {"name": "outside"}))
    arch = inner / "arch.yaml"
    arch.write_text(ARCH_TEXT.replace("energy_table: horowitz_45nm", "table_file: ../t.yaml"))
    assert main(["check", str(arch)]) == 2
    assert "outside the folders this spec may read" in capsys.readouterr().err
    assert main(["check", str(user_arch(tmp_path, scaled(BUILT_IN, 1.0)))]) == 2  # named horowitz_45nm
    assert "is a built-in table's" in capsys.readouterr().err
    arch.write_text(ARCH_TEXT.replace("energy_table: horowitz_45nm",
                                      "energy_table: horowitz_45nm, table_file: t.yaml"))
    assert main(["check", str(arch)]) == 2
    assert "exactly one of energy_table" in capsys.readouterr().err


def test_the_docs_example_table_loads(tmp_path):
    """docs/energy.md's example table file is a valid table (the doc cannot drift from the format)."""
    text = (REPO / "docs" / "energy.md").read_text()
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL) if b.startswith("name: my_22nm"))
    arch = load_arch(user_arch(tmp_path, example, "my_22nm.yaml"))
    assert arch.energy_table == "my_22nm" and arch.tech_table.area.sram_bit_um2 == 0.173


def test_a_table_without_areas_counts_only_explicit_ones(tmp_path):
    table = scaled(BUILT_IN, 1.0) | {"name": "no_area"}
    del table["area"]
    arch = load_arch(user_arch(tmp_path, table))
    area = arch_area(arch)
    assert area.total_um2 == 0 and {"GLB", "pe_spad", "MAC"} <= dict(area.excluded).keys()
    assert "has no area data" in dict(area.excluded)["GLB"]
    text = (tmp_path / "arch.yaml").read_text().replace("size: 128KiB", "size: 128KiB\n      area: 0.5mm2")
    (tmp_path / "arch.yaml").write_text(text)
    assert arch_area(load_arch(tmp_path / "arch.yaml")).total_mm2 == pytest.approx(0.5)
