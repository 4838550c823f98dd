"""Field types for scenario quantities: parsed from human strings, written back the same way.

Each type is an ``Annotated`` alias that pydantic validates with a parser from :mod:`regsim.units`
and serialises (in JSON mode) with the shortest human spelling that parses back to *exactly* the
same number -- ``125e6`` bytes/s is written ``1Gbps``, ``4194304`` bytes ``4MiB`` and ``300``
seconds ``5m``. Exactness matters: :func:`regsim.scenario.loader.resolved` writes a scenario out
for every results folder, and reading that file back must give an equal scenario. The formatters
in :mod:`regsim.units` round to four digits for display and cannot serve here.

    Size      int bytes       "900MB", "4MiB", 512
    Rate      float bytes/s   "1Gbps", "300MB/s"        (strictly positive; written in bits/s)
    ByteRate  float bytes/s   the same, written in bytes/s ("500MB/s"): for disks
    Duration  float seconds   "50us", "5m", "2h", "1h30m"
    Fraction  float in [0,1]  "2%", 0.02
    PerSecond float events/s  5000, "5000/s", "300/min", "2k/s"
    Spread    float seconds   "all" (= 0: at once) or a duration to spread starts over
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, Strict

from regsim.units import SIZE_UNITS, TIME_UNITS, UnitError, parse_duration, parse_fraction, parse_rate, parse_size

_SIZE_SUFFIXES = ("TB", "GB", "MB", "KB", "TiB", "GiB", "MiB", "KiB", "B")
_BIT_RATE_SUFFIXES = (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3), ("bps", 1.0))
_TIME_SUFFIXES = ("d", "h", "m", "s", "ms", "us", "ns")
_PER = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PER_SECOND = re.compile(
    r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(k|K|M)?\s*(?:/\s*(s|sec|m|min|h))?\s*$"
)


def _mantissas(x: float) -> Iterable[str]:
    """Decimal spellings of ``x`` from the shortest up (``4``, ``4.2``, ``4.19``...)."""
    for digits in range(0, 13):
        text = f"{round(x, digits):.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        yield "0" if text in ("-0", "") else text
    yield repr(x)


def _best(value: float, parse: Callable[[str], float], candidates: Iterable[tuple[float, str]]) -> str | None:
    """The shortest ``mantissa + suffix`` that ``parse`` maps back to exactly ``value``.

    ``candidates`` are (scale, suffix) pairs; shorter beats longer, then a whole mantissa beats
    a decimal one, then earlier candidates win.
    """
    best: tuple[tuple[int, bool], str] | None = None
    for scale, suffix in candidates:
        scaled = value / scale
        if value and not 1e-3 <= abs(scaled) < 1e7:
            continue  # "0.0000004TB" and "123456789012B" are never the short form
        for mantissa in _mantissas(scaled):
            if abs(float(mantissa) * scale - value) > 1e-9 * abs(value):
                continue  # cheap test before the exact one
            text = mantissa + suffix
            try:
                exact = parse(text) == value
            except UnitError:
                exact = False
            if exact:
                score = (len(text), not _whole(text))
                if best is None or score < best[0]:
                    best = (score, text)
                break
    return None if best is None else best[1]


def _whole(text: str) -> bool:
    """True if the number leading ``text`` is written without a decimal point or exponent."""
    m = re.match(r"[+-]?[\d.eE+-]*", text)
    number = m.group(0) if m else ""
    return "." not in number and "e" not in number.lower()


@lru_cache(maxsize=4096)
def format_size(nbytes: int) -> str:
    """``4194304`` -> ``"4MiB"``; exact, so :func:`parse_size` gives ``nbytes`` back."""
    if nbytes == 0:
        return "0B"
    units = [(float(SIZE_UNITS[s.lower()]), s) for s in _SIZE_SUFFIXES]
    return _best(nbytes, parse_size, units) or f"{nbytes}B"


@lru_cache(maxsize=4096)
def format_rate(bytes_per_s: float, prefer: str = "bits") -> str:
    """``125e6`` -> ``"1Gbps"``, ``300e6`` -> ``"300MB/s"``; exact under :func:`parse_rate`.

    ``prefer`` is the family tried first, ``"bits"`` (network links) or ``"bytes"`` (disks); the
    other family is used when it gives a whole number and the preferred one does not, or when it
    is much shorter (``2GiB/s`` rather than ``17179869184bps``).
    """
    bits = [(f / 8.0, s) for s, f in _BIT_RATE_SUFFIXES]
    octets = [(float(SIZE_UNITS[s.lower()]), s + "/s") for s in _SIZE_SUFFIXES]
    first, second = (bits, octets) if prefer == "bits" else (octets, bits)
    text = _best(bytes_per_s, parse_rate, first)
    other = _best(bytes_per_s, parse_rate, second)
    if text is None or (other is not None and ((_whole(other) and not _whole(text)) or len(other) + 3 < len(text))):
        text = other
    return text or f"{bytes_per_s!r}B/s"


def format_byte_rate(bytes_per_s: float) -> str:
    """As :func:`format_rate`, preferring bytes per second (``"500MB/s"``): the way disks are rated."""
    return format_rate(bytes_per_s, prefer="bytes")


@lru_cache(maxsize=4096)
def format_duration(seconds: float) -> str:
    """``300.0`` -> ``"5m"``, ``5e-05`` -> ``"50us"``; exact under :func:`parse_duration`."""
    if seconds == 0:
        return "0s"
    units = [(TIME_UNITS[s], s) for s in _TIME_SUFFIXES]
    return _best(seconds, parse_duration, units) or f"{seconds!r}s"


@lru_cache(maxsize=4096)
def format_fraction(fraction: float) -> str:
    """``0.02`` -> ``"2%"``; exact under :func:`parse_fraction`."""
    return _best(fraction, parse_fraction, [(0.01, "%")]) or repr(fraction)


def parse_per_second(text: object) -> float:
    """Events per second: ``5000``, ``"5000/s"``, ``"300/min"``, ``"2k/s"``."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise UnitError(f"expected a rate of events such as 5000, '5000/s' or '300/min', got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        m = _PER_SECOND.match(text)
        if not m:
            raise UnitError(f"expected a rate of events such as 5000, '5000/s' or '300/min', got {text!r}")
        factor = {"k": 1e3, "K": 1e3, "M": 1e6, None: 1.0}[m.group(2)]
        value = float(m.group(1)) * factor / _PER[m.group(3) or "s"]
    if not value > 0 or value == float("inf"):
        raise UnitError(f"a rate of events must be a positive finite number, got {text!r}")
    return value


