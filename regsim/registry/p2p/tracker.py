"""A Kraken-style tracker: who is in each blob's swarm, handed out as short prioritised peer lists.

Peers announce themselves per blob (saying whether they are complete, and origins say they are
origins) and leave explicitly -- there is no clock here, so no announce TTL; the driver calls
:meth:`Tracker.leave` when its model says a peer's entry would expire. :meth:`Tracker.peers`
answers with at most ``n`` peers in Kraken's "completeness" priority order: peers that completed
the blob first, then origins, then everyone else, randomised within each group by the injected
generator and never including the asker. Each group is a
:class:`~regsim.registry.p2p.pool.RandomPool`, so an answer costs O(n) however large the swarm.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ..digest import Digest
from .errors import P2PError
from .pool import RandomPool

#: group names in handout order.
COMPLETED, ORIGINS, OTHERS = "completed", "origins", "others"
ORDER = (COMPLETED, ORIGINS, OTHERS)


def _key(blob: Hashable) -> Hashable:
    """A digest and its string form name the same swarm."""
    return str(blob) if isinstance(blob, Digest) else blob


#: handout policies: Kraken's ``completeness`` priority (completed peers, then origins, then the
#: rest) and its ``default`` one (every peer the same priority: a uniform sample of the swarm).
POLICIES = ("completeness", "default")


class _Torrent:
    __slots__ = ("groups", "where", "everyone")

    def __init__(self) -> None:
        self.groups: dict[str, RandomPool[Hashable]] = {g: RandomPool() for g in ORDER}
        self.where: dict[Hashable, str] = {}
        self.everyone: RandomPool[Hashable] = RandomPool()


class Tracker:
    """Swarm membership per blob and bounded, prioritised peer handouts."""

    def __init__(self, rng: np.random.Generator, policy: str = "completeness") -> None:
        if policy not in POLICIES:
            raise P2PError(f"peer handout policy {policy!r} is unknown: expected one of {', '.join(POLICIES)}")
        self.rng = rng
        self.policy = policy
        self._torrents: dict[Hashable, _Torrent] = {}

    def announce(self, peer: Hashable, blob: Hashable, *, complete: bool = False, origin: bool = False) -> None:
        """Record that ``peer`` is in ``blob``'s swarm (again), with its current completeness.

        An origin is listed as an origin whatever ``complete`` says, as in Kraken.
        """
        blob = _key(blob)
        torrent = self._torrents.get(blob)
        if torrent is None:
            torrent = self._torrents[blob] = _Torrent()
        group = ORIGINS if origin else COMPLETED if complete else OTHERS
        before = torrent.where.get(peer)
        if before == group:
            return
        if before is not None:
            torrent.groups[before].discard(peer)
        else:
            torrent.everyone.add(peer)
        torrent.groups[group].add(peer)
        torrent.where[peer] = group

    def leave(self, peer: Hashable, blob: Hashable) -> bool:
        """Forget ``peer`` in ``blob``'s swarm; False if it was not there."""
        blob = _key(blob)
        torrent = self._torrents.get(blob)
        if torrent is None:
            return False
        group = torrent.where.pop(peer, None)
        if group is None:
            return False
        torrent.groups[group].discard(peer)
        torrent.everyone.discard(peer)
        if not torrent.where:
            del self._torrents[blob]
        return True

    def peers(self, blob: Hashable, asking_peer: Hashable | None, n: int) -> list[Hashable]:
        """At most ``n`` peers of ``blob``'s swarm: completed, then origins, then the rest
        (``completeness``), or a uniform sample of all of them (``default``)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise P2PError(f"peer handout size must be an integer >= 0, got {n!r}")
        torrent = self._torrents.get(_key(blob))
        if torrent is None:
            return []
        if self.policy == "default":
            return list(torrent.everyone.sample(n, self.rng, exclude=asking_peer))
        out: list[Hashable] = []
        for group in ORDER:
            room = n - len(out)
            if room <= 0:
                break
            out.extend(torrent.groups[group].sample(room, self.rng, exclude=asking_peer))
        return out

    def group_of(self, peer: Hashable, blob: Hashable) -> str | None:
        """``"completed"``, ``"origins"``, ``"others"``, or None when not announced."""
        torrent = self._torrents.get(_key(blob))
        return None if torrent is None else torrent.where.get(peer)

    def count(self, blob: Hashable) -> dict[str, int]:
        """Swarm size per group (what a BitTorrent scrape reports)."""
        torrent = self._torrents.get(_key(blob))
        return {g: 0 if torrent is None else len(torrent.groups[g]) for g in ORDER}

    def __contains__(self, blob: object) -> bool:
        return _key(blob) in self._torrents
