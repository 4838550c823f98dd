"""A transfer as the caller sees it, and the path it takes as the sharing model sees it."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Path:
    """What the sharing model makes of a route: the links a flow on it loads (the route, then
    the reverse path when acknowledgements load it), the load per unit of rate on each, the
    flow's weight, and the highest level (rate per unit of weight) its window allows."""

    links: tuple[int, ...]
    coefs: tuple[float, ...]
    weight: float
    level_cap: float


class Transfer:
    """One transfer a caller asked for, and when it was requested, started and finished.

    ``started`` is when its first byte entered the network (after the path latency, and after
    a coalescing window if any); ``finished`` when its last byte arrived. Seconds, simulated.
    """

    __slots__ = ("src", "dst", "nbytes", "tag", "route", "latency", "requested", "started",
                 "finished", "klass", "key", "_event")

    def __init__(self, src: str, dst: str, nbytes: float, tag: Hashable, route: tuple[int, ...],
                 latency: float, requested: float, klass: str | None = None) -> None:
        self.src, self.dst, self.nbytes, self.tag = src, dst, nbytes, tag
        self.route, self.latency, self.requested = route, latency, requested
        #: its traffic class (None: the default class, weight 1), and what flows share an entry by
        self.klass = klass
        self.key: Hashable = route if klass is None else (route, klass)
        self.started: float | None = None
        self.finished: float | None = None
        self._event = None

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else self.finished - self.requested

    def __repr__(self) -> str:
        return (f"Transfer({self.src}->{self.dst} {self.nbytes:g} B tag={self.tag!r} "
                f"requested={self.requested:g} finished={self.finished})")
