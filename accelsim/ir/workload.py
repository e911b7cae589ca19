"""Workloads: named layers, each an einsum with a repeat count."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .einsum import Einsum


@dataclass(frozen=True)
class Density:
    """Non-zero fraction of each operand (randomly placed zeros); 1.0 is dense."""

    inputs: float = 1.0
    weights: float = 1.0
    inputs_data: str | None = None   # named data the operand carries: its density follows the
    weights_data: str | None = None  # layer's number format (energy/formats.py)

    @classmethod
    def of(cls, spec) -> "Density | None":
        if spec is None:
            return None
        if isinstance(spec, (int, float)):
            return cls(float(spec), float(spec))
        return cls(spec.inputs, spec.weights)


DENSE = Density()


@dataclass(frozen=True)
class Layer:
    name: str
    einsum: Einsum
    count: int = 1
    precision: str | None = None   # number format; None: the arch's compute format
    density: Density = DENSE
    padded: Einsum | None = None   # what the hardware runs when dims are padded to tile multiples
    input_size: tuple[int, int] | None = None  # a convolution's padded input (H, W), for SCALE-Sim
    input_elements: int | None = None  # its input before zero padding (N·C·H·W); None: the einsum's input tensor
    sparsity: tuple = ()           # ((role, density model), ...) for the sparse pass (accelsim/sparse)
    weight_nm: tuple[int, int] | None = None  # SCALE-Sim's N:M weight pattern (SCALE-Sim model only)

    @property
    def run_einsum(self) -> Einsum:
        return self.padded or self.einsum


def pad_einsum(einsum: Einsum, multiples: dict[str, int]) -> Einsum | None:
    """The einsum with each listed dim rounded up to a multiple; None when nothing changes."""
    bounds = tuple(-(-b // multiples[d]) * multiples[d] if d in multiples else b
                   for d, b in zip(einsum.dims, einsum.bounds))
    return None if bounds == einsum.bounds else replace(einsum, bounds=bounds)


@dataclass(frozen=True)
class VectorOp:
    """Work that is not a MAC: an elementwise, activation, normalization or reduction op (e.g. from
    an ONNX import). Counted, not simulated: `elements` is how many elements the op streams (the
    larger of its output and its largest non-constant input), one element operation each,
    whatever its arithmetic; it never enters the MAC totals or the MAC models."""

    name: str
    op: str
    elements: int
    count: int = 1


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    layers: tuple[Layer, ...]
    phase: str | None = None   # LLM inference phase: "prefill", "decode" or None
    parameters: dict = field(default_factory=dict, compare=False)  # named integers, after overrides
    vector: tuple[VectorOp, ...] = ()   # non-MAC work, counted beside the layers (VectorOp)
    # where each layer's precision was written: layer name → (file, line, key path), for errors
    precision_source: dict = field(default_factory=dict, compare=False)

    @property
    def macs(self) -> int:
        return sum(l.einsum.macs * l.count for l in self.layers)

    @property
    def vector_elements(self) -> int:
        return sum(v.elements * v.count for v in self.vector)
