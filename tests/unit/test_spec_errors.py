"""Bad input of every kind gives one SpecError with file:line, key path, allowed keys, suggestion."""
import pytest

import accelsim
from accelsim import SpecError
from accelsim.cli import main
from conftest import ARCH_DIR

GOOD_ARCH = (ARCH_DIR / "simple_ws.yaml").read_text()


def arch_error(write, text) -> SpecError:
    path = write("arch.yaml", text)
    with pytest.raises(SpecError) as exc:
        accelsim.load_arch(path)
    return exc.value


def test_unknown_key_names_line_allowed_keys_and_suggestion(write):
    err = arch_error(write, GOOD_ARCH.replace("      word_bits: 16\n      width_bits: 64\n      keeps: [weights, inputs, outputs]\n      read_bandwidth: 16",
                                              "      word_bits: 16\n      widht_bits: 64\n      keeps: [weights, inputs, outputs]\n      read_bandwidth: 16"))
    (p,) = err.problems
    assert p.key_path == "levels.1.memory.widht_bits"
    assert p.line == GOOD_ARCH.splitlines().index("      width_bits: 64", 20) + 1
    assert "width_bits" in p.allowed and p.suggestion == "did you mean 'width_bits'?"
    assert "arch.yaml:" in str(err)


def test_duplicate_key_is_an_error_not_last_wins(write):
    err = arch_error(write, GOOD_ARCH.replace("name: simple_ws\n", "name: simple_ws\nname: other\n"))
    assert "duplicate key 'name'" in str(err) and err.problems[0].line == 5


def test_every_problem_is_listed_at_once(write):
    text = GOOD_ARCH.replace("size: 128KiB", "size: 128").replace("format: int16", "format: int5")
    err = arch_error(write, text)
    messages = [p.message for p in err.problems]
    assert len(err.problems) == 2
    assert any("missing unit" in m for m in messages)
    assert any("'int5' is not allowed" in m for m in messages)
    fmt = next(p for p in err.problems if "int5" in p.message)
    assert "int8" in fmt.allowed and fmt.suggestion and "int" in fmt.suggestion


@pytest.mark.parametrize("old,new,needle", [
    ("size: 3072b", "size: 8b", "smaller than one word"),
    ("keeps: [weights, inputs, outputs]\n      read_bandwidth: 8", "keeps: [weights, inputs]\n      read_bandwidth: 8",
     "must keep every tensor"),
    ("frequency: 1GHz", "frequency: fast", "cannot read"),
    ("x: 16, y: 16", "x: 16, y: 0", "greater than or equal to 1"),
    ("x: 16, y: 16", "x: 16, y: '16'", "valid integer"),
    ("dataflow: ws", "dataflow: zz", "unknown dataflow"),
    ("read_bandwidth: 16 words/cycle", "read_bandwidth: 16", "should be a valid string"),
])
def test_impossible_values(write, old, new, needle):
    assert old in GOOD_ARCH
    err = arch_error(write, GOOD_ARCH.replace(old, new, 1))
    assert any(needle in p.message for p in err.problems), str(err)
    assert all(p.line is not None for p in err.problems)


def test_frequency_above_fmax_is_a_spec_error(write):
    text = GOOD_ARCH.replace("operating_point: {voltage: 0.9V, frequency: 1GHz}",
                             "operating_point: {voltage: 0.7V, frequency: 1GHz}\n"
                             "voltage_frequency:\n  source: test table\n  table:\n"
                             "    - {voltage: 0.6V, frequency: 500MHz}\n    - {voltage: 0.9V, frequency: 1GHz}")
    err = arch_error(write, text)
    assert "exceeds f_max" in str(err) and err.problems[0].key_path == "operating_point.frequency"


def test_yaml_syntax_error_has_a_line(write):
    err = arch_error(write, "name: x\nlevels: [\n")
    assert "YAML syntax error" in str(err) and err.problems[0].line is not None


def test_workload_errors(write):
    path = write("wl.yaml", "name: w\nparameters: {seq: 128, sq: 3}\nlayers:\n"
                 "  - name: a\n    matmul: {m: seq, n: 4, kk: 4}\n"
                 "  - name: a\n    count: 0\n    matmul: {m: 2, n: 4, k: 4}\n"
                 "  - name: b\n    conv2d: {c: 3, k: 8, h: 4, w: 4, r: 7, s: 7}\n")
    with pytest.raises(SpecError) as exc:
        accelsim.load_workload(path)
    text = str(exc.value)
    assert "unknown parameter(s) ['kk'] for matmul; did you mean 'k'?" in text
    assert "layer name 'a' is used twice" in text
    assert "count must be ≥ 1" in text and "layers.1.count" in text
    assert "does not fit" in text
    assert "parameter 'sq' is not used" in text


