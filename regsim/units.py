"""Units in scenario files: sizes, rates, durations and percentages written as strings.

    sizes      900MB  4MiB  1.5GB  512B  3 GiB  4Gi           -> bytes (int; decimal SI and binary IEC)
    rates      1Gbps  10Gb/s  10Mbit/s                         -> bytes per second (float), from bits
               300MB/s  100MBps  2.5GiB/s                      -> bytes per second (float), from bytes
    durations  50us  3ms  2.5s  5m  2h  1d  1h30m             -> seconds (float)
    fractions  2%  0.02                                        -> a fraction (float)

The rule, as in SI and IEC usage: a lower-case ``b`` is a bit and a capital ``B`` a byte, so
``Gbps``, ``Gb/s`` and ``Gbit/s`` are gigabits per second and ``GB/s`` and ``GBps`` gigabytes per
second (8 times as much). Prefixes (``k M G T P``, ``Ki Mi Gi Ti Pi``) are read in either case:
only the ``b`` carries meaning. A unit in capitals after the prefix (``10GBPS``, ``10GB/S``) has
lost that case, so it is refused as ambiguous rather than guessed; so is a size in bits
(``100Mb`` for a layer), with the byte spelling suggested. A bare number is taken in the base
unit (bytes, bytes/s, seconds). Every parser raises :class:`UnitError` with the offending text
and the accepted forms, which the scenario loader turns into "file, key, expected" messages.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from regsim.errors import UserError

#: multipliers of the unit prefixes, keyed in lower case (prefixes are read in either case).
PREFIXES = {
    "": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15,
    "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "pi": 2**50,
}
#: bytes in each byte unit, keyed by its lower-cased spelling (for formatters; :func:`parse_size`
#: decides which spellings are accepted: ``kB`` and ``KB`` are, ``kb`` -- kilobits -- is not).
SIZE_UNITS = {**{p + "b": f for p, f in PREFIXES.items()}, **{p: f for p, f in PREFIXES.items() if p}}
#: bits per second in each bit-rate unit, keyed by its lower-cased spelling.
BIT_RATE_UNITS = {p + suffix: f for p, f in PREFIXES.items() for suffix in ("bps", "bit/s", "b/s")}
TIME_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0,
    "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 365.25 * 86400.0,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/%]*)\s*$")
_COMPOUND_TIME = re.compile(rf"({_NUMBER})\s*([a-zµ]+)")
_PREFIXED = re.compile(r"^((?:[kmgtp]i?)?)(.*)$", re.IGNORECASE)
_SIZE_FORMS = "B, kB/KB, MB, GB, TB, KiB, MiB, GiB, TiB"
_RATE_FORMS = ("bits: bps, Kbps, Mbps, Gbps (or Gb/s, Gbit/s); bytes: B/s, MB/s, GB/s, GiB/s (or MBps) -- "
               "lower-case b is bits, capital B bytes")


class UnitError(UserError, ValueError):
    """A quantity that could not be parsed; the message says what was expected."""


def _split(text: object, what: str, examples: str) -> tuple[Fraction, str, str]:
    """The number (exact, so '4611686019GB' stays an exact integer of bytes), its text and the unit text."""
    if isinstance(text, bool):
        raise UnitError(f"expected {what} such as {examples}, got {text!r}")
    if isinstance(text, (int, float)):
        if not math.isfinite(text):
            raise UnitError(f"expected a finite {what}, got {text!r}")
        return Fraction(text), repr(text), ""
    if not isinstance(text, str):
        raise UnitError(f"expected {what} such as {examples}, got {type(text).__name__} {text!r}")
    m = _QUANTITY.match(text)
    if not m:
        raise UnitError(f"expected {what} such as {examples}, got {text!r}")
    value = Fraction(m.group(1))
    if abs(value) > 10**30:
        raise UnitError(f"expected a finite {what}, got {text!r}")
    return value, m.group(1), m.group(2)


def _non_negative(value: Fraction, text: object, what: str) -> Fraction:
    if value < 0:
        raise UnitError(f"{what} cannot be negative, got {text!r}")
    return value


def _prefixed(unit: str) -> tuple[str, int, str]:
    """``'MiB/s'`` -> ``('Mi', 1048576, 'B/s')``: the prefix as written, its multiplier, the rest."""
    m = _PREFIXED.match(unit)
    assert m is not None  # the pattern matches every string
    prefix, rest = m.group(1), m.group(2)
    return prefix, PREFIXES[prefix.lower()], rest


def _spelled(prefix: str) -> str:
    """The usual spelling of a prefix for a suggestion: ``m`` -> ``M``, ``gi`` -> ``Gi`` (``k`` stays as written)."""
    return prefix if prefix.lower() == "k" else prefix[:1].upper() + prefix[1:].lower()


def parse_size(text: object) -> int:
    """Bytes, e.g. ``'900MB'`` -> 900_000_000, ``'4MiB'`` -> 4_194_304; sizes in bits are refused."""
    value, number, unit = _split(text, "a size", "'900MB', '4MiB', '512B'")
    prefix, factor, rest = _prefixed(unit)
    if rest in ("", "B") or rest.lower() in ("byte", "bytes"):
        return int(round(_non_negative(value, text, "a size") * factor))
    if rest == "b" or rest.lower() in ("bit", "bits"):
        raise UnitError(f"{text!r} is in bits (lower-case b); a size is in bytes: write "
                        f"'{number}{_spelled(prefix)}B' (capital B)")
    if rest.lower() in ("bps", "b/s", "bit/s", "bits/s"):
        raise UnitError(f"{text!r} is a rate; a size is in bytes, such as '{number}{_spelled(prefix)}B'")
    raise UnitError(f"unknown size unit {unit!r} in {text!r}: use {_SIZE_FORMS}")


def parse_rate(text: object) -> float:
    """Bytes per second, e.g. ``'1Gbps'`` and ``'1Gb/s'`` -> 125e6, ``'300MB/s'`` -> 300e6."""
    value, number, unit = _split(text, "a rate", "'1Gbps', '300MB/s', '10Mbit/s'")
    _non_negative(value, text, "a rate")
    if not unit:
        return float(value)
    prefix, factor, rest = _prefixed(unit)
    if rest in ("bps", "b/s") or rest.lower() in ("bit/s", "bits/s"):
        return float(value * factor / 8)
    if rest in ("Bps", "B/s") or rest.lower() in ("byte/s", "bytes/s"):
        return float(value * factor)
    if rest.lower() in ("bps", "b/s"):
        bits, octets = f"{number}{_spelled(prefix)}bps", f"{number}{_spelled(prefix)}B/s"
        raise UnitError(f"ambiguous rate unit {unit!r} in {text!r}: written in capitals it could be bits or bytes; "
                        f"write {bits!r} for bits per second or {octets!r} for bytes per second "
                        "(lower-case b is bits, capital B bytes)")
    if rest in ("b", "B") or rest.lower() in ("bit", "bits", "byte", "bytes"):
        spelled = f"{number}{_spelled(prefix)}{rest}"
        raise UnitError(f"{text!r} is a size, not a rate: add per second, such as '{spelled}ps' or '{spelled}/s'")
    raise UnitError(f"unknown rate unit {unit!r} in {text!r}: use {_RATE_FORMS}")


def parse_duration(text: object) -> float:
    """Seconds, e.g. ``'50us'`` -> 5e-05, ``'5m'`` -> 300, ``'1h30m'`` -> 5400."""
    if isinstance(text, str):
        compact = text.replace(" ", "").lower()
        parts = _COMPOUND_TIME.findall(compact)
        if len(parts) > 1 and "".join(n + u for n, u in parts) == compact:
            return sum(parse_duration(n + u) for n, u in parts)
    value, _, unit = _split(text, "a duration", "'50us', '3ms', '2.5s', '5m', '2h'")
    factor = TIME_UNITS.get(unit.lower() if unit else "s")
    if factor is None:
        raise UnitError(f"unknown time unit {unit!r} in {text!r}: use ns, us, ms, s, m, h, d")
    return float(_non_negative(value, text, "a duration")) * factor


def parse_fraction(text: object) -> float:
    """A fraction, e.g. ``'2%'`` -> 0.02, ``0.5`` -> 0.5."""
    value, _, unit = _split(text, "a fraction", "'2%', '0.5'")
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
    """A short human form in bits per second (``'1Gbps'``; the inverse of :func:`parse_rate` up to rounding)."""
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
