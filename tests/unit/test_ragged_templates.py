"""mapping/ragged.py: the templates' ragged fallback (a padded layer's mapping run ragged)."""
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

import accelsim
from accelsim.ir.einsum import parse_einsum
from accelsim.errors import MappingError
from accelsim.ir.workload import Density, Layer
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping, check_mapping
from accelsim.mapping.ragged import padded_layers, unpad
from conftest import ARCH_DIR, WORKLOAD_DIR

GEMM = "O[m,n] += I[m,k] * W[k,n]"


SIMPLE_WS = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")


@settings(max_examples=200, deadline=None)
@given(bounds=st.lists(st.integers(1, 9), min_size=1, max_size=4), size=st.integers(1, 400))
def test_unpad_covers_the_dim_and_starts_every_last_iteration_inside(bounds, size):
    """Any loops covering at least the size, unpadded: they still cover it, no loop runs past it
    (check_mapping's rule), and no loop grows."""
    covered = 1
    for b in bounds:
        covered *= b
    if covered < size:
        return
    arch = SIMPLE_WS
    levels = [LevelMapping(l.name) for l in arch.levels[:-1]]
    levels[0] = LevelMapping(levels[0].level, tuple(Loop("k", b) for b in bounds[:2]))
    levels[-1] = LevelMapping(levels[-1].level, tuple(Loop("k", b) for b in bounds[2:]))
    einsum = parse_einsum(GEMM, {"m": 1, "n": 1, "k": size})
    shrunk = unpad(Mapping(tuple(levels)), einsum)
    check_mapping(arch, einsum, shrunk)
    assert all(a.bound <= b.bound for m0, m1 in zip(levels, shrunk.levels) for a, b in zip(m1.loops, m0.loops))



@settings(max_examples=200, deadline=None)
@given(loops=st.lists(st.tuples(st.sampled_from("mnkx"), st.integers(1, 9), st.integers(0, 2)), max_size=8),
       sizes=st.tuples(st.integers(1, 60), st.integers(1, 60), st.integers(1, 60)))
def test_ragged_dims_are_the_dims_whose_loops_do_not_multiply_to_their_size(loops, sizes):
    """simulate.ragged_dims: per dim of the layer, [its loops' bounds multiplied, the size] where
    they differ (a loop over a dim the layer lacks counts for none), in the layer's dim order; and
    Mapping.factor, what the loops cover of one dim."""
    from math import prod

    from accelsim.simulate import ragged_dims
    einsum = parse_einsum(GEMM, dict(zip("mnk", sizes)))
    levels = [LevelMapping(f"L{i}", tuple(Loop(d, b) for d, b, at in loops if at == i)) for i in range(3)]
    mapping = Mapping(tuple(levels))
    cover = {d: prod(b for dim, b, _ in loops if dim == d) for d in "mnkx"}
    want = {d: [cover[d], b] for d, b in einsum.bound.items() if cover[d] != b}
    got = ragged_dims(einsum, mapping)
    assert got == want and list(got) == list(want)
    assert all(mapping.factor(d) == cover[d] for d in "mnkx")

def test_padded_candidates():
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")  # a 16 × 16 array
    conv = parse_einsum("O[k,p,q] += I[c,p+r,q+s] * W[c,k,r,s]", {"c": 3, "k": 100, "p": 7, "q": 7, "r": 3, "s": 3})
    assert conv.separable_dims == ("k",)
    (padded,) = padded_layers(arch, conv)
    assert padded.bound == {**conv.bound, "k": 112}  # c = 3 is not even half a side: left alone
    conv = replace(conv, bounds=tuple({"c": 12, "p": 14}.get(d, b) for d, b in conv.bound.items()))
    assert [p.bound for p in padded_layers(arch, conv)] == [{**conv.bound, "k": 112},
                                                             {**conv.bound, "k": 112, "c": 16},
                                                             {**conv.bound, "k": 112, "c": 16, "p": 16}]


def test_the_template_default_fills_the_array_on_a_prime_gemm(tmp_path):
    """Issue 15's opening case: 97×101×1009 on simple_ws ran on one PE under ws (9,885,173 cycles);
    the padded layer's ws mapping, run ragged, fills 15 × 16 PEs."""
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    (tmp_path / "w.yaml").write_text("name: odd\nlayers:\n  - {name: odd, matmul: {m: 97, n: 101, k: 1009}}\n")
    layer = accelsim.simulate(arch, accelsim.load_workload(tmp_path / "w.yaml")).layers[0]
    assert layer.counts.compute_instances == 15 * 16
    assert layer.cycles < 9_885_173 // 100
    cycle = accelsim.simulate(arch, accelsim.load_workload(tmp_path / "w.yaml"),
                              accelsim.SimOptions(model="cycle")).layers[0]
    assert cycle.counts.ragged and cycle.mapping == layer.mapping  # the cycle model walks the same ragged tiles
    assert layer.cycles <= cycle.cycles < 9_885_173 // 50


