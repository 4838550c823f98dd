"""Scenario quantity types: parsed from human strings, written back exactly."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from regsim.spec.quantities import (
    ByteRate,
    Count,
    Duration,
    Fraction,
    PerSecond,
    Rate,
    Size,
    Spread,
    format_byte_rate,
    format_duration,
    format_fraction,
    format_per_second,
    format_rate,
    format_ratio,
    format_size,
    format_spread,
    parse_per_second,
    parse_ratio,
    parse_spread,
)
from regsim.units import UnitError, parse_duration, parse_fraction, parse_rate, parse_size

SIZE_TEXT = st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**6),
                      st.sampled_from(["B", "KB", "MB", "GB", "KiB", "MiB", "GiB", "TB"]))
RATE_TEXT = st.builds(lambda n, u: f"{n}{u}", st.decimals(min_value="0.001", max_value="100000", places=3),
                      st.sampled_from(["bps", "Kbps", "Mbps", "Gbps", "MB/s", "GiB/s", "KB/s", "B/s", "Mbit/s"]))
DURATION_TEXT = st.builds(lambda n, u: f"{n}{u}", st.decimals(min_value="0", max_value="10000", places=2),
                          st.sampled_from(["ns", "us", "ms", "s", "m", "h", "d"]))


@pytest.mark.parametrize("value,text", [
    (0, "0B"), (512, "512B"), (4 * 2**20, "4MiB"), (900_000_000, "900MB"), (1_500_000_000, "1.5GB"),
    (1536, "1536B"), (10**13, "10TB"),
])
def test_sizes_written_short_and_exact(value, text):
    assert format_size(value) == text


@pytest.mark.parametrize("value,bits,octets", [
    (125e6, "1Gbps", "125MB/s"), (300e6, "300MB/s", "300MB/s"), (2 * 2**30, "2GiB/s", "2GiB/s"),
    (1.25e9 / 4, "2.5Gbps", "312.5MB/s"),
])
def test_rates_prefer_bits_for_links_and_bytes_for_disks(value, bits, octets):
    assert format_rate(value) == bits
    assert format_byte_rate(value) == octets


@pytest.mark.parametrize("text,written", [
    ("50us", "50us"), ("3ms", "3ms"), ("2.5s", "2.5s"), ("5m", "5m"), ("2h", "2h"), ("1d", "1d"), ("1h30m", "90m"),
    ("0s", "0s"),
])
def test_durations_written_back(text, written):
    assert format_duration(parse_duration(text)) == written


@pytest.mark.parametrize("text,written", [("2%", "2%"), ("0.5", "50%"), ("0", "0%"), ("2.5%", "2.5%")])
def test_fractions_written_as_percentages(text, written):
    assert format_fraction(parse_fraction(text)) == written


@settings(max_examples=150, deadline=None)
@given(SIZE_TEXT)
def test_size_text_round_trips(text):
    value = parse_size(text)
    assert parse_size(format_size(value)) == value


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**53))  # up to 9 PB
def test_any_size_round_trips(value):
    assert parse_size(format_size(value)) == value


@settings(max_examples=150, deadline=None)
@given(RATE_TEXT)
def test_rate_text_round_trips(text):
    value = parse_rate(text)
    assert parse_rate(format_rate(value)) == value
    assert parse_rate(format_byte_rate(value)) == value


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e15, allow_nan=False))
def test_any_rate_round_trips(value):
    assert parse_rate(format_rate(value)) == value


@settings(max_examples=150, deadline=None)
@given(st.one_of(DURATION_TEXT, st.floats(min_value=0, max_value=1e9).map(str)))
def test_duration_round_trips(text):
    value = parse_duration(text)
    assert parse_duration(format_duration(value)) == value
    assert parse_spread(format_spread(value)) == value


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=0, max_value=1))
def test_fraction_round_trips(value):
    assert parse_fraction(format_fraction(value)) == value


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1e-7, max_value=1e12))
def test_per_second_and_ratio_round_trip(value):
    assert parse_per_second(format_per_second(value)) == value
    assert parse_ratio(format_ratio(value)) == value


@pytest.mark.parametrize("text,value", [(5000, 5000.0), ("5000/s", 5000.0), ("300/min", 5.0), ("2k/s", 2000.0),
                                        ("7200/h", 2.0), ("1.5M/s", 1.5e6)])
def test_per_second_forms(text, value):
    assert parse_per_second(text) == value


@pytest.mark.parametrize("text", ["fast", "0/s", "-3/s", True, "5/fortnight", None])
def test_per_second_rejects(text):
    with pytest.raises(UnitError):
        parse_per_second(text)


@pytest.mark.parametrize("text,value", [("4:1", 4.0), (" 3 : 2 ", 1.5), ("1:1", 1.0)])
def test_ratios(text, value):
    assert parse_ratio(text) == value


@pytest.mark.parametrize("text", ["4:0", "0:1", "4", "a:b", 4, "-4:1"])
def test_bad_ratios(text):
    with pytest.raises(UnitError):
        parse_ratio(text)


def test_spread_all_means_at_once():
    assert parse_spread("all") == 0.0 and parse_spread("ALL") == 0.0
    assert parse_spread("5m") == 300.0
    assert format_spread(0.0) == "all"
    with pytest.raises(UnitError, match="'all' or a duration"):
        parse_spread("soon")


@pytest.mark.parametrize("annotation,good,bad", [
    (Size, "4MiB", "-1MB"), (Rate, "1Gbps", "0Gbps"), (ByteRate, "1GB/s", "fast"), (Duration, "5m", "-5m"),
    (Fraction, "2%", "120%"), (PerSecond, "10/s", "0"), (Spread, "all", "never"), (Count, 3, True),
])
def test_types_validate_and_serialise_in_human_units(annotation, good, bad):
    adapter = TypeAdapter(annotation)
    value = adapter.validate_python(good)
    assert adapter.validate_python(adapter.dump_python(value, mode="json")) == value
    with pytest.raises(ValidationError):
        adapter.validate_python(bad)


def test_count_rejects_strings_floats_and_booleans():
    adapter = TypeAdapter(Count)
    for bad in ("3", 3.0, True, -1):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
