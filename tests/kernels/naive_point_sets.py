"""Slow, obvious point-set counts: the values Σ c·x, x ∈ [0, e), as a Python set."""
from functools import lru_cache


@lru_cache(maxsize=65536)
def points(terms: tuple[tuple[int, int], ...]) -> frozenset:
    values = {0}
    for c, e in terms:
        values = {v + c * x for v in values for x in range(e)}
    return frozenset(values)


def axis_size(terms) -> int:
    return len(points(tuple(terms)))


def axis_overlap(terms, shift: int) -> int:
    """|S ∩ (S + shift)|."""
    s = points(tuple(terms))
    return sum(1 for p in s if p - shift in s)
