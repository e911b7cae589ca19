"""Bit-accurate functional model of the 5 nm VS-Quant chip's vector MAC and post-processing.

Source: ``/work/shared/reference/chip_vsquant_5nm.md`` §1-3 (Keller et al., JSSC 2023 / VLSI
2022) and the VS-Quant quantizer (Dai et al., "VS-Quant: Per-vector Scaled Quantization for
Accurate Low-Precision Neural Network Inference", MLSys 2021). ``docs/numerics.md`` explains
every choice made where the papers leave a detail open, and lists measured error numbers.

Per lane, per cycle (one "vector MAC"):

* INT8:     32 signed 8x8 products -> adder tree -> 21-bit dot -> + 24-bit partial sum
* INT4:     64 signed 4x4 products -> 14-bit dot -> + 24-bit partial sum
* INT4-VSQ: 64 signed 4x4 products -> 14-bit dot; unsigned 8b x 8b scale product -> 16 b,
            rounded to 8 b (round half up: ``(p + 128) >> 8``) -> x dot -> 22 b -> + 24-bit
            partial sum, saturating at [-2^23, 2^23 - 1]

The dropped 8 LSBs of the scale product are a constant factor 2^8 folded into the PPU's
per-matrix scale, so one accumulator LSB is worth ``2^8 * gamma_A * gamma_B`` (see
:attr:`MatmulResult.acc_scale`).

All datapath arithmetic is integer and exact: integer codes/scales are int64; the 64-element dot
products are summed with a float64 matrix multiply, which is exact because every product and
partial sum is an integer below 2^21 << 2^53, and converted back to int64 (tests check it
against a pure-integer reference). The only Python loop in :func:`matmul` runs over the K/64
temporal reduction steps (the chip's own sequential order, which matters once the accumulator
saturates), never over elements.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AccelsimBug
from .formats import INT4_VSQ, NumberFormat, get_format, int_format, quantize_float

__all__ = [
    "ACC_BITS",
    "ACC_MAX",
    "ACC_MIN",
    "DATAPATHS",
    "SCALE_PRODUCT_SHIFT",
    "Datapath",
    "MacResult",
    "MatmulResult",
    "PPUResult",
    "QuantizedTensor",
    "accumulate",
    "fits_signed",
    "matmul",
    "ppu_requantize",
    "quantize",
    "quantize_per_tensor",
    "quantize_per_vector",
    "round_scale_product",
    "signed_range",
    "sqnr_db",
    "vector_mac",
]

ACC_BITS = 24
ACC_MIN = -(1 << (ACC_BITS - 1))      # -8388608
ACC_MAX = (1 << (ACC_BITS - 1)) - 1   # +8388607
SCALE_PRODUCT_BITS = 16               # unsigned 8b x 8b
SCALE_ROUND_BITS = 8                  # kept after rounding
SCALE_PRODUCT_SHIFT = SCALE_PRODUCT_BITS - SCALE_ROUND_BITS  # 8 LSBs dropped


@dataclass(frozen=True)
class Datapath:
    """Widths of one format's path through a lane of the chip's vector MAC."""

    fmt: NumberFormat
    vector: int          # VS: elements reduced per lane per cycle
    dot_bits: int        # signed width of the adder-tree output
    product_bits: int    # signed width added to the accumulator (dot, or scale x dot)
    acc_bits: int = ACC_BITS

    @property
    def scaled(self) -> bool:
        return self.fmt.per_vector_scaled


DATAPATHS: dict[str, Datapath] = {
    "int8": Datapath(int_format(8), vector=32, dot_bits=21, product_bits=21),
    "int4": Datapath(int_format(4), vector=64, dot_bits=14, product_bits=14),
    "int4_vsq": Datapath(INT4_VSQ, vector=64, dot_bits=14,
                         product_bits=SCALE_ROUND_BITS + 14),
}


def _datapath(fmt) -> Datapath:
    name = get_format(fmt).name
    if name not in DATAPATHS:
        raise ValueError(f"the chip's datapath has no {name} path; it runs "
                         f"{', '.join(DATAPATHS)}")
    return DATAPATHS[name]


def signed_range(bits: int) -> tuple[int, int]:
    """Two's complement range of a ``bits``-wide signed value."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def fits_signed(x, bits: int) -> bool:
    """True if every element of ``x`` fits a ``bits``-wide signed value."""
    x = np.asarray(x)
    if x.size == 0:
        return True
    lo, hi = signed_range(bits)
    return bool(x.min() >= lo and x.max() <= hi)


