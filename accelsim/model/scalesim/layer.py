"""SCALE-Sim's view of one layer and one array: the layer, the array and memory
parameters, the report, and how to read them from an accelsim einsum and Arch."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ...errors import MappingError
from .geometry import DATAFLOWS

ROLES = ("inputs", "weights", "outputs")    # ifmap, filter, ofmap


@dataclass(frozen=True)
class SystolicLayer:
    """A layer as SCALE-Sim sees it: conv (H, W ifmap; R×S filter; C channels; F filters;
    one stride for both directions, no padding).  A GEMM M×N×K is the conv
    H=M, W=K, R=1, S=K, C=1, F=N (``from_gemm``).  ``weight_nm`` is the weights' N:M pattern
    (SCALE-Sim's topology column; (1, 1) is dense), used when the array supports sparsity."""
    H: int
    W: int
    R: int
    S: int
    C: int
    F: int
    stride: int = 1
    name: str = ""
    weight_nm: tuple[int, int] = (1, 1)

    @classmethod
    def from_gemm(cls, M: int, N: int, K: int, name: str = "",
                  weight_nm: tuple[int, int] = (1, 1)) -> "SystolicLayer":
        return cls(H=M, W=K, R=1, S=K, C=1, F=N, stride=1, name=name, weight_nm=weight_nm)

    def out_hw(self, scalesim_compat: bool = True) -> tuple[int, int]:
        s = self.stride
        if scalesim_compat:      # topology_utils: ceil((H − R + s)/s), windows may overhang
            return -(-(self.H - self.R + s) // s), -(-(self.W - self.S + s) // s)
        return (self.H - self.R) // s + 1, (self.W - self.S) // s + 1

    def gemm_view(self, scalesim_compat: bool = True) -> tuple[int, int, int]:
        Eh, Ew = self.out_hw(scalesim_compat)
        return Eh * Ew, self.F, self.R * self.S * self.C


@dataclass(frozen=True)
class SystolicConfig:
    """SCALE-Sim's array and memory parameters.  SRAM sizes are in words (SCALE-Sim: kB·1024
    with 1-byte words).  ``bandwidth`` is words/cycle: in USER mode it is the OFMAP drain
    bandwidth and, unless ``ifmap_read_bw``/``filter_read_bw`` are given, the read
    bandwidths (SCALE-Sim v3 reads those from IfmapSRAMBankBandwidth/FilterSRAMBankBandwidth).
    ``sparse_rep`` (ellpack_block, csr or csc) turns on SCALE-Sim's layer-wise N:M sparsity
    (SparsitySupport = true, OptimizedMapping = false); None is SparsitySupport = false.
    ``rowwise_block`` > 0 is OptimizedMapping = true with that BlockSize (ws only): each filter
    draws its N from numpy's generator seeded with ``sparse_seed`` (RandomNumberGeneratorSeed)."""
    rows: int
    cols: int
    dataflow: str
    ifmap_sram_words: int
    filter_sram_words: int
    ofmap_sram_words: int
    bandwidth_mode: str = "CALC"
    bandwidth: int = 10
    ifmap_read_bw: int | None = None
    filter_read_bw: int | None = None
    sparse_rep: str | None = None
    rowwise_block: int = 0
    sparse_seed: int = 40

    @classmethod
    def from_kb(cls, rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb, word_bytes=1,
                **kw) -> "SystolicConfig":
        w = lambda kb: int(kb * 1024) // word_bytes
        return cls(rows, cols, dataflow, w(ifmap_kb), w(filter_kb), w(ofmap_kb), **kw)


@dataclass(frozen=True)
class SystolicResult:
    """SCALE-Sim's COMPUTE, BANDWIDTH and DETAILED_ACCESS report fields of one layer
    (percentages in %, bandwidths in words/cycle, cycles as SCALE-Sim reports them)."""
    M: int
    N: int
    K: int
    folds: int
    cycles_per_fold: int
    total_cycles_incl_prefetch: int
    total_cycles: int
    stall_cycles: int
    overall_util_pct: float
    mapping_efficiency_pct: float
    compute_util_pct: float
    avg_ifmap_sram_bw: float
    avg_filter_sram_bw: float
    avg_ofmap_sram_bw: float
    avg_ifmap_dram_bw: float
    avg_filter_dram_bw: float
    avg_ofmap_dram_bw: float
    ifmap_sram_start: int
    ifmap_sram_stop: int
    ifmap_sram_reads: int
    filter_sram_start: int
    filter_sram_stop: int
    filter_sram_reads: int
    ofmap_sram_start: int
    ofmap_sram_stop: int
    ofmap_sram_writes: int
    ifmap_dram_start: int
    ifmap_dram_stop: int
    ifmap_dram_reads: int
    filter_dram_start: int
    filter_dram_stop: int
    filter_dram_reads: int
    ofmap_dram_start: int
    ofmap_dram_stop: int
    ofmap_dram_writes: int
    # SparsitySupport = true only: BANDWIDTH_REPORT's metadata column and SPARSE_REPORT
    sparse_rep: str | None = None
    nonzero_K: int | None = None                 # reduction positions the N:M pattern keeps
    avg_filter_metadata_sram_bw: float | None = None
    original_filter_storage: int | None = None
    new_filter_storage: float | None = None      # filter + metadata words
    filter_metadata_storage: float | None = None

    def as_dict(self) -> dict:
        """The report fields; a dense run (SparsitySupport = false) has no sparse ones."""
        out = asdict(self)
        if self.sparse_rep is None:
            for key in SPARSE_FIELDS:
                del out[key]
        return out


SPARSE_FIELDS = ("sparse_rep", "nonzero_K", "avg_filter_metadata_sram_bw", "original_filter_storage",
                 "new_filter_storage", "filter_metadata_storage")


def layer_from_einsum(einsum, name="", input_size: tuple[int, int] | None = None,
                      weight_nm: tuple[int, int] | None = None) -> SystolicLayer:
    """SCALE-Sim's view of a layer. `input_size` is a convolution's (padded) input H × W; without
    it the input is the windows' exact footprint (no overhang).  `weight_nm`: the weights' N:M
    pattern (None: dense)."""
    nm = tuple(weight_nm) if weight_nm else (1, 1)
    b = einsum.bound
    dims = set(b)
    if dims == {"m", "n", "k"}:
        I, W = einsum.tensor("inputs"), einsum.tensor("weights")
        if W is None or [t.dim for ax in I.axes for t in ax] != ["m", "k"]:
            raise MappingError(f"{name}: matmul einsum must be O[m,n] += I[m,k] * W[k,n]")
        return SystolicLayer.from_gemm(b["m"], b["n"], b["k"], name=name, weight_nm=nm)
    if dims == {"n", "k", "c", "p", "q", "r", "s"} and einsum.tensor("weights") is not None:
        if b["n"] != 1:
            raise MappingError(f"{name}: SCALE-Sim's systolic model has no batch (n = {b['n']})")
        axes = einsum.tensor("inputs").axes
        coef = {t.dim: t.coef for ax in axes[2:] for t in ax}
        if coef.get("r", 1) != 1 or coef.get("s", 1) != 1:
            raise MappingError(f"{name}: dilated convolutions are not supported")
        sh, sw = coef.get("p", 1), coef.get("q", 1)
        if sh != sw:
            raise MappingError(f"{name}: SCALE-Sim uses one stride for both directions "
                               f"(got {sh} and {sw})")
        # the exact input footprint: SCALE-Sim's ceil((H − R + s)/s) then gives p and q back
        H, W = input_size or (sh * (b["p"] - 1) + b["r"], sw * (b["q"] - 1) + b["s"])
        layer = SystolicLayer(H, W, b["r"], b["s"], b["c"], b["k"], sh, name=name, weight_nm=nm)
        if layer.gemm_view()[0] != b["p"] * b["q"]:
            raise MappingError(f"{name}: SCALE-Sim computes ⌈(H−R+s)/s⌉ output rows; this layer drops "
                               f"its overhanging windows — write it with ceil_mode: true")
        return layer
    raise MappingError(f"{name}: only conv2d (groups=1), matmul and fully_connected layers map "
                       f"onto the SCALE-Sim systolic model (dims {sorted(dims)})")


def systolic_params(arch, einsum, name: str = "", input_size: tuple[int, int] | None = None,
                    weight_nm: tuple[int, int] | None = None) -> tuple[SystolicLayer, SystolicConfig]:
    """SCALE-Sim parameters of `einsum` on `arch` (an accelsim Arch).

    * array: the systolic spatial level (else the only spatial level), rows = y, cols = x;
    * dataflow: ``arch.dataflow`` (os, ws or is);
    * SRAM words per operand: for each tensor, the memory below the top DRAM and closest to
      the array that keeps it; a level chosen by several tensors is split evenly among them;
    * bandwidth: unlimited top-level read bandwidth means CALC; otherwise USER with the top
      level's read bandwidth for ifmap and filter and its write bandwidth (default: the read
      bandwidth) for the OFMAP drain, rounded down to whole words per cycle.
    """
    from ...ir.arch import Memory, Spatial
    levels = list(arch.levels)
    spatial = [i for i, l in enumerate(levels) if isinstance(l, Spatial)]
    sys_idx = [i for i in spatial if levels[i].interconnect == "systolic"]
    if not (sys_idx or len(spatial) == 1):
        raise MappingError(f"arch {arch.name}: no systolic spatial level")
    si = (sys_idx or spatial)[0]
    array = levels[si]
    if arch.dataflow not in DATAFLOWS:
        raise MappingError(f"arch {arch.name}: dataflow must be one of {DATAFLOWS} for the "
                           f"systolic model, got {arch.dataflow!r}")
    top = levels[0]
    mems = [(i, l) for i, l in enumerate(levels[1:si], start=1) if isinstance(l, Memory)]
    chosen = {}
    for role in ROLES:
        keep = [(i, l) for i, l in mems if role in l.keeps]
        if not keep:
            raise MappingError(f"arch {arch.name}: no on-chip memory above the array keeps {role}")
        chosen[role] = keep[-1]
    words = {}
    for role, (i, l) in chosen.items():
        share = sum(1 for j, _ in chosen.values() if j == i)
        if l.size_bits is None:
            raise MappingError(f"arch {arch.name}: {l.name} must have a finite size")
        words[role] = l.size_bits // l.word_bits // share
    if top.read_bw_words is None:
        mode, bw, rbw = "CALC", 10, None
    else:
        mode = "USER"
        rbw = int(top.read_bw_words)
        bw = int(top.write_bw_words) if top.write_bw_words is not None else rbw
    sparse, row_wise = arch.structured_sparsity, None
    if sparse is not None:
        row_wise = sparse.row_wise
    cfg = SystolicConfig(array.y, array.x, arch.dataflow, words["inputs"], words["weights"],
                         words["outputs"], bandwidth_mode=mode, bandwidth=bw,
                         ifmap_read_bw=rbw, filter_read_bw=rbw,
                         sparse_rep=sparse.representation if sparse is not None else None,
                         rowwise_block=row_wise.block_size if row_wise else 0,
                         sparse_seed=row_wise.seed if row_wise else 40)
    return layer_from_einsum(einsum, name, input_size, weight_nm), cfg
