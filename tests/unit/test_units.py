import pytest

from accelsim import units


@pytest.mark.parametrize("text,bits", [("64KiB", 64 * 1024 * 8), ("512b", 512), ("100KB", 800_000),
                                       ("2 MiB", 2 * 1024 * 1024 * 8), ("3072b", 3072)])
def test_sizes(text, bits):
    assert units.parse_size_bits(text) == bits


@pytest.mark.parametrize("parse,text,value", [
    (units.parse_frequency_hz, "1GHz", 1e9), (units.parse_frequency_hz, "200 MHz", 2e8),
    (units.parse_voltage_v, "0.8V", 0.8), (units.parse_voltage_v, "460mV", 0.46),
    (units.parse_energy_pj, "2.1pJ", 2.1), (units.parse_energy_pj, "845fJ", 0.845),
    (units.parse_power_w, "0.861uW", 0.861e-6),
])
def test_quantities(parse, text, value):
    assert parse(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", [64, "64", "64 furlongs", "KiB", True])
def test_size_needs_a_known_unit(bad):
    with pytest.raises(ValueError) as exc:
        units.parse_size_bits(bad)
    assert "unit" in str(exc.value) or "size" in str(exc.value)


def test_bandwidth_converts_to_words():
    assert units.parse_bandwidth_words("16 words/cycle", 8, 1e9) == 16
    assert units.parse_bandwidth_words("64 bits/cycle", 16, 1e9) == 4
    assert units.parse_bandwidth_words("48 B/cycle", 8, 1e9) == 48
    with pytest.raises(ValueError, match="missing unit"):
        units.parse_bandwidth_words(16, 8, 1e9)


def test_kb_is_refused_as_ambiguous():
    import pytest
    from accelsim import units
    for text in ("256kb", "256Kb"):
        with pytest.raises(ValueError, match="ambiguous.*KiB \\(1024 bytes\\)"):
            units.parse_size_bits(text)
    assert units.parse_size_bits("256kbit") == 256_000
    assert units.parse_size_bits("256kB") == 256_000 * 8


def test_bandwidth_in_bytes_per_second_follows_the_clock(arch_from_text):
    # 25.6 GB/s of 8-bit words is 25.6 words/cycle at 1 GHz and 51.2 at 500 MHz: the rate per
    # second stays, its words per cycle move with the clock.
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "arch" / "simple_ws.yaml").read_text()
    import re
    arch_text = re.sub(r"read_bandwidth: [^,}\n]+", "read_bandwidth: 25.6 GB/s", text, count=1)
    assert "25.6 GB/s" in arch_text
    fast = arch_from_text(arch_text)
    dram = next(m for m in fast.memories if m.bandwidth_text[0] == "25.6 GB/s")
    assert dram.read_bw_words * dram.word_bits / 8 * fast.frequency_hz == pytest.approx(25.6e9)
    slow = arch_from_text(re.sub(r"frequency: [0-9.]+ ?[MG]Hz", "frequency: 250MHz", arch_text))
    slow_dram = slow.level(dram.name)
    assert slow.frequency_hz < fast.frequency_hz
    assert slow_dram.read_bw_words * slow_dram.word_bits / 8 * slow.frequency_hz == pytest.approx(25.6e9)


def test_bandwidth_units_that_do_not_fit_are_refused():
    from accelsim.spec.quantities import _positive_bandwidth
    for bad in ("16 kB/cycle", "8 words/s", "8 bits/s"):
        with pytest.raises(ValueError, match="per cycle give words"):
            _positive_bandwidth(bad)
