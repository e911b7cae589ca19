"""Energy that depends on the number format beyond the MAC energy: the per-vector scale path,
post-processing per output element, and operand densities that follow the format.

Source for the hardware: Keller et al., "A 95.6-TOPS/W Deep Learning Inference Accelerator With
Per-Vector Scaled 4-bit Quantization in 5 nm", IEEE JSSC 58(4), 2023 ([J23]), sections on the
vector MAC and the PPU (facts in /work/shared/reference/chip_vsquant_5nm.md §1–2).

* **Scale path** (per-vector scaled formats, e.g. INT4-VSQ). Once per scaled dot product of
  ``V`` elements (V = 64: once per lane per cycle), the unsigned 8-bit A and B scales are
  multiplied, rounded to 8 bits and multiply the dot product. A vector whose values are all zero
  has scale 0 (its max is 0), and inactive paths are gated by AND-ing an input with zero
  ([J23]), so the path toggles like a multiplier (activity.product_activity) whose operands are
  the *vector* densities ``1 − (1 − d)^V``: with the chip's V = 64 the path is on for any density
  above a few percent and off at density 0, where INT4-VSQ costs what INT4 does. Energy =
  ``vector_scale × (MACs / V) × product_activity(vector densities)``. Formats without per-vector
  scales (int4, int8) have no such term: the path is gated.
* **Per output element** (post-processing: per-matrix scale, bias, ReLU, requantization, the
  output-buffer write): charged once per output of the layer, not per cycle. A format that runs
  fewer MACs per cycle (INT8: 512 instead of 1024) then spends less on it per cycle, which is
  why [J23]'s breakdown shows INT8's 'Other' per cycle 12.5 % below INT4's; and a layer with a
  short reduction (attention's K = 64) spends more per MAC.
* **Densities per format**: a workload may name the data an operand carries (``gaussian``: N(0, 1)
  values such as weights and LayerNorm outputs; ``relu``: ReLU of them) instead of a number; its
  density is then the non-zero fraction of that data once quantized to the layer's format
  (activity.quantized_density), recomputed when ``--precision`` changes the format: N(0, 1)
  data has 85 % non-zero codes in INT4-VSQ, 72 % in per-tensor INT4, 98 % in INT8.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..ir.arch import Arch
from ..ir.workload import Density
from .activity import product_activity
from .domains import supply_scales

DISTRIBUTIONS = ("gaussian", "relu")  # data an operand can be named to carry (workload density)
SAMPLE_SHAPE = (256, 4096)            # the sample the densities are measured on (seed 0)


@lru_cache(maxsize=64)
def format_density(distribution: str, precision: str | None) -> float:
    """Non-zero fraction of `distribution` data quantized to `precision` (None: unquantized),
    measured on a fixed N(0, 1) sample (seed 0, 256 × 4096, per-vector scales along the rows)."""
    import numpy as np

    from .activity import quantized_density

    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown data distribution '{distribution}' (known: {', '.join(DISTRIBUTIONS)})")
    x = np.random.default_rng(0).standard_normal(SAMPLE_SHAPE)
    if distribution == "relu":
        x = np.maximum(x, 0.0)
    return quantized_density(x, precision)


def density_in_format(density: Density, precision: str | None) -> Density:
    """`density` with every operand that names its data re-measured in `precision`."""
    if density.inputs_data is None and density.weights_data is None:
        return density
    def value(name, v):
        return v if name is None else format_density(name, precision)
    return replace(density, inputs=value(density.inputs_data, density.inputs),
                   weights=value(density.weights_data, density.weights))


def vector_density(density: float, vector_size: int) -> float:
    """Probability that a vector of `vector_size` randomly zeroed values has a non-zero value."""
    return 1.0 - (1.0 - density) ** vector_size


def vector_size_of(precision: str) -> int | None:
    from ..numerics.formats import get_format

    try:
        fmt = get_format(precision)
    except ValueError:
        return None
    return fmt.vector_size if fmt.per_vector_scaled else None


def scale_path_activity(density: Density, held: str | None, vector_size: int) -> float:
    """Toggle rate of the scale path relative to dense data (operands: the vector densities)."""
    return product_activity(vector_density(density.inputs, vector_size),
                            vector_density(density.weights, vector_size), held)


def scale_path_energy_pj(arch: Arch, macs: int, density: Density, held: str | None,
                         voltage_scale: float) -> float:
    """The per-vector scale path's dynamic energy for `macs` MACs (0 without a scale path)."""
    compute = arch.compute
    size = vector_size_of(compute.format)
    if not compute.vector_scale_pj or size is None:
        return 0.0
    return (macs / size) * compute.vector_scale_pj * voltage_scale * scale_path_activity(density, held, size)


SCALE_PATH = "{compute}.scale"  # the scale path's component name in an energy breakdown


def format_energies_pj(arch: Arch, macs: int, outputs: int, density: Density, held: str | None,
                       voltage_scale: float) -> dict:
    """Dynamic energy (pJ) of the format-dependent components of one layer: the scale path, and
    each overhead's per-output energy (added to that overhead's per-cycle energy)."""
    # an overhead in a clock/voltage domain of its own follows that domain's supply (energy/domains.py)
    out = {o.name: o.energy_per_output_pj * outputs * supply_scales(arch, o.name, (voltage_scale, 1.0))[0]
           for o in arch.overhead if o.energy_per_output_pj}
    if arch.compute.vector_scale_pj is not None and vector_size_of(arch.compute.format):
        out[SCALE_PATH.format(compute=arch.compute.name)] = scale_path_energy_pj(arch, macs, density, held,
                                                                                 voltage_scale)
    return out
