"""A node-local mirror, Spegel-style: serve the layers this node holds, find the ones it lacks.

Spegel ("mirror" in Swedish) runs on every node of a cluster: containerd is told to try it before
the upstream registry; it answers from the node's own content store when it holds the blob, and
otherwise asks the DHT which peers provide it and proxies the request to one of them; when no peer
has it, the pull falls back to the registry. Every node advertises (``ADD_PROVIDER``) the layers
it holds, republishes them on a schedule, and stops when they are deleted. :class:`Mirror` is that
logic over a :class:`~regsim.registry.dht.node.DhtNode` and a :class:`ContentStore`:

- **advertising** -- :meth:`Mirror.add_layer` stores a layer; with ``advertise="layer"`` it is
  provided at once (Spegel since v0.3, which also follows containerd's ``/content/create``
  events), with ``advertise="image"`` (the default, Spegel's original behaviour: it advertised on
  ``/images/create``, sent once the whole image is pulled) only when :meth:`Mirror.complete_image`
  says the image is complete. :meth:`Mirror.republish` renews what is due; :meth:`Mirror.delete_layer`
  deletes and withdraws.
- **serving** -- :meth:`Mirror.open_upload` serves a blob, whole or a byte range, to a peer while
  fewer than ``max_uploads`` uploads are in flight, and answers ``busy`` beyond that (``not_found``
  when the blob is not held, as after a delete whose remote records have not expired yet). The
  upload holds its slot until :meth:`ServeResult.close`, so a simulator can keep it for the
  transfer's simulated duration; :meth:`Mirror.serve` opens and closes at once.
- **resolving** -- :meth:`Mirror.resolve` answers where a layer should come from: ``local`` when
  held; else the providers a GET_PROVIDERS lookup finds (this node left out), same-zone ones first
  when ``zone_of`` is given; else ``registry``. :meth:`Mirror.fetch` then tries the candidates in
  order (a busy, missing or unreachable peer passes to the next) and falls back to the registry.

Nothing here moves bytes over a network or takes time: results say who served what and carry the
DHT lookups' RPC lists, and the simulator prices them. Content is real bytes, or -- in a modelled
data plane -- just a size.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from ..blobstore import BlobStore
from ..digest import Digest
from ..p2p.origin import BlobSource
from .contact import Contact
from .errors import DhtError, Unreachable
from .ids import NodeId, key_of_digest
from .lookup import LookupResult, ProvideResult
from .node import DhtNode
from .transport import InMemoryTransport

Advertise = Literal["image", "layer"]
#: what a peer answers a blob request with.
OK, BUSY, NOT_FOUND = "ok", "busy", "not_found"
#: where :meth:`Mirror.resolve` says a layer comes from.
LOCAL, PEER, REGISTRY = "local", "peer", "registry"
#: a fetch attempt's outcome when the peer could not be reached at all.
UNREACHABLE = "unreachable"
#: how many providers a resolve asks the DHT for: Spegel's ``ResolveRetries`` default (3), which
#: it passes as the count of ``FindProvidersAsync``.
DEFAULT_RESOLVE_COUNT = 3

Content = bytes | int  # the bytes, or (modelled data plane) only their number


class ContentStore(Protocol):
    """The layers a node holds: containerd's content store in Spegel, a dict or a BlobStore here."""

    def has(self, digest: Digest) -> bool: ...

    def size(self, digest: Digest) -> int: ...

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> bytes | None:
        """The bytes of a range (``length`` None: to the end), or None when only sizes are held."""
        ...

    def add(self, digest: Digest, content: Content) -> None: ...

    def delete(self, digest: Digest) -> bool: ...

    def digests(self) -> Iterable[Digest]: ...


