"""Inter-layer residency: activations stay in an on-chip level between layers when they fit.

Every layer is counted on its own (the counting kernel knows one layer), so its inputs come from
the outermost memory and its outputs go back there. An arch with `residency: {level: L}` lets a
layer leave its outputs in L for the next layer, which then reads them there:

  chain     layer i+1 reads layer i's outputs when its input holds as many elements as i's
            output (a convolution's input counted without its zero border); a branch, a
            concatenation or a reshape that changes the count reads from the outer memory;
  capacity  while a layer runs, L holds the whole of each resident tensor (all the layer before
            wrote, even what a strided window skips) and the mapping's tile of every other tensor
            it keeps there: held words ≤ L's capacity (half when double-buffered), exactly;
  decision  outputs of i stay in L iff layer i+1 chains from i, layer i fits with them resident
            and layer i+1 fits with its inputs resident (and its outputs not, the least it can
            need); layer i+1's inputs are resident iff they were left there. Layers that run
            several copies (count > 1) are never resident: their copies would differ.

A resident tensor's traffic with the memories above L disappears (their reads, fills and updates
of it), and so do L's fills of it (the data are there, and partial sums no longer return from
above). Each changed level's bandwidth-bound cycles are recomputed with the kernel's own rule
(counting/rules.bandwidth_cycles of the port words, LevelCounts.port_words), the layer's cycles are the largest of its compute steps and
its levels' cycles, and its energy is priced again from the changed counts. Every other count is
the kernel's. Without the option, simulate() never calls this module.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .counting.conventions import block_rounding_of
from .counting.counts import ActionCounts, LevelCounts, TensorCounts
from .counting.rules import bandwidth_cycles
from .errors import AccelsimBug, SpecError
from .ir.arch import Arch, Memory
from .ir.workload import Layer
from .results import LayerResult

ACTIVATIONS = ("inputs", "outputs")


@dataclass(frozen=True)
class Residency:
    """What one layer keeps in the residency level."""

    level: str
    inputs: bool            # read from the level (left there by the layer before)
    outputs: bool           # left in the level for the next layer
    held_words: int         # words the level holds while the layer runs
    capacity_words: int
    note: str               # why a tensor is not resident ('' when both are)

    def as_dict(self) -> dict:
        return {"level": self.level, "inputs_resident": self.inputs, "outputs_resident": self.outputs,
                "held_words": self.held_words, "capacity_words": self.capacity_words, "note": self.note}


def check_model(arch: Arch, model_name: str) -> None:
    """Residency changes the counts after the kernel; only the analytical model's cycles follow them."""
    if arch.residency_level and model_name != "analytical":
        raise SpecError(f"arch '{arch.name}' keeps activations in '{arch.residency_level}' between layers "
                        f"(residency:), which the {model_name} model does not follow; run it with --model "
                        f"analytical or remove the arch's residency: block")


def input_elements(layer: Layer) -> int:
    """The layer's input as the previous layer wrote it (before zero padding)."""
    return layer.input_elements if layer.input_elements is not None else layer.einsum.tensor_size("inputs")


def chains(before: Layer, after: Layer) -> bool:
    """Does `after` read `before`'s outputs? Equal element counts (see the module docstring)."""
    return before.einsum.tensor_size("outputs") == input_elements(after)


def held_words(layer: Layer, counts: ActionCounts, level: str, inputs: bool, outputs: bool) -> int | None:
    """Words `level` holds while the layer runs: whole tensors for the resident ones, the mapping's
    tile (per instance) for the others; None if the mapping does not keep a resident tensor there."""
    tensors = _level(counts, level).tensors
    resident = {"inputs": inputs, "outputs": outputs}
    if any(resident[r] and r not in tensors for r in ACTIVATIONS):
        return None
    words = _level(counts, level).words_per_element
    return sum((_whole(layer, role) if resident.get(role) else c.tile_elements) * words(role)
               for role, c in tensors.items())


def _whole(layer: Layer, role: str) -> int:
    """A resident tensor's words: outputs as the hardware runs them (padded dims included); inputs
    as the layer before left them, which a strided window may not read in full, or the layer's own
    (padded) input tensor if that is larger."""
    size = layer.run_einsum.tensor_size(role)
    return max(size, input_elements(layer)) if role == "inputs" else size


