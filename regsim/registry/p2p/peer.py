"""What every swarm member offers, and the request that moves one piece between two of them.

A swarm holds two kinds of member: downloading peers (:class:`~regsim.registry.p2p.agent.Agent`)
and seeders (an :class:`~regsim.registry.p2p.origin.Origin`'s per-blob
:class:`~regsim.registry.p2p.origin.Seed`). Both satisfy :class:`Member`, so a downloader, the
tracker and the scheduler treat them alike except where Kraken and Dragonfly themselves tell them
apart (``is_origin``).

Upload capacity is an :class:`UploadSlots` object rather than a number on the member, so that
the members one host runs for several blobs (layers of one image) can share one host-wide limit.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from .errors import P2PError


class UploadSlots:
    """A host's concurrent-upload limit: at most ``limit`` pieces in flight out of it at once."""

    __slots__ = ("limit", "used", "owner")

    def __init__(self, limit: int, owner: object = None) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise P2PError(f"upload slots of {owner or 'a peer'}: expected an integer >= 1, got {limit!r}")
        self.limit = limit
        self.used = 0
        self.owner = owner

    @property
    def free(self) -> int:
        return self.limit - self.used

    def acquire(self) -> None:
        if self.used >= self.limit:
            raise P2PError(f"{self.owner or 'peer'} has no free upload slot (all {self.limit} in use)")
        self.used += 1

    def release(self) -> None:
        if self.used <= 0:
            raise P2PError(f"{self.owner or 'peer'} released an upload slot it had not taken")
        self.used -= 1

    def __repr__(self) -> str:
        return f"UploadSlots({self.used}/{self.limit} used, owner={self.owner!r})"


@runtime_checkable
class Member(Protocol):
    """A swarm member as seen by the peers that download from it."""

    peer_id: Hashable
    is_origin: bool
    #: bool array over pieces: what the member holds (read it, never write it).
    have: np.ndarray
    #: how many pieces it holds (``have.sum()``, kept without recounting).
    held: int
    slots: UploadSlots
    uploaded_pieces: int
    uploaded_bytes: int

    def read_piece(self, index: int) -> memoryview:
        """The bytes of a held piece (real data plane only)."""
        ...


class Request(NamedTuple):
    """Fetch ``piece`` from ``source``; ``source is None`` means back-to-source (the registry).

    A request holds one upload slot of its source (or one back-to-source mark in the swarm) from
    the moment it is issued until the downloader's ``on_piece`` or ``on_failed``.
    """

    piece: int
    source: Member | None

    @property
    def back_to_source(self) -> bool:
        return self.source is None

    @property
    def source_id(self) -> Hashable | None:
        return None if self.source is None else self.source.peer_id
