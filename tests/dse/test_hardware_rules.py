"""The choice kernel's hardware rules (dse/network.hardware_rules, checked on a nest by
network_kernel._obeys) against the definition, search/constraints.violations as simulate calls it:
on the shipped archs with constraints and one that bypasses and excludes, at several fan-out sizes,
for the templates' mappings and their ragged candidates of ResNet-50's and BERT's layers (pooling
layers among them, which lack a constrained role), a nest obeys the rules iff its mapping breaks
no constraint."""
import random
import shutil

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR
from numba import njit

import accelsim
from accelsim.dse.network import hardware_rules
from accelsim.mapping.lower import lower
from accelsim.mapping.ragged import padded_candidates
from accelsim.mapping.template_pack import map_layer_fast
from accelsim.model.network_kernel import _obeys
from accelsim.model.packed import nest_record
from accelsim.errors import MappingError
from accelsim.simulate import _violations

_obeys_now = njit(lambda nest, rules: _obeys(nest, rules))

ARCHS = {  # arch file -> its fan-out levels and a buffer to resize
    "simba_like": (("PE_array", "vector_macs"), "GlobalBuffer"),
    "tpu_like": (("MXU",), "UnifiedBuffer"),
    "vsquant_5nm": (("lanes", "vector"), None),
}


def _layers():
    seen = {}
    for name in ("resnet50", "bert_base"):
        for layer in accelsim.load_workload(WORKLOAD_DIR / f"{name}.yaml").layers:
            seen.setdefault(layer.run_einsum, layer)
    return list(seen.values())


def _agrees(arch, layers, rng, n):
    checked = kept = 0
    for layer in rng.sample(layers, n):
        einsum = layer.run_einsum
        rules = hardware_rules(arch, einsum)
        assert rules is not None
        for dataflow in ("ws", "os", "is"):
            try:
                mapping = map_layer_fast(arch, einsum, dataflow)
            except MappingError:
                continue
            pairs = padded_candidates(arch, einsum, mapping, lambda padded: map_layer_fast(arch, padded, dataflow))
            for m in [mapping, *(ragged for _, _, ragged in pairs)]:
                want = not _violations(arch, layer, m)
                assert _obeys_now(nest_record(lower(arch, einsum, m)), rules) == want, (layer.name, dataflow, m)
                checked += 1
                kept += want
    return checked, kept


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_rules_agree_with_the_constraints_on_the_shipped_archs(name):
    fanouts, buffer = ARCHS[name]
    rng = random.Random(name)
    layers = _layers()
    checked = kept = 0
    for _ in range(3):
        overrides = [f"levels.{level}.{axis}={rng.choice([2, 3, 5, 8])}" for level in fanouts[:1] for axis in "xy"]
        if buffer:
            overrides.append(f"levels.{buffer}.size={rng.choice(['16KiB', '64KiB', '512KiB'])}")
        arch = accelsim.load_arch(ARCH_DIR / f"{name}.yaml", overrides)
        c, k = _agrees(arch, layers, rng, 6)
        checked, kept = checked + c, kept + k
    assert 0 < kept < checked  # both verdicts seen


BYPASSING = """
extends: base.yaml
constraints:
  PE_array:
    y: {exclude: [out_channel]}
    x: {dims: [out_channel, row_taps]}
  GLB: {bypass: [weights]}
  pe_spad: {keep: [weights]}
"""


def test_rules_agree_with_bypass_and_exclude_constraints(tmp_path):
    shutil.copy(ARCH_DIR / "simple_ws.yaml", tmp_path / "base.yaml")
    path = tmp_path / "arch.yaml"
    path.write_text(BYPASSING)
    rng = random.Random(3)
    checked = kept = 0
    for x, y in ((3, 5), (16, 16)):
        arch = accelsim.load_arch(path, [f"levels.PE_array.x={x}", f"levels.PE_array.y={y}"])
        c, k = _agrees(arch, _layers(), rng, 8)
        checked, kept = checked + c, kept + k
    assert 0 < kept < checked


def test_rules_refuse_what_they_cannot_say(tmp_path):
    """Fixed factors and loop orders: no rules (simulate's choice runs)."""
    shutil.copy(ARCH_DIR / "simple_ws.yaml", tmp_path / "base.yaml")
    for extra in ("  GLB: {factors: {k: 1}}\n", "  GLB: {order: [k]}\n", "  PE_array: {x: {factors: {k: 2}}}\n"):
        path = tmp_path / "arch.yaml"
        path.write_text(f"extends: base.yaml\nconstraints:\n{extra}")
        arch = accelsim.load_arch(path)
        layer = _layers()[0]
        assert hardware_rules(arch, layer.run_einsum) is None


def test_rules_agree_where_every_mapping_breaks_a_constraint(tmp_path):
    """A level that may not keep what it always does (weights in the weights' scratchpad), also for
    a pooling layer, which has none. (A level's `keep:` the templates never break: they do not
    bypass what it names, and the arch's loader refuses one the level cannot keep.)"""
    shutil.copy(ARCH_DIR / "simple_ws.yaml", tmp_path / "base.yaml")
    path = tmp_path / "arch.yaml"
    path.write_text("extends: base.yaml\nconstraints:\n  pe_spad: {bypass: [weights]}\n")
    arch = accelsim.load_arch(path, ["levels.PE_array.x=5", "levels.PE_array.y=3"])
    layers = [layer for layer in _layers() if layer.name in ("conv1", "pool1", "res2a_branch2a")]
    assert len(layers) == 3
    checked, kept = _agrees(arch, layers, random.Random(0), 3)
    assert checked > 0 and kept == 0
