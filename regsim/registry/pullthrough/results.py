"""What one pull-through request did, so that a model can price it step by step.

A request to the cache ends in a :class:`Fetched` (or an error). Besides the content it says
where the bytes came from (``source``) and lists every request the cache made upstream on its
behalf (:class:`UpstreamRequest`: which upstream, HEAD or GET, the status, the body bytes). A
model prices each upstream request as one round trip to that upstream plus ``bytes`` of transfer,
and the answer to the client as ``len(data)`` bytes from the cache. The cache's own local work
(hashing what it stores, its disk writes and reads) is recorded on the active receipt
(:mod:`regsim.registry.receipts`) as any registry work is; the upstream's own work is not the
cache's and is never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..digest import Digest

#: where a response's bytes came from:
#: ``cache`` -- a cached copy, fresh (or confirmed by a HEAD upstream, ``revalidated``);
#: ``upstream`` -- fetched upstream by this request;
#: ``stale`` -- a cached copy served because every upstream refused or failed (stale-if-error);
#: ``coalesced`` -- this request waited for another request's fetch of the same content.
Source = Literal["cache", "upstream", "stale", "coalesced"]

#: the kinds of upstream request, named as :class:`~regsim.registry.receipts.Kind` names the
#: HTTP endpoint classes
MANIFEST_GET = "manifest_get"
MANIFEST_HEAD = "manifest_head"
BLOB_GET = "blob_get"
REQUEST_KINDS = (MANIFEST_GET, MANIFEST_HEAD, BLOB_GET)


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One request the cache sent upstream: one round trip, plus ``bytes`` of body received.

    ``status`` is HTTP's: 200, 404 (the upstream does not have it), 429 (pull limit; then
    ``retry_after`` is set), 503 (the upstream is down) or 502 (its answer did not match the
    digest). ``at`` is the cache's clock when the request was made.
    """

    upstream: str
    kind: str
    repo: str
    reference: str
    status: int
    bytes: int = 0
    at: float = 0.0
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful answer of the cache: the content and what it took.

    ``media_type`` is set for manifests (None for blobs). ``stored``: the content is held by the
    cache after this request (False when it did not fit and passed through). ``revalidated``: a
    HEAD upstream confirmed a cached tag. ``upstream`` names the upstream that answered, when one
    did. ``stale_reason`` says why a ``stale`` copy was served (the refusal or failure, e.g.
    ``"429"``).
    """

    source: Source
    data: bytes
    digest: Digest
    media_type: str | None = None
    upstream_requests: tuple[UpstreamRequest, ...] = ()
    stored: bool = True
    revalidated: bool = False
    upstream: str | None = None
    stale_reason: str | None = None

    @property
    def bytes(self) -> int:
        """Bytes of the answer to the client."""
        return len(self.data)

    @property
    def bytes_from_upstream(self) -> int:
        """Body bytes this request received from upstream (0 for a hit, a HEAD, a waiter)."""
        return sum(r.bytes for r in self.upstream_requests)

    @property
    def round_trips(self) -> int:
        """Upstream round trips this request made, in order (each request in the list is one)."""
        return len(self.upstream_requests)
