"""Units in scenario files: sizes, rates, durations and percentages written as strings.

    sizes      900MB  4MiB  1.5GB  512B  3 GiB        -> bytes (int; decimal SI and binary IEC)
    rates      1Gbps  300MB/s  10Mbit/s  2.5GiB/s     -> bytes per second (float; "bps" is bits)
    durations  50us  3ms  2.5s  5m  2h  1d  1h30m     -> seconds (float)
    fractions  2%  0.02                                 -> a fraction (float)

A bare number is taken in the base unit (bytes, bytes/s, seconds). Every parser raises
:class:`UnitError` with the offending text and the accepted forms, which the scenario loader turns
into "file, key, expected" messages.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}
#: bit rates, in bits per second (divided by 8 to give bytes/s)
BIT_RATE_UNITS = {
    "bps": 1, "kbps": 10**3, "mbps": 10**6, "gbps": 10**9, "tbps": 10**12,
    "bit/s": 1, "kbit/s": 10**3, "mbit/s": 10**6, "gbit/s": 10**9, "tbit/s": 10**12,
}
TIME_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0,
    "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365.25 * 86400.0,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/%]*)\s*$")
_COMPOUND_TIME = re.compile(rf"({_NUMBER})\s*([a-zµ]+)")


class UnitError(ValueError):
    """A quantity that could not be parsed; the message says what was expected."""


def _split(text: object, what: str, examples: str) -> tuple[Fraction, str]:
    """The number (exact, so '4611686019GB' stays an exact integer of bytes) and the unit text."""
    if isinstance(text, bool):
        raise UnitError(f"expected {what} such as {examples}, got {text!r}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise UnitError(f"expected a finite {what}, got {text!r}")
        return Fraction(text), ""
    if not isinstance(text, str):
        raise UnitError(f"expected {what} such as {examples}, got {type(text).__name__} {text!r}")
    m = _QUANTITY.match(text)
    if not m:
        raise UnitError(f"expected {what} such as {examples}, got {text!r}")
    value = Fraction(m.group(1))
    if abs(value) > 10**30:
        raise UnitError(f"expected a finite {what}, got {text!r}")
    return value, m.group(2)


def _non_negative(value: Fraction, text: object, what: str) -> Fraction:
    if value < 0:
        raise UnitError(f"{what} cannot be negative, got {text!r}")
    return value


def parse_size(text: object) -> int:
    """Bytes, e.g. ``'900MB'`` -> 900_000_000, ``'4MiB'`` -> 4_194_304."""
    value, unit = _split(text, "a size", "'900MB', '4MiB', '512B'")
    factor = SIZE_UNITS.get(unit.lower() if unit else "b")
    if factor is None:
        raise UnitError(f"unknown size unit {unit!r} in {text!r}: use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB")
    return int(round(_non_negative(value, text, "a size") * factor))


def parse_rate(text: object) -> float:
    """Bytes per second, e.g. ``'1Gbps'`` -> 125e6, ``'300MB/s'`` -> 300e6."""
    value, unit = _split(text, "a rate", "'1Gbps', '300MB/s', '10Mbit/s'")
    _non_negative(value, text, "a rate")
    low = unit.lower()
    if not unit:
        return float(value)
    if unit.endswith("Bps") and unit[:-3].lower() + "b" in SIZE_UNITS:  # capital B: "MBps" is bytes
        return float(value * SIZE_UNITS[unit[:-3].lower() + "b"])
    if low in BIT_RATE_UNITS:
        return float(value * BIT_RATE_UNITS[low] / 8)
    if low.endswith("/s") and low[:-2] in SIZE_UNITS:
        return float(value * SIZE_UNITS[low[:-2]])
    raise UnitError(f"unknown rate unit {unit!r} in {text!r}: use bps/Kbps/Mbps/Gbps (bits) or B/s, MB/s, GiB/s")


def parse_duration(text: object) -> float:
    """Seconds, e.g. ``'50us'`` -> 5e-05, ``'5m'`` -> 300, ``'1h30m'`` -> 5400."""
    if isinstance(text, str):
        compact = text.replace(" ", "").lower()
        parts = _COMPOUND_TIME.findall(compact)
        if len(parts) > 1 and "".join(n + u for n, u in parts) == compact:
            return sum(parse_duration(n + u) for n, u in parts)
    value, unit = _split(text, "a duration", "'50us', '3ms', '2.5s', '5m', '2h'")
    factor = TIME_UNITS.get(unit.lower() if unit else "s")
    if factor is None:
        raise UnitError(f"unknown time unit {unit!r} in {text!r}: use ns, us, ms, s, m, h, d")
    return float(_non_negative(value, text, "a duration")) * factor


def parse_fraction(text: object) -> float:
    """A fraction, e.g. ``'2%'`` -> 0.02, ``0.5`` -> 0.5."""
    value, unit = _split(text, "a fraction", "'2%', '0.5'")
    if unit == "%":
        value /= 100
    elif unit:
        raise UnitError(f"unknown unit {unit!r} in {text!r}: a fraction is a plain number or a percentage")
    return float(_non_negative(value, text, "a fraction"))


def format_size(nbytes: float) -> str:
    """A short human form using decimal units (the inverse of :func:`parse_size` up to rounding)."""
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if abs(nbytes) >= factor:
            return f"{nbytes / factor:.4g}{unit}"
    return f"{int(nbytes)}B"


def format_rate(bytes_per_s: float) -> str:
    bits = bytes_per_s * 8
    for unit, factor in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3)):
        if abs(bits) >= factor:
            return f"{bits / factor:.4g}{unit}"
    return f"{bits:.4g}bps"


def format_duration(seconds: float) -> str:
    for unit, factor in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= factor:
            return f"{seconds / factor:.4g}{unit}"
    return f"{seconds * 1e9:.4g}ns" if seconds else "0s"
