"""A reader for Sparseloop's (Timeloop v3) stats.txt: per component, per data space, the
algorithmic / actual / gated / skipped scalar counts and the per-rank format counts; the compute
split; cycles; energy per component per actual compute. Fails loudly on anything it cannot read."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_HEADING = re.compile(r"^=== (.+?) ===\s*$")
_DATASPACE = re.compile(r"^    ([A-Za-z_]\w*):\s*$")
_KEY_VALUE = re.compile(r"^\s+([^:(]+?(?:\([^)]*\))?[^:]*?)\s*:\s*(.*?)\s*$")
_RANK = re.compile(r"^\s+Rank (\d+) \(metadata, payload\):\s*\(\s*([-0-9.]+),\s*([-0-9.]+)\)?\s*$")


@dataclass
class Component:
    name: str
    stats: dict = field(default_factory=dict)
    dataspaces: dict = field(default_factory=dict)   # name -> {key: value | {rank: (md, pl)}}


@dataclass
class SparseStats:
    components: list
    cycles: int
    actual_computes: int
    fj_per_compute: dict   # component -> fJ per actual compute (with "Total")

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def parse(path: Path) -> SparseStats:
    lines = path.read_text().splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == "Networks")
    components, current, space, ranked = [], None, None, None
    for line in lines[:end]:
        if m := _HEADING.match(line):
            current, space, ranked = Component(m.group(1)), None, None
            components.append(current)
        elif current is None:
            continue
        elif m := _DATASPACE.match(line):
            space, ranked = current.dataspaces.setdefault(m.group(1), {}), None
        elif m := _RANK.match(line):
            assert ranked is not None, f"{path}: a rank line outside a ranked stat: {line!r}"
            ranked[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
        elif line.strip() and ":" not in line and space is not None:
            space[line.strip()] = ranked = {}   # a per-rank stat: its ranks follow, one per line
        elif m := _KEY_VALUE.match(line):
            target = space if space is not None else current.stats
            if m.group(2) == "":
                target[m.group(1)] = ranked = {}
            else:
                target[m.group(1)], ranked = m.group(2), None
    text = "\n".join(lines[end:])
    cycles = int(re.search(r"^Cycles:\s*(\d+)", text, re.MULTILINE).group(1))
    actual = int(re.search(r"^(?:Actual )?Computes\s*=\s*(\d+)", text, re.MULTILINE).group(1))
    for comp in components:
        _dense_as_sparse(comp)
    tail = text[text.index("fJ/Compute"):].splitlines()[1:]
    fj = {}
    for line in tail:
        m = re.match(r"^\s+(.+?)\s*=\s*([-+0-9.eE]+)\s*$", line)
        if not m:
            break
        fj[m.group(1)] = float(m.group(2))
    assert "Total" in fj, f"{path}: no Total under fJ/Compute"
    return SparseStats(components, cycles, actual, fj)


def number(value) -> int:
    """'16' → 16; '1 (1*1)' → 1."""
    return int(str(value).split()[0])


def _dense_as_sparse(comp: Component) -> None:
    """A run without sparse optimizations prints dense stats: read them in the sparse vocabulary
    (every action actual, none gated or skipped, no format)."""
    if "Computes (total)" in comp.stats:
        n = comp.stats["Computes (total)"]
        comp.stats.update({"Algorithmic Computes (total)": n, "Actual Computes (total)": n,
                           "Gated Computes (total)": "0", "Skipped Computes (total)": "0"})
    for vals in comp.dataspaces.values():
        if "Utilized capacity" not in vals:
            continue
        vals["Max utilized data storage capacity"] = vals["Utilized capacity"]
        vals["Max utilized Repr format storage capacity"] = "0"
        for plural in ("reads", "fills", "updates"):
            n = vals[f"Scalar {plural} (per-instance)"]
            vals[f"Algorithmic scalar {plural} (per-instance)"] = vals[f"Actual scalar {plural} (per-instance)"] = n
            for label in ("Gated", "Skipped"):
                vals[f"{label} scalar {plural} (per-instance)"] = "0"
            for label in ("Actual", "Gated", "Skipped"):
                vals[f"{label} scalar format {plural} (per-instance)"] = "0"
