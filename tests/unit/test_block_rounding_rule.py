"""Block rounding (docs/energy.md#block-rounding): the rule's helpers on the worked example, the
default per counting convention, and a bad value's error."""
import pytest

from accelsim.counting.conventions import block_rounding_of
from accelsim.counting.rules import (
    average_block_accesses,
    bandwidth_cycles,
    first_touch_blocks,
    port_words,
    transfer_blocks,
)
from accelsim.errors import SpecError

ARCH = """
name: b
{counting}
technology: {{node: 45nm, energy_table: horowitz_45nm}}
operating_point: {{voltage: 0.9V, frequency: 1GHz}}
levels:
  - memory: {{name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]}}
  - memory: {{name: GLB, class: sram, size: 8KiB, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]
              {rounding}}}
  - compute: {{name: MAC, format: int8}}
"""


def test_the_worked_example():
    # 100 fills of a 12-weight tile from an 8-word-wide buffer
    assert average_block_accesses(100 * 12, 1, 8) == 150
    assert transfer_blocks(1, 100, 12, 0, 0, 1, 8) == 200
    # 10 whole loads of a 6-word input tile, 90 window steps of 2 new words
    assert average_block_accesses(10 * 6 + 90 * 2, 1, 8) == 30
    assert transfer_blocks(1, 10, 6, 90, 2, 1, 8) == 100
    assert transfer_blocks(1, 10, 6, 90, 2, 1, 8, 3) == 100  # by a shift: the same
    # one-word blocks: the rules agree
    assert transfer_blocks(3, 10, 6, 90, 2, 2, 1) == 3 * (10 * 12 + 90 * 4)


def test_the_port_time_worked_example():
    # docs/energy.md#port-time: 8-word blocks, 8 words/cycle on each port (one block a cycle)
    fills, reads = transfer_blocks(1, 100, 12, 0, 0, 1, 8), transfer_blocks(1, 10, 6, 90, 2, 1, 8)
    assert (fills, reads) == (200, 100)
    for per_transfer, write_words, read_words in ((False, 1200, 240), (True, 1600, 800)):
        assert port_words(1200, fills, 1, 8, per_transfer) == write_words
        assert port_words(240, reads, 1, 8, per_transfer) == read_words
    layer = bandwidth_cycles(port_words(240, reads, 1, 8, False), port_words(1200, fills, 1, 8, False), 8.0, 8.0, 0.0)
    whole = bandwidth_cycles(port_words(240, reads, 1, 8, True), port_words(1200, fills, 1, 8, True), 8.0, 8.0, 0.0)
    assert (layer, whole) == (150, 200)
    shared = [bandwidth_cycles(port_words(240, reads, 1, 8, r), port_words(1200, fills, 1, 8, r), 0.0, 0.0, 8.0)
              for r in (False, True)]
    assert shared == [180, 300]
    # one-word blocks: the words under either rule; a ragged nest's sum over 3 instances (average
    # instance 10 blocks of 8 = 80 words) and a busiest instance that moves more words than that
    assert port_words(240, 240, 1, 1, True) == port_words(240, 240, 1, 1, False) == 240
    assert port_words(70, 30, 3, 8, True) == 80 and port_words(90, 30, 3, 8, True) == 90


def test_first_touches_are_whole_output_tiles():
    # 40 outputs drained in tiles of 12 (the last one 4): 3 · ⌈12/8⌉ + ⌈4/8⌉ blocks need no read-back
    assert first_touch_blocks(40, 12, 1, 1, 8) == 3 * 2 + 1
    assert first_touch_blocks(40, 12, 1, 3, 8) == 3 * 5 + 2  # partial sums of 3 words
    # each box updated twice a transfer (a fan-out that does not reduce): the first copy is saved
    assert first_touch_blocks(36, 12, 2, 1, 8) == 3 * (3 - 2)


def test_default_follows_the_counting_convention(arch_from_text):
    native = arch_from_text(ARCH.format(counting="", rounding=""))
    timeloop = arch_from_text(ARCH.format(counting="counting: timeloop", rounding=""))
    override = arch_from_text(ARCH.format(counting="counting: timeloop", rounding=", block_rounding: transfer"))
    assert [block_rounding_of(native, l) for l in native.memories] == ["transfer", "transfer"]
    assert [block_rounding_of(timeloop, l) for l in timeloop.memories] == ["layer", "layer"]
    assert [block_rounding_of(override, l) for l in override.memories] == ["layer", "transfer"]


def test_a_bad_value_names_the_key_and_the_choices(arch_from_text):
    with pytest.raises(SpecError) as exc:
        arch_from_text(ARCH.format(counting="", rounding=", block_rounding: per_tile"))
    message = str(exc.value)
    assert "levels.1.memory.block_rounding" in message and "transfer, layer" in message and "arch.yaml:9" in message
