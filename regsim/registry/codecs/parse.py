"""Codec specs as scenarios and configs spell them: ``replicate(3)``, ``rs(4,2)``, ``rs(10,4)``.

Parsing is forgiving about case and blanks (``RS(10, 4)``) and strict about everything else; the
canonical spelling is the codec's ``name``, which is what results and fragment headers carry.
"""

from __future__ import annotations

import re

from ..errors import ConfigError
from .base import Codec
from .reed_solomon import ReedSolomon
from .replicate import Replicate

_SPEC = re.compile(r"\s*(?P<kind>[a-z_]+)\s*\(\s*(?P<args>[^()]*?)\s*\)\s*", re.IGNORECASE)
_INT = re.compile(r"[+-]?\d+")
_FORMS = "expected 'replicate(n)' or 'rs(k,m)', e.g. 'replicate(3)' or 'rs(4,2)'"


def parse_codec(spec: str) -> Codec:
    """The codec named by ``spec``; raises :class:`ConfigError` saying what is wrong with it."""
    if not isinstance(spec, str):
        raise ConfigError(f"codec spec must be a string, got {type(spec).__name__}: {_FORMS}")
    match = _SPEC.fullmatch(spec)
    if not match:
        raise ConfigError(f"unrecognised codec spec {spec!r}: {_FORMS}")
    kind = match["kind"].lower()
    raw = [a.strip() for a in match["args"].split(",")] if match["args"] else []
    bad = [a for a in raw if not _INT.fullmatch(a)]
    if bad:
        raise ConfigError(f"codec spec {spec!r}: {bad[0]!r} is not an integer; {_FORMS}")
    args = [int(a) for a in raw]
    if kind in ("replicate", "replication"):
        if len(args) != 1:
            raise ConfigError(f"codec spec {spec!r}: replicate takes one argument, the number of copies")
        return Replicate(args[0])
    if kind in ("rs", "reed_solomon"):
        if len(args) != 2:
            raise ConfigError(f"codec spec {spec!r}: rs takes two arguments, data and parity fragments (k,m)")
        return ReedSolomon(*args)
    raise ConfigError(f"unknown codec {match['kind']!r} in {spec!r}: {_FORMS}")
