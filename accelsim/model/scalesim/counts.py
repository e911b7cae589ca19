"""What the CALC and USER kernels return: one layer's cycle and access counts, by name."""
from __future__ import annotations

from collections import namedtuple

from ...jit import helper

# Cycles as SCALE-Sim reports them (total = index of the last cycle); *_start/*_stop are the
# first and last cycles of each SRAM and DRAM stream; error is one of the ERR_* codes.
KernelCounts = namedtuple("KernelCounts", [
    "total_cycles", "stall_cycles",
    "ifmap_sram_start", "ifmap_sram_stop", "filter_sram_start", "filter_sram_stop",
    "ofmap_sram_start", "ofmap_sram_stop",
    "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes",
    "ifmap_dram_start", "ifmap_dram_stop", "filter_dram_start", "filter_dram_stop",
    "ofmap_dram_start", "ofmap_dram_stop",
    "error",
])

ERR_NONE = 0
ERR_NO_PREFETCH_WINDOW = 1
ERR_NOT_PREFETCHED = 2
ERR_RING_OVERFLOW = 3
ERROR_MESSAGES = {
    ERR_NO_PREFETCH_WINDOW: "USER read buffer cannot advance (prefetch window of 0 sets)",
    ERR_NOT_PREFETCHED: "demand address missing from the prefetch stream",
    ERR_RING_OVERFLOW: "OFMAP write-buffer line ring overflow",
}


@helper(_nrt=True)
def failed(error):
    """The counts of a kernel that stopped on an internal error (the wrapper raises)."""
    z = 0
    return KernelCounts(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, error)
