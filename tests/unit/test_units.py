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
    assert units.parse_bandwidth_words("16 words/cycle", 8) == 16
    assert units.parse_bandwidth_words("64 bits/cycle", 16) == 4
    assert units.parse_bandwidth_words("48 B/cycle", 8) == 48
    with pytest.raises(ValueError, match="missing unit"):
        units.parse_bandwidth_words(16, 8)
