"""Timeloop v0.4's counting, to reproduce its numbers (`accelsim import timeloop` sets it):

- only identical tiles merge — children that differ in a dim the tensor ignores — as Timeloop
  multicasts a read only to children with equal deltas (src/loop-analysis/nest-analysis.cpp,
  ComputeAccurateMulticastedAccesses: delta.CheckEquality);
- when the nest's innermost loop is spatial, the MACs' operand accesses follow the same delta
  analysis as a buffer's tile; with a temporal innermost loop every step counts
  (nest-analysis.cpp, ComputeTemporalWorkingSet: the level-0 base case);
- a clustered buffer charges min(utilized instances, clusters) (src/model/buffer.cpp,
  ComputeScalarAccesses);
- buffers leak only in utilized instances (buffer.cpp: ComputeLeaksPerCycle, FinalizeBufferEnergy);
- a level's accesses of one action over the layer are rounded up to blocks once (block_rounding
  "layer": buffer.cpp, ComputeScalarAccesses divides the layer's scalar accesses by block_size).
The cycle model does not implement these rules.
"""
from . import CLUSTERS_SPREAD, CONVENTIONS, CountingConvention

TIMELOOP = CONVENTIONS.register("timeloop")(CountingConvention(
    name="timeloop", merge_different_tiles=False, operands_held_when_spatial_innermost=True,
    cluster_rule=CLUSTERS_SPREAD, leaks_utilized_only=True, cycle_model=False,
    doc="Timeloop v0.4 (see accelsim/counting/conventions/timeloop.py)", block_rounding="layer"))
