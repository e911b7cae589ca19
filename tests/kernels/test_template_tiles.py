"""template_kernel.tile_words (a tile's words, which the templates' fills compare with each
buffer's capacity) against a count of the tile's points one by one: every axis's set
{Σ coef · x, 0 ≤ x < extent} enumerated, on conv layers of strides and dilations 1–3 (two-term
axes in and out of tile_words' closed form) and GEMMs, at random extents."""
import itertools
import random

import numpy as np
from numba import njit

from accelsim.ir.layers import conv2d, matmul
from accelsim.mapping.template_kernel import template_scratch, tile_words
from accelsim.mapping.template_pack import pack_layer

_tile_words = njit(lambda lay, t, ext, sc: tile_words(lay, t, ext, sc))


def _points(lay, t, ext) -> int:
    """The tile's points, axis by axis, enumerated."""
    words = 1
    for a in range(lay.n_axes[t]):
        terms = [(int(lay.term_coef[t, a, q]), int(ext[lay.term_dim[t, a, q]])) for q in range(lay.n_terms[t, a])]
        words *= len({sum(c * x for (c, _), x in zip(terms, xs))
                      for xs in itertools.product(*(range(e) for _, e in terms))})
    return words


def test_tile_words_counts_the_tiles_points():
    rng = random.Random(24)
    layers = [conv2d(c=3, k=4, h=h, w=h, r=r, s=r, stride=stride, dilation=dilation)
              for h in (15, 18) for r in (1, 2, 3, 5) for stride in (1, 2, 3) for dilation in (1, 2, 3)]
    layers += [matmul(m=6, n=10, k=7)]
    cases = closed = 0
    for einsum in layers:
        lay = pack_layer(einsum, "ws")
        sc = template_scratch(lay, 4)
        for _ in range(12):
            ext = np.array([rng.randint(1, int(b)) for b in lay.bound], dtype=np.int64)
            for t in range(len(lay.role)):
                assert _tile_words(lay, t, ext, sc) == _points(lay, t, ext), (einsum.render(), t, ext.tolist())
                cases += 1
                coefs = sorted(int(lay.term_coef[t, a, q]) for a in range(lay.n_axes[t]) if lay.n_terms[t, a] == 2
                               for q in range(2) if ext[lay.term_dim[t, a, q]] > 1)
                closed += len(coefs) == 2 and coefs[1] % coefs[0] == 0
    assert cases > 1000 and closed > 100  # both of tile_words' ways of counting two-term axes ran
