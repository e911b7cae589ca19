"""Clock/voltage domains besides the core's: checked and frozen from the arch spec.

Everything an arch does not put in a declared domain is in the implicit core domain (the arch's
`operating_point` and `voltage_frequency`). A memory in a domain keeps its per-cycle bandwidths
on the domain's clock (`Memory.clock_hz`); one in B/s is fixed whatever any clock does.
"""
from __future__ import annotations

from dataclasses import replace

from .. import units
from ..errors import ProblemList
from .arch import Domain, Memory, _memory_for_word, f_max_hz

CORE = "core"  # the implicit domain's name


def build_domains(spec, levels: list, core_hz: float, problems: ProblemList, line_of) -> tuple[tuple, list]:
    """The frozen domains, and the levels with each domain memory's clock set."""
    memories = {l.name: l for l in levels if isinstance(l, Memory)}
    components = set(memories) | {o.name for o in spec.overhead}
    others = [l.name for l in levels if not isinstance(l, Memory)]
    owner, domains = {}, []
    for i, d in enumerate(spec.domains):
        where = ("domains", i)
        key = f"domains.{i}"
        if d.name == CORE or d.name in [e.name for e in spec.domains[:i]]:
            problems.add(f"domain name '{d.name}' is {'reserved' if d.name == CORE else 'used twice'}",
                         f"{key}.name", line_of(where + ("name",)),
                         suggestion="'core' is the implicit domain of every level not listed; name this one e.g. 'hbm'")
        for j, member in enumerate(d.levels):
            if member in others:
                problems.add(f"'{member}' is a compute or spatial level: it runs on the core clock",
                             f"{key}.levels.{j}", line_of(where + ("levels", j)),
                             allowed=tuple(sorted(components)))
            elif member not in components:
                problems.add(f"unknown level or overhead component '{member}'", f"{key}.levels.{j}",
                             line_of(where + ("levels", j)), allowed=tuple(sorted(components)))
            elif member in owner:
                problems.add(f"'{member}' is already in domain '{owner[member]}'", f"{key}.levels.{j}",
                             line_of(where + ("levels", j)), suggestion="a component has one supply")
            else:
                owner[member] = d.name
        frequency = _domain_frequency(d, key, where, problems, line_of)
        vf = tuple(sorted((p.voltage, p.frequency) for p in d.voltage_frequency.table)) if d.voltage_frequency else ()
        domains.append(Domain(d.name, frozenset(d.levels), d.operating_point.voltage, frequency or core_hz, vf,
                              # energies are given at the nominal voltage, else at the declared operating
                              # point: a fixed reference, so a sweep of the domain's clock scales them
                              d.nominal_voltage or d.operating_point.voltage, d.leakage_voltage_efold,
                              d.background_power,
                              d.voltage_frequency.min_frequency if d.voltage_frequency else None))
    clocks = {m: d.frequency_hz for d in domains for m in d.members}
    levels = [_memory_for_word(replace(l, clock_hz=clocks[l.name]), l.word_bits, core_hz)
              if isinstance(l, Memory) and l.name in clocks else l for l in levels]
    return tuple(domains), levels


def _domain_frequency(d, key: str, where: tuple, problems: ProblemList, line_of) -> float | None:
    """The domain's clock: the given one, within f_max(V) of its table, or f_max(V)."""
    op = d.operating_point
    if d.voltage_frequency is None:
        if op.frequency is None:
            problems.add("a domain without a voltage_frequency table needs a frequency",
                         f"{key}.operating_point.frequency", line_of(where + ("operating_point",)),
                         suggestion="add e.g. frequency: 1.2GHz")
        return op.frequency
    vf = sorted((p.voltage, p.frequency) for p in d.voltage_frequency.table)
    lo, hi = vf[0][0], vf[-1][0]
    if not lo <= op.voltage <= hi:
        problems.add(f"voltage {op.voltage} V is outside the domain's V–f table ({lo}–{hi} V)",
                     f"{key}.operating_point.voltage", line_of(where + ("operating_point", "voltage")),
                     suggestion=f"choose a voltage between {lo} V and {hi} V")
        return None
    fmax = f_max_hz(vf, op.voltage)
    if op.frequency is not None and op.frequency > fmax * (1 + 1e-9):
        problems.add(f"frequency {units.format_si(op.frequency, 'Hz')} exceeds the domain's f_max("
                     f"{op.voltage} V) = {units.format_si(fmax, 'Hz')}", f"{key}.operating_point.frequency",
                     line_of(where + ("operating_point", "frequency")),
                     suggestion="lower the frequency, raise the voltage, or omit frequency to run at f_max")
    return op.frequency or fmax
