"""SCALE-Sim v3.0.0's layer-wise N:M weight sparsity ([sparsity] SparsitySupport = true with
OptimizedMapping = false; compute/operand_matrix.py, compression.py, systolic_compute_ws.py).

A layer's weights keep N of every M consecutive reduction positions: row k of the K×N filter
operand survives when ``k mod M < N`` (the pattern ``1…1 0…0`` tiled over K, the same for every
filter).  SCALE-Sim condenses the filter operand to those Kc rows and drops the matching ifmap
columns, then runs the dense dataflow on M×N×Kc.  The memory model only compares addresses, so
the kernels run unchanged on Kc with the ifmap index arrays of the kept positions.

What sparsity changes in the report besides that:

* Overall Util % counts the dense layer's MACs (M·N·K) over the array's cycles;
* ws: SRAM IFMAP Reads is the dense count of the condensed operand times M/N (SCALE-Sim assumes
  each input row is read M/N times, no broadcast), a float summed fold by fold;
* the sparse report: original and compressed filter storage and the metadata words for the
  representation (ellpack_block, csr, csc), and metadata words / Total Cycles.
"""
from __future__ import annotations

import math

import numpy as np

SPARSE_REPS = ("ellpack_block", "csr", "csc")


def kept_rows(K: int, n: int, m: int) -> np.ndarray:
    """Mask of the reduction positions an n:m pattern keeps (n ones, then m − n zeros, tiled)."""
    return np.arange(K, dtype=np.int64) % m < n


def kept_count(K: int, n: int, m: int) -> int:
    """How many of K reduction positions an n:m pattern keeps."""
    return (K // m) * n + min(K % m, n)


def filter_storage(rep: str, K: int, N: int, n: int, m: int) -> tuple:
    """(original, compressed incl. metadata, metadata) filter storage in words, as SCALE-Sim's
    compression.py computes them for the K×N filter with an n:m pattern.  ellpack_block gives
    ⌈log2 m⌉ metadata bits per kept word, in 32-bit words (floats, as SCALE-Sim divides)."""
    original = K * N
    nnz = kept_count(K, n, m) * N
    if rep == "ellpack_block":
        metadata = (nnz * math.ceil(math.log2(m))) / 32
        return original, nnz + metadata, metadata
    pointers = K + 1 if rep == "csr" else N + 1      # row pointers (csr) or column pointers (csc)
    return original, 2 * nnz + pointers, nnz + pointers


def ws_ifmap_sram_reads(T: int, Kc: int, R: int, cf: int, n: int, m: int) -> float:
    """ws SRAM IFMAP Reads with sparsity: T·(columns of the fold)·(m/n), summed in SCALE-Sim's
    fold order so the float is bit-identical."""
    reads = 0
    rf = -(-Kc // R)
    for _ in range(cf):
        for fr in range(rf):
            reads += T * min(R, Kc - fr * R) * (m / n)
    return reads
