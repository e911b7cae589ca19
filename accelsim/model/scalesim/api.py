"""The emulator's entry points: `simulate_systolic` (one layer on one array, SCALE-Sim's
report) and `scalesim_layer_cycles` (the same for an accelsim Arch and Layer).

``scalesim_compat`` (default True) keeps SCALE-Sim's reporting quirks so every field equals
SCALE-Sim's output.  With it off:

* Total Cycles is ``F·cpf + stalls`` (SCALE-Sim reports the index of the last cycle, −1);
* os OFMAP SRAM writes are ``M·N`` (SCALE-Sim adds ``R + C`` per fold, a counter quirk);
* ws/is compute utilisation uses ``cpf`` cycles per fold (SCALE-Sim uses ``cpf + C − 1``);
* the GEMM view of a conv uses only in-range windows, ``E = ⌊(H − R)/s⌋ + 1``
  (SCALE-Sim: ``⌈(H − R + s)/s⌉``, see :meth:`SystolicLayer.gemm_view`).

The memory-system algorithms themselves (the USER read buffer's doubled wait, the OFMAP
drain's partial-line over-count, CALC's re-fetch after a window shift) are SCALE-Sim's in both
settings: they define the DRAM model being reproduced.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...errors import AccelsimBug, MappingError, Problem, SpecError
from ..performance import PERFORMANCE_MODELS, PerformanceModel
from .calc import systolic_calc_kernel
from .counts import ERR_NONE, ERROR_MESSAGES, KernelCounts
from .geometry import DATAFLOWS, OS, WS, geometry
from .layer import SystolicConfig, SystolicLayer, SystolicResult, systolic_params
from .sparsity import (
    SPARSE_REPS,
    filter_storage,
    kept_rows,
    rowwise_check,
    rowwise_filter,
    rowwise_mapping_efficiency,
    rowwise_storage,
    ws_ifmap_sram_reads,
)
from .user import systolic_user_kernel

if TYPE_CHECKING:
    from ...ir.arch import Arch
    from ...ir.workload import Layer


def scalesim_layer_cycles(arch: Arch, layer: Layer) -> tuple[int, dict]:
    """SCALE-Sim v3.0.0's numbers for a layer on the arch's systolic array.

    `cycles` and `stall_cycles` are SCALE-Sim's "Total Cycles" and "Stall Cycles"; the rest of
    its report sits under `scalesim`, named as SCALE-Sim names it.
    """
    try:
        systolic_layer, config = systolic_params(arch, layer.einsum, layer.name, layer.input_size,
                                                 layer.weight_nm)
    except (ValueError, KeyError) as exc:
        raise MappingError(f"layer '{layer.name}': no SCALE-Sim view of this layer: {exc}") from None
    report = simulate_systolic(systolic_layer, config, scalesim_compat=True)
    return report.total_cycles, {"stall_cycles": report.stall_cycles, "scalesim": report.as_dict()}


@PERFORMANCE_MODELS.register("scalesim")
class ScaleSimModel(PerformanceModel):
    """SCALE-Sim v3.0.0's cycles for a layer on the arch's systolic array (`--model scalesim`, or
    `--model cycle --scalesim-compat`); the counts stay the counting core's."""

    name = "scalesim"

    @staticmethod
    def check(arch, options) -> None:
        """SCALE-Sim has read and write bandwidths only: a shared port has no counterpart there."""
        shared = [m.name for m in arch.memories if m.shared_bw_words]
        if shared:
            raise SpecError(f"{', '.join(shared)}: shared_bandwidth has no SCALE-Sim counterpart; run "
                            f"--scalesim-compat without it, or use --model cycle")

    @staticmethod
    def layer_cycles(arch, layer, nest, counts) -> tuple[int, dict]:
        return scalesim_layer_cycles(arch, layer)


def _ifmap_index(layer: SystolicLayer, M: int, K: int, scalesim_compat: bool):
    Eh, Ew = layer.out_hw(scalesim_compat)
    s, W, C = layer.stride, layer.W, layer.C
    m = np.arange(M, dtype=np.int64)
    orow, ocol = np.divmod(m, Ew)
    mrow, mcol = orow * s, ocol * s
    mbase = (mrow * W + mcol) * C
    k = np.arange(K, dtype=np.int64)
    krow, rem = np.divmod(k, layer.S * C)
    kcol, ch = np.divmod(rem, C)
    kbase = (krow * W + kcol) * C + ch
    return mrow, mcol, mbase, krow, kcol, kbase


def _check(cond, msg, problems):
    if not cond:
        problems.append(msg)


