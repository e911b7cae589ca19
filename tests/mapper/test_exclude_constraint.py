"""An axis may exclude dims (`exclude:`), and `row_taps` / `column_taps` name a layer's sliding-window
taps in class terms: eyeriss_like declares that no filter column (s) unrolls across its PEs, which a
workload without windows (a matmul, an FC layer) meets trivially, and the mapper honours it."""
import pytest

import accelsim
from accelsim.errors import SpecError
from accelsim.ir.einsum import parse_einsum
from accelsim.ir.layers import conv2d
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
from accelsim.options import SimOptions
from accelsim.search.constraints import Constraints, LevelConstraint, violations
from accelsim.simulate import simulate
from conftest import ARCH_DIR


def test_window_terms_and_exclude_resolve_per_layer():
    conv = conv2d(c=4, k=4, h=6, w=6, r=3, s=3)
    gemm = parse_einsum("O[m,n] += A[m,k] * B[k,n]", {"m": 4, "n": 4, "k": 4})
    c = Constraints({"PE": LevelConstraint(exclude_x=("column_taps",), y=({}, ("row_taps", "out_channel")))})
    got = c.for_layer("conv", conv).levels["PE"]
    assert set(got.x[1]) == set(conv.dims) - {"s"} and got.y[1] == ("r", "k")
    got = c.for_layer("gemm", gemm).levels["PE"]
    assert set(got.x[1]) == {"m", "n", "k"} and got.y[1] == ("n",)  # no window: nothing excluded, no row taps
    both = Constraints({"PE": LevelConstraint(x=({}, ("reduction",)), exclude_x=("s",))}).for_layer("c", conv)
    assert both.levels["PE"].x[1] == ("c", "r")


def test_the_mapper_keeps_filter_columns_off_eyeriss_like_array(tmp_path):
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - name: conv\n    conv2d: {n: 1, c: 8, k: 8, h: 10, w: 10, r: 3, s: 3}\n"
                    "  - name: fc\n    matmul: {m: 4, n: 16, k: 16}\n")
    workload = accelsim.load_workload(path)
    result = simulate(arch, workload, SimOptions(dataflow="search", mapper_settings={"evaluations": 3000}))
    conv = result.layers[0].mapping.at("PE_array")
    assert not [l for l in conv.loops if l.dim == "s" and l.bound > 1]
    for layer, spec in zip(result.layers, workload.layers):
        levels = Constraints(arch.constraints).for_layer(layer.name, spec.run_einsum).levels
        assert violations(arch, layer.mapping, levels) == []


def test_a_mapping_with_filter_columns_on_the_array_breaks_the_arch():
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    conv = conv2d(c=8, k=8, h=10, w=10, r=3, s=3)
    levels = Constraints(arch.constraints).for_layer("conv", conv).levels
    assert levels["PE_array"].x[1] is not None and "s" not in levels["PE_array"].x[1]
    spatial = LevelMapping("PE_array", (Loop("s", 3, "x"),))
    mapping = Mapping(tuple(spatial if l.name == "PE_array" else LevelMapping(l.name, ())
                            for l in arch.levels[:-1]), "test")
    assert any("x may unroll only" in v and "'s'" in v for v in violations(arch, mapping, levels))


def test_an_unknown_excluded_name_is_a_clear_error(tmp_path):
    arch = tmp_path / "a.yaml"
    arch.write_text((ARCH_DIR / "eyeriss_like.yaml").read_text().replace("exclude: [column_taps]}\n    y",
                                                                        "exclude: [colum_taps]}\n    y"))
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - name: conv\n    conv2d: {n: 1, c: 8, k: 8, h: 10, w: 10, r: 3, s: 3}\n")
    line = next(i for i, text in enumerate(arch.read_text().splitlines(), 1) if "colum_taps" in text)
    for dataflow in ("search", None):  # the mapper's run and the template's (rs) both check it
        with pytest.raises(SpecError, match="colum_taps") as err:
            simulate(accelsim.load_arch(arch), accelsim.load_workload(path), SimOptions(dataflow=dataflow))
        text = err.value.render()
        assert f"{arch}:{line}: constraints.PE_array.x.exclude" in text and "did you mean 'column_taps'" in text
