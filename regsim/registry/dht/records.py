"""Provider records: who holds the content of a key, for how long, and when to say it again.

Content routing in libp2p (kad-dht spec, "Content provider advertisement and discovery") stores,
at the ``k`` nodes closest to a key, *provider records*: "peer P provides key K". Two clocks run on
them, one on each side:

- **Expiry, at the holder** (:class:`ProviderStore`). A record received at ``t`` is served while
  ``now < t + ttl`` and never from ``t + ttl`` on -- the boundary is exclusive, so a record whose
  ttl is exactly used up is gone. Expired records are filtered on every read (expiry is exact
  whatever the sweep period); :meth:`ProviderStore.prune` frees their memory, which libp2p does
  hourly.
- **Republish, at the provider** (:class:`ProviderSchedule`). A provider re-sends its records
  every ``interval`` so they outlive churn among the holders and never reach their expiry while
  it still holds the content; each republish restarts the ttl at every holder it reaches.

Defaults (seconds) and where they come from:

- ``DEFAULT_RECORD_TTL_S`` = 24 h, ``DEFAULT_REPUBLISH_INTERVAL_S`` = 12 h: the libp2p kad-dht
  spec r0 (2021-05-07: "provider advertisements should expire, by default, after 24 hours"),
  go-libp2p-kad-dht's ``ProvideValidity`` and kubo's reprovide interval before the 2022 change;
  the Kademlia paper too expires a key-value pair 24 h after its original publication.
- ``LIBP2P_2022`` -- 48 h / 22 h: the spec's r2 (2022-12-09, libp2p/specs#451, from the RFM17
  provider-record liveness study) and go-libp2p-kad-dht since PR #793, what IPFS runs today.
- ``SPEGEL`` -- 19 min / 15 min: Spegel v0.7+ reprovides every ``AdvertiseTTL`` (15 min) and sets
  ``ProvideValidity = AdvertiseTTL + 2 x MaxReprovideDelay`` (2 min) in
  ``pkg/routing/libp2p/libp2p.go``. Before v0.6 it re-advertised everything every 9 min under a
  10 min ``KeyTTL`` -- passed as ``MaxRecordAge``, which go-libp2p-kad-dht does not apply to
  provider records, so until v0.7 ("Fix record TTL") its records lived for libp2p's default. A
  cluster-local DHT can afford short records, and they make a deleted layer stop being found
  within minutes.

Withdrawing is local only: libp2p has no message that deletes a record at its holders (Spegel's
``Withdraw`` stops reproviding), so a withdrawn key's records expire on their own.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import NamedTuple

from .clock import Clock
from .contact import Contact
from .ids import NodeId

HOUR = 3600.0

#: how long a holder serves a provider record after receiving it (libp2p spec r0: 24 h).
DEFAULT_RECORD_TTL_S = 24 * HOUR
#: how often a provider re-sends its records (libp2p r0 era, kubo's reprovider: 12 h).
DEFAULT_REPUBLISH_INTERVAL_S = 12 * HOUR


class RecordTiming(NamedTuple):
    """A provider record's lifetime at its holders and its provider's republish interval."""

    ttl_s: float
    republish_s: float


#: the defaults above (libp2p spec r0, 2021).
LIBP2P_2021 = RecordTiming(DEFAULT_RECORD_TTL_S, DEFAULT_REPUBLISH_INTERVAL_S)
#: libp2p spec r2 (2022-12-09) and IPFS today.
LIBP2P_2022 = RecordTiming(48 * HOUR, 22 * HOUR)
#: Spegel v0.7+: ``AdvertiseTTL`` 15 min reprovide, validity 15 + 2 x 2 min.
SPEGEL = RecordTiming(19 * 60.0, 15 * 60.0)


class ProviderRecord(NamedTuple):
    provider: Contact
    received: float
    expires: float


class ProviderStore:
    """The provider records a node holds for others: key -> providers, each with its expiry."""

    def __init__(self, clock: Clock, *, ttl: float = DEFAULT_RECORD_TTL_S) -> None:
        if ttl <= 0:
            raise ValueError(f"a record ttl must be positive, got {ttl}")
        self.clock = clock
        self.ttl = ttl
        self._records: dict[NodeId, dict[NodeId, ProviderRecord]] = {}

    def add(self, key: NodeId, provider: Contact) -> ProviderRecord:
        """Store (or renew) "``provider`` provides ``key``" from now for ``ttl`` seconds."""
        now = self.clock()
        record = ProviderRecord(provider, now, now + self.ttl)
        records = self._records.setdefault(key, {})
        records.pop(provider.id, None)  # a renewal counts as the newest
        records[provider.id] = record
        return record

    def records(self, key: NodeId) -> list[ProviderRecord]:
        """The live records of ``key``, most recently received first."""
        records = self._records.get(key)
        if not records:
            return []
        now = self.clock()
        return [r for r in reversed(records.values()) if now < r.expires]

    def get(self, key: NodeId) -> list[Contact]:
        """The providers of ``key`` whose records have not expired, most recently received first."""
        return [r.provider for r in self.records(key)]

    def remove(self, key: NodeId, provider_id: NodeId) -> bool:
        records = self._records.get(key)
        if not records or records.pop(provider_id, None) is None:
            return False
        if not records:
            del self._records[key]
        return True

    def prune(self) -> int:
        """Drop every expired record (reads already ignore them); returns how many went."""
        now, dropped = self.clock(), 0
        for key in list(self._records):
            records = self._records[key]
            for pid in [pid for pid, r in records.items() if now >= r.expires]:
                del records[pid]
                dropped += 1
            if not records:
                del self._records[key]
        return dropped

    def keys(self) -> Iterator[NodeId]:
        """Keys with at least one live record."""
        now = self.clock()
        return iter([k for k, rs in self._records.items() if any(now < r.expires for r in rs.values())])

    def __len__(self) -> int:
        """Live records, all keys together."""
        now = self.clock()
        return sum(now < r.expires for rs in self._records.values() for r in rs.values())


class ProviderSchedule:
    """The keys a node provides and when each is next due for republishing.

    :meth:`start` is called when a key is first published, :meth:`due` names the keys whose time
    has come, :meth:`done` reschedules one after a republish, :meth:`stop` withdraws one, and
    :meth:`next_due` is the earliest time anything is due -- what a simulator waits for.
    """

    def __init__(self, clock: Clock, *, interval: float = DEFAULT_REPUBLISH_INTERVAL_S) -> None:
        if interval <= 0:
            raise ValueError(f"a republish interval must be positive, got {interval}")
        self.clock = clock
        self.interval = interval
        self._due: dict[NodeId, float] = {}
        self._heap: list[tuple[float, NodeId]] = []

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def __len__(self) -> int:
        return len(self._due)

    def keys(self) -> list[NodeId]:
        return list(self._due)

    def start(self, key: NodeId) -> float:
        """``key`` was just published: due again one interval from now. Returns that time."""
        return self.done(key)

    def done(self, key: NodeId) -> float:
        """``key`` was just (re)published: due again one interval from now."""
        when = self.clock() + self.interval
        self._due[key] = when
        heapq.heappush(self._heap, (when, key))
        return when

    def stop(self, key: NodeId) -> bool:
        """Stop providing ``key`` (withdraw): it is never due again."""
        return self._due.pop(key, None) is not None

    def due(self) -> list[NodeId]:
        """Keys whose republish time has come (``due <= now``), earliest first."""
        now, out = self.clock(), []
        self._clean()
        for when, key in sorted(self._heap):
            if when > now:
                break
            if self._due.get(key) == when:
                out.append(key)
        return out

    def next_due(self) -> float | None:
        """The earliest time a key is due, or None when nothing is provided."""
        self._clean()
        return self._heap[0][0] if self._heap else None

    def _clean(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
