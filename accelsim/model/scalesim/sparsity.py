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


# ---------------------------------------------------------------------------------------------
# Row-wise N:M (OptimizedMapping = true; ws only): every filter draws its own N from SCALE-Sim's
# seeded generator, and the array takes two blocks of `bs` reduction positions per bs rows.

def rowwise_check(R: int, bs: int) -> str | None:
    """Why SCALE-Sim 3.0.0 cannot run row-wise N:M with block size bs on R array rows (None: it
    can).  It draws N from [1, bs/2] and cuts 2R ifmap columns into blocks of bs."""
    if bs < 2 or bs % 2:
        return f"block size {bs} must be even and >= 2 (SCALE-Sim draws N from 1..bs/2)"
    if bs > R or (2 * R) % bs:
        return f"block size {bs} must be at most ArrayHeight ({R}) and divide 2·ArrayHeight"
    return None


def rowwise_nonzeros(N: int, bs: int, seed: int) -> np.ndarray:
    """Each filter's N of its N:bs pattern: operand_matrix.create_filter_matrix seeds numpy's
    legacy generator (np.random.seed) and draws randint(1, bs//2 + 1) once per filter, in order.
    A private RandomState with the same seed gives the same stream."""
    rng = np.random.RandomState(seed)
    return np.array([rng.randint(1, bs // 2 + 1) for _ in range(N)], dtype=np.int64)


def rowwise_filter(K: int, N: int, bs: int, seed: int) -> np.ndarray:
    """The condensed Kh × N filter operand SCALE-Sim builds: K padded to a multiple of 2·bs,
    each block of bs positions keeps the first N_n of filter n (its pattern), stored in bs/2
    slots; empty slots are −1.  Addresses are n·K + k (the filter offset dropped)."""
    nk = rowwise_nonzeros(N, bs, seed)
    hb = bs // 2
    nblocks = -(-K // (2 * bs)) * 2
    F = np.full((nblocks * hb, N), -1, dtype=np.int64)
    n = np.arange(N, dtype=np.int64)
    for b in range(nblocks):
        for j in range(hb):
            k = b * bs + j
            if k < K:
                keep = j < nk
                F[b * hb + j, keep] = n[keep] * K + k
    return F


def rowwise_storage(rep: str, K: int, N: int, bs: int, seed: int, F: np.ndarray,
                    layer_m: int) -> tuple:
    """(original, compressed incl. metadata, metadata) with the random row-wise pattern: csr and
    csc count its non-zeros; ellpack_block sizes the condensed Kh × N operand at ⌈log2 M⌉ bits
    per slot, M being the topology column's (SCALE-Sim passes the layer's ratio M)."""
    nk = rowwise_nonzeros(N, bs, seed)
    kept = (K // bs) * nk + np.minimum(K % bs, nk)
    nnz = int(kept.sum())
    if rep == "ellpack_block":
        metadata = (F.size * math.ceil(math.log2(layer_m))) / 32
        return K * N, F.size + metadata, metadata
    pointers = K + 1 if rep == "csr" else N + 1
    return K * N, 2 * nnz + pointers, nnz + pointers


def rowwise_mapping_efficiency(F: np.ndarray, R: int, C: int) -> float:
    """Mean over folds (fc outer, fr inner) of the used PEs: SCALE-Sim counts the −1 entries of
    each R × C filter fold, padding and empty slots alike."""
    Kh, N = F.shape
    effs = []
    for fc in range(-(-N // C)):
        for fr in range(-(-Kh // R)):
            used = int((F[fr * R:fr * R + R, fc * C:fc * C + C] >= 0).sum())
            effs.append(((R * C) - (R * C - used)) / (R * C))
    return sum(effs) / len(effs)
