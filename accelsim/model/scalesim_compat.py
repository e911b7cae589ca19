"""SCALE-Sim v3.0.0's cycles for a layer on the arch's systolic array (`--model scalesim`, or
`--model cycle --scalesim-compat`)."""
from __future__ import annotations

from ..errors import MappingError
from .performance import PERFORMANCE_MODELS


@PERFORMANCE_MODELS.register("scalesim")
class ScaleSimModel:
    """`cycles` and `stall_cycles` are SCALE-Sim's "Total Cycles" and "Stall Cycles"; the rest of
    its report sits under `scalesim`, named as SCALE-Sim names it. The counts stay analytical."""

    name = "scalesim"

    @staticmethod
    def check(arch, options) -> None:
        pass

    @staticmethod
    def layer_cycles(arch, layer, nest, counts) -> tuple[int, dict]:
        from ..importers.scalesim import systolic_params
        from .systolic import simulate_systolic

        try:
            systolic_layer, config = systolic_params(arch, layer.einsum, layer.name, layer.input_size)
        except (ValueError, KeyError) as exc:
            raise MappingError(f"layer '{layer.name}': no SCALE-Sim view of this layer: {exc}") from None
        report = simulate_systolic(systolic_layer, config, scalesim_compat=True)
        return report.total_cycles, {"stall_cycles": report.stall_cycles, "scalesim": report.as_dict()}