def simulate_systolic(layer: SystolicLayer, config: SystolicConfig, *,
                      scalesim_compat: bool = True) -> SystolicResult:
    """Run one layer; see the module docstring for what ``scalesim_compat`` changes."""
    problems: list[str] = []
    cfg = config
    _check(cfg.dataflow in DATAFLOWS, f"dataflow must be one of {DATAFLOWS}, got {cfg.dataflow!r}",
           problems)
    _check(cfg.bandwidth_mode in ("CALC", "USER"),
           f"bandwidth_mode must be CALC or USER, got {cfg.bandwidth_mode!r}", problems)
    for name in ("rows", "cols", "ifmap_sram_words", "filter_sram_words"):
        _check(int(getattr(cfg, name)) >= 1, f"{name} must be >= 1", problems)
    _check(cfg.ofmap_sram_words >= 2, "ofmap_sram_words must be >= 2", problems)
    for name in ("H", "W", "R", "S", "C", "F", "stride"):
        _check(int(getattr(layer, name)) >= 1, f"layer {layer.name!r}: {name} must be >= 1",
               problems)
    _check(layer.R <= layer.H and layer.S <= layer.W,
           f"layer {layer.name!r}: filter larger than ifmap", problems)
    _check(cfg.sparse_rep is None or cfg.sparse_rep in SPARSE_REPS,
           f"sparse_rep must be one of {SPARSE_REPS} or None, got {cfg.sparse_rep!r}", problems)
    nm_n, nm_m = layer.weight_nm
    _check(1 <= nm_n <= nm_m, f"layer {layer.name!r}: weight_nm must be N:M with 1 <= N <= M, "
           f"got {nm_n}:{nm_m}", problems)
    bs = int(cfg.rowwise_block) if cfg.sparse_rep is not None else 0
    if bs:
        _check(cfg.dataflow == "ws", "row-wise N:M (rowwise_block) runs on the ws dataflow only "
               "(SCALE-Sim 3.0.0's os and is stop on a dimension mismatch)", problems)
        why = rowwise_check(int(cfg.rows), bs)
        _check(why is None, f"rowwise_block: {why}", problems)
    user = cfg.bandwidth_mode == "USER"
    ibw = cfg.ifmap_read_bw if cfg.ifmap_read_bw is not None else cfg.bandwidth
    fbw = cfg.filter_read_bw if cfg.filter_read_bw is not None else cfg.bandwidth
    if not user:   # CALC: sets of ⌊size/100⌋ words; below 100 SCALE-Sim divides by zero
        _check(min(cfg.ifmap_sram_words, cfg.filter_sram_words) >= 100,
               "CALC mode needs ifmap and filter SRAMs of >= 100 words", problems)
    if user:
        _check(min(ibw, fbw, cfg.bandwidth) >= 1, "USER bandwidths must be >= 1 word/cycle",
               problems)
        _check(cfg.ifmap_sram_words >= 2 and cfg.filter_sram_words >= 2,
               "USER mode needs read SRAMs of >= 2 words", problems)
    if problems:
        raise SpecError([Problem(m, key_path="systolic") for m in problems])

    R, C = int(cfg.rows), int(cfg.cols)
    df = DATAFLOWS.index(cfg.dataflow)
    M, N, K_dense = layer.gemm_view(scalesim_compat)
    idx = _ifmap_index(layer, M, K_dense, scalesim_compat)
    K = K_dense
    F = np.empty((0, 0), np.int64)
    if bs:                           # row-wise: the folds walk the Kh rows of the condensed F
        F = rowwise_filter(K_dense, N, bs, int(cfg.sparse_seed))
        K = F.shape[0]
    elif cfg.sparse_rep is not None:   # the dense dataflow on the kept reduction positions
        keep = kept_rows(K_dense, nm_n, nm_m)
        idx = (*idx[:3], *(a[keep] for a in idx[3:]))
        K = int(keep.sum())
    H, W = int(layer.H), int(layer.W)
    n_if = H * W * layer.C
    n_fi = (K_dense if bs else K) * N
    args = (df, R, C, M, N, K, H, W, *idx, n_if, n_fi, int(cfg.ifmap_sram_words),
            int(cfg.filter_sram_words), int(cfg.ofmap_sram_words), bs, K_dense, F)
    if user:
        out = systolic_user_kernel(*args, int(ibw), int(fbw), int(cfg.bandwidth))
    else:
        out = systolic_calc_kernel(*args)
    if out.error != ERR_NONE:
        raise AccelsimBug(f"systolic kernel: {ERROR_MESSAGES.get(int(out.error), out.error)}")
    result = _assemble(out, df, R, C, M, N, K, scalesim_compat)
    if cfg.sparse_rep is None:
        return result
    if bs:
        return _rowwise(result, cfg, R, C, M, N, K_dense, F, nm_m)
    return _sparse(result, cfg.sparse_rep, df, R, C, M, N, K_dense, nm_n, nm_m)


def _ratio(a, b):          # as in _assemble: a 1-cycle layer reports nan
    return a / b if b else math.nan


