"""Switching activity: how operand density scales data-dependent energy.

Dynamic energy is C·V² per toggling node, so an action on sparse data costs less than the same
action on dense random data (the reference point of every per-action energy). The model has
one assumption: zeros are placed at random, independently, with probability 1 − d, and the
non-zero values are random. Cycles do not change: nothing is skipped.

* A bus or storage word carrying one operand: a bit toggles between consecutive values unless
  both are zero; otherwise it toggles as often as on dense data. Relative to dense data the
  toggle rate is ``bit_activity(d) = 1 − (1 − d)² = d (2 − d)``.
* A multiplier whose one operand is held stationary (in a collector or register) while the
  other streams: its nodes toggle only when the held operand is non-zero and the streaming one
  toggles, ``d_held · bit_activity(d_stream)``. When both stream, the product toggles like a bus
  carrying products of density ``d_i · d_w``.
* The adder tree of a spatial reduction over ``fan_in`` products: a node over ``2^k`` leaves
  toggles when any leaf below it does, and nodes grow one bit per level from the product
  width; activity is the bit-weighted mean over the nodes.
* A partial sum (outputs at a storage level): it changes once any product accumulated into it
  is non-zero, ``1 − (1 − d_i d_w)^R`` after ``R`` products (``R`` = the layer's reduction size).

Each action's energy is ``E × ((1 − s) + s × activity)``, with ``s`` the component's
``switching_share``: the part of its energy that moves with the data rather than with the clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

import numpy as np

from ..ir.arch import ELEMENT_BITS, Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..ir.workload import Density
from ..mapping.mapping import Mapping


def bit_activity(density: float) -> float:
    return density * (2.0 - density)


def product_activity(d_inputs: float, d_weights: float, held: str | None) -> float:
    if held == "weights":
        return d_weights * bit_activity(d_inputs)
    if held == "inputs":
        return d_inputs * bit_activity(d_weights)
    return bit_activity(d_inputs * d_weights)


def tree_activity(leaf_activity: float, fan_in, leaf_bits: int):
    """Bit-weighted toggle rate of a binary adder tree over `fan_in` leaves (leaves included);
    `fan_in` an int, or an array of them (the mapper's table over every fan-in)."""
    nodes = np.asarray(fan_in, dtype=np.int64)
    toggled, total = np.zeros(nodes.shape), np.zeros(nodes.shape)
    growing = np.ones(nodes.shape, dtype=bool)  # trees not yet at their root
    level = 0
    while growing.any():
        width = np.where(growing, nodes * (leaf_bits + level), 0)
        toggled += width * (1.0 - (1.0 - leaf_activity) ** (2 ** level))
        total += width
        growing &= nodes > 1
        nodes, level = (nodes + 1) // 2, level + 1
    ratio = toggled / total
    return float(ratio) if ratio.ndim == 0 else ratio


def accumulate_activity(d_inputs: float, d_weights: float, products: int) -> float:
    return 1.0 - (1.0 - d_inputs * d_weights) ** products


def held_operand(einsum: Einsum, mapping: Mapping) -> str | None:
    """The operand the innermost temporal loop leaves in place (it does not index it)."""
    for level in reversed(mapping.levels):
        for loop in reversed(level.loops):
            if loop.axis is None and loop.bound > 1:
                return held_by(einsum, loop.dim)
    return None


@lru_cache(maxsize=4096)  # per layer shape and dim: priced on every layer of every sweep point
def held_by(einsum: Einsum, dim: str) -> str | None:
    """The one operand an innermost temporal loop over `dim` holds (None: both, or neither, move)."""
    held = [r for r in ("weights", "inputs") if einsum.tensor(r) is not None and not einsum.relevant(r, dim)]
    return held[0] if len(held) == 1 else None


def spatial_reduction_fan_in(arch: Arch, einsum: Einsum, mapping: Mapping) -> int:
    """Products summed in the network per output: spatial loops over reduction dims."""
    spatial = {l.name for l in arch.levels if isinstance(l, Spatial)}
    return prod(loop.bound for m in mapping.levels if m.level in spatial for loop in m.loops
                if not einsum.relevant("outputs", loop.dim))


@dataclass(frozen=True)
class LayerActivity:
    """Energy scale factors (1.0 = dense random data) for one layer."""

    mac: float
    storage: dict  # role -> factor for that tensor's storage actions, before switching_share

    def memory_factor(self, level: Memory, role: str) -> float:
        s = level.switching_share
        return (1.0 - s) + s * self.storage[role]


DENSE_ACTIVITY = LayerActivity(1.0, {"inputs": 1.0, "weights": 1.0, "outputs": 1.0})


def is_dense(density: Density) -> bool:
    return density.inputs == 1.0 and density.weights == 1.0


def mac_activity(compute, density: Density, held: str | None, fan_in):
    """The MACs' energy factor for the operand the mapping holds and the spatial reduction fan-in
    (an int, or an array of them)."""
    product = product_activity(density.inputs, density.weights, held)
    tree = tree_activity(product, fan_in, 2 * ELEMENT_BITS.get(compute.format, 8))
    t = compute.reduction_tree_share
    switching = (1.0 - t) * product + t * tree
    return (1.0 - compute.switching_share) + compute.switching_share * switching


def layer_activity(arch: Arch, einsum: Einsum, mapping: Mapping, density: Density) -> LayerActivity:
    if is_dense(density):
        return DENSE_ACTIVITY
    mac = mac_activity(arch.compute, density, held_operand(einsum, mapping),
                       spatial_reduction_fan_in(arch, einsum, mapping))
    return LayerActivity(mac, storage_activity(einsum, density))


def storage_activity(einsum: Einsum, density: Density) -> dict:
    """Per tensor: the toggle rate of its stored words (partial sums: once any product is non-zero)."""
    d_i, d_w = density.inputs, density.weights
    reduction = einsum.macs // max(1, einsum.tensor_size("outputs"))
    return {"inputs": bit_activity(d_i), "weights": bit_activity(d_w),
            "outputs": accumulate_activity(d_i, d_w, reduction)}


HELD = (None, "weights", "inputs")  # the codes of mac_activity_table's rows


def mac_activity_table(arch: Arch, density: Density) -> np.ndarray:
    """mac_activity for every held operand (rows: HELD) and fan-in 0 … the arch's MAC count, for
    the mapper's kernel, which finds both from the loops; dense data: one column of ones."""
    if is_dense(density):
        return np.ones((len(HELD), 1))
    return _mac_activities(arch.compute, density)


@lru_cache(maxsize=16)  # per compute level and density: every layer of a workload shares it
def _mac_activities(compute, density: Density) -> np.ndarray:
    fan_ins = np.maximum(1, np.arange(compute.instances + 1))
    table = np.array([mac_activity(compute, density, held, fan_ins) for held in HELD])
    table.flags.writeable = False  # cached: shared by every caller
    return table


def quantized_density(tensor, precision: str | None, axis: int = -1) -> float:
    """Non-zero fraction of a real tensor once quantized to `precision` (None: as given).

    Quantization turns small values into zero codes, so the density the datapath sees depends
    on the format: per-vector scaling (int4_vsq) keeps more small values than per-tensor int4.
    `axis` is the reduction axis (the one per-vector scales run along).
    """
    import numpy as np

    from ..numerics.vsquant import DATAPATHS, quantize, quantize_per_tensor

    x = np.asarray(tensor, dtype=float)
    if precision is None or precision.startswith(("fp", "bf")):
        return float(np.count_nonzero(x) / x.size)
    if precision not in DATAPATHS:  # a plain integer format the 5 nm chip does not run (int16, int32)
        return float(np.count_nonzero(quantize_per_tensor(x, ELEMENT_BITS[precision]).codes) / x.size)
    return float(np.count_nonzero(quantize(x, precision, axis=axis).codes) / x.size)
