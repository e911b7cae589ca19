"""Ragged nests (counting/ragged_kernel.py): loop bounds that multiply to more than their dim.

On dense nests the ragged kernel must equal the dense one (nest_kernel) in every output; on
ragged nests its busiest-instance counts and totals must equal a walk over every iteration with
truncated point sets (naive_ragged.py)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from accelsim.counting.records import OK
from accelsim.energy.model import action_energies
from accelsim.mapping.lower import lower
from accelsim.model.packed import evaluate_packed, pack_problem
from test_nest_kernel import TWO_FANOUTS_TEXT, any_layer_and_mapping


@pytest.fixture(scope="module", params=["accelsim", "timeloop"])
def two_fanout_archs(arch_from_text, request):
    def text(mc1, mc2):
        return (TWO_FANOUTS_TEXT.replace("{counting}", request.param)
                .replace("{mc1}", str(mc1).lower()).replace("{mc2}", str(mc2).lower()))
    return {(mc1, mc2): arch_from_text(text(mc1, mc2)) for mc1 in (False, True) for mc2 in (False, True)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_kernel_equals_the_dense_kernel_on_dense_nests(two_fanout_archs, data, multicast):
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    want = evaluate_packed(problem, nest, ragged=False)
    got = evaluate_packed(problem, nest, ragged=True)
    assert got.status == want.status
    if want.status != OK:
        return
    assert got.cycles == want.cycles
    assert got.steps == want.steps
    for name in ("counts", "instances", "charged", "level_cycles", "output_words", "totals"):
        assert (getattr(got, name) == getattr(want, name)).all(), name
    assert got.energy_pj == pytest.approx(want.energy_pj, rel=1e-12)
