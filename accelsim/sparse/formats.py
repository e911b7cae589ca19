"""Representation formats per rank: metadata and payload units of one rank of a tile (Sparseloop's
format models, Timeloop v3 src/workload/format-models/*.cpp, GetOccupancy).

A tile is a fibertree: rank r has `fibers` fibers of `fiber_shape` coordinates each. Per rank:
  U    uncompressed, no metadata;
  B    bitmask: one bit per coordinate, payloads for the non-empty ones (compressed);
  UB   uncompressed bitmask: a bit and a payload per coordinate;
  RLE  run-length: one run length per non-empty coordinate (compressed);
  CP   coordinate/payload: one coordinate per non-empty coordinate (compressed);
  UOP  uncompressed offset pairs: fiber_shape + 1 offsets per fiber (CSR's upper rank).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

FORMATS = ("U", "B", "UB", "RLE", "CP", "UOP")
COMPRESSED = frozenset({"B", "RLE", "CP"})   # RankCompressed() in the format models


@dataclass(frozen=True)
class RankOccupancy:
    metadata_units: float
    payload_units: float

    def scaled(self, p: float) -> RankOccupancy:
        return RankOccupancy(self.metadata_units * p, self.payload_units * p)

    def __add__(self, other: RankOccupancy) -> RankOccupancy:
        return RankOccupancy(self.metadata_units + other.metadata_units, self.payload_units + other.payload_units)


EMPTY = RankOccupancy(0.0, 0.0)


def rank_occupancy(fmt: str, fibers: float, fiber_shape: int, prob_empty_fiber: float,
                   prob_empty_coord: float) -> RankOccupancy:
    """Units of one rank. `fibers`: the most fibers the rank can have (product of the outer
    ranks' fiber shapes); `prob_empty_fiber`: a fiber of this rank is empty; `prob_empty_coord`:
    the sub-tile under one coordinate is empty."""
    nonempty = fibers * (1 - prob_empty_fiber)
    if fmt == "U":
        return EMPTY
    if fmt == "UB":
        return RankOccupancy(fibers * fiber_shape, fibers * fiber_shape)
    if fmt == "UOP":
        return RankOccupancy(0.0, nonempty * (fiber_shape + 1))
    if fmt == "B":
        return RankOccupancy(nonempty * fiber_shape, nonempty * ceil(fiber_shape * (1 - prob_empty_coord)))
    if fmt == "CP":
        units = ceil(fiber_shape * (1 - prob_empty_coord)) * nonempty
        return RankOccupancy(units, units)
    if fmt == "RLE":
        units = fiber_shape * (1 - prob_empty_coord) * nonempty
        return RankOccupancy(units, units)
    raise ValueError(f"unknown format '{fmt}'")