def _check_fits(x, bits: int, what: str) -> None:
    if not fits_signed(x, bits):
        raise AccelsimBug(f"{what} does not fit {bits} signed bits "
                          f"(range {np.min(x)}..{np.max(x)})")


def sqnr_db(x, xq) -> float:
    """Signal-to-quantization-noise ratio 10 log10(sum x^2 / sum (x - xq)^2), in dB."""
    x = np.asarray(x, dtype=np.float64)
    err = np.sum((x - np.asarray(xq, dtype=np.float64)) ** 2)
    sig = np.sum(x ** 2)
    return float("inf") if err == 0 else float(10.0 * np.log10(sig / err))


# --- quantized tensors --------------------------------------------------------------------

@dataclass(frozen=True)
class QuantizedTensor:
    """Integer codes with their scales.

    ``codes``: int64, same shape as the original tensor. ``scales``: int64 per-vector scales
    (unsigned, ``fmt.scale_bits`` wide) with the shape of ``codes`` except that ``axis`` has
    ``ceil(n / vector)`` entries; None for per-tensor/per-channel formats. ``gamma``: float64
    second-level (or only) scale, broadcastable to ``codes`` (same ndim, size-1 dims where it is
    shared). Real value = ``codes * scales (repeated over each vector) * gamma``.
    """

    codes: np.ndarray
    gamma: np.ndarray
    fmt: NumberFormat
    scales: np.ndarray | None = None
    axis: int | None = None
    vector: int | None = None

    def expanded_scales(self) -> np.ndarray:
        """Per-vector integer scales repeated to the shape of ``codes`` (1 if unscaled)."""
        if self.scales is None:
            return np.ones_like(self.codes)
        n = self.codes.shape[self.axis]
        return np.repeat(self.scales, self.vector, axis=self.axis).take(
            np.arange(n), axis=self.axis)

    def dequantize(self) -> np.ndarray:
        """Real values represented by the codes, in float64."""
        return self.codes * self.expanded_scales() * self.gamma

    @property
    def storage_bits(self) -> int:
        """Stored bits of codes and per-vector scales (second-level floats not counted)."""
        bits = self.codes.size * self.fmt.bits
        if self.scales is not None:
            bits += self.scales.size * self.fmt.scale_bits
        return int(bits)


def quantize_per_tensor(x, bits: int = 4, *, channel_axis: int | None = None) -> QuantizedTensor:
    """Symmetric max-calibrated integer quantization with one float scale per tensor (or, with
    ``channel_axis``, one per index of that axis: per-channel).

    scale = max|x| / (2^(bits-1) - 1); codes = clip(rint(x / scale), -qmax, qmax) (round half
    to even; the code -2^(bits-1) is never produced, as usual for symmetric quantizers).
    """
    fmt = int_format(bits)
    x = np.asarray(x, dtype=np.float64)
    if channel_axis is None:
        amax = np.full((1,) * x.ndim, np.abs(x).max() if x.size else 0.0)
    else:
        other = tuple(i for i in range(x.ndim) if i != channel_axis % x.ndim)
        amax = np.abs(x).max(axis=other, keepdims=True)
    scale = np.where(amax > 0, amax / fmt.qmax, 1.0)
    codes = np.clip(np.rint(x / scale), -fmt.qmax, fmt.qmax).astype(np.int64)
    return QuantizedTensor(codes=codes, gamma=scale, fmt=fmt)


def _vsq_format(bits: int, vector: int, scale_bits: int) -> NumberFormat:
    """INT4-VSQ itself, or an ad hoc per-vector scaled format for other parameters."""
    int_format(bits)  # validates the width
    if vector < 1 or not 1 <= scale_bits <= 16:
        raise ValueError("vector must be positive and scale_bits in [1, 16]")
    if (bits, vector, scale_bits) == (4, 64, 8):
        return INT4_VSQ
    return NumberFormat(f"int{bits}_v{vector}s{scale_bits}", "int", bits, vector_size=vector,
                        scale_bits=scale_bits, two_level=True)


