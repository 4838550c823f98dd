"""Where a node's lazy client gets pieces: the registry (Range GETs), or peers that hold them.

:class:`RegistrySource` is one Range GET per run of contiguous pieces of a blob: the node's round
trip to a frontend, the real authorisation check, then the registry's work for those bytes (the
blob's read receipt scaled to the range, :meth:`~regsim.models.core.work.RegistryWork.range_items`)
served while the bytes stream to the node. :class:`PeerScheduler` is a Dragonfly-like scheduler
in front of it (``distribution.strategy: p2p-scheduler``): it knows which node holds which piece
and which node is fetching which piece from the registry; a node asks it for each missing piece
and is sent to a random holder, or told to wait for the node already fetching the piece, or
(nobody has it) sent back to the registry -- so each piece leaves the registry about once, and
later nodes read it from peers (Dragonfly with Nydus, DADI with its P2P layer).
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from regsim.models.core.replay import Replay
from regsim.models.core.work import RegistryWork, on_frontend
from regsim.models.core.world import World

from .image import StartupImage


#: a token response's and a manifest's size on the wire (small: each costs a round trip)
TOKEN_BYTES = 1024
MANIFEST_BYTES = 2048


class Counters:
    """What the sources served, over the run."""

    def __init__(self) -> None:
        self.registry_requests = 0
        self.registry_egress_bytes = 0
        self.peer_requests = 0
        self.peer_bytes = 0


class RegistrySource:
    """Range GETs to the registry's frontends, priced by the real registry's receipts."""

    def __init__(self, world: World, work: RegistryWork, image: StartupImage, counters: Counters) -> None:
        self.world, self.work, self.image, self.counters = world, work, image, counters
        self.replay = Replay(world)
        self._creds: dict[str, object] = {}

    def frontend(self, node_index: int) -> str:
        return self.world.frontends[node_index % len(self.world.frontends)]

    def login(self, node: str, fe: str) -> Generator[simpy.Event, object, None]:
        creds, receipt = self.work.login(node)
        self._creds[node] = creds
        self.counters.registry_requests += 1
        yield from self.replay.request(node, fe, receipt)
        yield self.world.net.transfer(fe, node, TOKEN_BYTES, tag="egress")  # the token comes back

    def manifest(self, node: str, fe: str) -> Generator[simpy.Event, object, None]:
        """The manifest GET (and, for SOCI, each index request: a manifest-sized document)."""
        self.counters.registry_requests += 1
        receipt = self.work.authorize(self._creds.get(node))
        yield from self.replay.request(node, fe, list(receipt) + list(self.work.manifest_pull()))
        yield self.world.net.transfer(fe, node, MANIFEST_BYTES, tag="egress")

    def get(self, node: str, fe: str, blob: int, offset: int, length: int) -> Generator[simpy.Event, object, None]:
        """A Range GET of ``length`` bytes of ``blob``: round trip, auth, then the bytes as the registry reads them."""
        self.counters.registry_requests += 1
        self.counters.registry_egress_bytes += length
        yield from self.replay.request(node, fe, self.work.authorize(self._creds.get(node)))
        items = self.work.range_items(blob, length, fe)
        yield from self.replay.stream(items, fe, node, length, tag="egress")


def runs(image: StartupImage, pieces: list[int], max_bytes: int | None = None) -> list[list[int]]:
    """``pieces`` (sorted, unique) cut into runs of consecutive pieces of one blob: one request
    each (at most ``max_bytes`` a run, when given)."""
    out: list[list[int]] = []
    for p in pieces:
        if out and p == out[-1][-1] + 1 and image.piece_blob[p] == image.piece_blob[out[-1][-1]] \
                and (max_bytes is None or sum(int(image.piece_length[q]) for q in out[-1]) < max_bytes):
            out[-1].append(p)
        else:
            out.append([p])
    return out


class _Signals:
    """One event per key for "the next time this happens": waiters share it, firing replaces it."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._events: dict[object, simpy.Event] = {}

    def next(self, key: object) -> simpy.Event:
        ev = self._events.get(key)
        if ev is None:
            ev = self._events[key] = self.env.event()
        return ev

    def fire(self, key: object) -> None:
        ev = self._events.pop(key, None)
        if ev is not None:
            ev.succeed()


class PeerScheduler:
    """Who holds which piece, who is fetching which from the registry, and who is uploading how
    much (see the module docstring).

    A node uploads to at most ``upload_slots`` peers at once (``distribution.p2p.upload_slots``):
    the scheduler sends a request to the holder with the fewest uploads under way (ties broken at
    random). When every holder is busy, a node waits for the first of them to end an upload, or
    for a node to receive the piece (a new holder); a piece nobody holds waits for the node
    fetching it from the registry; a piece nobody holds or fetches comes from the registry, and so
    does one no peer could send within the time the registry would take (a round trip and the
    piece at the node's link rate) after finding every holder busy or the registry fetch it would
    wait for still queued, or twice that from the start of that fetch: a node is patient only as
    long as peers are likely the faster path.
    """

    def __init__(self, env: simpy.Environment, pieces: int, rng: np.random.Generator, upload_slots: int) -> None:
        self.env = env
        self.holders: list[list[str]] = [[] for _ in range(pieces)]
        #: piece -> (node, event) of the registry fetch under way
        self.from_source: dict[int, tuple[str, simpy.Event]] = {}
        self.uploads: dict[str, int] = {}
        #: piece -> transfers of it between nodes under way
        self.moving: dict[int, int] = {}
        #: piece -> when its registry fetch under way began (it may wait for a connection first)
        self.started: dict[int, float] = {}
        self._changed = _Signals(env)
        self._freed = _Signals(env)
        self.upload_slots = upload_slots
        self.rng = rng

    def changed(self, piece: int) -> simpy.Event:
        """An event that fires at the piece's next change (an upload of it ends, a node receives it)."""
        return self._changed.next(piece)

    def freed(self, node: str) -> simpy.Event:
        """An event that fires when ``node`` next ends an upload (a slot frees)."""
        return self._freed.next(node)

    def under_way(self, piece: int) -> bool:
        """Some node is receiving the piece (from a peer or the registry)."""
        return self.moving.get(piece, 0) > 0 or piece in self.from_source

    def holder(self, piece: int, asking: str) -> str | None:
        """A holder of ``piece`` with a free upload slot (the least busy), or None."""
        hs = [h for h in self.holders[piece] if h != asking]
        if not hs:
            return None
        start = int(self.rng.integers(len(hs)))
        best = min((hs[(start + k) % len(hs)] for k in range(len(hs))), key=lambda h: self.uploads.get(h, 0))
        return best if self.uploads.get(best, 0) < self.upload_slots else None

    def has_holders(self, piece: int) -> bool:
        return bool(self.holders[piece])

    def upload(self, node: str, piece: int, delta: int) -> None:
        self.uploads[node] = self.uploads.get(node, 0) + delta
        self.moving[piece] = self.moving.get(piece, 0) + delta
        if delta < 0:
            self._changed.fire(piece)
            self._freed.fire(node)

    def arrived(self, node: str, piece: int) -> None:
        self.holders[piece].append(node)
        self.from_source.pop(piece, None)
        self.started.pop(piece, None)
        self._changed.fire(piece)
