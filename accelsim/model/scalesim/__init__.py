"""Tile-level emulator of SCALE-Sim v3.0.0's per-layer report (docs/notes/scalesim-model.md).

It walks the folds of an M×N×K GEMM view of a layer on an R×C array (dataflow os|ws|is) and,
inside a fold, only the demand rows that carry work; nothing is done per PE or per cycle of
an idle row.  Compute-side fields are closed form (api.py); the OFMAP write buffer is stepped
per demand row (write_buffer.py); CALC read buffers never stall and only count DRAM words
(calc.py); USER read buffers stall on misses (user.py, prefetch.py).  Kernels take arrays and
scalars only; `simulate_systolic` validates, allocates and builds the `SystolicResult`.
SCALE-Sim's N:M weight sparsity (layer-wise and row-wise) is sparsity.py: the kernels run on
the condensed reduction, the report changes are closed forms there (notes §9).

Modules: geometry (folds, operand kinds, demand order), write_buffer, calc, prefetch, user,
counts (what a kernel returns), layer (the dataclasses and the Arch/einsum view), sparsity, api.
"""
from .api import scalesim_layer_cycles, simulate_systolic
from .geometry import DATAFLOWS, fold_geometry
from .layer import (
           SystolicConfig,
           SystolicLayer,
           SystolicResult,
           layer_from_einsum,
           systolic_params,
)

__all__ = ["DATAFLOWS", "SystolicConfig", "SystolicLayer", "SystolicResult", "fold_geometry",
           "layer_from_einsum", "scalesim_layer_cycles", "simulate_systolic", "systolic_params"]
