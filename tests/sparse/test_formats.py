"""Rank formats against a brute-force count on explicit fibertrees."""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from accelsim.sparse.density import Hypergeometric
from accelsim.sparse.formats import rank_occupancy


def _expected_units(fmt, fibers, shape, nnz):
    """Average metadata and payload units of the top rank of a 1 × `shape` fibertree whose `nnz`
    non-zeros are placed uniformly (every placement enumerated)."""
    md = pl = 0.0
    placements = list(combinations(range(shape), nnz))
    for nz in placements:
        occupied = len(nz)
        if fmt == "CP" or fmt == "RLE":
            md += occupied
            pl += occupied
        elif fmt == "B":
            md += shape if occupied else 0
            pl += occupied
        elif fmt == "UOP":
            pl += (shape + 1) if occupied else 0
        elif fmt == "UB":
            md += shape
            pl += shape
    return md / len(placements), pl / len(placements)


@pytest.mark.parametrize("fmt", ["CP", "RLE", "B", "UOP", "UB"])
@pytest.mark.parametrize("shape, nnz", [(8, 2), (8, 4), (6, 0), (5, 5)])
def test_top_rank_units_match_enumeration(fmt, shape, nnz):
    """One fiber; scalar coordinates: a coordinate is empty with probability 1 - nnz/shape."""
    m = Hypergeometric(0.5, 2 * shape)
    occ = rank_occupancy(fmt, 1, shape, m.prob_empty_given(shape, shape, nnz), m.prob_empty_given(1, shape, nnz))
    md, pl = _expected_units(fmt, 1, shape, nnz)
    assert occ.metadata_units == pytest.approx(md)
    if fmt != "B":   # B counts payloads per fiber as ceil(shape × density), exact here since nnz is whole
        assert occ.payload_units == pytest.approx(pl)
    else:
        assert occ.payload_units == pytest.approx(np.ceil(pl) if nnz else 0)


def test_uncompressed_has_no_metadata():
    occ = rank_occupancy("U", 4, 8, 0.5, 0.5)
    assert (occ.metadata_units, occ.payload_units) == (0.0, 0.0)
