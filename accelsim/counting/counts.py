"""Action counts: what a performance model emits and the energy model prices (per level, tensor
and action), a neutral record between the two."""
from __future__ import annotations

from dataclasses import dataclass

from .rules import average_block_accesses, port_words


def total_blocks(blocks: tuple, instances: int) -> tuple:
    """Per-instance block accesses of a dense level over its `instances` alike instances."""
    return tuple(b * instances for b in blocks)


def average_blocks(blocks: tuple, instances: int) -> tuple:
    """Block accesses summed over `instances` instances as the average instance's (a float: a
    ragged nest's instances differ)."""
    return tuple(b / instances for b in blocks)


@dataclass(frozen=True)
class TensorCounts:
    """Scalar (element) counts per instance of a level, for one tensor (in a ragged nest, of the
    busiest instance: the one at offset 0 on every fan-out, which sees every iteration any other
    sees; LevelCounts.totals sums them all)."""

    reads: int
    fills: int
    updates: int
    tile_elements: int  # utilized capacity per instance
    blocks: tuple | None = None  # (reads, fills, updates) in block accesses of the level, as the counting
                                 # kernel rounded them (the level's block_rounding, docs/energy.md); None:
                                 # not given (a pass that changes a count drops them): the layer rule

    def block_accesses(self, words_per_element: int, instances: int, block_words: int) -> tuple:
        """(reads, fills, updates) in block accesses of the average of `instances` instances whose
        counts these are the sum of: the kernel's, else each action's words rounded up to blocks once."""
        if self.blocks is not None:
            return average_blocks(self.blocks, instances)
        return tuple(average_block_accesses(x * words_per_element, instances, block_words)
                     for x in (self.reads, self.fills, self.updates))


@dataclass(frozen=True)
class LevelCounts:
    name: str
    instances: int            # utilized instances
    hardware_instances: int
    block_words: int
    tensors: dict             # role -> TensorCounts (per instance)
    cycles: int               # bandwidth-bound cycles of this level
    charged_instances: int    # instances charged dynamic energy: utilized clusters (cluster: N)
    output_words: int = 1     # words an output element takes here: more while it is a partial sum
    totals: dict | None = None  # role -> TensorCounts summed over the utilized instances (tile_elements:
                                # the busiest's); None: every instance alike, tensors × instances

    def total(self, role: str) -> TensorCounts:
        """The level's counts of one tensor over every utilized instance."""
        if self.totals is not None:
            return self.totals[role]
        c = self.tensors[role]
        n = self.instances
        return TensorCounts(c.reads * n, c.fills * n, c.updates * n, c.tile_elements,
                            None if c.blocks is None else total_blocks(c.blocks, n))

    def words_per_element(self, role: str) -> int:
        return self.output_words if role == "outputs" else 1

    @property
    def read_words(self) -> int:
        return sum(c.reads * self.words_per_element(r) for r, c in self.tensors.items())

    @property
    def write_words(self) -> int:
        return sum((c.fills + c.updates) * self.words_per_element(r) for r, c in self.tensors.items())

    def port_words(self, per_transfer: bool) -> tuple[int, int]:
        """(read, write) words one instance's ports move, as the counting kernels time them
        (counting/rules.port_words): whole blocks under per-transfer block rounding, else the words
        (of the busiest instance). A tensor without the kernel's blocks counts the layer rule's."""
        n = 1 if self.totals is None else self.instances  # a ragged nest's blocks: every instance's
        read_blocks = write_blocks = 0
        for role, c in (self.tensors if self.totals is None else self.totals).items():
            blocks = c.blocks or tuple(average_block_accesses(x * self.words_per_element(role), n, self.block_words) * n
                                       for x in (c.reads, c.fills, c.updates))
            read_blocks += blocks[0]
            write_blocks += blocks[1] + blocks[2]
        return (int(port_words(self.read_words, read_blocks, n, self.block_words, per_transfer)),
                int(port_words(self.write_words, write_blocks, n, self.block_words, per_transfer)))


@dataclass(frozen=True)
class ActionCounts:
    macs: int
    compute_instances: int     # utilized MAC units
    compute_cycles: int        # temporal steps
    cycles: int                # max of compute and every level's bandwidth time
    levels: tuple              # LevelCounts for each memory, top-down

    @property
    def ragged(self) -> bool:
        """Counted from a ragged nest (instances differ: the levels carry totals)."""
        return bool(self.levels) and self.levels[0].totals is not None
