"""Number formats as data, plus rounding helpers for the floating-point ones.

A :class:`NumberFormat` describes how one tensor element is stored: its width, signedness, and
(for per-vector scaled formats such as INT4-VSQ) the per-vector scale that travels with every
``vector_size`` elements. The integer formats are the ones the 5 nm VS-Quant chip computes in
(see ``docs/numerics.md`` and ``accelsim.numerics.vsquant``); the floating-point descriptors
(fp16, bf16, fp8 e4m3/e5m2) are for other architectures' datapaths and for ablations.

Floating-point rounding is done in float64 arithmetic onto the target format's grid, with
round-to-nearest-even, gradual underflow (subnormals) and either saturation or overflow to
inf/NaN. ``quantize_float`` returns float64 values that lie exactly on the grid; there is no
separate encode step because nothing downstream needs the bit patterns (``decode_minifloat``
enumerates them for tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BF16",
    "FORMATS",
    "FP8_E4M3",
    "FP8_E5M2",
    "FP16",
    "INT4",
    "INT4_VSQ",
    "INT8",
    "NumberFormat",
    "decode_minifloat",
    "dequantize_float",
    "float_grid",
    "get_format",
    "int_format",
    "quantize_float",
]


@dataclass(frozen=True)
class NumberFormat:
    """One element format.

    Integers: ``bits`` wide two's complement (``signed``) or unsigned. Per-vector scaled formats
    set ``vector_size`` (elements sharing one scale, laid out along the reduction dimension K)
    and ``scale_bits`` (width of the unsigned integer per-vector scale); ``two_level`` means a
    second, floating-point scale per matrix or per output channel multiplies the integer scale.

    Floats: ``exp_bits``/``man_bits``/``exp_bias``; ``max_finite`` is the largest finite
    magnitude; ``has_inf`` says whether the format has infinities (fp8 e4m3 does not: its only
    special value is NaN, which is why its range reaches 448 rather than 240).
    """

    name: str
    kind: str  # "int" or "float"
    bits: int
    signed: bool = True
    vector_size: int | None = None
    scale_bits: int = 0
    two_level: bool = False
    exp_bits: int = 0
    man_bits: int = 0
    exp_bias: int = 0
    max_finite: float = 0.0
    has_inf: bool = True
    description: str = ""

    # --- integer ranges ---------------------------------------------------------------------
    @property
    def qmin(self) -> int:
        """Smallest representable integer code (two's complement: -2^(bits-1))."""
        self._need("int")
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        """Largest representable integer code; symmetric quantizers use [-qmax, qmax]."""
        self._need("int")
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def scale_max(self) -> int:
        """Largest per-vector integer scale (unsigned ``scale_bits``), 0 if unscaled."""
        return (1 << self.scale_bits) - 1 if self.scale_bits else 0

    # --- storage ----------------------------------------------------------------------------
    @property
    def per_vector_scaled(self) -> bool:
        return self.vector_size is not None and self.scale_bits > 0

    @property
    def vector_storage_bits(self) -> int | None:
        """Bits of one scaled vector with its scale: 64 x 4 + 8 = 264 for INT4-VSQ (one
        A/B-buffer entry on the chip). None for formats without per-vector scales."""
        if not self.per_vector_scaled:
            return None
        return self.vector_size * self.bits + self.scale_bits

    @property
    def storage_bits_per_element(self) -> float:
        """Average stored bits per element including the per-vector scale overhead
        (INT4-VSQ: (64*4 + 8)/64 = 4.125). The second-level scale (one float per matrix or per
        output channel) is amortized over a whole matrix row/column and not counted."""
        if not self.per_vector_scaled:
            return float(self.bits)
        return self.vector_storage_bits / self.vector_size

    @property
    def scale_overhead(self) -> float:
        """Fractional storage overhead of the per-vector scales (INT4-VSQ: 8/256 = 3.125%)."""
        return self.storage_bits_per_element / self.bits - 1.0

    # --- float grid parameters --------------------------------------------------------------
    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        self._need("float")
        return 1 - self.exp_bias

    @property
    def min_normal(self) -> float:
        return 2.0 ** self.emin

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.man_bits)

    def _need(self, kind: str) -> None:
        if self.kind != kind:
            raise TypeError(f"format {self.name} is {self.kind}, not {kind}")


INT8 = NumberFormat("int8", "int", 8, description="signed 8-bit integer, per-matrix scale")
INT4 = NumberFormat("int4", "int", 4, description="signed 4-bit integer, per-matrix scale")
INT4_VSQ = NumberFormat(
    "int4_vsq", "int", 4, vector_size=64, scale_bits=8, two_level=True,
    description="signed 4-bit integer, unsigned 8-bit scale per 64-element vector along K, "
                "float second-level scale per matrix or per output column (VS-Quant)")
FP16 = NumberFormat("fp16", "float", 16, exp_bits=5, man_bits=10, exp_bias=15,
                    max_finite=65504.0, description="IEEE 754 binary16")
BF16 = NumberFormat("bf16", "float", 16, exp_bits=8, man_bits=7, exp_bias=127,
                    max_finite=float((2 - 2.0 ** -7) * 2.0 ** 127), description="bfloat16")