def _span(size: int, offset: int, length: int | None) -> int:
    """Bytes in ``[offset, offset + length)`` of a blob of ``size`` (to the end when None)."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("offset and length must be non-negative")
    end = size if length is None else min(size, offset + length)
    return max(0, end - offset)


class MemoryContent:
    """A dict of layers: real bytes, or an ``int`` size for a layer held in a modelled data plane."""

    def __init__(self, layers: Mapping[str | Digest, Content] | None = None) -> None:
        self._layers: dict[Digest, Content] = {}
        for d, content in (layers or {}).items():
            self.add(Digest.parse(d), content)

    def has(self, digest: Digest) -> bool:
        return digest in self._layers

    def size(self, digest: Digest) -> int:
        content = self._layers[digest]
        return content if isinstance(content, int) else len(content)

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> bytes | None:
        content = self._layers[digest]
        if isinstance(content, int):
            return None
        n = _span(len(content), offset, length)
        return bytes(content[offset:offset + n])

    def add(self, digest: Digest, content: Content) -> None:
        if isinstance(content, int) and content < 0:
            raise ValueError(f"a layer size cannot be negative ({content})")
        self._layers[digest] = content

    def delete(self, digest: Digest) -> bool:
        return self._layers.pop(digest, None) is not None

    def digests(self) -> list[Digest]:
        return list(self._layers)


class BlobStoreContent:
    """The registry's :class:`~regsim.registry.blobstore.BlobStore` as a node's content store:
    reads and writes go through its real pipeline (and leave its receipts). Real bytes only."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store

    def has(self, digest: Digest) -> bool:
        return self.store.exists(digest)

    def size(self, digest: Digest) -> int:
        return self.store.size(digest)

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> bytes:
        n = _span(self.store.size(digest), offset, length)
        return self.store.read_range(digest, offset, n) if n else b""

    def add(self, digest: Digest, content: Content) -> None:
        if isinstance(content, int):
            raise DhtError("a BlobStore holds real bytes, not a modelled size")
        self.store.put(content, expected=digest)

    def delete(self, digest: Digest) -> bool:
        if not self.store.exists(digest):
            return False
        self.store.delete(digest)
        return True

    def digests(self) -> list[Digest]:
        return list(self.store.digests())


#: the registry fallback: ``(digest, offset, length) -> bytes`` (or the byte count, modelled).
RegistryFetch = Callable[[Digest, int, "int | None"], Content]


def registry_fetch(registry: BlobSource, repo: str) -> RegistryFetch:
    """A :data:`RegistryFetch` reading ``repo``'s blobs from a real registry (whole or ranged)."""

    def fetch(digest: Digest, offset: int = 0, length: int | None = None) -> bytes:
        if offset == 0 and length is None:
            return registry.get_blob(repo, digest)
        n = _span(registry.stat_blob(repo, digest), offset, length)
        return registry.read_blob(repo, digest, offset, n) if n else b""

    return fetch


@dataclass(slots=True)
class ServeResult:
    """A peer's answer to a blob request: ``ok`` (an upload, holding a slot until closed),
    ``busy`` (all ``max_uploads`` slots taken) or ``not_found`` (blob not held)."""

    status: str
    digest: Digest
    server: Contact
    offset: int = 0
    #: bytes the upload carries (the range asked for, cut at the blob's end).
    nbytes: int = 0
    #: the bytes, when the server holds real ones.
    data: bytes | None = None
    #: the blob's whole size, when held.
    size: int | None = None
    _mirror: Mirror | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def open(self) -> bool:
        return self._mirror is not None

    def close(self) -> None:
        """The upload is over (done or abandoned): free its slot. Idempotent."""
        if self._mirror is not None:
            self._mirror._release()
            self._mirror = None

    def __enter__(self) -> ServeResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Resolution:
    """Where a layer should come from: ``local``, a ``peer`` (``candidates``, best first) or the
    ``registry``; ``lookup`` is the DHT lookup it took (None for a local hit)."""

    digest: Digest
    key: NodeId
    source: str
    candidates: list[Contact] = field(default_factory=list)
    lookup: LookupResult | None = None

    @property
    def peer(self) -> Contact | None:
        """The peer to try first, if any."""
        return self.candidates[0] if self.candidates else None


@dataclass(slots=True)
class FetchResult:
    """A fetch: who served it (``local``, ``peer`` or ``registry``), the bytes (or None when
    modelled), how many, every peer tried with its answer, and the resolution behind it."""

    digest: Digest
    source: str
    peer: Contact | None
    data: bytes | None
    nbytes: int
    attempts: list[tuple[Contact, str]]
    resolution: Resolution


#: how a mirror reaches a peer's mirror: returns it, or raises Unreachable.
PeerMirrors = Callable[[Contact], "Mirror"]


class MirrorPeers:
    """Peers' mirrors in one process: by address, unreachable when the transport has them failed."""

    def __init__(self, mirrors: Mapping[Hashable, Mirror] | None = None,
                 transport: InMemoryTransport | None = None) -> None:
        self.mirrors: dict[Hashable, Mirror] = dict(mirrors or {})
        self.transport = transport

    def add(self, mirror: Mirror) -> Mirror:
        self.mirrors[mirror.node.addr] = mirror
        return mirror

    def __call__(self, peer: Contact) -> Mirror:
        mirror = self.mirrors.get(peer.addr)
        if mirror is None or (self.transport is not None and not self.transport.is_up(peer.addr)):
            raise Unreachable(f"no mirror answers at {peer.addr!r}")
        return mirror


