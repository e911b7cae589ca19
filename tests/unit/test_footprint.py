from hypothesis import given, strategies as st

from accelsim.ir.footprint import _points, axis_overlap, axis_size


def brute(terms):
    values = {0}
    for c, e in terms:
        values = {v + c * x for v in values for x in range(e)}
    return values


terms_strategy = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), min_size=1, max_size=3)


@given(terms_strategy, st.integers(-12, 12))
def test_size_and_overlap_match_brute_force(terms, shift):
    terms = tuple(sorted(terms))
    points = brute(terms)
    assert axis_size(terms) == len(points)
    assert axis_overlap(terms, shift) == len(points & {p + shift for p in points})
    assert set(map(int, _points(terms).nonzero()[0])) == points
