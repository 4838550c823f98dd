import math

import pytest
from hypothesis import given
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
     (1024, 1024), ("0", 0), ("2kb", 2000)],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("1Gbps", 125e6), ("300MB/s", 300e6), ("10Mbit/s", 1.25e6), ("2GiB/s", 2 * 2**30), ("100MBps", 100e6), (5.0, 5.0)],
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
