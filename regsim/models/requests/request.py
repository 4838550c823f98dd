"""One request of the ``poisson`` and ``closed`` models and what happened to it, and the four kinds.

A leaf of the family: the arrivals draw kinds from :data:`KINDS`, the run fills a
:class:`Request` as the request passes the access layer, the auth path and the registry, and
the reports read the finished ones. It imports nothing of the family, so every module can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AUTH", "FAILURES", "KINDS", "MANIFEST", "PULL", "PUSH", "Request"]

#: the request kinds, in the order of ``workload.mix`` (the arrivals' inverse CDF relies on it)
KINDS = ("pull", "push", "auth", "manifest")
PULL, PUSH, AUTH, MANIFEST = KINDS
#: why a request can fail (:attr:`Request.failure`)
FAILURES = ("auth", "network", "rate_limited", "registry")


@dataclass(slots=True)
class Request:
    """One request and what happened to it; times are simulated seconds."""

    kind: str
    client: str
    start: float
    end: float = float("nan")
    size: int = 0
    #: the image layer a pull read (-1: not a pull)
    layer: int = -1
    #: fragments of the blob a read could not fetch (its worst extent)
    lost: int = 0
    #: a fragment a healthy read uses was unreadable, so the read went around it
    degraded: bool = False
    #: the read decoded (its receipt has ec_decode)
    decoded: bool = False
    #: the repair was running when the request arrived
    during_repair: bool = False
    retries: int = 0
    #: fragment writes of a push that a failing disk cut short (rebuilt by the next repair)
    lost_writes: int = 0
    #: the frontend that served it ("" if it never reached one)
    frontend: str = ""
    #: why it failed: "network", "rate_limited", "auth" or "registry" (None: answered)
    failure: str | None = None
    error: str | None = None
    #: the source network it came from (its client's rack's, or an attacker's outside)
    network: str = ""
    #: for an "auth" failure: "credentials" (401), "denied" (403: a scope it holds no grant for)
    #: or "database"
    auth_reason: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start
