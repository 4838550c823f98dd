import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsim.units import (
    UnitError,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    "text,expected",
    [("900MB", 900_000_000), ("4MiB", 4 * 2**20), ("512B", 512), ("1.5GB", 1_500_000_000), ("3 GiB", 3 * 2**30),
     (1024, 1024), ("0", 0), ("2kB", 2000), ("2KB", 2000), ("4Gi", 4 * 2**30), ("100M", 10**8),
     ("7 bytes", 7)],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("1Gbps", 125e6), ("300MB/s", 300e6), ("10Mbit/s", 1.25e6), ("2GiB/s", 2 * 2**30), ("100MBps", 100e6), (5.0, 5.0),
     ("1Gb/s", 125e6), ("1gbps", 125e6), ("100mb/s", 12.5e6), ("100mB/s", 100e6), ("1GB/s", 1e9), ("8Mibps", 2**20),
     ("1 Gbit/s", 125e6), ("2 bits/s", 0.25), ("3 bytes/s", 3.0)],
)
def test_rates(text, expected):
    assert parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text,expected",
    [("50us", 50e-6), ("3ms", 3e-3), ("2.5s", 2.5), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (7, 7)],
)
def test_durations(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


def test_fractions():
    assert parse_fraction("2%") == pytest.approx(0.02)
    assert parse_fraction(0.5) == 0.5


@pytest.mark.parametrize(
    "parser,text,fragment",
    [
        (parse_size, "-5MB", "negative"),
        (parse_size, "5 parsecs", "unknown size unit"),
        (parse_size, "MB", "expected a size"),
        (parse_size, True, "expected a size"),
        (parse_size, [1], "expected a size"),
        (parse_rate, "1Gbp", "unknown rate unit"),
        (parse_duration, "5 fortnights", "unknown time unit"),
        (parse_duration, "-1s", "negative"),
        (parse_fraction, "5MB", "fraction"),
        (parse_size, "nan", "expected a size"),
        (parse_size, "1e999GB", "finite"),
        (parse_size, "100Mb", r"'100Mb' is in bits .*write '100MB'"),
        (parse_size, "4mib", "write '4MiB'"),
        (parse_size, "1Gbps", "is a rate"),
        (parse_rate, "10GBPS", r"ambiguous .* write '10Gbps' for bits per second or '10GB/s' for bytes"),
        (parse_rate, "100MBPS", "ambiguous"),
        (parse_rate, "10GB/S", "ambiguous"),
        (parse_rate, "1GB", r"is a size, not a rate.*'1GBps' or '1GB/s'"),
        (parse_rate, "1Gb", r"'1Gbps' or '1Gb/s'"),
    ],
)
def test_errors_say_what_was_expected(parser, text, fragment):
    with pytest.raises(UnitError, match=fragment):
        parser(text)


finite = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(finite)
def test_size_round_trip(n):
    n = int(n)
    assert parse_size(format_size(n)) == pytest.approx(n, rel=1e-3, abs=1)


@given(finite)
def test_rate_round_trip(r):
    assert parse_rate(format_rate(r)) == pytest.approx(r, rel=1e-3, abs=1e-3)


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_duration_round_trip(s):
    assert parse_duration(format_duration(s)) == pytest.approx(s, rel=1e-3, abs=1e-9)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["B", "KB", "MB", "GB", "KiB", "MiB", "GiB"]))
def test_integer_sizes_exact(n, unit):
    from regsim.units import SIZE_UNITS

    assert parse_size(f"{n}{unit}") == n * SIZE_UNITS[unit.lower()]


@given(st.text(max_size=12))
def test_parsers_only_raise_unit_errors(text):
    for parser in (parse_size, parse_rate, parse_duration, parse_fraction):
        try:
            value = parser(text)
        except UnitError:
            continue
        assert math.isfinite(value) and value >= 0


# -- the bits-and-bytes rule: lower-case b is a bit, capital B a byte; prefixes in either case ----

PREFIX = st.sampled_from(["", "k", "K", "m", "M", "g", "G", "t", "T", "Ki", "ki", "Mi", "MI", "Gi", "gi"])
NUMBER = st.decimals(min_value="0", max_value="100000", places=3).map(str)


@settings(max_examples=60)
@given(NUMBER, PREFIX)
def test_a_byte_rate_is_eight_times_the_bit_rate(n, prefix):
    bits = {parse_rate(f"{n}{prefix}{unit}") for unit in ("bps", "b/s", "bit/s", "Bit/s", "bits/s")}
    octets = {parse_rate(f"{n}{prefix}{unit}") for unit in ("Bps", "B/s", "byte/s")}
    assert len(bits) == 1 and len(octets) == 1
    assert octets.pop() == 8 * bits.pop()


@settings(max_examples=60)
@given(NUMBER, PREFIX)
def test_the_case_of_a_prefix_does_not_change_the_value(n, prefix):
    assert parse_rate(f"{n}{prefix.lower()}bps") == parse_rate(f"{n}{prefix.upper()}bps")
    assert parse_size(f"{n}{prefix.lower()}B") == parse_size(f"{n}{prefix.upper()}B")


@settings(max_examples=60)
@given(NUMBER, PREFIX, st.sampled_from(["BPS", "bPS", "BpS", "BPs", "bPs", "B/S", "b/S"]))
def test_a_unit_whose_case_was_lost_is_refused_not_guessed(n, prefix, unit):
    with pytest.raises(UnitError, match="ambiguous"):
        parse_rate(f"{n}{prefix}{unit}")


@settings(max_examples=60)
@given(NUMBER, PREFIX, st.sampled_from(["b", "bit", "bits"]))
def test_a_size_in_bits_is_refused_with_a_byte_spelling_that_works(n, prefix, unit):
    with pytest.raises(UnitError, match="in bits") as info:
        parse_size(f"{n}{prefix}{unit}")
    suggestion = re.search(r"write '([^']+)'", str(info.value)).group(1)
    assert parse_size(suggestion) == parse_size(f"{n}{prefix}B")


@settings(max_examples=40, deadline=None)  # the first example imports the scenario package
@given(st.floats(min_value=1, max_value=1e13, allow_nan=False))
def test_scenario_formatters_write_rates_that_read_back_exactly(r):
    from regsim.spec.quantities import format_byte_rate
    from regsim.spec.quantities import format_rate as exact_rate

    for text in (exact_rate(r), format_byte_rate(r)):
        assert parse_rate(text) == r, text