@lru_cache(maxsize=4096)
def format_per_second(per_s: float) -> str:
    """``5000.0`` -> ``"5000/s"``; exact under :func:`parse_per_second`."""
    return _best(per_s, parse_per_second, [(1.0, "/s"), (1 / 60.0, "/min"), (1 / 3600.0, "/h")]) or repr(per_s)


def parse_spread(text: object) -> float:
    """``"all"`` (everyone at once, 0 s) or a duration over which starts are spread."""
    if isinstance(text, str) and text.strip().lower() == "all":
        return 0.0
    try:
        return parse_duration(text)
    except UnitError as exc:
        raise UnitError(f"expected 'all' or a duration such as '5m' to spread over ({exc})") from None


def format_spread(seconds: float) -> str:
    return "all" if seconds == 0 else format_duration(seconds)


def _positive(value: float) -> float:
    if not value > 0:
        raise UnitError("expected a positive rate")
    return value


def _at_most_one(value: float) -> float:
    if value > 1:
        raise UnitError("expected a fraction of at most 1 (100%)")
    return value


def _json(fn: Callable[[float], str]) -> PlainSerializer:
    return PlainSerializer(fn, return_type=str, when_used="json")


Size = Annotated[int, BeforeValidator(parse_size), _json(format_size)]
PositiveSize = Annotated[int, BeforeValidator(parse_size), Field(gt=0), _json(format_size)]
Rate = Annotated[float, BeforeValidator(parse_rate), AfterValidator(_positive), _json(format_rate)]
ByteRate = Annotated[float, BeforeValidator(parse_rate), AfterValidator(_positive), _json(format_byte_rate)]
Duration = Annotated[float, BeforeValidator(parse_duration), _json(format_duration)]
Fraction = Annotated[float, BeforeValidator(parse_fraction), AfterValidator(_at_most_one), _json(format_fraction)]
PerSecond = Annotated[float, BeforeValidator(parse_per_second), _json(format_per_second)]
Spread = Annotated[float, BeforeValidator(parse_spread), _json(format_spread)]

#: whole numbers from YAML integers only: no ``true`` for 1, no ``"3"`` or ``3.0``.
Count = Annotated[int, Strict(), Field(ge=0)]
PositiveCount = Annotated[int, Strict(), Field(ge=1)]
#: a plain multiplier such as a speed-up; ints are welcome, booleans are not.
Factor = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RATIO = re.compile(rf"^\s*({_UNSIGNED})\s*:\s*({_UNSIGNED})\s*$")


def parse_ratio(text: object) -> float:
    """An oversubscription ratio ``"4:1"`` -> 4.0 (a positive ``a:b``)."""
    m = _RATIO.match(text) if isinstance(text, str) else None
    if not m or float(m.group(2)) == 0 or float(m.group(1)) == 0:
        raise UnitError(f"expected a ratio such as '4:1', got {text!r}")
    return float(m.group(1)) / float(m.group(2))


@lru_cache(maxsize=4096)
def format_ratio(ratio: float) -> str:
    """``4.0`` -> ``"4:1"``; exact under :func:`parse_ratio`."""
    return _best(ratio, parse_ratio, [(1.0, ":1")]) or f"{ratio!r}:1"
