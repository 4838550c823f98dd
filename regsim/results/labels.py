"""How KPIs and swept values are named on a chart: units from a KPI's suffix, numbers from a swept
value's units, and short labels for swept mappings.

A KPI's name carries its unit by convention (``pull_p50_s``, ``stored_bytes``, ``pull_throughput_Bps``),
so a chart can say "pull p50 (ms)" and print bytes as "1.8 GB" without knowing the model. A swept
value is written as in the scenario (``10Gbps``, ``24h``, ``2%``, ``100MB``); read as a number it
can sit on a numeric axis at its true distance from the others. A swept section (``registry.tee``)
is stored as canonical JSON; :func:`compact_labels` names each entry by what sets it apart from
the others (``sgx ws=256MB``) instead of printing the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..units import UnitError, parse_duration, parse_fraction, parse_rate, parse_size

__all__ = ["Quantity", "compact_labels", "quantity", "short_key", "swept_numbers"]


@dataclass(frozen=True)
class Quantity:
    """What a KPI or metric measures: ``text`` for an axis label and ``unit``, one of
    ``s``, ``bytes``, ``bytes/s``, ``requests/s``, ``/s``, ``fraction`` or ``""`` (a plain number)."""

    text: str
    unit: str


#: name suffixes and the unit they mean, longest first so ``_bytes_s`` wins over ``_s``.
_SUFFIXES = (("_bytes_s", "bytes/s"), ("_Bps", "bytes/s"), ("_bytes", "bytes"), ("_rps", "requests/s"),
             ("_per_s", "/s"), ("_utilisation", "fraction"), ("_share", "fraction"), ("_s", "s"))
#: suffixes that are words of the label as well as a unit (``db utilisation (%)``, ``stored bytes``).
_KEEP_WORD = {"_utilisation", "_share", "_bytes"}


def quantity(name: str) -> Quantity:
    """``pull_time_s`` -> ``Quantity("pull time", "s")``; ``stored_bytes`` -> ``("stored", "bytes")``."""
    for suffix, unit in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name if suffix in _KEEP_WORD else name[: -len(suffix)]
            return Quantity(stem.replace("_", " "), unit)
    return Quantity(name.replace("_", " "), "")


def short_key(key: str) -> str:
    """The last part of a swept key, for legends: ``distribution.strategy`` -> ``strategy``."""
    return key.rsplit(".", 1)[-1]


#: parsers tried in turn on swept text values; the first that reads every value decides the unit.
_PARSERS = (("fraction", parse_fraction), ("s", parse_duration), ("bytes/s", parse_rate), ("bytes", parse_size))


def swept_numbers(values: Sequence[Any]) -> tuple[np.ndarray, str] | None:
    """The swept ``values`` as numbers and their unit (``""``, ``fraction``, ``s``, ``bytes/s``, ``bytes``),
    or ``None`` when they are categories (text, mappings, booleans, or units that do not agree).

    ``["10Gbps", "25Gbps"]`` -> ``([1.25e9, 3.125e9], "bytes/s")``; ``["2%", "10%"]`` -> fractions.
    A fraction must be written with ``%``: plain numbers are already numbers.
    """
    if not len(values) or any(isinstance(v, (bool, np.bool_)) or v is None for v in values):
        return None
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        numbers = np.asarray(values, dtype=float)
        return (numbers, "") if np.isfinite(numbers).all() else None
    if not all(isinstance(v, str) for v in values):
        return None
    for unit, parse in _PARSERS:
        if unit == "fraction" and not all(v.strip().endswith("%") for v in values):
            continue
        try:
            numbers = np.asarray([parse(v) for v in values], dtype=float)
        except (UnitError, ValueError, ZeroDivisionError):
            continue
        return numbers, unit
    return None


def _decoded(value: Any) -> Any:
    """A swept mapping or list back from its canonical JSON; anything else as it is."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flat(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


#: fields whose value names the entry by itself: shown bare (``sgx``, not ``kind=sgx``).
_NAMING = {"kind", "mode", "strategy", "name", "type", "algorithm", "method"}


def _abbrev(field: str) -> str:
    """``working_set`` -> ``ws``; ``transition`` stays; a nested ``overrides.copy_rate`` -> ``cr``."""
    last = field.rsplit(".", 1)[-1]
    words = [w for w in last.split("_") if w]
    return "".join(w[0] for w in words) if len(words) > 1 else last


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "+".join(_text(v) for v in value)
    return str(value)


def _mapping_label(entry: dict[str, Any], varying: set[str]) -> str:
    if entry.get("enabled") is False:
        return "off"
    parts, nested = [], {}
    for field, value in _flat(entry).items():
        if field not in varying or field == "enabled":
            continue
        if "." in field:
            head = field.split(".", 1)[0]
            nested[head] = nested.get(head, 0) + 1
        elif field in _NAMING and isinstance(value, str):
            parts.insert(0, value)
        elif isinstance(value, bool):
            parts.append(field if value else f"no {field}")
        else:
            parts.append(f"{_abbrev(field)}={_text(value)}")
    parts += [f"+{n} {head}" for head, n in nested.items()]
    return " ".join(parts) or "default"


def compact_labels(values: Sequence[Any]) -> list[str]:
    """A short label per swept value: mappings by the fields that differ between the entries.

    ``{"enabled": false}`` -> ``off``; ``{"enabled": true, "kind": "sgx", "working_set": "256MB"}``
    -> ``sgx ws=256MB``; a TDX entry with four ``overrides`` -> ``tdx +4 overrides``; a list ->
    ``20MB+30MB``. Labels that would coincide fall back to the full text.
    """
    decoded = [_decoded(v) for v in values]
    mappings = [_flat(v) for v in decoded if isinstance(v, dict)]
    fields = {f for m in mappings for f in m}
    varying = {f for f in fields if len({json.dumps(m.get(f), sort_keys=True, default=str) for m in mappings}) > 1}
    labels = [_mapping_label(v, varying) if isinstance(v, dict) else _text(v) for v in decoded]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [label if seen[label] == 1 or label == str(v) else str(v) for label, v in zip(labels, values)]
