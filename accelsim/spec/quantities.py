"""Pydantic field types for quantities with units; each converts to a number in SI units.

Bandwidths, sizes and frequencies must be positive and finite: a zero, negative or infinite
one is refused where it is written, not discovered as a division by zero or an overflow later.
"""
from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import AfterValidator, BeforeValidator, Field

from .. import units

MAX_SIZE_BITS = 2**62  # sizes are int64 in the kernels


def _unlimited_or(parser):
    def parse(value):
        if value == "unlimited":
            return None
        return parser(value)
    return parse


def _size_bits(value) -> int:
    try:
        bits = units.parse_size_bits(value)
    except OverflowError:
        raise ValueError("the size is not a finite number") from None
    if bits <= 0:
        raise ValueError("a size must be positive")
    if bits > MAX_SIZE_BITS:
        raise ValueError("the size is larger than 2^62 bits; write 'unlimited' for no limit")
    return bits


def _positive_bandwidth(text: str) -> str:
    m = units._BANDWIDTH.match(text)
    if m is None:
        raise ValueError(f"cannot read {text!r} as a bandwidth; write e.g. '16 words/cycle' or '25.6 GB/s'")
    number, unit, per = float(m.group(1)), m.group(2), m.group(3)
    if not math.isfinite(number) or number <= 0:
        raise ValueError("a bandwidth must be positive and finite; omit it for unlimited")
    if (per == "cycle") != (unit in ("words", "bits", "B")):
        raise ValueError(f"{text!r}: per cycle give words, bits or B; per second give bytes "
                         f"(B/s, kB/s, MB/s, GB/s, TB/s)")
    return text


SizeBits = Annotated[int, BeforeValidator(_size_bits)]
SizeBitsOrUnlimited = Annotated[Union[int, None], BeforeValidator(_unlimited_or(_size_bits))]
FrequencyHz = Annotated[float, BeforeValidator(units.parse_frequency_hz), Field(gt=0, allow_inf_nan=False)]
VoltageV = Annotated[float, BeforeValidator(units.parse_voltage_v), Field(gt=0, allow_inf_nan=False)]
EnergyPJ = Annotated[float, BeforeValidator(units.parse_energy_pj), Field(ge=0, allow_inf_nan=False)]
PowerW = Annotated[float, BeforeValidator(units.parse_power_w), Field(ge=0, allow_inf_nan=False)]
AreaUm2 = Annotated[float, BeforeValidator(units.parse_area_um2), Field(ge=0, allow_inf_nan=False)]
NodeNm = Annotated[float, BeforeValidator(units.parse_node_nm), Field(gt=0, allow_inf_nan=False)]
# Bandwidth stays a string here: its conversion needs the level's word size.
BandwidthText = Annotated[str, Field(pattern=r"^\s*[0-9.eE+-]+\s*(words|bits|B|kB|MB|GB|TB)\s*/\s*(cycle|s)\s*$"),
                          AfterValidator(_positive_bandwidth)]