def quantize_per_vector(x, bits: int = 4, vector: int = 64, scale_bits: int = 8, axis: int = -1,
                        *, second_level: str = "tensor", gamma=None) -> QuantizedTensor:
    """VS-Quant two-level per-vector quantization (Dai et al., MLSys 2021), along ``axis``.

    For every ``vector`` consecutive elements along ``axis`` (the reduction dimension K; a short
    tail is zero-padded):

    1. float per-vector scale ``s = max|x_v| / (2^(bits-1) - 1)``;
    2. second-level float scale ``gamma = max(s) / (2^scale_bits - 1)``, the max taken over the
       whole tensor (``second_level="tensor"``) or over each slice with the other indices fixed
       (``"channel"``: per row of A / per output column of B); or a calibrated ``gamma``;
    3. integer scale ``sq = rint(s / gamma)`` clipped to ``[1, 2^scale_bits - 1]`` (0 only for
       an all-zero vector, so small non-zero vectors are not flushed to zero);
    4. codes ``clip(rint(x / (sq * gamma)), -qmax, qmax)``; clipping matters only when ``sq``
       rounded down (or was clipped at 2^scale_bits - 1 by a too-small calibrated gamma).
    """
    fmt = _vsq_format(bits, vector, scale_bits)
    x = np.asarray(x, dtype=np.float64)
    axis = axis % x.ndim
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    nv = -(-n // vector)
    pad = nv * vector - n
    xp = np.pad(xm, [(0, 0)] * (xm.ndim - 1) + [(0, pad)]) if pad else xm
    xv = xp.reshape(xm.shape[:-1] + (nv, vector))
    vmax = np.abs(xv).max(axis=-1)                       # (..., nv)
    s = vmax / fmt.qmax
    smax = fmt.scale_max
    if gamma is None:
        if second_level == "tensor":
            g = np.full((1,) * xm.ndim, s.max() if s.size else 0.0) / smax
        elif second_level == "channel":
            g = s.max(axis=-1, keepdims=True) / smax     # (..., 1)
        else:
            raise ValueError("second_level must be 'tensor' or 'channel'")
        g = np.where(g > 0, g, 1.0)
    else:
        gshape = list(x.shape)
        gshape[axis] = 1                                 # gamma given in x's own layout
        g = np.moveaxis(np.broadcast_to(np.asarray(gamma, dtype=np.float64), gshape), axis, -1)
        if np.any(g <= 0):
            raise ValueError("gamma must be positive")
    sq = np.clip(np.rint(s / g), 1, smax).astype(np.int64)
    sq = np.where(vmax > 0, sq, 0)
    denom = (sq * g)[..., None]
    codes = np.rint(np.divide(xv, denom, out=np.zeros_like(xv), where=denom > 0))
    codes = np.clip(codes, -fmt.qmax, fmt.qmax).astype(np.int64)
    codes = codes.reshape(xp.shape)[..., :n]
    return QuantizedTensor(codes=np.moveaxis(codes, -1, axis),
                           gamma=np.moveaxis(np.asarray(g, dtype=np.float64), -1, axis),
                           fmt=fmt, scales=np.moveaxis(sq, -1, axis), axis=axis, vector=vector)


def quantize(x, fmt, axis: int, *, second_level: str = "tensor") -> QuantizedTensor:
    """Quantize ``x`` for one of the chip's formats: per-vector (INT4-VSQ) along ``axis`` with
    a ``second_level`` float scale, or one scale per tensor / per channel (INT4, INT8)."""
    dp = _datapath(fmt)
    if dp.scaled:
        return quantize_per_vector(x, dp.fmt.bits, dp.vector, dp.fmt.scale_bits, axis,
                                   second_level=second_level)
    x = np.asarray(x)
    ch = None
    if second_level == "channel":
        ch = (1 - axis % 2) if x.ndim == 2 else None
        if ch is None:
            raise ValueError("per-channel scales need a 2-D matrix")
    elif second_level != "tensor":
        raise ValueError("second_level must be 'tensor' or 'channel'")
    return quantize_per_tensor(x, dp.fmt.bits, channel_axis=ch)


# --- the vector MAC -----------------------------------------------------------------------

def round_scale_product(a_scales, b_scales) -> np.ndarray:
    """The chip's scale multiplier: unsigned 8b x 8b -> 16 b, rounded to 8 b.

    Round half up on the top 8 bits: ``(p + 2^7) >> 8``. The largest product 255 * 255 = 65025
    rounds to 254, so the result always fits 8 unsigned bits without a saturation step.
    """
    a = np.asarray(a_scales, dtype=np.int64)
    b = np.asarray(b_scales, dtype=np.int64)
    for name, s in (("a_scales", a), ("b_scales", b)):
        if s.size and (s.min() < 0 or s.max() > 255):
            raise ValueError(f"{name} must be unsigned 8-bit integers (0..255)")
    p = a * b
    return (p + (1 << (SCALE_PRODUCT_SHIFT - 1))) >> SCALE_PRODUCT_SHIFT


def accumulate(acc, x, *, bits: int = ACC_BITS, overflow: str = "saturate") -> np.ndarray:
    """acc + x into a ``bits``-wide signed register: saturate (default) or wrap (two's
    complement). Inputs are int64; the sum is formed exactly before saturation."""
    s = np.asarray(acc, dtype=np.int64) + np.asarray(x, dtype=np.int64)
    lo, hi = signed_range(bits)
    if overflow == "saturate":
        return np.clip(s, lo, hi)
    if overflow == "wrap":
        return ((s - lo) & ((1 << bits) - 1)) + lo
    raise ValueError("overflow must be 'saturate' or 'wrap'")


@dataclass(frozen=True)
class MacResult:
    """One vector-MAC cycle: ``dot`` (adder-tree output), ``scale_product`` (rounded 8-bit
    product of the two per-vector scales; None for unscaled formats), ``product`` (value added
    to the partial sum) and ``psum`` (the new 24-bit partial sum)."""

    dot: np.ndarray
    scale_product: np.ndarray | None
    product: np.ndarray
    psum: np.ndarray


def _check_codes(codes, fmt: NumberFormat, name: str) -> np.ndarray:
    c = np.asarray(codes)
    if c.size and not np.issubdtype(c.dtype, np.integer) and not np.all(c == np.round(c)):
        raise ValueError(f"{name} must be integers")
    c = c.astype(np.int64)
    if c.size and (c.min() < fmt.qmin or c.max() > fmt.qmax):
        raise ValueError(f"{name} out of the {fmt.name} range [{fmt.qmin}, {fmt.qmax}]")
    return c


def vector_mac(a_codes, b_codes, a_scales=None, b_scales=None, fmt="int4_vsq", psum=0,
               *, overflow: str = "saturate") -> MacResult:
    """The per-lane, per-cycle arithmetic of §2, vectorized over any leading (lane) dims.

    ``a_codes``/``b_codes``: (..., VS) signed codes (VS = 32 for INT8, 64 for INT4/INT4-VSQ),
    broadcast against each other. ``a_scales``/``b_scales``: (...) unsigned 8-bit per-vector
    scales, INT4-VSQ only. ``psum``: the incoming 24-bit partial sum.
    """
    dp = _datapath(fmt)
    a = _check_codes(a_codes, dp.fmt, "a_codes")
    b = _check_codes(b_codes, dp.fmt, "b_codes")
    if a.shape[-1] != dp.vector or b.shape[-1] != dp.vector:
        raise ValueError(f"{dp.fmt.name} vectors have {dp.vector} elements; got "
                         f"{a.shape[-1]} and {b.shape[-1]}")
    dot = np.sum(a * b, axis=-1)
    _check_fits(dot, dp.dot_bits, "dot product")
    if dp.scaled:
        if a_scales is None or b_scales is None:
            raise ValueError("INT4-VSQ needs a_scales and b_scales")
        sp = round_scale_product(a_scales, b_scales)
        product = sp * dot
    else:
        if a_scales is not None or b_scales is not None:
            raise ValueError(f"{dp.fmt.name} has no per-vector scales")
        sp, product = None, dot
    _check_fits(product, dp.product_bits, "scaled product")
    psum = np.asarray(psum, dtype=np.int64)
    _check_fits(psum, dp.acc_bits, "incoming partial sum")
    return MacResult(dot=dot, scale_product=sp, product=product,
                     psum=accumulate(psum, product, bits=dp.acc_bits, overflow=overflow))


# --- matmul through the datapath ----------------------------------------------------------

@dataclass(frozen=True)
class MatmulResult:
    """``acc``: M x N int64 accumulator contents (24-bit) when the tile drains to the PPU.
    ``acc_scale``: real value of one accumulator LSB, broadcastable to M x N
    (INT4-VSQ: 2^8 * gamma_A * gamma_B; INT4/INT8: scale_A * scale_B). ``out``: the
    dequantized result ``acc * acc_scale`` (the PPU's per-matrix scale, float64).
    ``saturated``: M x N bool, whether the accumulator clipped at any step.
    ``a``/``b``: the quantized operands. ``steps``: K / VS temporal reduction steps."""

    acc: np.ndarray
    acc_scale: np.ndarray
    out: np.ndarray
    saturated: np.ndarray
    a: QuantizedTensor
    b: QuantizedTensor
    steps: int


def _blocks(a: QuantizedTensor, axis: int, vector: int, kp: int):
    """Codes (and per-vector scales) zero-padded along K to ``kp`` and split into vectors:
    A (M, K) -> (KV, M, VS); B (K, N) -> (KV, VS, N)."""
    c = a.codes
    k = c.shape[axis]
    kv = kp // vector
    if axis == 1:
        c = np.pad(c, [(0, 0), (0, kp - k)]).reshape(c.shape[0], kv, vector).transpose(1, 0, 2)
    else:
        c = np.pad(c, [(0, kp - k), (0, 0)]).reshape(kv, vector, c.shape[1])
    return c


def _as_quantized(x, fmt, axis: int, second_level: str) -> QuantizedTensor:
    if isinstance(x, QuantizedTensor):
        dp = _datapath(fmt)
        if x.fmt.name != dp.fmt.name:
            raise ValueError(f"operand is {x.fmt.name}, the matmul runs {dp.fmt.name}")
        if x.codes.ndim != 2:
            raise ValueError("matmul operands must be 2-D")
        if dp.scaled and (x.axis != axis or x.vector != dp.vector):
            raise ValueError(f"INT4-VSQ operand must be vector-scaled along axis {axis} "
                             f"in vectors of {dp.vector}")
        return x
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("matmul operands must be 2-D")
    return quantize(x, fmt, axis, second_level=second_level)


def matmul(A, B, fmt="int4_vsq", *, a_second_level: str = "tensor",
           b_second_level: str | None = None, overflow: str = "saturate",
           max_block_bytes: int = 64 << 20) -> MatmulResult:
    """Run an M x K by K x N matmul through the chip's datapath.

    ``A``/``B`` are float matrices (quantized here: A along its rows, B along its columns, i.e.
    both along K) or :class:`QuantizedTensor` operands. K is cut into VS-element vectors (64 for
    INT4/INT4-VSQ, 32 for INT8; a short tail is zero-padded, as the chip's buffers would be) and
    reduced over ``ceil(K/VS)`` temporal steps in order k = 0, 1, ... into the 24-bit
    accumulator, saturating (or wrapping) at every step. Second-level scales default to per
    matrix for A and per output column for B with INT4-VSQ, per matrix for both otherwise.
    """
    dp = _datapath(fmt)
    if b_second_level is None:
        b_second_level = "channel" if dp.scaled else "tensor"
    a = _as_quantized(A, dp.fmt, 1, a_second_level)
    b = _as_quantized(B, dp.fmt, 0, b_second_level)
    _check_codes(a.codes, dp.fmt, "A codes")
    _check_codes(b.codes, dp.fmt, "B codes")
    (m, k), (k2, n) = a.codes.shape, b.codes.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: A is {m}x{k}, B is {k2}x{n}")
    vs = dp.vector
    kv = max(1, -(-k // vs))
    kp = kv * vs
    a3 = _blocks(a, 1, vs, kp).astype(np.float64)      # (KV, M, VS)
    b3 = _blocks(b, 0, vs, kp).astype(np.float64)      # (KV, VS, N)
    if dp.scaled:
        a_s = a.scales.T                                # (KV, M)
        b_s = b.scales                                  # (KV, N)
    acc = np.zeros((m, n), dtype=np.int64)
    saturated = np.zeros((m, n), dtype=bool)
    lo, hi = signed_range(dp.acc_bits)
    chunk = max(1, int(max_block_bytes // max(1, 16 * m * n)))
    for k0 in range(0, kv, chunk):
        k1 = min(kv, k0 + chunk)
        # exact: |dot| <= 2^19 for INT8, every partial sum an integer far below 2^53
        dots = np.rint(np.matmul(a3[k0:k1], b3[k0:k1])).astype(np.int64)   # (c, M, N)
        _check_fits(dots, dp.dot_bits, "dot product")
        if dp.scaled:
            prods = round_scale_product(a_s[k0:k1, :, None], b_s[k0:k1, None, :]) * dots
        else:
            prods = dots
        _check_fits(prods, dp.product_bits, "scaled product")
        for j in range(k1 - k0):                        # temporal K loop (chip order)
            s = acc + prods[j]
            saturated |= (s < lo) | (s > hi)
            acc = accumulate(acc, prods[j], bits=dp.acc_bits, overflow=overflow)
    acc_scale = a.gamma * b.gamma
    if dp.scaled:
        acc_scale = acc_scale * float(1 << SCALE_PRODUCT_SHIFT)
    return MatmulResult(acc=acc, acc_scale=acc_scale, out=acc * acc_scale,
                        saturated=saturated, a=a, b=b, steps=kv)


# --- post-processing unit -----------------------------------------------------------------

@dataclass(frozen=True)
class PPUResult:
    """``q``: the requantized output (per-vector along the last axis). ``word``: the truncated
    fixed-point value each element had before requantization (``frac_bits`` fractional bits,
    in units of ``q.gamma``). ``real``: the real-valued result after scale, bias and ReLU,
    before truncation (float64)."""

    q: QuantizedTensor
    word: np.ndarray
    real: np.ndarray
    frac_bits: int
    word_bits: int
    recip_bits: int


def _auto_frac_bits(word_bits: int, qmax: int, smax: int) -> int:
    """Fraction bits that leave room for the largest representable output qmax * smax."""
    int_bits = int(qmax * smax).bit_length()
    frac = word_bits - 1 - int_bits
    if frac < 0:
        raise ValueError(f"a {word_bits}-bit word cannot hold {qmax} x {smax}")
    return frac


def ppu_requantize(acc, acc_scale, bias=None, *, relu: bool = True, out_bits: int = 4,
                   vector: int = 64, scale_bits: int = 8, out_gamma=None,
                   word_bits: int = 16, frac_bits: int | None = None,
                   recip_bits: int | None = None,
                   scale_fmt: str | None = None) -> PPUResult:
    """The PPU path of §1: per-matrix scale -> bias -> ReLU -> truncate -> VSQ requantize.

    Model (integer after the first step; the papers do not give the PPU's internal widths, so
    these are parameters with documented defaults):

    1. scale: ``z = acc * acc_scale / out_gamma`` in float64 -- the accumulator goes straight
       into units of the output's second-level scale. ``scale_fmt`` (e.g. ``"fp16"``) rounds the
       combined multiplier to that float format first, to model a narrow scale register.
    2. bias: ``z += bias / out_gamma`` (``bias`` in real units, broadcast to the output).
    3. ReLU (if ``relu``).
    4. truncate: ``t = trunc(z * 2^F)`` toward zero, saturated to a signed ``word_bits`` word.
       By default F is the largest that keeps ``qmax * (2^scale_bits - 1)`` representable
       (INT4 out: 16-bit word, F = 4; INT8 out: F = 0).
    5. VSQ requantize, per ``vector`` elements along the last axis: ``vmax = max|t|``;
       ``sq = round_half_up(vmax / (qmax * 2^F))`` clipped to [1, 2^scale_bits - 1] (0 for an
       all-zero vector); reciprocal from a table ``r = round(2^R / sq)`` of R-bit entries
       (R+1 for sq = 1); ``code = (t * r + 2^(R+F-1)) >> (R+F)`` (round half up), clipped to
       [-qmax, qmax]. By default R is the smallest width for which the reciprocal's rounding
       moves a code by at most 1/64 LSB: 2^R >= 32 * qmax * 2^scale_bits (R = 16 for INT4
       outputs, 20 for INT8).

    ``out_gamma`` is the output's second-level scale. The chip uses a calibrated per-matrix
    constant; if None it is set from this data (``max|z| / (qmax * (2^scale_bits - 1))``, an
    oracle calibration, the same rule as :func:`quantize_per_vector`).
    """
    acc = np.asarray(acc, dtype=np.int64)
    if acc.ndim < 1:
        raise ValueError("acc must have at least one dimension")
    qmax = (1 << (out_bits - 1)) - 1
    smax = (1 << scale_bits) - 1
    F = _auto_frac_bits(word_bits, qmax, smax) if frac_bits is None else int(frac_bits)
    real = acc * np.asarray(acc_scale, dtype=np.float64)
    if bias is not None:
        real = real + np.asarray(bias, dtype=np.float64)
    if relu:
        real = np.maximum(real, 0.0)
    if out_gamma is None:
        amax = float(np.abs(real).max()) if real.size else 0.0
        out_gamma = amax / (qmax * smax) if amax > 0 else 1.0
    out_gamma = np.asarray(out_gamma, dtype=np.float64)
    if np.any(out_gamma <= 0):
        raise ValueError("out_gamma must be positive")
    if out_gamma.ndim and (out_gamma.ndim != acc.ndim or out_gamma.shape[-1] != 1):
        raise ValueError("out_gamma must be a scalar (per matrix) or constant along the last "
                         "axis (the vectors run along it)")
    mult = np.asarray(acc_scale, dtype=np.float64) / out_gamma
    if scale_fmt is not None:
        mult = quantize_float(mult, scale_fmt, saturate=True)
    z = acc * mult
    if bias is not None:
        z = z + np.asarray(bias, dtype=np.float64) / out_gamma
    if relu:
        z = np.maximum(z, 0.0)
    lo, hi = signed_range(word_bits)
    t = np.clip(np.trunc(z * float(1 << F)), lo, hi).astype(np.int64)

    # per-vector requantization along the last axis
    n = t.shape[-1]
    nv = -(-n // vector)
    pad = nv * vector - n
    tv = (np.pad(t, [(0, 0)] * (t.ndim - 1) + [(0, pad)]) if pad else t)
    tv = tv.reshape(t.shape[:-1] + (nv, vector))
    vmax = np.abs(tv).max(axis=-1)
    d = qmax << F
    sq = (2 * vmax + d) // (2 * d)                       # round half up of vmax / (qmax 2^F)
    sq = np.where(vmax > 0, np.clip(sq, 1, smax), 0)
    R = int(32 * qmax * (smax + 1) - 1).bit_length() if recip_bits is None else int(recip_bits)
    recip = np.where(sq > 0, ((1 << (R + 1)) + sq) // (2 * np.maximum(sq, 1)), 0)
    sh = R + F
    codes = (tv * recip[..., None] + (1 << (sh - 1))) >> sh
    codes = np.clip(codes, -qmax, qmax).reshape(tv.shape[:-2] + (nv * vector,))[..., :n]
    fmt = _vsq_format(out_bits, vector, scale_bits)
    g = np.broadcast_to(out_gamma, (1,) * t.ndim) if out_gamma.ndim == 0 else out_gamma
    q = QuantizedTensor(codes=codes.astype(np.int64), gamma=np.array(g, dtype=np.float64),
                        fmt=fmt, scales=sq.astype(np.int64), axis=t.ndim - 1, vector=vector)
    return PPUResult(q=q, word=t, real=real, frac_bits=F, word_bits=word_bits, recip_bits=R)
