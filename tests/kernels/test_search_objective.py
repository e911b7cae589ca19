"""The search kernels' scores (search_kernels._objective) order mappings as energy^a · cycles^b,
whether a score is the product itself (weights 0 or 1) or a sum of logs (other weights)."""
from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from accelsim.search.search_kernels import _objective

energies = st.floats(1e-3, 1e12)
cycles = st.integers(1, 10**9)
weights = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])


@settings(deadline=None)  # the first call compiles
@given(a=weights, b=weights, e1=energies, c1=cycles, e2=energies, c2=cycles)
def test_scores_order_as_energy_to_a_times_cycles_to_b(a, b, e1, c1, e2, c2):
    reference = a * (math.log(e1) - math.log(e2)) + b * (math.log(c1) - math.log(c2))  # log(x1 / x2)
    if abs(reference) < 1e-9:  # a near tie: rounding may order either way
        return
    assert (_objective(a, b, e1, c1) < _objective(a, b, e2, c2)) == (reference < 0)
