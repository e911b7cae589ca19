"""Point-set counts (counting/point_sets.py, the kernel's own functions called from Python) and the
point sets themselves (ir/footprint.py) against brute force."""
from hypothesis import given, settings, strategies as st

from accelsim.counting.point_sets import axis_overlap, axis_size
from accelsim.ir.footprint import _points


def brute(terms):
    values = {0}
    for c, e in terms:
        values = {v + c * x for v in values for x in range(e)}
    return values


terms_strategy = st.lists(st.tuples(st.integers(1, 6), st.integers(1, 7)), min_size=0, max_size=4)


@settings(max_examples=300, deadline=None)  # the first call compiles the kernel's functions
@given(terms_strategy, st.integers(-20, 20))
def test_size_and_overlap_match_brute_force(terms, shift):
    terms = tuple(terms)
    points = brute(terms)
    assert axis_size(terms) == len(points)
    assert axis_overlap(terms, shift) == len(points & {p + shift for p in points})
    assert set(map(int, _points(tuple(sorted(terms))).nonzero()[0])) == points
