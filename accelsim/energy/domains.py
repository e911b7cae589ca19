"""What a clock/voltage domain does to energy, and an arch moved to another operating point.

A component in a declared domain (ir/domains.py) is priced at its domain's voltage: dynamic
energy × (V_d / V_nom,d)², leakage × V_d/V_nom,d (× exp((V_d − V_nom,d)/efold) with an e-fold
voltage), the same laws as the core's (energy/model.py). An overhead component in a domain costs
its energy per *domain* cycle, i.e. × f_d / f_core per core cycle. A domain's background power
(DRAM refresh and PHY, an uncore) scales like its leakage and is charged over the runtime.
Without declared domains nothing here changes a number.
"""
from __future__ import annotations

from dataclasses import replace
from math import exp

from ..errors import SpecError
from ..ir.arch import Arch, Domain, Memory, _memory_for_word, min_voltage_v

CORE = "core"


def domain_of(arch: Arch, component: str) -> Domain | None:
    return next((d for d in arch.domains if component in d.members), None)


def _nominal(d: Domain) -> float:
    return d.nominal_voltage_v  # set when the arch is built: the given nominal, else the declared voltage


def domain_leakage_scale(d: Domain) -> float:
    v, v_nom = d.voltage_v, _nominal(d)
    scale = v / v_nom
    if d.leakage_efold_v:
        scale *= exp((v - v_nom) / d.leakage_efold_v)
    return scale


def supply_scales(arch: Arch, component: str, default: tuple[float, float]) -> tuple[float, float]:
    """(dynamic scale, leakage scale) of a component: its domain's, or `default` (the core's, or
    the fixed nominal supply an undeclared off-chip memory keeps)."""
    d = domain_of(arch, component)
    if d is None:
        return default
    return (d.voltage_v / _nominal(d)) ** 2, domain_leakage_scale(d)


def cycles_per_core_cycle(arch: Arch, component: str) -> float:
    """Clock ticks of a component's domain per core clock tick (1 in the core domain)."""
    d = domain_of(arch, component)
    return 1.0 if d is None else d.frequency_hz / arch.frequency_hz


def background_name(d: Domain) -> str:
    return f"{d.name} background"


def background_pj(arch: Arch, runtime_s: float) -> dict:
    """Each domain's background energy over `runtime_s` (only domains that draw any)."""
    return {background_name(d): d.background_power_w * domain_leakage_scale(d) * runtime_s * 1e12
            for d in arch.domains if d.background_power_w}


def off_chip_backgrounds(arch: Arch) -> set:
    """Background terms of domains that supply an off-chip memory: outside the chip boundary."""
    drams = {l.name for l in arch.levels if isinstance(l, Memory) and l.kind == "dram"}
    return {background_name(d) for d in arch.domains if d.background_power_w and d.members & drams}


# ----------------------------------------------------------------------------- operating points

def domain_names(arch: Arch) -> tuple:
    return (CORE,) + tuple(d.name for d in arch.domains)


def vf_table(arch: Arch, domain: str) -> tuple:
    return arch.vf_table if domain == CORE else _domain(arch, domain).vf_table


def frequency_range_hz(arch: Arch, domain: str) -> tuple[float, float]:
    """The clocks a domain can run: from its min_frequency (else its table's first) to its table's
    highest; a SpecError for a domain without a V–f table (a fixed point)."""
    table = vf_table(arch, domain)
    if not table:
        sweepable = [n for n in domain_names(arch) if vf_table(arch, n)]
        hint = (f"sweep one of: {', '.join(sweepable)}" if sweepable else
                "give it a voltage_frequency table (f_max vs V) to sweep it")
        raise SpecError(f"domain '{domain}' of arch '{arch.name}' has no voltage_frequency table: its "
                        f"operating point is fixed; {hint}")
    low = arch.min_frequency_hz if domain == CORE else _domain(arch, domain).min_frequency_hz
    return (low or table[0][1]), table[-1][1]


def at_frequency(arch: Arch, domain: str, frequency_hz: float) -> Arch:
    """The arch with `domain` clocked at `frequency_hz` and supplied at the lowest voltage whose
    f_max reaches it (the V–f table's floor below its first point). Bandwidths are re-derived:
    B/s stay fixed, per-cycle ones follow their own domain's clock."""
    voltage = min_voltage_v(vf_table(arch, domain), frequency_hz)
    if domain == CORE:
        moved = replace(arch, voltage_v=voltage, frequency_hz=frequency_hz)
    else:
        d = replace(_domain(arch, domain), voltage_v=voltage, frequency_hz=frequency_hz)
        moved = replace(arch, domains=tuple(d if x.name == domain else x for x in arch.domains))
    clocks = {m: d.frequency_hz for d in moved.domains for m in d.members}
    levels = tuple(_memory_for_word(replace(l, clock_hz=clocks.get(l.name)), l.word_bits, moved.frequency_hz)
                   if isinstance(l, Memory) else l for l in moved.levels)
    return replace(moved, levels=levels)


def voltage_of(arch: Arch, domain: str) -> float:
    return arch.voltage_v if domain == CORE else _domain(arch, domain).voltage_v


def frequency_of(arch: Arch, domain: str) -> float:
    return arch.frequency_hz if domain == CORE else _domain(arch, domain).frequency_hz


def _domain(arch: Arch, name: str) -> Domain:
    for d in arch.domains:
        if d.name == name:
            return d
    raise SpecError(f"arch '{arch.name}' has no domain '{name}'; its domains: {', '.join(domain_names(arch))}")
