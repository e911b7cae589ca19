"""accelsim's own counting: a fan-out merges the union of its children's tiles (overlapping
sliding windows are read once), MAC operands are read once per MAC step, a clustered memory is
charged per cluster the mapping touches, and every hardware instance leaks."""
from . import CLUSTERS_TOUCHED, CONVENTIONS, CountingConvention

ACCELSIM = CONVENTIONS.register("accelsim")(CountingConvention(
    name="accelsim", merge_different_tiles=True, operands_held_when_spatial_innermost=False,
    cluster_rule=CLUSTERS_TOUCHED, leaks_utilized_only=False, cycle_model=True,
    doc="docs/concepts.md#counting-conventions"))