def _rowwise(res: SystolicResult, cfg, R, C, M, N, K_dense, F, layer_m) -> SystolicResult:
    """Row-wise N:M (OptimizedMapping): the report of the folds over the condensed Kh × N
    filter, with SCALE-Sim's row-wise counts: ifmap reads are the skewed, block-repeated demand
    (M + R − 1 rows of R·bs words per fold), mapping efficiency counts F's empty slots."""
    bs, total = int(cfg.rowwise_block), res.total_cycles
    folds = -(-N // C) * -(-F.shape[0] // R)
    reads = folds * (M + R - 1) * R * bs
    original, new, metadata = rowwise_storage(cfg.sparse_rep, K_dense, N, bs, int(cfg.sparse_seed),
                                              F, layer_m)
    return replace(res, K=K_dense, nonzero_K=None, sparse_rep=cfg.sparse_rep,
                   original_filter_storage=original, new_filter_storage=new,
                   filter_metadata_storage=metadata,
                   avg_filter_metadata_sram_bw=_ratio(metadata, total),
                   overall_util_pct=_ratio(100 * M * N * K_dense, total * R * C),
                   mapping_efficiency_pct=rowwise_mapping_efficiency(F, R, C) * 100,
                   ifmap_sram_reads=reads, avg_ifmap_sram_bw=_ratio(reads, total))


def _sparse(res: SystolicResult, rep, df, R, C, M, N, K_dense, n, m) -> SystolicResult:
    """SparsitySupport = true: the dense report of the condensed layer (M×N×Kc) with SCALE-Sim's
    sparse changes (sparsity.py): dense MACs in Overall Util, ws ifmap reads × m/n, the
    metadata bandwidth and the sparse report."""
    total, Kc = res.total_cycles, res.K
    original, new, metadata = filter_storage(rep, K_dense, N, n, m)
    fields = {"K": K_dense, "nonzero_K": Kc, "sparse_rep": rep, "original_filter_storage": original,
              "new_filter_storage": new, "filter_metadata_storage": metadata,
              "avg_filter_metadata_sram_bw": _ratio(metadata, total),
              "overall_util_pct": _ratio(100 * M * N * K_dense, total * R * C)}
    if df == WS:
        reads = ws_ifmap_sram_reads(M, Kc, R, -(-N // C), n, m)
        fields.update(ifmap_sram_reads=reads, avg_ifmap_sram_bw=_ratio(reads, total))
    return replace(res, **fields)


def _assemble(out, df, R, C, M, N, K, compat) -> SystolicResult:
    """The report fields that follow from the kernel's counts in closed form."""
    Sr, Sc, T, rf, cf, cpf = geometry(df, R, C, M, N, K)
    F = rf * cf
    o = KernelCounts(*(int(v) for v in out))
    total = o.total_cycles if compat else o.total_cycles + 1
    map_eff = Sr * Sc / (F * R * C)
    if df == OS or not compat:
        util_den = cpf
    else:
        util_den = 2 * R + 2 * C + T - 3        # SCALE-Sim: demand rows + cols − 1
    if df == OS:
        if_reads, fi_reads = M * K * cf, K * N * rf
        of_writes = M * N + (F * (R + C) if compat else 0)
    elif df == WS:
        if_reads, fi_reads, of_writes = M * K * cf, K * N, M * N * rf
    else:
        if_reads, fi_reads, of_writes = M * K, K * N * cf, M * N * rf
    macs = M * N * K

    def ratio(n, d):          # SCALE-Sim divides by zero on a 1-cycle layer; report nan
        return n / d if d else math.nan

    def dram_bw(n, a, b):
        return ratio(n, b - a + 1)

    # the kernel's start/stop cycles and DRAM counts go to the report under the same names
    copied = {f: getattr(o, f) for f in KernelCounts._fields if f not in ("total_cycles", "error")}
    return SystolicResult(
        M=M, N=N, K=K, folds=F, cycles_per_fold=cpf,
        total_cycles_incl_prefetch=o.ofmap_dram_stop - min(o.ifmap_dram_start, o.filter_dram_start),
        total_cycles=total,
        overall_util_pct=ratio(100 * macs, total * R * C),
        mapping_efficiency_pct=100 * map_eff,
        compute_util_pct=100 * map_eff * T / util_den,
        avg_ifmap_sram_bw=ratio(if_reads, total), avg_filter_sram_bw=ratio(fi_reads, total),
        avg_ofmap_sram_bw=ratio(of_writes, total),
        avg_ifmap_dram_bw=dram_bw(o.ifmap_dram_reads, o.ifmap_dram_start, o.ifmap_dram_stop),
        avg_filter_dram_bw=dram_bw(o.filter_dram_reads, o.filter_dram_start, o.filter_dram_stop),
        avg_ofmap_dram_bw=dram_bw(o.ofmap_dram_writes, o.ofmap_dram_start, o.ofmap_dram_stop),
        ifmap_sram_reads=if_reads, filter_sram_reads=fi_reads, ofmap_sram_writes=of_writes,
        **copied,
    )
