"""Counting rules shared by the jitted kernels and the Python paths: one formula, one place.

Each is a small jitted function; kernels inline it (forceinline) and Python calls the same one.
"""
from __future__ import annotations

import numpy as np

from ..jit import kernel

MAX_CYCLES = 2 ** 62  # a level time this long is saturated here and refused by the models


@kernel(_nrt=False, forceinline=True)
def block_accesses(words, block, shift=-1):
    """Block accesses that move `words` words: a partial block costs a whole access. `shift` =
    log2(block) when block is a power of two (the kernels pass it: a shift, not a division)."""
    if shift >= 0:
        return (words + block - 1) >> shift
    return (words + block - 1) // block


@kernel(_nrt=False, forceinline=True)
def transfer_blocks(events, whole, whole_elements, deltas, delta_elements, words_per_element, block, shift=-1):
    """Block accesses of a tile's transfers under per-transfer rounding: `whole` transfers of
    whole_elements and `deltas` of delta_elements (a sliding window's new part), each a whole number
    of blocks, times `events` (the positions that transfer apart: separate fan-outs). Elements are
    words_per_element words each (partial sums may take several). docs/energy.md#block-rounding."""
    return events * (whole * block_accesses(whole_elements * words_per_element, block, shift)
                     + deltas * block_accesses(delta_elements * words_per_element, block, shift))


@kernel(_nrt=False, forceinline=True)
def first_touch_blocks(distinct, box, copies, words_per_element, block, shift=-1):
    """Block accesses saved by the transfers that first bring each of `distinct` outputs, in
    transfers of `copies` × `box` elements (a box of distinct outputs, each `copies` times: fan-outs
    that do not reduce). Output tiles partition the outputs, so each box is first moved whole, once;
    its first copy needs no partial sum read back or loaded, so per-transfer rounding subtracts
    ⌈copies·box⌉ − ⌈(copies − 1)·box⌉ blocks for it (a last, partial box: its own blocks)."""
    if box <= 0:
        return 0
    whole = copies * box * words_per_element
    return ((distinct // box) * (block_accesses(whole, block, shift)
                                 - block_accesses(whole - box * words_per_element, block, shift))
            + block_accesses((distinct % box) * words_per_element, block, shift))


@kernel(_nrt=False, forceinline=True)
def average_block_accesses(total_words, instances, block):
    """Block accesses of the average instance that moves total_words / instances words: a partial
    block costs a whole access. Every instance alike (a dense nest), it is block_accesses of one
    instance's words; a ragged nest's instances differ, and energy is priced on their average."""
    return (total_words + instances * block - 1) // (instances * block)


@kernel(_nrt=False, forceinline=True)
def bandwidth_cycles(read_words, write_words, read_bw, write_bw, shared_bw):
    """Cycles a level's ports need for its traffic: the largest of reads ÷ read bandwidth, writes ÷
    write bandwidth and (reads + writes) ÷ shared bandwidth (one port both share, as Timeloop's
    shared_bandwidth and ZigZag's shared port). Words per cycle; 0 or inf: unlimited."""
    if read_words == 0 and write_words == 0:
        return 0  # no traffic, no cycles, without the divisions (the walk asks for every level each step)
    cycles = 0.0
    if read_bw > 0:
        cycles = max(cycles, np.ceil(read_words / read_bw))
    if write_bw > 0:
        cycles = max(cycles, np.ceil(write_words / write_bw))
    if shared_bw > 0:
        cycles = max(cycles, np.ceil((read_words + write_words) / shared_bw))
    return int(min(cycles, MAX_CYCLES))  # saturated, not wrapped: a vanishing bandwidth stays slow


@kernel(_nrt=False, forceinline=True)
def port_words(words, blocks, instances, block, per_transfer):
    """Words one instance's port moves for `words` words whose transfers cost `blocks` block accesses
    over `instances` instances (1: the blocks are one instance's; a ragged nest's: summed over them).
    A port `block` words wide moves one block per access, so under per-transfer rounding a narrow
    tile occupies it for the whole blocks it touches: blocks × block (never fewer than the words: a
    ragged nest's blocks are its average instance's, its words the busiest's). Under the layer rule
    (Timeloop's, per_transfer False) or with one-word blocks: the words. docs/energy.md#port-time."""
    if not per_transfer or block <= 1:
        return words
    return max(words, (blocks * block + instances - 1) // instances)


@kernel(_nrt=False, forceinline=True)
def copies_port_words(elements, size, scale, block):
    """Port words of a tile move that carries `elements` elements (`scale` words each) in transfers of
    `size` (one per fan-out position served apart; outputs first touched are whole transfers left
    out), each whole `block`-word blocks (a remainder: one more transfer). The cycle walk's charges;
    block 1: the words."""
    if block <= 1 or size <= 0:
        return elements * scale
    return ((elements // size) * block_accesses(size * scale, block, np.int64(-1))
            + block_accesses((elements % size) * scale, block, np.int64(-1))) * block


@kernel(_nrt=False, forceinline=True)
def step_port_words(elements, first, first_transfers, transfers, unit, box, scale, block):
    """Port words of a step's flow to the MACs: `elements` elements (`scale` words each) in `transfers`
    transfers (one per MAC cycle that reads) of at most `unit` (the merged group's operands, or
    partial sums), whole `block`-word blocks each; `box` of a transfer's elements are distinct outputs,
    and `first` of the elements are outputs first touched (no partial sum to read) by
    `first_transfers` of the transfers, each of which moves unit − box (copies over fan-outs that do
    not reduce). A ragged step's transfers cut on a ragged dim count whole (an upper bound, at most
    the padded layer's: the cut removes transfers, first-touching or not). The cycle walk's flows;
    block 1: the words."""
    if block <= 1:
        return (elements - first) * scale
    if elements <= 0 or transfers <= 0:
        return 0
    f = min(transfers, first_transfers) if first > 0 else 0
    return ((transfers - f) * block_accesses(unit * scale, block, np.int64(-1))
            + f * block_accesses((unit - box) * scale, block, np.int64(-1))) * block
