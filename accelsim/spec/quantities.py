"""Pydantic field types for quantities with units; each converts to a number in SI units."""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import BeforeValidator, Field

from .. import units


def _unlimited_or(parser):
    def parse(value):
        if value == "unlimited":
            return None
        return parser(value)
    return parse


SizeBits = Annotated[int, BeforeValidator(units.parse_size_bits)]
SizeBitsOrUnlimited = Annotated[Union[int, None], BeforeValidator(_unlimited_or(units.parse_size_bits))]
FrequencyHz = Annotated[float, BeforeValidator(units.parse_frequency_hz), Field(gt=0)]
VoltageV = Annotated[float, BeforeValidator(units.parse_voltage_v), Field(gt=0)]
EnergyPJ = Annotated[float, BeforeValidator(units.parse_energy_pj), Field(ge=0)]
PowerW = Annotated[float, BeforeValidator(units.parse_power_w), Field(ge=0)]
NodeNm = Annotated[float, BeforeValidator(units.parse_node_nm), Field(gt=0)]
# Bandwidth stays a string here: its conversion needs the level's word size.
BandwidthText = Annotated[str, Field(pattern=r"^\s*[0-9.eE+-]+\s*(words|bits|B)\s*/\s*cycle\s*$")]
