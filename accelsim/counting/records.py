"""The counting kernel's arguments as records, their column and status codes, and their allocation.

Records are named tuples: Numba passes them field by field, and a field read compiles to the same
code as a positional one. nest_kernel.py's docstring says what every array holds.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

KIND, CAPACITY, BLOCK, CLUSTER, HW_INSTANCES, CLUSTER_R, CLUSTER_AXES, BLOCK_SHIFT, BLOCK_RULE = 0, 1, 2, 3, 4, 5, 6, 7, 8
LEVEL_INT_COLUMNS = 9
LAYER_BLOCKS, TRANSFER_BLOCKS = 0, 1  # level_int BLOCK_RULE: a level's block rounding (docs/energy.md)
READ_BW, WRITE_BW, E_READ, E_WRITE, E_UPDATE, LEAK, SHARED_BW = 0, 1, 2, 3, 4, 5, 6
MEMORY, SPATIAL, COMPUTE = 0, 1, 2
READS, FILLS, UPDATES, TILE = 0, 1, 2, 3
OK, OVER_CAPACITY, BROKEN = 0, 1, 2
INDEX = np.uint32  # dtype of index arrays (see nest_kernel's docstring: unsigned subscripts)


# The kernel's arguments as records (named tuples: Numba passes them field by field, and a field
# read compiles to the same code as a positional one). The arrays are the module docstring's.
class Nest(NamedTuple):
    """A lowered nest: its first n loops, top-down, and what each level keeps."""
    loop_dim: np.ndarray      # [loop] INDEX
    loop_bound: np.ndarray    # [loop] int64, every bound > 1
    loop_level: np.ndarray    # [loop] INDEX
    loop_spatial: np.ndarray  # [loop] bool
    loop_axis: np.ndarray     # [loop] int64: X 0, Y 1, temporal −1
    n: int
    keeps: np.ndarray         # [level, tensor] bool


class Loops(NamedTuple):
    """A search's loop arrays (nest_loops), which each candidate is lowered into."""
    loop_dim: np.ndarray
    loop_bound: np.ndarray
    loop_level: np.ndarray
    loop_spatial: np.ndarray
    loop_axis: np.ndarray


class Problem(NamedTuple):
    """A layer on an arch (model/packed.PackedProblem.record builds it)."""
    axis_of: np.ndarray
    coef: np.ndarray
    axis_dims: np.ndarray
    axis_nd: np.ndarray
    n_axes: np.ndarray
    is_output: np.ndarray
    one_dim: np.ndarray
    level_int: np.ndarray
    cluster_axes: np.ndarray
    level_float: np.ndarray
    merges: np.ndarray
    e_factor: np.ndarray
    mac_energy_pj: np.ndarray
    held_by_dim: np.ndarray
    output_ignores: np.ndarray
    energy_per_cycle_pj: float
    hold_spatial_innermost: bool
    latched: np.ndarray       # [tensor] bool: the MACs latch this operand (arch compute operand_latch)
    cluster_rule: int
    psum_words: np.ndarray    # [level] words a partial sum takes there (Compute.psum_bits ÷ word_bits, ceil)
    dim_size: np.ndarray      # [dim] the layer's dims (ragged_kernel: bounds may multiply to more)


class Outputs(NamedTuple):
    """What evaluate_nest writes (see there)."""
    counts: np.ndarray        # [level, tensor, READS|FILLS|UPDATES|TILE] per instance
    instances: np.ndarray     # [level] utilized instances
    charged: np.ndarray       # [level] instances charged dynamic energy
    level_cycles: np.ndarray  # [level] bandwidth-bound cycles
    per_cycle_pj: np.ndarray  # [1] the energy charged per cycle (leakage, clocked overheads): energy is
                              # dynamic + per_cycle_pj · cycles, so it can be re-priced at another cycle count
    output_words: np.ndarray  # [level] words an output element takes there: psum_words while it is partial
    blocks: np.ndarray        # [level, tensor, READS|FILLS|UPDATES] block accesses per instance under the level's
                              # block rounding (ragged_kernel: summed over the utilized instances)


