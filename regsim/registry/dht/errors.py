"""DHT errors: a peer that did not answer, and a DHT driven against its own state.

:class:`Unreachable` is an *event* of a run (a node is down, a link is cut): lookups catch it, drop
the peer and go on. :class:`DhtError` itself marks a bug in the driver, as
:class:`~regsim.registry.p2p.errors.P2PError` does for the swarm code.
"""

from __future__ import annotations

from ..errors import RegistryError


class DhtError(RegistryError):
    """The DHT was asked to do something its state does not allow (a bug in the caller)."""

    code, status = "UNKNOWN", 500


class Unreachable(DhtError):
    """A request could not be delivered to a peer, or it did not reply: the peer is down or cut off."""

    code, status = "UNAVAILABLE", 503