def test_the_ragged_choice_beats_the_template_on_a_prime_gemm():
    """eyeriss_like (12 × 14 PEs) under rs on 97×101×1009: the padded layers' mappings, run ragged,
    cut the EDP to under half the template's own (the selection alone guarantees only ≤)."""
    from accelsim.energy.model import action_energies
    from accelsim.mapping.dataflows import map_layer
    from accelsim.mapping.lower import lower
    from accelsim.model.packed import evaluate_packed, pack_problem
    from accelsim.simulate import choose_template_counted
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    einsum = parse_einsum(GEMM, {"m": 97, "n": 101, "k": 1009})
    problem = pack_problem(arch, einsum, action_energies(arch))

    def edp(mapping):
        r = evaluate_packed(problem, lower(arch, einsum, mapping))
        return r.energy_pj * r.cycles
    template = map_layer(arch, einsum, "rs")
    chosen, _ = choose_template_counted(arch, Layer("g", einsum), accelsim.SimOptions(dataflow="rs"),
                                        action_energies(arch))
    assert edp(chosen) < 0.5 * edp(template)


HAND_PADDED_PAIRS = [("eyeriss_like", "resnet50"), ("eyeriss_like", "alexnet"), ("eyeriss_like", "vgg16"),
                     ("simple_ws", "resnet50"), ("simple_ws", "mobilenet_v1"), ("simple_ws", "bert_base"),
                     ("simple_os", "resnet50"), ("tpu_like", "resnet50"), ("tpu_like", "bert_base"),
                     ("simba_like", "resnet50")]


@pytest.mark.slow
@pytest.mark.parametrize("arch_name, workload_name", HAND_PADDED_PAIRS)
def test_no_layer_is_slower_than_its_hand_padded_version(arch_name, workload_name):
    """Issue 15's rule: a layer whose dims do not divide the array is never slower under the default
    template than the template on the layer a user pads to the array's sides (each of padded_layers
    the arch's hardware can run). Not implied by the selection, which is by EDP (and runs only when
    the template leaves fan-outs idle): checked."""
    from accelsim.mapping.dataflows import map_layer
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    workload = accelsim.load_workload(WORKLOAD_DIR / f"{workload_name}.yaml")
    default = accelsim.simulate(arch, workload).layers
    for layer, ran in zip(workload.layers, default):
        fastest = None
        for padded in padded_layers(arch, layer.run_einsum):
            hand = replace(layer, padded=padded)
            try:
                by_hand = accelsim.simulate(arch, replace(workload, layers=(hand,)),
                                            mappings={hand.name: map_layer(arch, padded, arch.dataflow)}).layers[0]
            except MappingError:  # the template's mapping of the padded layer breaks the arch's constraints
                continue
            fastest = min(fastest or by_hand.cycles, by_hand.cycles)
        if fastest is not None:
            assert ran.cycles <= fastest, (layer.name, ran.cycles, fastest)


@pytest.mark.parametrize("density", [Density(), Density(0.3, 0.6)])
def test_the_choices_count_is_a_fresh_count_of_the_chosen_mapping(density):
    # simulate_layer prices the PackedResult choose_template_counted hands back (counted at the
    # layer's energies and density) instead of counting the chosen mapping again (analyze without
    # energies): energies and density price the counts, they must not change them.
    from accelsim.energy.model import action_energies
    from accelsim.mapping.lower import lower
    from accelsim.model.analytical import analyze
    from accelsim.simulate import choose_template_counted
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    einsum = parse_einsum(GEMM, {"m": 97, "n": 101, "k": 1009})
    layer = Layer("g", einsum, density=density)
    chosen, counted = choose_template_counted(arch, layer, accelsim.SimOptions(dataflow="rs"), action_energies(arch))
    assert counted is not None  # a ragged candidate won (the test above: half the template's EDP)
    nest = lower(arch, einsum, chosen)
    with_result = analyze(arch, einsum, nest, result=counted)
    assert with_result.ragged and with_result == analyze(arch, einsum, nest)
