"""What the hardware cannot do (an arch's `constraints:`) and constraints per layer: the mapper
honours both, templates and mapping files that leave the arch's are errors, contradictions are
reported with both sides."""
import pytest

import accelsim
from accelsim.errors import MappingError, SpecError
from accelsim.ir.einsum import parse_einsum
from accelsim.load import load_constraints
from accelsim.search.constraints import (
    Constraints,
    LayerConstraints,
    LevelConstraint,
    merge_levels,
    violations,
    with_hardware,
)
from accelsim.simulate import simulate
from accelsim.options import SimOptions
from conftest import ARCH_DIR

# simple_ws: DRAM, GLB, PE_array (16 × 16), pe_spad, MAC.
HARDWARE = """
extends: {base}
constraints:
  PE_array:
    y: {{dims: [reduction]}}
    x: {{dims: [out_channel]}}
  pe_spad: {{keep: [weights]}}
"""
WORKLOAD = """
name: two
layers:
  - name: conv_a
    conv2d: {n: 1, c: 16, k: 32, h: 8, w: 8, r: 3, s: 3, padding: 1}
  - name: pw_b
    conv2d: {n: 1, c: 32, k: 16, h: 8, w: 8, r: 1, s: 1}
"""


@pytest.fixture
def files(tmp_path):
    base = tmp_path / "simple_ws.yaml"
    base.write_text((ARCH_DIR / "simple_ws.yaml").read_text())
    arch = tmp_path / "hw.yaml"
    arch.write_text(HARDWARE.format(base="simple_ws.yaml"))
    workload = tmp_path / "two.yaml"
    workload.write_text(WORKLOAD)
    return tmp_path, accelsim.load_arch(arch), accelsim.load_workload(workload)


def test_the_mapper_stays_inside_the_hardware(files):
    _, arch, workload = files
    result = simulate(arch, workload, SimOptions(dataflow="search"))
    for layer in result.layers:
        einsum = next(l.run_einsum for l in workload.layers if l.name == layer.name)
        assert violations(arch, layer.mapping, Constraints(arch.constraints).for_layer(layer.name, einsum).levels) == []
        spatial = {l.dim: l.axis for m in layer.mapping.levels for l in m.loops if l.axis and l.bound > 1}
        assert spatial and all((axis == "y") == (d in "crs") for d, axis in spatial.items())
        assert "weights" not in layer.mapping.at("pe_spad").bypass


def test_a_template_the_hardware_cannot_run_is_an_error(files):
    _, arch, workload = files
    assert simulate(arch, workload, SimOptions(dataflow="ws")).layers  # ws: y ← reduction, x ← out_channel
    with pytest.raises(MappingError, match=r"PE_array: y may unroll only \['c', 'r', 's'\]"):
        simulate(arch, workload, SimOptions(dataflow="os"))


def test_per_layer_constraints_select_by_name_and_shape(files):
    folder, arch, workload = files
    path = folder / "layers.yaml"
    path.write_text("layers:\n"
                    "  - shape: {r: 1, s: 1}\n    constraints: {PE_array: {y: {factors: {c: 16}}}}\n"
                    "  - name: 'conv_*'\n    constraints: {GLB: {factors: {p: 1, q: 1}}}\n")
    constraints = load_constraints(path, arch)
    a, b = (l.run_einsum for l in workload.layers)
    assert constraints.for_layer("conv_a", a).levels["GLB"].factors == {"p": 1, "q": 1}
    assert "PE_array" not in constraints.for_layer("conv_a", a).levels  # 3×3: the shape does not select it
    assert constraints.for_layer("pw_b", b).levels["PE_array"].y[0] == {"c": 16}
    result = simulate(arch, workload, SimOptions(dataflow="search", constraints_file=str(path)))
    pw = result.layers[1].mapping.at("PE_array")
    assert [(l.dim, l.bound) for l in pw.loops if l.axis == "y"] == [("c", 16)]
    glb = result.layers[0].mapping.at("GLB")
    assert not [l for l in glb.loops if l.dim in "pq" and l.bound > 1]


