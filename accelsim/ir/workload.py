"""Workloads: named layers, each an einsum with a repeat count."""
from __future__ import annotations

from dataclasses import dataclass

from .einsum import Einsum


@dataclass(frozen=True)
class Layer:
    name: str
    einsum: Einsum
    count: int = 1


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    layers: tuple[Layer, ...]

    @property
    def macs(self) -> int:
        return sum(l.einsum.macs * l.count for l in self.layers)