def apply_residency(arch: Arch, layers: list[Layer], results: list[LayerResult], price) -> list[LayerResult]:
    """The results with activations kept in `arch.residency_level` where they chain and fit.
    `price(arch, layer, mapping, counts, energies, cycles)`: the layer's energy, as simulate() prices it."""
    name = arch.residency_level

    def capacity(j: int) -> int:  # in the words of the arch as layer j ran (its number format)
        run_arch = results[j].energies[0] if results[j].energies else arch
        return run_arch.level(name).capacity_words

    def fits(j: int, inputs: bool, outputs: bool) -> bool:
        held = held_words(layers[j], results[j].counts, name, inputs, outputs)
        return held is not None and held <= capacity(j)

    out, previous_kept = [], False
    for i, (layer, result) in enumerate(zip(layers, results)):
        nxt = i + 1 < len(layers)
        single = layer.count == 1
        keep = (nxt and single and layers[i + 1].count == 1 and chains(layer, layers[i + 1])
                and fits(i, previous_kept, True) and fits(i + 1, True, False))
        residency = Residency(name, previous_kept, keep,
                              held_words(layer, result.counts, name, previous_kept, keep) or 0, capacity(i),
                              _note(layers, results, i, previous_kept, keep, fits))
        out.append(_resident_result(layer, result, residency, price))
        previous_kept = keep
    return out


def _note(layers, results, i, inputs, outputs, fits) -> str:
    """Why the layer's inputs or outputs are not resident, in words ('' when both are)."""
    layer, notes = layers[i], []
    if layer.count > 1:
        return f"runs {layer.count} copies: never resident"
    if not inputs:
        notes.append("inputs: first layer" if i == 0 else
                     "inputs: not the previous layer's outputs" if not chains(layers[i - 1], layer) else
                     "inputs: the previous layer left them outside (see its note)")
    if not outputs:
        if i + 1 == len(layers):
            notes.append("outputs: last layer")
        elif layers[i + 1].count > 1 or not chains(layer, layers[i + 1]):
            notes.append("outputs: the next layer does not read them")
        elif not fits(i, inputs, True):
            notes.append("outputs: do not fit beside this layer's data")
        else:
            notes.append("outputs: the next layer does not fit with them")
    return "; ".join(notes)


def _resident_result(layer: Layer, result: LayerResult, residency: Residency, price) -> LayerResult:
    extra = {**result.extra, "residency": residency.as_dict()}
    resident = {r for r, on in (("inputs", residency.inputs), ("outputs", residency.outputs)) if on}
    if not resident:
        return replace(result, extra=extra)
    run_arch, energies = result.energies
    counts = resident_counts(run_arch, result.counts, residency.level, resident)
    energy = price(run_arch, layer, result.mapping, counts, energies, counts.cycles)
    return replace(result, counts=counts, energy=energy, cycles=counts.cycles, extra=extra)


def resident_counts(arch: Arch, counts: ActionCounts, level: str, resident: set[str]) -> ActionCounts:
    """The counts with the `resident` tensors held in `level`: no traffic of them above it, no fills
    of them into it; changed levels' cycles by the kernel's bandwidth rule."""
    if counts.cycles != _cycles(counts, counts.levels):
        raise AccelsimBug("a layer's cycles are not the largest of its compute steps and level cycles")
    names = [m.name for m in arch.memories]
    depth = names.index(level)
    levels = []
    for lc in counts.levels:
        d = names.index(lc.name)
        if d > depth or not resident & set(lc.tensors):
            levels.append(lc)
            continue
        def held(role, c):
            return (c if role not in resident else TensorCounts(0, 0, 0, c.tile_elements) if d < depth else
                    replace(c, fills=0, blocks=None if c.blocks is None else (c.blocks[0], 0, c.blocks[2])))
        # a ragged nest's sums over its instances (energy and port time read them) change alike
        kept = replace(lc, tensors={role: held(role, c) for role, c in lc.tensors.items()},
                       totals=None if lc.totals is None else {role: held(role, c) for role, c in lc.totals.items()})
        levels.append(replace(kept, cycles=_level_cycles(arch, arch.level(lc.name), kept)))
    return replace(counts, levels=tuple(levels), cycles=_cycles(counts, levels))


def _level_cycles(arch: Arch, memory: Memory, level: LevelCounts) -> int:
    """The level's bandwidth time, in words (partial sums may take several), in whole blocks under
    per-transfer block rounding (LevelCounts.port_words: the kernels' rule)."""
    reads, writes = level.port_words(block_rounding_of(arch, memory) == "transfer")
    return int(bandwidth_cycles(reads, writes, memory.read_bw_words or 0.0,
                                memory.write_bw_words or 0.0, memory.shared_bw_words or 0.0))


def _cycles(counts: ActionCounts, levels) -> int:
    return max([counts.compute_cycles] + [lc.cycles for lc in levels])


def _level(counts: ActionCounts, name: str) -> LevelCounts:
    return next(lc for lc in counts.levels if lc.name == name)