def test_merging_adds_factors_and_intersects_axes():
    hardware = {"PE": LevelConstraint(x=({}, ("k", "c")), keep=frozenset({"weights"}))}
    user = {"PE": LevelConstraint(x=({"k": 4}, ("k", "p")), factors={"q": 2})}
    merged = merge_levels(hardware, user, "user")["PE"]
    assert merged.x == ({"k": 4}, ("k",)) and merged.factors == {"q": 2} and merged.keep == {"weights"}
    with pytest.raises(MappingError, match="q=2 and q=3"):
        merge_levels(user, {"PE": LevelConstraint(factors={"q": 3})}, "the layers entry")
    with pytest.raises(MappingError, match="both kept and bypassed"):
        merge_levels(hardware, {"PE": LevelConstraint(bypass=frozenset({"weights"}))}, "user")


def test_relevance_classes_name_each_layers_own_dims():
    gemm = parse_einsum("O[m,n] += A[m,k] * B[k,n]", {"m": 4, "n": 4, "k": 4})  # A: inputs, B: weights
    c = Constraints({"PE": LevelConstraint(y=({}, ("reduction",)), x=({}, ("out_channel", "out_pixel")))})
    got = c.for_layer("g", gemm).levels["PE"]
    assert got.y[1] == ("k",) and set(got.x[1]) == {"n", "m"}


def test_bad_arch_constraints_name_the_key(files, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(HARDWARE.format(base="simple_ws.yaml").replace("pe_spad:", "pe_spda:"))
    with pytest.raises(SpecError) as err:
        accelsim.load_arch(path)
    text = err.value.render()
    assert "no level 'pe_spda'" in text and "pe_spad" in text and "constraints.pe_spda" in text


def test_a_contradiction_with_the_hardware_is_reported(files):
    folder, arch, workload = files
    path = folder / "contra.yaml"
    path.write_text("constraints: {pe_spad: {bypass: [weights]}}\n")
    with pytest.raises(MappingError, match="both kept and bypassed"):
        simulate(arch, workload, SimOptions(dataflow="search", constraints_file=str(path)))


def test_a_class_in_the_arch_and_a_dim_in_the_file_intersect_per_layer(tmp_path):
    # tpu_like allows only reduction dims on the MXU's y axis; a file naming k (the GEMM's reduction
    # dim) must keep k there, not leave y empty.
    arch = accelsim.load_arch(ARCH_DIR / "tpu_like.yaml")
    path = tmp_path / "c.yaml"
    path.write_text("constraints: {MXU: {y: {dims: [k]}}}\n")
    gemm = parse_einsum("O[m,n] += A[m,k] * B[k,n]", {"m": 16, "n": 16, "k": 16})
    got = with_hardware(load_constraints(path, arch), arch).for_layer("g", gemm).levels["MXU"]
    assert got.y[1] == ("k",)


def test_constraint_mistakes_are_clear_errors_or_warnings(files, caplog):
    folder, arch, workload = files
    bad_level = folder / "bad_level.yaml"
    bad_level.write_text("layers:\n  - name: conv_*\n    constraints: {NOPE: {factors: {k: 1}}}\n")
    with pytest.raises(SpecError, match="no level 'NOPE'") as err:
        load_constraints(bad_level, arch)
    assert "layers.0.constraints.NOPE" in err.value.render()
    typo = folder / "typo.yaml"
    typo.write_text("constraints: {PE_array: {y: {dims: [reductoin]}}}\n")
    with pytest.raises(SpecError, match="reductoin") as err:
        simulate(arch, workload, SimOptions(dataflow="search", constraints_file=str(typo)))
    assert "reduction" in err.value.render()
    unused = folder / "unused.yaml"
    unused.write_text("layers:\n  - name: 'fc*'\n    constraints: {GLB: {factors: {k: 1}}}\n")
    with caplog.at_level("WARNING", logger="accelsim"):
        simulate(arch, workload, SimOptions(dataflow="search", constraints_file=str(unused)))
    assert "selects no layer" in caplog.text


def test_a_shape_selects_only_layers_that_have_those_dims():
    entry = LayerConstraints(None, {"r": 1, "s": 1}, {})
    assert entry.selects("pw", {"r": 1, "s": 1, "c": 8}) and not entry.selects("gemm", {"m": 4, "n": 4, "k": 4})
