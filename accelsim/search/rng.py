"""The search kernels' random numbers: splitmix64 (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014), one uint64 of state in an array.

It is inlined into the kernels: a draw is a few integer operations, where np.random's Mersenne
Twister is a call per draw, and a hill-climb move draws a dozen numbers. A seed gives the same
stream on every platform and Numba version. In plain Python (NUMBA_DISABLE_JIT) the wrap-around
arithmetic is numpy's, which warns of overflow: harmless here, the wrap is the algorithm (the
test settings in pyproject.toml silence it).
"""
from __future__ import annotations

import numpy as np

from ..jit import kernel

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # the state's increment (2^64 / golden ratio)
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
# Shift counts as uint64: Numba types int64-with-uint64 arithmetic as float64.
U11, U27, U30, U31, U32 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(32)
TWO_TO_53 = 9007199254740992.0


def new_rng() -> np.ndarray:
    return np.zeros(1, dtype=np.uint64)


@kernel(_nrt=False)
def seed_rng(rng, seed):
    rng[0] = np.uint64(seed)


@kernel(_nrt=False, forceinline=True)
def next_u64(rng):
    """The next 64 random bits."""
    rng[0] += GAMMA
    z = rng[0]
    z = (z ^ (z >> U30)) * MIX1
    z = (z ^ (z >> U27)) * MIX2
    return z ^ (z >> U31)


@kernel(_nrt=False, forceinline=True)
def uniform(rng):
    """A uniform double in [0, 1): the top 53 bits."""
    return np.float64(next_u64(rng) >> U11) / TWO_TO_53


@kernel(_nrt=False, forceinline=True)
def draw(rng, n):
    """A uniform integer in [0, n) for 1 ≤ n < 2^32: the top 32 bits times n, shifted (no
    division; the bias is below n / 2^32)."""
    return np.int64(((next_u64(rng) >> U32) * np.uint64(n)) >> U32)
