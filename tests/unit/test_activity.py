"""Switching-activity model (accelsim/energy/activity.py): closed forms, limits, and the
densities the chip workloads state, recomputed from real (random) tensors."""
import numpy as np
import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR
from hypothesis import given
from hypothesis import strategies as st

import accelsim
from accelsim.energy.activity import (accumulate_activity, bit_activity, product_activity,
                                      quantized_density, tree_activity)
from accelsim.simulate import SimOptions, simulate

unit = st.floats(0.0, 1.0)


def test_bit_activity_matches_a_simulated_bus():
    # Random 8-bit words, zeroed with probability 1 - d: count toggles between consecutive words.
    rng = np.random.default_rng(1)
    for d in (0.1, 0.5, 0.9):
        words = rng.integers(0, 256, 200_000) * (rng.random(200_000) < d)
        toggles = np.unpackbits((words[1:] ^ words[:-1]).astype(np.uint8)).mean()
        dense = 0.5  # random bits toggle half the time
        assert toggles / dense == pytest.approx(bit_activity(d), rel=0.02)


@given(unit, unit)
def test_activities_are_monotone_and_bounded(d1, d2):
    lo, hi = min(d1, d2), max(d1, d2)
    assert 0.0 <= bit_activity(lo) <= bit_activity(hi) <= 1.0
    for held in ("weights", "inputs", None):
        assert 0.0 <= product_activity(lo, lo, held) <= product_activity(hi, hi, held) <= 1.0
    assert tree_activity(bit_activity(lo), 64, 8) <= tree_activity(bit_activity(hi), 64, 8) + 1e-12
    assert accumulate_activity(lo, lo, 64) <= accumulate_activity(hi, hi, 64) + 1e-12


def test_limits():
    assert bit_activity(0.0) == 0.0 and bit_activity(1.0) == 1.0
    assert product_activity(1.0, 1.0, "weights") == 1.0 and product_activity(0.0, 1.0, "weights") == 1.0 * 0.0
    assert tree_activity(1.0, 64, 8) == 1.0 and tree_activity(0.0, 64, 8) == 0.0
    # A node over many leaves toggles even when each leaf rarely does: the tree is concave.
    assert tree_activity(0.02, 64, 8) > 0.02
    assert accumulate_activity(0.1, 0.1, 1024) == pytest.approx(1 - 0.99 ** 1024)


def test_held_operand_gates_the_multiplier():
    # A zero held weight silences its multiplier whatever the streaming input does.
    assert product_activity(1.0, 0.0, "weights") == 0.0
    assert product_activity(0.5, 1.0, "weights") == pytest.approx(bit_activity(0.5))


@pytest.mark.parametrize("fmt, gauss, relu", [("int4_vsq", 0.85, 0.43), ("int4", 0.72, 0.36),
                                              ("int8", 0.98, 0.49), ("int16", 1.00, 0.50)])
def test_workload_densities_follow_from_the_formats(fmt, gauss, relu):
    # The densities the chip workloads (bert_*_s*, deit_*, resnet50_vsquant) get from named data (energy/formats.py).
    # int16 (no chip datapath, per-tensor scale): codes are zero below max|x|/65534 ≈ 7e-5, so ≈ all non-zero.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4096))
    assert quantized_density(x, fmt) == pytest.approx(gauss, abs=0.01)
    assert quantized_density(np.maximum(x, 0), fmt) == pytest.approx(relu, abs=0.01)


def test_per_vector_scaling_keeps_more_small_values_than_per_tensor():
    x = np.random.default_rng(2).standard_t(3, size=(128, 1024))  # heavy tails
    assert quantized_density(x, "int4_vsq") > quantized_density(x, "int4")


def test_density_from_a_real_tensor_file(tmp_path):
    from accelsim.load import load_workload
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((64, 256)), 0)
    np.save(tmp_path / "act.npy", x)
    (tmp_path / "w.yaml").write_text(
        "name: w\nprecision: int4_vsq\nlayers:\n  - name: fc\n    matmul: {m: 64, n: 64, k: 256}\n"
        "    density: {inputs: act.npy, weights: 0.5}\n")
    layer = load_workload(tmp_path / "w.yaml").layers[0]
    assert layer.density.inputs == pytest.approx(quantized_density(x, "int4_vsq"))
    assert layer.density.weights == 0.5
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nlayers:\n  - name: fc\n    matmul: {m: 4, n: 4, k: 4}\n    density: {inputs: nope.npy}\n")
    from accelsim.errors import SpecError
    with pytest.raises(SpecError, match="density"):
        load_workload(tmp_path / "bad.yaml")


def _tree_activity_loop(leaf_activity, fan_in, leaf_bits):
    """Slow reference: walk the adder tree level by level for one fan-in."""
    toggled = total = 0.0
    nodes, level = fan_in, 0
    while True:
        width = nodes * (leaf_bits + level)
        toggled += width * (1.0 - (1.0 - leaf_activity) ** (2 ** level))
        total += width
        if nodes == 1:
            return toggled / total
        nodes, level = (nodes + 1) // 2, level + 1


def test_tree_activity_over_many_fan_ins_equals_the_tree_walk():
    import numpy as np
    fan_ins = np.arange(1, 300)
    for leaf in (0.02, 0.3, 0.75):
        got = tree_activity(leaf, fan_ins, 16)
        assert np.allclose(got, [_tree_activity_loop(leaf, int(f), 16) for f in fan_ins], rtol=1e-14, atol=0)
        assert tree_activity(leaf, 37, 8) == pytest.approx(_tree_activity_loop(leaf, 37, 8), rel=1e-14)


def test_the_mappers_mac_activity_table_equals_the_scalar_model():
    """The kernel's table (vectorized over fan-ins) against mac_activity, which layer_activity uses."""
    import numpy as np
    import accelsim
    from accelsim.energy.activity import HELD, mac_activity, mac_activity_table
    from accelsim.ir.workload import Density
    from conftest import ARCH_DIR
    arch = accelsim.load_arch(ARCH_DIR / "vsquant_5nm.yaml")  # data-dependent MACs and adder tree
    for density in (Density(0.5, 0.3), Density(1.0, 0.2), Density(0.05, 1.0)):
        table = mac_activity_table(arch, density)
        assert table.shape == (len(HELD), arch.compute.instances + 1)
        want = [[mac_activity(arch.compute, density, held, max(1, f)) for f in range(table.shape[1])] for held in HELD]
        assert np.allclose(table, want, rtol=1e-14, atol=0)
    assert (mac_activity_table(arch, Density()) == 1.0).all()


@pytest.mark.parametrize("precision", ["int16", "int17"])
def test_a_precision_the_arch_lacks_is_refused_before_named_data_is_quantized(precision):
    # deit_small names its operands' data (gaussian, relu): re-measuring them in a format is done
    # only once the arch is known to run it, so an unknown format is a spec error, not a KeyError.
    arch = accelsim.load_arch(ARCH_DIR / "simba_like.yaml")
    workload = accelsim.load_workload(WORKLOAD_DIR / "deit_small.yaml")
    with pytest.raises(accelsim.SpecError, match=f"does not run precision '{precision}'"):
        simulate(arch, workload, SimOptions(precision=precision))
