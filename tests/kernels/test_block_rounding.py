"""Per-transfer block rounding (docs/energy.md#block-rounding): the counting kernels' block accesses
(dense nest_kernel, ragged ragged_kernel) against a walk that rounds every transfer it makes
(naive_ragged.ragged_counts, which walks dense nests too), on random nests of an arch whose levels
are 6, 4 and 1 words wide."""
from dataclasses import replace
from math import ceil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_nest_kernel import TWO_FANOUTS_TEXT, any_layer_and_mapping
from test_ragged import draw_ragged

from accelsim.counting.conventions import block_rounding_of, convention_of
from accelsim.counting.ragged_kernel import RAGGED_UNSUPPORTED
from accelsim.counting.records import OK, OVER_CAPACITY
from accelsim.energy.model import action_energies
from accelsim.ir.arch import Memory
from accelsim.mapping.lower import lower
from accelsim.model.packed import evaluate_packed, pack_problem


@pytest.fixture(scope="module", params=["accelsim", "timeloop"])
def two_fanout_archs(arch_from_text, request):
    """test_nest_kernel's archs, every level rounded per transfer: under timeloop's counting too
    (which holds the MACs' operands under a spatial innermost loop: their new part per step)."""
    def text(mc1, mc2):
        return (TWO_FANOUTS_TEXT.replace("{counting}", request.param)
                .replace("{mc1}", str(mc1).lower()).replace("{mc2}", str(mc2).lower())
                .replace("keeps: [weights, inputs, outputs]", "keeps: [weights, inputs, outputs], block_rounding: transfer"))
    return {(mc1, mc2): arch_from_text(text(mc1, mc2)) for mc1 in (False, True) for mc2 in (False, True)}


def _blocks_equal_the_walk(arch, einsum, mapping, ragged):
    from naive_ragged import ragged_counts
    nest = lower(arch, einsum, mapping)
    got = evaluate_packed(pack_problem(arch, einsum, action_energies(arch)), nest, ragged=ragged)
    if got.status in (OVER_CAPACITY, RAGGED_UNSUPPORTED):
        return
    assert got.status == OK
    convention = convention_of(arch)
    want = ragged_counts(arch, einsum, nest, lambda l, r, d: convention.merges(arch, einsum, l, r, d),
                         convention.holds_operands(nest), {i: int(w) for i, w in enumerate(got.output_words)})
    for (i, role), blocks in want["blocks"].items():
        level = arch.levels[i]
        if block_rounding_of(arch, level) != "transfer" or level.block_words == 1:
            continue  # a level under the layer rule
        t = einsum.roles.index(role)
        mixed = any(len(axis) > 1 for axis in einsum.tensor(role).axes)
        if ragged and mixed and (role == "outputs" or want["feeds_macs"][(i, role)] == (True, True)
                                 or _copies_of_a_ragged_merged_window(arch, einsum, nest, convention, i, role)):
            continue  # the ragged kernel keeps the layer rule there (docs/energy.md#block-rounding)
        per_instance = 1 if ragged else int(got.instances[i])  # the dense kernel's are per instance
        assert tuple(int(b) * per_instance for b in got.blocks[i, t]) == blocks, (level.name, role)
    _ports_move_whole_blocks(arch, einsum, nest, got, want["blocks"], ragged)


