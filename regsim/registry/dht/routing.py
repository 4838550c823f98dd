"""The routing table: one k-bucket per distance range, least-recently-seen eviction, refresh.

Kademlia's table (Maymounkov & Mazieres 2002, sections 2.2 and 4.1) keeps, for every ``i`` in
0..255, a *k-bucket* of up to ``k`` contacts at distance ``[2**i, 2**(i+1))`` from the node. The
libp2p spec (r2) asks exactly that -- "maintain k peers with shared key prefix of length L, for
every L" -- and leaves the data structure free, so the buckets here are indexed directly by
:func:`~regsim.registry.dht.ids.bucket_index` rather than split lazily; the contents are the same.

**Eviction (the paper's rule).** A bucket keeps its contacts in least-recently-seen order. A
contact seen again moves to the tail. A new contact goes in if there is room; if the bucket is full
the table pings the *least*-recently-seen contact (the liveness check is a callable, so the
caller decides what a ping costs): if it answers it moves to the tail and the newcomer is dropped
into the bucket's replacement cache; if not, it is evicted and the newcomer takes its place. Old
contacts are kept because, in Gnutella traces, a node that has been up for long is the likeliest
to stay up; it also means flooding a node with new IDs cannot flush its table. (go-libp2p-kbucket
pings nobody and drops the newcomer unless a peer is "replaceable"; see docs/dht.md.)

**Failures.** A contact that fails an RPC is removed (:meth:`RoutingTable.remove`) and the most
recently seen entry of its bucket's replacement cache (section 4.1) takes its place.

**Refresh.** Each bucket remembers when a lookup last targeted its range; :meth:`refresh_targets`
names a random ID in each bucket not looked up within an interval (the paper's hour; go-libp2p-kad-
dht refreshes every 10 minutes) from the nearest non-empty bucket outwards -- the buckets a node of
a network this size can fill; a lookup of each keeps the table converged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from .clock import Clock
from .contact import Contact
from .ids import ID_BITS, NodeId, bucket_index, random_id_in_bucket, short

#: the replication parameter and bucket size: 20 in the paper's suggestion and the libp2p spec.
DEFAULT_K = 20
#: the paper's bucket refresh interval: a bucket with no lookup in an hour is refreshed.
DEFAULT_REFRESH_INTERVAL_S = 3600.0

#: outcomes of :meth:`RoutingTable.update`.
ADDED, REFRESHED, KEPT, REPLACED, IGNORED = "added", "refreshed", "kept", "replaced", "ignored"


class BucketUpdate(NamedTuple):
    """What :meth:`RoutingTable.update` did with a contact, and whom it pinged to decide.

    ``outcome`` is ``added`` (there was room), ``refreshed`` (already known: moved to the tail),
    ``kept`` (bucket full, the least-recently-seen contact answered the ping and stays; the
    newcomer went to the replacement cache), ``replaced`` (it did not answer: ``evicted`` it, the
    newcomer is in) or ``ignored`` (the node's own ID).
    """

    outcome: str
    pinged: Contact | None = None
    evicted: Contact | None = None


class KBucket:
    """Up to ``k`` contacts, least-recently seen first, and a replacement cache of up to ``k``."""

    __slots__ = ("k", "contacts", "replacements")

    def __init__(self, k: int) -> None:
        self.k = k
        #: node ID -> contact, in least-recently-seen order (dicts keep insertion order).
        self.contacts: dict[NodeId, Contact] = {}
        #: contacts that found the bucket full, most recently seen last.
        self.replacements: dict[NodeId, Contact] = {}

    def __len__(self) -> int:
        return len(self.contacts)

    def __iter__(self) -> Iterator[Contact]:
        return iter(self.contacts.values())

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.contacts

    @property
    def full(self) -> bool:
        return len(self.contacts) >= self.k

    def least_recent(self) -> Contact:
        return next(iter(self.contacts.values()))

    def touch(self, contact: Contact) -> None:
        """Move (or put) ``contact`` at the tail: the most recently seen."""
        self.contacts.pop(contact.id, None)
        self.contacts[contact.id] = contact

    def remember(self, contact: Contact) -> None:
        """Put ``contact`` in the replacement cache, dropping the stalest entry beyond ``k``."""
        self.replacements.pop(contact.id, None)
        self.replacements[contact.id] = contact
        while len(self.replacements) > self.k:
            del self.replacements[next(iter(self.replacements))]


class RoutingTable:
    """A node's k-buckets.

    ``ping(contact) -> bool`` is the liveness check the eviction rule calls when a bucket is full
    (the node passes one that sends a real PING through its transport); without one, every
    contact is taken to be alive, so full buckets keep their old contacts.
    """

    def __init__(
        self,
        self_id: NodeId,
        *,
        k: int = DEFAULT_K,
        ping: Callable[[Contact], bool] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.self_id = self_id
        self.k = k
        self.ping = ping
        self.clock = clock
        self._buckets: dict[int, KBucket] = {}
        #: bucket index -> time of the last lookup of an ID in its range.
        self._looked_up: dict[int, float] = {}
        #: every contact by ID, for the flat sort of :meth:`closest`.
        self._flat: dict[NodeId, Contact] = {}

    # -- membership --------------------------------------------------------------------------

    @property
    def _size(self) -> int:
        return len(self._flat)

    def __len__(self) -> int:
        return len(self._flat)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._flat

    def bucket(self, index: int) -> KBucket | None:
        """Bucket ``index`` if it has ever held a contact."""
        return self._buckets.get(index)

    def bucket_of(self, node_id: NodeId) -> int:
        return bucket_index(self.self_id, node_id)

    def indices(self) -> list[int]:
        """Indices of the non-empty buckets, ascending (nearest first)."""
        return sorted(i for i, b in self._buckets.items() if b.contacts)

    def contacts(self) -> Iterator[Contact]:
        for index in self.indices():
            yield from self._buckets[index]

    def get(self, node_id: NodeId) -> Contact | None:
        return self._flat.get(node_id)

    def update(self, contact: Contact) -> BucketUpdate:
        """Record that ``contact`` was just seen (it sent us a message or answered one)."""
        index = bucket_index(self.self_id, contact.id)
        if index < 0:
            return BucketUpdate(IGNORED)
        bucket = self._buckets.get(index)
        if bucket is None:
            bucket = self._buckets[index] = KBucket(self.k)
        if contact.id in bucket.contacts:
            bucket.touch(contact)
            self._flat[contact.id] = contact
            return BucketUpdate(REFRESHED)
        if not bucket.full:
            bucket.touch(contact)
            bucket.replacements.pop(contact.id, None)
            self._flat[contact.id] = contact
            return BucketUpdate(ADDED)
        oldest = bucket.least_recent()
        if self.ping is None or self.ping(oldest):
            bucket.touch(oldest)
            bucket.remember(contact)
            return BucketUpdate(KEPT, pinged=oldest)
        del bucket.contacts[oldest.id]
        del self._flat[oldest.id]
        bucket.touch(contact)
        bucket.replacements.pop(contact.id, None)
        self._flat[contact.id] = contact
        return BucketUpdate(REPLACED, pinged=oldest if self.ping is not None else None, evicted=oldest)

    def remove(self, node_id: NodeId) -> Contact | None:
        """Drop a contact that failed to answer; its bucket's freshest replacement takes its place.
        Returns the contact that took the place, if any."""
        bucket = self._buckets.get(bucket_index(self.self_id, node_id))
        if bucket is None:
            return None
        bucket.replacements.pop(node_id, None)
        if bucket.contacts.pop(node_id, None) is None:
            return None
        del self._flat[node_id]
        if bucket.replacements:
            newest = next(reversed(bucket.replacements.values()))
            del bucket.replacements[newest.id]
            bucket.touch(newest)
            self._flat[newest.id] = newest
            return newest
        return None

    # -- queries -----------------------------------------------------------------------------

    #: tables up to this size answer :meth:`closest` with one C-level sort of every contact, which
    #: beats walking buckets in Python; larger ones walk the buckets in distance order.
    FLAT_SORT_MAX = 1024

    def closest(self, key: NodeId, count: int | None = None, *, exclude: NodeId | None = None) -> list[Contact]:
        """The ``count`` (default ``k``) known contacts closest to ``key`` by XOR, nearest first."""
        want = self.k if count is None else count
        if want <= 0:
            return []
        if self._size <= self.FLAT_SORT_MAX:
            ids = sorted(self._flat, key=key.__xor__)
            if exclude is not None and exclude in self._flat:
                ids.remove(exclude)
            return [self._flat[i] for i in ids[:want]]
        return self._closest_by_buckets(key, want, exclude)

    def _closest_by_buckets(self, key: NodeId, want: int, exclude: NodeId | None) -> list[Contact]:
        """:meth:`closest` without sorting the whole table. With ``i`` the bucket ``key`` falls in,
        every contact of bucket ``i`` is within ``2**i`` of the key, those of all buckets below
        ``i`` lie in ``[2**i, 2**(i+1))``, and bucket ``j > i`` in ``[2**j, 2**(j+1))``: groups are
        taken in that order and only the last one is cut."""
        i = bucket_index(self.self_id, key)
        indices = self.indices()
        groups: list[list[int]] = []
        if i >= 0:
            groups.append([i] if i in self._buckets else [])
            groups.append([j for j in indices if j < i])
        groups.extend([j] for j in indices if j > i)
        out: list[Contact] = []
        for group in groups:
            members = [c for j in group for c in self._buckets[j] if c.id != exclude]
            if not members:
                continue
            members.sort(key=lambda c: c.id ^ key)
            out.extend(members[: want - len(out)])
            if len(out) >= want:
                break
        return out

    # -- refresh -----------------------------------------------------------------------------

    def touch_range(self, key: NodeId) -> None:
        """Note that a lookup of ``key`` just ran: its bucket's range counts as refreshed."""
        index = bucket_index(self.self_id, key)
        if index >= 0 and self.clock is not None:
            self._looked_up[index] = self.clock()

    def last_lookup(self, index: int) -> float | None:
        return self._looked_up.get(index)

    def refresh_targets(
        self,
        rng: random.Random | np.random.Generator,
        *,
        interval: float = DEFAULT_REFRESH_INTERVAL_S,
        force: bool = False,
        start: int | None = None,
    ) -> list[tuple[int, NodeId]]:
        """``(bucket index, random ID in it)`` for each bucket due a refresh lookup.

        The buckets considered run from ``start`` (default: the nearest non-empty bucket) to the
        farthest (255); a bucket is due when no lookup targeted its range within ``interval``
        seconds (``force``: all of them, as a joining node refreshes every bucket farther than
        its closest neighbour).
        """
        indices = self.indices()
        if start is None:
            if not indices:
                return []
            start = indices[0]
        now = self.clock() if self.clock is not None else None
        out = []
        for index in range(start, ID_BITS):
            last = self._looked_up.get(index)
            if force or last is None or now is None or now - last >= interval:
                out.append((index, random_id_in_bucket(self.self_id, index, rng)))
        return out

    def __repr__(self) -> str:
        return f"RoutingTable({short(self.self_id)}, {self._size} contacts in {len(self.indices())} buckets)"
