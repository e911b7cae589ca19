"""The format of a technology table file (built-in or the user's), as a pydantic model.

Built-in tables (energy/tables/*.yaml) and a user's file (`technology.table_file`) are read
through the same model, so both give the same errors (file, line, key path, allowed keys);
tables.check_table adds the checks across keys (required operations, SRAM points in order).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# Operations the estimators read: the MAC estimate fits int multiplier and adder power laws to the
# 8- and 32-bit entries and takes fp entries as they are (estimators.mac_cost).
REQUIRED_OPERATIONS = ("int8_add", "int32_add", "int8_mult", "int32_mult",
                       "fp16_add", "fp16_mult", "fp32_add", "fp32_mult")
Operation = Literal["int8_add", "int16_add", "int32_add", "int8_mult", "int16_mult", "int32_mult",
                    "fp16_add", "fp16_mult", "fp32_add", "fp32_mult", "bf16_add", "bf16_mult"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SramPoint(_Strict):
    bytes: int = Field(gt=0, description="SRAM capacity in bytes")
    energy_pj: Positive = Field(description="energy of one 64-bit access at that capacity (pJ)")


class AreaTable(_Strict):
    """Areas at the table's node, each with its source: the area model's inputs (energy/area.py)."""

    source: str = Field(description="where the areas come from")
    operations_um2: dict[Operation, Positive] = Field(description="area of one operator (µm²), as "
                                                      "operations_pj: the MAC area follows the same fits")
    sram_bit_um2: Positive = Field(description="area of one SRAM bit cell (µm²)")
    sram_periphery_factor: float = Field(ge=1.0, allow_inf_nan=False, description="macro area over "
        "bit-cell area (decoders, sense amplifiers, assist circuits): area = bits × cell × factor")
    register_bit_um2: Positive = Field(description="area of one flip-flop bit (µm²): register files "
                                       "and latch arrays")


class TechTableSpec(_Strict):
    """A technology table: per-action energies at one node and voltage, and optionally areas."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="the table's name, shown as the source of each estimate")
    node_nm: Positive = Field(description="process node (nm)")
    voltage_v: Positive = Field(description="supply voltage of the energies (V)")
    source: str = Field(description="where the energies come from")
    operations_pj: dict[Operation, Positive] = Field(description="energy of one operation (pJ)")
    sram_64b_access: list[SramPoint] = Field(min_length=2, description="SRAM energy per 64-bit "
        "access by capacity (a power law in capacity is fitted to the points)")
    regfile_pj_per_bit: Positive = Field(description="register file / latch energy per bit accessed")
    dram_pj_per_bit: Positive = Field(description="DRAM energy per bit accessed")
    area: AreaTable | None = Field(None, description="areas for the area model; omitted means "
                                      "the table gives no area (components need an explicit area)")