class Scratch(NamedTuple):
    """evaluate_nest's work arrays (nest_scratch allocates them)."""
    stride: np.ndarray        # [loop] how far one step moves its dim
    starts: np.ndarray        # [level + 1] INDEX: first loop of each level
    moves_before: np.ndarray  # [level + 1] temporal loops above each level
    ext: np.ndarray           # [level + 1, dim] each dim's range under each level
    idx: np.ndarray           # [loop] INDEX: a loop index set
    grow: np.ndarray          # [dim] per-dim ranges while a set is built
    tc: np.ndarray            # [axis, term] term steps per axis
    te: np.ndarray            # [axis, term] term counts per axis
    m: np.ndarray             # [axis] terms per axis
    shape: np.ndarray         # [axis, 4] (g, L, P, n) per axis (see _axis_shape)
    occ: np.ndarray           # [span + 1] bool: occupancy of a holed axis
    base: np.ndarray          # [span + 1] bool: its copy while it grows
    temporal: np.ndarray      # [loop] INDEX: the temporal loops, outer → inner
    above: np.ndarray         # [loop + 1] Π of the temporal bounds before each
    move_axis: np.ndarray     # [tensor, loop] (see _reuse_classes)
    move_by: np.ndarray       # [tensor, loop]
    reuse_weight: np.ndarray  # [tensor, loop]
    reuse_link: np.ndarray    # [tensor, loop] the previous temporal loop in the step's reuse class (−1: none)
    tile_shape: np.ndarray    # [level, tensor, axis, 4] each tile's axis shapes
    regular: np.ndarray       # [level, tensor] bool: all of a tile's axes in closed form
    memo_ext: np.ndarray      # [level, dim] the ext row tile_shape/memo_tile were built for
    memo_tile: np.ndarray     # [level, tensor] that tile's points (−1: not built)
    events: np.ndarray        # [level, tensor, 4] a tile's loads as transfers: (whole-tile loads, their
                              # elements, reuse steps, the elements each loads) (nest_kernel._tile_loads)
    served_ev: np.ndarray     # [6] what _served last counted as transfers: (positions served apart, the four
                              # of `events`, copies: the same elements served apart within a transfer)


def nest_loops(max_loops: int) -> Loops:
    """The loop arrays of a Nest, for a search's lowering to fill."""
    return Loops(np.zeros(max_loops, INDEX), np.zeros(max_loops, np.int64), np.zeros(max_loops, INDEX),
                 np.zeros(max_loops, np.bool_), np.zeros(max_loops, np.int64))


def nest_scratch(max_loops: int, max_axes: int, max_span: int, n_dims: int, n_levels: int, n_tensors: int) -> Scratch:
    """Work arrays for evaluate_nest (see Scratch), allocated once per search."""
    i64 = np.int64
    max_terms = max_loops + n_dims  # per axis: a term per dim and per loop left apart
    loop_table = lambda: np.zeros((n_tensors, max_loops), i64)  # noqa: E731
    return Scratch(np.zeros(max_loops, i64), np.zeros(n_levels + 1, INDEX), np.zeros(n_levels + 1, i64),
                   np.zeros((n_levels + 1, n_dims), i64), np.zeros(max_loops, INDEX), np.zeros(n_dims, i64),
                   np.zeros((max_axes, max_terms), i64), np.zeros((max_axes, max_terms), i64),
                   np.zeros(max_axes, i64), np.zeros((max_axes, 4), i64),
                   np.zeros(max_span + 1, np.bool_), np.zeros(max_span + 1, np.bool_),
                   np.zeros(max_loops, INDEX), np.zeros(max_loops + 1, i64), loop_table(), loop_table(), loop_table(), loop_table(),
                   np.zeros((n_levels, n_tensors, max_axes, 4), i64), np.zeros((n_levels, n_tensors), np.bool_),
                   np.full((n_levels, n_dims), -1, i64), np.full((n_levels, n_tensors), -1, i64),
                   np.zeros((n_levels, n_tensors, 4), i64), np.zeros(6, i64))
