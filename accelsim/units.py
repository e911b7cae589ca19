"""Quantities with explicit units: "64KiB", "1GHz", "0.8V", "2.1pJ", "16 words/cycle".

Every parser returns SI base units (bits, Hz, V, pJ for energy since it is our working
unit, W for power, s for time) and raises ValueError with the accepted units listed.
"""
from __future__ import annotations

import re

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_QUANTITY = re.compile(rf"^\s*{_NUMBER}\s*([A-Za-z/%µ]*[2²]?)\s*$")  # a trailing 2: area units (um2)

SIZE_UNITS_BITS = {
    "b": 1, "bit": 1, "bits": 1,
    "B": 8, "byte": 8, "bytes": 8,
    "KiB": 8 * 1024, "MiB": 8 * 1024**2, "GiB": 8 * 1024**3,
    "KB": 8 * 1000, "kB": 8 * 1000, "MB": 8 * 1000**2, "GB": 8 * 1000**3,
    "Kib": 1024, "Mib": 1024**2, "kbit": 1000, "Mbit": 1000**2, "Mb": 1000**2,
}
# Spellings read as bits by some and bytes by others: refused, with what to write instead.
AMBIGUOUS_UNITS = {"kb": "kB (1000 bytes), KiB (1024 bytes) or kbit (1000 bits)",
                   "Kb": "kB (1000 bytes), KiB (1024 bytes) or kbit (1000 bits)"}
FREQUENCY_UNITS_HZ = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
VOLTAGE_UNITS_V = {"V": 1.0, "mV": 1e-3}
ENERGY_UNITS_PJ = {"fJ": 1e-3, "pJ": 1.0, "nJ": 1e3, "uJ": 1e6, "µJ": 1e6, "mJ": 1e9, "J": 1e12}
POWER_UNITS_W = {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "µW": 1e-6, "nW": 1e-9, "pW": 1e-12}
TIME_UNITS_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}
LENGTH_UNITS_NM = {"nm": 1.0}
AREA_UNITS_UM2 = {"um2": 1.0, "µm2": 1.0, "µm²": 1.0, "um²": 1.0, "mm2": 1e6, "mm²": 1e6}
BANDWIDTH_UNITS = ("words/cycle", "bits/cycle", "B/cycle", "B/s", "kB/s", "MB/s", "GB/s", "TB/s")


def _split(text, kind: str, table: dict) -> tuple[float, str]:
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a {kind} string such as '{_example(table)}', got {text!r}")
    if not isinstance(text, str):
        raise ValueError(f"missing unit: write the {kind} with a unit, e.g. "
                         f"'{text}{next(iter(table))}' (units: {', '.join(table)})")
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a {kind}; write e.g. '{_example(table)}'")
    value, unit = float(m.group(1)), m.group(2)
    if unit == "":
        raise ValueError(f"missing unit in {text!r}; allowed units: {', '.join(table)}")
    if unit in AMBIGUOUS_UNITS and table is SIZE_UNITS_BITS:
        raise ValueError(f"{unit!r} in {text!r} is ambiguous (bits or bytes?): write "
                         f"{AMBIGUOUS_UNITS[unit]}")
    if unit not in table:
        raise ValueError(f"unknown {kind} unit {unit!r} in {text!r}; allowed: {', '.join(table)}")
    return value, unit


def _example(table: dict) -> str:
    return "1" + next(iter(k for k in table if len(k) > 1), next(iter(table)))


def _parse(text, kind: str, table: dict) -> float:
    value, unit = _split(text, kind, table)
    return value * table[unit]


def parse_size_bits(text) -> int:
    bits = _parse(text, "size", SIZE_UNITS_BITS)
    if bits != int(bits):
        raise ValueError(f"size {text!r} is not a whole number of bits")
    return int(bits)


def parse_frequency_hz(text) -> float:
    return _parse(text, "frequency", FREQUENCY_UNITS_HZ)


def parse_voltage_v(text) -> float:
    return _parse(text, "voltage", VOLTAGE_UNITS_V)


def parse_energy_pj(text) -> float:
    return _parse(text, "energy", ENERGY_UNITS_PJ)


def parse_power_w(text) -> float:
    return _parse(text, "power", POWER_UNITS_W)


def parse_time_s(text) -> float:
    return _parse(text, "time", TIME_UNITS_S)


def parse_node_nm(text) -> float:
    return _parse(text, "technology node", LENGTH_UNITS_NM)


def parse_area_um2(text) -> float:
    return _parse(text, "area", AREA_UNITS_UM2)


_BANDWIDTH = re.compile(rf"^\s*{_NUMBER}\s*(words|bits|B|kB|MB|GB|TB)\s*/\s*(cycle|s)\s*$")
BYTES_PER_S = {"B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}  # decimal, as memory vendors quote


def parse_bandwidth_words(text, word_bits: int, frequency_hz: float) -> float:
    """Bandwidth in words per cycle, from 'N words/cycle', 'N bits/cycle', 'N B/cycle', or bytes per
    second ('N GB/s', decimal prefixes), converted at the operating frequency: a rate in B/s stays
    the same when the clock moves, its words per cycle do not."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"missing unit: write bandwidth as e.g. '{text} words/cycle' "
                         f"(units: {', '.join(BANDWIDTH_UNITS)})")
    m = _BANDWIDTH.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a bandwidth; allowed units: "
                         f"{', '.join(BANDWIDTH_UNITS)}")
    value, unit, per = float(m.group(1)), m.group(2), m.group(3)
    if per == "s":
        if unit not in BYTES_PER_S:
            raise ValueError(f"{text!r}: a bandwidth per second is in bytes: B/s, kB/s, MB/s, GB/s or TB/s")
        return value * BYTES_PER_S[unit] * 8.0 / word_bits / frequency_hz
    if unit not in ("words", "bits", "B"):
        raise ValueError(f"{text!r}: per cycle, give words, bits or B (or a rate such as '8 GB/s')")
    per_word = {"words": 1.0, "bits": 1.0 / word_bits, "B": 8.0 / word_bits}[unit]
    return value * per_word


def format_si(value: float, unit: str, digits: int = 3) -> str:
    """Human-readable engineering notation: 1.23e-9 s → '1.23 ns'."""
    prefixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""), (1e-3, "m"),
                (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"