FP8_E4M3 = NumberFormat("fp8_e4m3", "float", 8, exp_bits=4, man_bits=3, exp_bias=7,
                        max_finite=448.0, has_inf=False,
                        description="OCP FP8 E4M3 (no inf; S.1111.111 is NaN; max 448)")
FP8_E5M2 = NumberFormat("fp8_e5m2", "float", 8, exp_bits=5, man_bits=2, exp_bias=15,
                        max_finite=57344.0, description="OCP FP8 E5M2 (IEEE-like)")

FORMATS: dict[str, NumberFormat] = {f.name: f for f in
                                    (INT8, INT4, INT4_VSQ, FP16, BF16, FP8_E4M3, FP8_E5M2)}
_ALIASES = {"fp8": "fp8_e4m3", "e4m3": "fp8_e4m3", "e5m2": "fp8_e5m2", "float16": "fp16",
            "half": "fp16", "bfloat16": "bf16", "vsq": "int4_vsq", "int4-vsq": "int4_vsq"}


def get_format(fmt: str | NumberFormat) -> NumberFormat:
    """Look a format up by name (case-insensitive, a few aliases such as ``fp8``)."""
    if isinstance(fmt, NumberFormat):
        return fmt
    key = str(fmt).lower()
    key = _ALIASES.get(key, key)
    try:
        return FORMATS[key]
    except KeyError:
        raise ValueError(f"unknown number format {fmt!r}; known: {', '.join(FORMATS)}") from None


def int_format(bits: int) -> NumberFormat:
    """The signed integer format of ``bits`` bits (the registered one for 4 and 8)."""
    if not 2 <= int(bits) <= 32:
        raise ValueError(f"integer bit width must be in [2, 32], got {bits}")
    return FORMATS.get(f"int{bits}") or NumberFormat(f"int{bits}", "int", int(bits))


# --- floating-point rounding -----------------------------------------------------------------

def quantize_float(x, fmt: str | NumberFormat, *, saturate: bool = False) -> np.ndarray:
    """Round ``x`` to the nearest value of float format ``fmt`` (ties to even), as float64.

    Subnormals are kept (gradual underflow). Magnitudes that round above ``max_finite`` become
    ``±max_finite`` if ``saturate`` (the usual choice when quantizing tensors to fp8), else
    ``±inf`` (or NaN for fp8 e4m3, which has no infinity). NaN stays NaN. The rounding is a
    single rounding from float64 (no double rounding through float32); for fp16 it agrees
    with ``numpy.float16`` casting.
    """
    f = get_format(fmt)
    f._need("float")
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    finite = np.isfinite(ax)
    # exponent of the leading bit: ax = m * 2**e2 with m in [0.5, 1) -> leading bit 2**(e2-1)
    _, e2 = np.frexp(np.where(finite, ax, 1.0))
    e = np.maximum(e2.astype(np.int64) - 1, f.emin)  # subnormals share the smallest exponent
    step = np.ldexp(1.0, (e - f.man_bits).astype(np.int32))  # spacing of the grid at |x|
    q = np.rint(ax / step) * step  # ax/step is exact (power-of-two scaling); rint = RNE
    over = q > f.max_finite
    if saturate:
        q = np.where(over | np.isinf(ax), f.max_finite, q)
    else:
        big = np.inf if f.has_inf else np.nan
        q = np.where(over, big, q)
        q = np.where(np.isinf(ax), np.inf if f.has_inf else np.nan, q)
    q = np.where(np.isnan(x), np.nan, q)
    return np.copysign(q, x)


def dequantize_float(q, fmt: str | NumberFormat) -> np.ndarray:
    """Values from :func:`quantize_float` are already real numbers: return them as float64."""
    get_format(fmt)._need("float")
    return np.asarray(q, dtype=np.float64)


def decode_minifloat(codes, fmt: str | NumberFormat) -> np.ndarray:
    """Decode bit patterns (ints) of float format ``fmt`` to float64 (IEEE layout
    sign|exponent|mantissa; fp8 e4m3 follows OCP: no inf, only S.1111.111 is NaN)."""
    f = get_format(fmt)
    f._need("float")
    c = np.asarray(codes, dtype=np.int64)
    man = c & ((1 << f.man_bits) - 1)
    exp = (c >> f.man_bits) & ((1 << f.exp_bits) - 1)
    sign = np.where((c >> (f.bits - 1)) & 1, -1.0, 1.0)
    emax_field = (1 << f.exp_bits) - 1
    frac = man / float(1 << f.man_bits)
    normal = np.ldexp(1.0 + frac, (exp - f.exp_bias).astype(np.int32))
    sub = np.ldexp(frac, np.int32(f.emin))
    val = np.where(exp == 0, sub, normal)
    if f.has_inf:
        val = np.where((exp == emax_field) & (man == 0), np.inf, val)
        val = np.where((exp == emax_field) & (man != 0), np.nan, val)
    else:
        val = np.where((exp == emax_field) & (man == (1 << f.man_bits) - 1), np.nan, val)
    return sign * val


def float_grid(fmt: str | NumberFormat) -> np.ndarray:
    """All finite values of an 8-bit float format, sorted and de-duplicated (±0 merge)."""
    f = get_format(fmt)
    if f.bits > 16:
        raise ValueError("float_grid enumerates formats of at most 16 bits")
    v = decode_minifloat(np.arange(1 << f.bits), f)
    return np.unique(v[np.isfinite(v)])
