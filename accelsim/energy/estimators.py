"""Per-action energy estimates from a technology table, at the table's voltage.

MAC: multiplier energy grows as bits^alpha and adder energy as bits^beta, with the
exponents fitted to the table's 8- and 32-bit entries (the area model applies the same rule to
the table's operator areas: mac_cost). SRAM: energy per 64-bit access
follows a power law in capacity fitted to the table's three sizes, and scales linearly
with access width. Register files and latches: energy per bit. DRAM: energy per bit.
"""
from __future__ import annotations

from functools import lru_cache
from math import log

import numpy as np

from ..registry import Registry
from .tables import TechTable

MEMORY_ESTIMATORS = Registry("memory energy estimator")

# Accumulator width per MAC format: int8 into int32 as in TPU v1 (Jouppi ISCA 2017); int4
# into 24 bits as in the 5 nm VS-Quant chip (Keller JSSC 2023); int16 into 32 bits.
ACCUMULATOR_BITS = {"int4": 24, "int8": 32, "int16": 32, "int32": 32}
INT_BITS = {"int4": 4, "int8": 8, "int16": 16, "int32": 32}


def _power_law(x0, y0, x1, y1):
    exponent = log(y1 / y0) / log(x1 / x0)
    return lambda x: y0 * (x / x0) ** exponent


def mac_cost(ops: dict, fmt: str) -> float:
    """One multiply plus one accumulate in the given operand format, from per-operation costs
    `ops`: energies (pJ, operations_pj) or areas (µm², the table's area.operations_um2). Integer
    multipliers follow a power law in bits and adders another, each fitted to the 8- and 32-bit
    entries; the accumulator is ACCUMULATOR_BITS wide."""
    if fmt in INT_BITS:
        mult = _power_law(8, ops["int8_mult"], 32, ops["int32_mult"])(INT_BITS[fmt])
        return mult + _power_law(8, ops["int8_add"], 32, ops["int32_add"])(ACCUMULATOR_BITS[fmt])
    if fmt == "fp32":
        return ops["fp32_mult"] + ops["fp32_add"]
    if fmt == "fp16":
        return ops["fp16_mult"] + ops["fp16_add"]
    if fmt == "bf16":
        # Tables without bf16 entries use fp16's: same 16-bit operands, a smaller multiplier.
        return ops.get("bf16_mult", ops["fp16_mult"]) + ops.get("bf16_add", ops["fp16_add"])
    if fmt == "fp8":
        # Derived: a significand multiplier scales with significand bits squared (4 vs 11 for
        # e4m3 vs fp16) and the adder with width (8 vs 16 bits). An estimate, not a table entry.
        return ops["fp16_mult"] * (4 / 11) ** 2 + ops["fp16_add"] * 0.5
    raise ValueError(f"no MAC estimate for format {fmt!r}")


def mac_energy_pj(table: TechTable, fmt: str) -> float:
    """One multiply plus one accumulate in the given operand format (pJ at the table's voltage)."""
    return mac_cost(table.operations_pj, fmt)


@MEMORY_ESTIMATORS.register("sram")
def sram_access_pj(table: TechTable, size_bits: int | None, width_bits: int) -> float:
    slope, intercept, largest_bytes = _sram_fit(table.sram_64b_access)
    size_bytes = (size_bits or 8 * largest_bytes) / 8
    return float(np.exp(intercept + slope * np.log(size_bytes))) * width_bits / 64


@lru_cache(maxsize=64)  # per table: a sweep prices every buffer of every arch variant with it
def _sram_fit(access: tuple) -> tuple:
    """The power law through a table's 64-bit SRAM accesses ((bytes, pJ), ...): slope, intercept
    (log-log), and the largest size listed (bytes)."""
    points = np.array(access, dtype=float)
    slope, intercept = np.polyfit(np.log(points[:, 0]), np.log(points[:, 1]), 1)
    return slope, intercept, points[-1, 0]


@MEMORY_ESTIMATORS.register("regfile")
def regfile_access_pj(table: TechTable, size_bits: int | None, width_bits: int) -> float:
    return table.regfile_pj_per_bit * width_bits


@MEMORY_ESTIMATORS.register("latch")
def latch_access_pj(table: TechTable, size_bits: int | None, width_bits: int) -> float:
    return table.regfile_pj_per_bit * width_bits


@MEMORY_ESTIMATORS.register("dram")
def dram_access_pj(table: TechTable, size_bits: int | None, width_bits: int) -> float:
    return table.dram_pj_per_bit * width_bits
