"""One replayed trace request: what the replay made of a recorded request, and what happened to it.

Shared by the replay (:mod:`.run`), which fills in a :class:`Replayed` per request, and the
report (:mod:`.report`), which groups them by :data:`KINDS`; neither needs the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regsim.traces import Request

from .trace_store import ok

__all__ = ["BLOB_GET", "BLOB_HEAD", "BLOB_PUT", "KINDS", "MANIFEST_GET", "MANIFEST_PUT", "OTHER", "Replayed",
           "classify"]

MANIFEST_GET, BLOB_GET, BLOB_HEAD, BLOB_PUT, MANIFEST_PUT, OTHER = (
    "manifest_get", "blob_get", "blob_head", "blob_put", "manifest_put", "other")
#: what the replay does with a recorded request (:func:`classify`)
KINDS = (MANIFEST_GET, BLOB_GET, BLOB_HEAD, BLOB_PUT, MANIFEST_PUT, OTHER)


@dataclass(slots=True)
class Replayed:
    """One replayed request and what happened to it; times are simulated seconds."""

    index: int
    kind: str
    client: str
    node: str
    start: float
    end: float = float("nan")
    size: int = 0
    #: blob GETs with a cache: whether it hit (None: no cache was asked)
    hit: bool | None = None
    #: a hit that waited for the read filling the cache
    waited: bool = False
    #: manifest GETs: layers this GET made the cache prefetch
    prefetched: int = 0
    status: int = 200
    error: str | None = None
    #: the registry work priced for this request: amount by receipt kind
    work: dict[str, int] = field(default_factory=dict)

    @property
    def latency(self) -> float:
        """Seconds from the request's arrival to its response's end."""
        return self.end - self.start


def classify(request: Request) -> str:
    """What the replay does with a recorded request: one of :data:`KINDS`."""
    if not ok(request):
        return OTHER
    kind, method = request.kind, request.method
    if kind == "manifest":
        return {"GET": MANIFEST_GET, "PUT": MANIFEST_PUT}.get(method, OTHER)
    if kind == "blob" and request.reference:
        return {"GET": BLOB_GET, "HEAD": BLOB_HEAD}.get(method, OTHER)
    if kind == "upload" and method == "PUT" and request.reference:
        return BLOB_PUT
    return OTHER