class Mirror:
    """The mirror of one node: its DHT node, its content store and its upload slots.

    ``registry`` is the fallback for layers no peer serves; ``max_uploads`` caps concurrent
    uploads to peers (None: no cap, as Spegel sets none); ``advertise`` says when a new layer is
    provided (``image``: once its image is complete; ``layer``: as soon as it is stored);
    ``zone_of(addr)`` names a node's zone, and with ``prefer_same_zone`` a resolve puts same-zone
    providers first; ``resolve_count`` is how many providers a resolve looks for (None: all that
    the lookup finds); ``rng``, if given, shuffles the providers within each preference group
    (otherwise they stay in the order the lookup found them).
    """

    def __init__(
        self,
        node: DhtNode,
        store: ContentStore | None = None,
        *,
        registry: RegistryFetch | None = None,
        max_uploads: int | None = None,
        advertise: Advertise = "image",
        zone_of: Callable[[Hashable], Hashable] | None = None,
        prefer_same_zone: bool = True,
        resolve_count: int | None = DEFAULT_RESOLVE_COUNT,
        rng: random.Random | np.random.Generator | None = None,
    ) -> None:
        if advertise not in ("image", "layer"):
            raise ValueError(f"advertise must be 'image' or 'layer', got {advertise!r}")
        if max_uploads is not None and max_uploads < 1:
            raise ValueError(f"max_uploads must be at least 1 (or None), got {max_uploads}")
        self.node = node
        self.store: ContentStore = store if store is not None else MemoryContent()
        self.registry = registry
        self.max_uploads = max_uploads
        self.advertise = advertise
        self.zone_of = zone_of
        self.prefer_same_zone = prefer_same_zone
        self.resolve_count = resolve_count
        self.rng = rng
        #: uploads in flight now.
        self.uploads = 0
        #: answers given to peers, by status; bytes served in ``ok`` uploads.
        self.answers: Counter[str] = Counter()
        self.bytes_served = 0
        #: layers advertised (provided) and held layers waiting for their image to complete.
        self.advertised: set[Digest] = set()
        self.pending: set[Digest] = set()

    def __repr__(self) -> str:
        return f"Mirror({self.node.addr!r}, {len(self.advertised)} advertised, {self.uploads} uploads)"

    @property
    def zone(self) -> Hashable:
        return None if self.zone_of is None else self.zone_of(self.node.addr)

    # -- advertising -------------------------------------------------------------------------

    def _provide(self, digest: Digest) -> ProvideResult:
        self.pending.discard(digest)
        self.advertised.add(digest)
        return self.node.provide(key_of_digest(digest))

    def add_layer(self, digest: str | Digest, content: Content | None = None) -> ProvideResult | None:
        """Store a layer (``content``: its bytes or size; None: already in the store). Provided
        now with ``advertise="layer"``; otherwise it waits for :meth:`complete_image`."""
        d = Digest.parse(digest)
        if content is not None:
            self.store.add(d, content)
        elif not self.store.has(d):
            raise DhtError(f"layer {d} is not in {self.node.addr!r}'s store and no content was given")
        if d in self.advertised:
            return None
        if self.advertise == "layer":
            return self._provide(d)
        self.pending.add(d)
        return None

    def complete_image(self, digests: Iterable[str | Digest]) -> list[ProvideResult]:
        """The image made of ``digests`` is fully pulled: provide those of its layers this node
        holds and has not advertised yet (all of them with ``advertise="image"``)."""
        out = []
        for digest in digests:
            d = Digest.parse(digest)
            if d not in self.advertised and self.store.has(d):
                out.append(self._provide(d))
        return out

    def delete_layer(self, digest: str | Digest) -> bool:
        """Delete a layer and withdraw it (no more republishes; peers' records expire on their
        own, and until then a peer asking gets ``not_found``). True if it was held."""
        d = Digest.parse(digest)
        self.pending.discard(d)
        if d in self.advertised:
            self.advertised.discard(d)
            self.node.withdraw(key_of_digest(d))
        return self.store.delete(d)

    def republish(self) -> list[ProvideResult]:
        """Provide again every advertised layer whose republish time has come."""
        return self.node.republish()

    # -- serving -----------------------------------------------------------------------------

    def open_upload(self, digest: str | Digest, offset: int = 0, length: int | None = None) -> ServeResult:
        """Start serving a blob (or the range ``[offset, offset + length)``) to a peer.

        ``ok`` takes an upload slot until :meth:`ServeResult.close`; ``busy`` when ``max_uploads``
        are in flight; ``not_found`` when the blob is not held. Ranges past the end are cut.
        """
        d = Digest.parse(digest)
        if not self.store.has(d):
            self.answers[NOT_FOUND] += 1
            return ServeResult(NOT_FOUND, d, self.node.contact, offset)
        if self.max_uploads is not None and self.uploads >= self.max_uploads:
            self.answers[BUSY] += 1
            return ServeResult(BUSY, d, self.node.contact, offset)
        size = self.store.size(d)
        nbytes = _span(size, offset, length)
        data = self.store.read(d, offset, nbytes)
        self.uploads += 1
        self.answers[OK] += 1
        self.bytes_served += nbytes
        return ServeResult(OK, d, self.node.contact, offset, nbytes, data, size, self)

    def serve(self, digest: str | Digest, offset: int = 0, length: int | None = None) -> ServeResult:
        """Serve a blob or range in one go: :meth:`open_upload`, then close it at once."""
        result = self.open_upload(digest, offset, length)
        result.close()
        return result

    def _release(self) -> None:
        if self.uploads <= 0:
            raise DhtError(f"{self.node.addr!r}: an upload closed that was never open")
        self.uploads -= 1

    # -- resolving and fetching --------------------------------------------------------------

    def resolve(self, digest: str | Digest) -> Resolution:
        """Where to get a layer: ``local`` if held; else the providers the DHT names (never this
        node; the first ``resolve_count`` found, same-zone ones first when asked); else the
        ``registry``. The zone preference orders the providers found: to let it choose among all
        of them, set ``resolve_count=None`` (the lookup then runs to its end)."""
        d = Digest.parse(digest)
        key = key_of_digest(d)
        if self.store.has(d):
            return Resolution(d, key, LOCAL)
        # As Spegel: the lookup stops at ``resolve_count`` providers, and this node is then left
        # out (a peer may still hold a record naming it from before it deleted the layer).
        lookup = self.node.find_providers(key, want=self.resolve_count)
        candidates = self._order([p for p in lookup.providers if p.id != self.node.id])
        if self.resolve_count is not None:
            candidates = candidates[: self.resolve_count]
        return Resolution(d, key, PEER if candidates else REGISTRY, candidates, lookup)

    def _zoned(self) -> bool:
        return self.zone_of is not None and self.prefer_same_zone

    def _order(self, providers: list[Contact]) -> list[Contact]:
        groups = [providers]
        if self._zoned():
            mine = self.zone
            groups = [[p for p in providers if self.zone_of(p.addr) == mine],  # type: ignore[misc]
                      [p for p in providers if self.zone_of(p.addr) != mine]]  # type: ignore[misc]
        if self.rng is not None:
            for group in groups:
                if isinstance(self.rng, np.random.Generator):
                    order = self.rng.permutation(len(group)).tolist()
                    group[:] = [group[i] for i in order]
                else:
                    self.rng.shuffle(group)
        return [p for group in groups for p in group]

    def fetch(self, digest: str | Digest, offset: int = 0, length: int | None = None, *,
              peers: PeerMirrors | None = None) -> FetchResult:
        """Get a layer (or a range of it) the way Spegel's mirror handler does: locally, else from
        the resolved peers in order (busy, missing or unreachable ones are skipped), else from the
        registry. ``peers`` reaches a peer's mirror (:class:`MirrorPeers`); without it no peer is
        tried. Stores nothing: call :meth:`add_layer` with what arrived."""
        resolution = self.resolve(digest)
        d = resolution.digest
        attempts: list[tuple[Contact, str]] = []
        if resolution.source == LOCAL:
            nbytes = _span(self.store.size(d), offset, length)
            return FetchResult(d, LOCAL, None, self.store.read(d, offset, nbytes), nbytes, attempts, resolution)
        for peer in resolution.candidates:
            if peers is None:
                break
            try:
                mirror = peers(peer)
            except Unreachable:
                attempts.append((peer, UNREACHABLE))
                continue
            answer = mirror.serve(d, offset, length)
            attempts.append((peer, answer.status))
            if answer.ok:
                return FetchResult(d, PEER, peer, answer.data, answer.nbytes, attempts, resolution)
        if self.registry is None:
            raise DhtError(f"{self.node.addr!r}: no peer served {d} and there is no registry to fall back to")
        content = self.registry(d, offset, length)
        data = None if isinstance(content, int) else bytes(content)
        nbytes = content if isinstance(content, int) else len(content)
        return FetchResult(d, REGISTRY, None, data, nbytes, attempts, resolution)
