"""The search's memo of recently evaluated nests: a revisited point takes its stored result instead
of another call to the model.

A climb revisits points: a plateau move and its way back, the same optimum's neighbours tried
again after each kick from the best point. On ResNet-50 on simba_like 42 % of the search's
evaluations were of a nest evaluated before in the same search (docs/dse.md, session 19). The
model (counting/nest_kernel.evaluate_nest) is a function of the lowered nest and the keep bits
alone, for one problem, so its stored (status, energy, cycles) is the answer: a search takes the
same path and finds the same points with or without the memo.

A key is the whole nest, compared word for word (no hash is trusted on its own): its loop count,
one word per loop (bound, dim, level, axis, spatial), then the keep bits, 63 to a word. A nest
with more loops than the key holds, or a field past its width, is not memoized (evaluated every
time). The table is set-associative with least-recently-used replacement: it keeps the recent
neighbourhood, where the revisits are (replaying the search's trace, 4096 sets × 4 ways answer
37 % of the evaluations, 16384 × 4 40.6 %, of the 42 % any memo could). An exhaustive search runs
without it: it visits each point once (a 1.2 M-point exhaustive search with the memo had no repeat).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..jit import helper

SETS = 4096       # a power of two
WAYS = 4
MAX_LOOPS = 32    # loops a key holds (a lowered ResNet-50 nest on simba_like has at most 24)
BOUND_LIMIT = 1 << 40  # a loop bound a key word holds (with 8 bits of dim, 8 of level, 3 of axis and spatial)
FIELD_LIMIT = 256      # a dim or level index a key word holds
_MIX = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64 (Fibonacci hashing of a key's hash to its set)


class Memo(NamedTuple):
    """The memo's arrays (new_memo); a table of 0 sets memoizes nothing."""
    key: np.ndarray      # [set, way, word] int64: the stored nests' keys
    hash: np.ndarray     # [set, way] int64: their hashes
    age: np.ndarray      # [set, way] int64: the evaluation each was last used at (−1: empty)
    energy: np.ndarray   # [set, way] float64: the model's energy pJ
    result: np.ndarray   # [set, way, 2] int64: the model's status and cycles
    probe: np.ndarray    # [word] int64: the key being looked up


def new_memo(max_loops: int, n_levels: int, n_tensors: int, sets: int = SETS, ways: int = WAYS) -> Memo:
    """A memo for nests of up to `max_loops` loops (at most MAX_LOOPS of them go in a key) with
    [n_levels, n_tensors] keep bits. `sets` 0: no memo."""
    words = 1 + min(max_loops, MAX_LOOPS) + -(-n_levels * n_tensors // 63)
    return Memo(np.zeros((sets, ways, words), np.int64), np.zeros((sets, ways), np.int64),
                np.full((sets, ways), -1, np.int64), np.zeros((sets, ways)), np.zeros((sets, ways, 2), np.int64),
                np.zeros(words, np.int64))


@helper()
def nest_key(loops, n, keeps, key):
    """Write the nest (its first n loops, the keep bits) into `key`; the words used, or 0 when it
    does not fit one (then it is not memoized)."""
    bits = keeps.shape[0] * keeps.shape[1]
    used = 1 + n + (bits + 62) // 63
    if used > key.shape[0]:
        return 0
    key[0] = n
    for i in range(n):
        bound, dim, level = loops.loop_bound[i], np.int64(loops.loop_dim[i]), np.int64(loops.loop_level[i])
        axis = loops.loop_axis[i]
        if not (1 <= bound < BOUND_LIMIT and dim < FIELD_LIMIT and level < FIELD_LIMIT and -1 <= axis <= 1):
            return 0
        key[1 + i] = (((bound * FIELD_LIMIT + dim) * FIELD_LIMIT + level) * 4 + axis + 1) * 2 \
            + np.int64(loops.loop_spatial[i])
    word, bit, w = np.int64(0), 0, 1 + n
    for level in range(keeps.shape[0]):
        for t in range(keeps.shape[1]):
            if keeps[level, t]:
                word |= np.int64(1) << bit
            bit += 1
            if bit == 63:
                key[w] = word
                w, word, bit = w + 1, np.int64(0), 0
    if bit > 0:
        key[w] = word
    return used


@helper()
def key_hash(key, used):
    """FNV-1a over the key's words (int64 arithmetic wraps), then mixed."""
    h = np.int64(-3750763034362895579)  # FNV offset basis 0xcbf29ce484222325
    for i in range(used):
        h = (h ^ key[i]) * np.int64(1099511628211)
        h ^= h >> 29
    return h


@helper()
def set_of(h, sets):
    """The set a hash goes to (sets: a power of two)."""
    return ((h * _MIX) >> 32) & (sets - 1)


@helper(forceinline=True)  # (one call site a kernel: no call passing its records' fields)
def recall(memo, loops, n, keeps, clock):
    """Look the nest (its first n loops, the keep bits) up: (words of its key, its hash, its set,
    the way holding it or −1). The way is marked used at `clock`. Words 0: not memoized (no table,
    or a nest past the key); the caller evaluates it and, if memoized, calls remember with the rest."""
    if memo.age.shape[0] == 0:
        return 0, np.int64(0), np.int64(0), -1
    used = nest_key(loops, n, keeps, memo.probe)
    if used == 0:
        return 0, np.int64(0), np.int64(0), -1
    h = key_hash(memo.probe, used)
    s = set_of(h, memo.age.shape[0])
    for w in range(memo.hash.shape[1]):
        if memo.age[s, w] >= 0 and memo.hash[s, w] == h:
            same = True
            for i in range(used):
                if memo.key[s, w, i] != memo.probe[i]:
                    same = False
                    break
            if same:
                memo.age[s, w] = clock
                return used, h, s, w
    return used, h, s, -1


@helper(forceinline=True)
def remember(memo, used, h, s, clock, status, energy, cycles):
    """Store the probe's key (recall's `used` words, hash h, set s) and the model's answer, over the
    set's least recently used way."""
    w = 0
    for v in range(1, memo.age.shape[1]):
        if memo.age[s, v] < memo.age[s, w]:
            w = v
    for i in range(used):
        memo.key[s, w, i] = memo.probe[i]
    memo.hash[s, w], memo.age[s, w], memo.energy[s, w] = h, clock, energy
    memo.result[s, w, 0], memo.result[s, w, 1] = status, cycles