def _ports_move_whole_blocks(arch, einsum, nest, got, walked, ragged):
    """Port time (docs/energy.md#port-time): a level rounded per transfer moves its walked block
    accesses × block_words words (the average instance's, at least the busiest's words), and takes
    at least as long as under the layer rule, which times the words themselves."""
    layer_arch = replace(arch, levels=tuple(replace(l, block_rounding="layer") if isinstance(l, Memory) else l
                                            for l in arch.levels))
    layer = evaluate_packed(pack_problem(layer_arch, einsum, action_energies(layer_arch)), nest, ragged=ragged)
    assert layer.status == got.status and layer.cycles <= got.cycles
    for i, level in enumerate(arch.levels):
        if not isinstance(level, Memory):
            continue
        words = [0, 0]
        blocks = [0, 0]
        for t, role in enumerate(einsum.roles):
            if (i, role) not in walked:
                continue
            w = int(got.output_words[i]) if role == "outputs" else 1
            words[0] += int(got.counts[i, t, 0]) * w
            words[1] += int(got.counts[i, t, 1] + got.counts[i, t, 2]) * w
            blocks[0] += walked[(i, role)][0]
            blocks[1] += walked[(i, role)][1] + walked[(i, role)][2]
        bw = (level.read_bw_words, level.write_bw_words)
        in_words = max([0] + [ceil(words[p] / bw[p]) for p in (0, 1) if bw[p]])
        assert layer.level_cycles[i] == in_words, level.name
        assert got.level_cycles[i] >= in_words, level.name
        n = int(got.instances[i])
        in_blocks = max([0] + [ceil(max(words[p], ceil(blocks[p] * level.block_words / n)) / bw[p])
                               for p in (0, 1) if bw[p]])
        if level.block_words == 1:
            assert got.level_cycles[i] == in_words == in_blocks, level.name
        elif not ragged:  # (a ragged level may keep the layer rule on some counts: _blocks_equal_the_walk)
            assert got.level_cycles[i] == in_blocks, level.name


def _copies_of_a_ragged_merged_window(arch, einsum, nest, convention, i, role):
    """Below level i, a fan-out merges the tensor (whose axes mix dims) on one of its ragged dims
    and another copies it: a step's transfer joins sets of different truncations (layer rule)."""
    covered = {d: 1 for d in einsum.dims}
    for d, b in zip(nest.loop_dim, nest.loop_bound):
        covered[einsum.dims[d]] *= int(b)
    tensor = einsum.tensor(role)
    fans = [j for j in range(int(nest.level_start[i]), nest.n_loops) if nest.loop_spatial[j] and nest.loop_bound[j] > 1]
    dim = [einsum.dims[nest.loop_dim[j]] for j in range(nest.n_loops)]
    merged = [j for j in fans if convention.merges(arch, einsum, int(nest.loop_level[j]), role, dim[j])]
    return (any(dim[j] in tensor.dims and covered[dim[j]] != einsum.bound[dim[j]] for j in merged)
            and len(merged) < len(fans))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_dense_kernel_blocks_equal_the_walk(two_fanout_archs, data, multicast):
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    _blocks_equal_the_walk(arch, einsum, mapping, ragged=False)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_kernel_blocks_equal_the_walk(two_fanout_archs, data, multicast):
    arch = two_fanout_archs[multicast]
    einsum, mapping = draw_ragged(data.draw, arch)
    _blocks_equal_the_walk(arch, einsum, mapping, ragged=True)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()), ragged=st.booleans())
def test_kernel_blocks_equal_the_walk_many(two_fanout_archs, data, multicast, ragged):
    arch = two_fanout_archs[multicast]
    einsum, mapping = draw_ragged(data.draw, arch) if ragged else data.draw(any_layer_and_mapping(arch))
    _blocks_equal_the_walk(arch, einsum, mapping, ragged=ragged)


def test_an_unheld_window_merged_over_a_ragged_dim_is_rounded_per_step(two_fanout_archs):
    """Hypothesis's case: inputs I[c, p+r] go from DRAM to the MACs over a CL fan-out that multicasts
    them on p (3 of the loops' 4): each step's transfer is the truncated set, its own blocks."""
    from accelsim.ir.einsum import parse_einsum
    from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
    arch = two_fanout_archs[(True, False)]
    conv = parse_einsum("O[k,p] += I[c,p+r] * W[c,k,r]", {"c": 1, "k": 1, "r": 1, "p": 3})
    mapping = Mapping((LevelMapping("DRAM", (Loop("p", 2),)), LevelMapping("CL", (Loop("p", 2, "y"),)),
                       LevelMapping("GLB", (), frozenset({"inputs"})), LevelMapping("PE"),
                       LevelMapping("RF", (), frozenset({"inputs"}))))
    _blocks_equal_the_walk(arch, conv, mapping, ragged=True)
