"""The search's memo (search/memo.py) answers a revisited nest with the model's stored answer: a
search finds the same points, with the same counts, with or without it; and a key tells nests
apart by every field the model reads."""
from __future__ import annotations

import numpy as np

from accelsim.counting.records import INDEX, nest_loops
from accelsim.energy.model import action_energies
from accelsim.ir.layers import conv2d
from accelsim.load import load_arch
from accelsim.search import mapper, memo, search_kernels as S
from accelsim.search.constraints import Constraints, MapperSettings
from conftest import ARCH_DIR


def _search(arch, einsum, k=4):
    settings = MapperSettings(search="heuristic", evaluations=1500, exhaustive_limit=1, seed=3)
    return mapper.best_points(arch, einsum, action_energies(arch), Constraints(settings=settings), k=k)


def test_a_search_finds_the_same_points_with_and_without_the_memo(monkeypatch):
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    einsum = conv2d(c=32, k=64, h=14, w=14, r=3, s=3, padding=1)
    kept = _search(arch, einsum)
    monkeypatch.setattr(mapper, "MEMO_SETS", 0)
    plain = _search(arch, einsum)
    assert kept.stats[S.REPEATS] > 0 and plain.stats[S.REPEATS] == 0  # the memo answered some
    assert (kept.stats[:S.REPEATS] == plain.stats[:S.REPEATS]).all()  # the same walk: evaluations, feasible, ...
    assert [(p.mapping, p.energy_pj, p.cycles) for p in kept.points] == \
        [(p.mapping, p.energy_pj, p.cycles) for p in plain.points]


def _key(loops, n, keeps, words=8):
    key = np.zeros(words, np.int64)
    used = getattr(memo.nest_key, "py_func", memo.nest_key)(loops, n, keeps, key)  # plain Python: a slow reference
    return tuple(key[:used]), used


def test_a_key_tells_apart_every_field_and_keep_bit():
    loops = nest_loops(4)
    loops.loop_dim[:3] = np.array([0, 1, 2], INDEX)
    loops.loop_bound[:3] = [2, 3, 4]
    loops.loop_level[:3] = np.array([0, 1, 1], INDEX)
    loops.loop_spatial[:3] = [False, True, False]
    loops.loop_axis[:3] = [-1, 0, -1]
    keeps = np.zeros((3, 3), np.bool_)
    base, used = _key(loops, 3, keeps)
    assert used == 1 + 3 + 1
    variants = []
    for field, value in (("loop_dim", 3), ("loop_bound", 5), ("loop_level", 2), ("loop_spatial", True),
                         ("loop_axis", 1)):
        array = getattr(loops, field)
        old = array[0]
        array[0] = value
        variants.append(_key(loops, 3, keeps)[0])
        array[0] = old
    for bit in range(keeps.size):
        flipped = keeps.copy()
        flipped.flat[bit] = True
        variants.append(_key(loops, 3, flipped)[0])
    variants.append(_key(loops, 2, keeps)[0])  # one loop fewer
    assert len({base, *variants}) == 1 + len(variants)


def test_a_nest_past_the_key_is_not_memoized():
    loops = nest_loops(4)
    loops.loop_bound[:4] = 2
    keeps = np.zeros((2, 3), np.bool_)
    assert _key(loops, 4, keeps, words=5)[1] == 0  # 1 + 4 loops + 1 keep word do not fit 5
    loops.loop_bound[0] = memo.BOUND_LIMIT
    assert _key(loops, 1, keeps)[1] == 0