def test_override_paths(write):
    path = write("arch.yaml", GOOD_ARCH)
    arch = accelsim.load_arch(path, ["levels.GLB.size=64KiB", "operating_point.voltage=0.8V"])
    assert arch.level("GLB").size_bits == 64 * 1024 * 8 and arch.voltage_v == 0.8
    with pytest.raises(SpecError, match="did you mean 'GLB'"):
        accelsim.load_arch(path, ["levels.GBL.size=64KiB"])
    with pytest.raises(SpecError, match="missing unit"):
        accelsim.load_arch(path, ["levels.GLB.size=64"])


def test_extends_with_set(write):
    write("base.yaml", GOOD_ARCH)
    child = write("child.yaml", "extends: base.yaml\nname: child\nset:\n  levels.GLB.size: 32KiB\n")
    arch = accelsim.load_arch(child)
    assert arch.name == "child" and arch.level("GLB").size_bits == 32 * 1024 * 8


def test_check_command_exit_codes(write, capsys):
    good = write("good.yaml", GOOD_ARCH)
    bad = write("bad.yaml", GOOD_ARCH.replace("class: sram", "class: sramm"))
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and "did you mean 'sram'?" in err and "Traceback" not in err


def test_timeloop_counting_is_for_the_analytical_model(write):
    from accelsim.options import SimOptions
    from conftest import WORKLOAD_DIR
    arch = accelsim.load_arch(write("arch.yaml", GOOD_ARCH + "counting: timeloop\n"))
    workload = accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    assert accelsim.simulate(arch, workload).layers  # analytical: fine
    with pytest.raises(SpecError) as exc:
        accelsim.simulate(arch, workload, SimOptions(model="cycle"))
    (p,) = exc.value.problems
    assert p.key_path == "counting" and p.allowed == ("--model analytical",) and p.file.endswith("arch.yaml")
    with pytest.raises(SpecError, match="counting"):
        accelsim.load_arch(write("bad.yaml", GOOD_ARCH + "counting: timelop\n"))


def test_layer_keys_outside_a_kind_say_where_the_shape_goes(write):
    path = write("wl.yaml", "name: w\nlayers:\n  - name: a\n    type: conv\n    C: 3\n"
                 "  - name: b\n    matmul: {m: 2, n: 4, k: 4}\n    precison: int8\n")
    with pytest.raises(SpecError) as exc:
        accelsim.load_workload(path)
    by_key = {p.key_path: p for p in exc.value.problems}
    assert by_key["layers.0.type"].line == 4 and by_key["layers.0.C"].line == 5
    assert "goes under its kind, e.g. conv2d: {c: 3" in by_key["layers.0.type"].suggestion
    assert by_key["layers.1.precison"].suggestion == "did you mean 'precision'?"  # a near miss stays a near miss


def test_layer_kind_descriptions_name_the_builders_parameters():
    """The spec reference's text for each layer kind lists exactly its builder's parameters."""
    import inspect
    import re

    from accelsim.ir.layers import LAYER_BUILDERS
    from accelsim.spec.schema import LAYER_KINDS, LayerSpec

    for kind in LAYER_KINDS:
        if kind == "einsum":
            continue
        text = LayerSpec.model_fields[kind].description
        listed = re.sub(r"\([^)]*\)", "", text.split(": ", 1)[1]).replace("optional", "")
        named = {word.strip() for word in re.split("[,;]", listed)}
        params = set(inspect.signature(LAYER_BUILDERS.get(kind)).parameters)
        assert named == params, (kind, named ^ params)


@pytest.mark.parametrize("where", ["workload", "layer"])
def test_a_precision_the_arch_does_not_run_names_where_it_was_written(write, where):
    top, own = ("precision: int4_vsq\n", "") if where == "workload" else ("", "    precision: int4_vsq\n")
    path = write("wl.yaml", f"name: w\n{top}layers:\n  - name: a\n    matmul: {{m: 4, n: 4, k: 4}}\n{own}")
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    with pytest.raises(SpecError) as exc:
        accelsim.simulate(arch, accelsim.load_workload(path), accelsim.SimOptions(dataflow="ws"))
    (p,) = exc.value.problems
    assert p.file == str(path) and "does not run precision 'int4_vsq'" in p.message
    assert (p.key_path, p.line) == (("precision", 2) if where == "workload" else ("layers.0.precision", 5))
    assert p.suggestion.startswith("run it with --precision int16")
