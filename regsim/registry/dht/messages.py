"""The four DHT RPCs and their replies, as plain immutable values.

These are the libp2p kad-dht messages the content routing needs (``PING``, ``FIND_NODE``,
``ADD_PROVIDER``, ``GET_PROVIDERS``; ``PUT_VALUE`` / ``GET_VALUE`` are not used by a mirror and are
left out). They are Python objects, not protobuf bytes: the transport hands them over in memory,
and a model that wants to price a message's size can use :func:`wire_size`, an estimate of the
protobuf encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

from .contact import Contact
from .ids import NodeId

PING, FIND_NODE, ADD_PROVIDER, GET_PROVIDERS = "PING", "FIND_NODE", "ADD_PROVIDER", "GET_PROVIDERS"


@dataclass(frozen=True, slots=True)
class Ping:
    """Are you there? Answered by :class:`Pong`."""

    kind = PING


@dataclass(frozen=True, slots=True)
class FindNode:
    """Send me the ``k`` contacts you know closest to ``key``. Answered by :class:`Nodes`."""

    key: NodeId
    kind = FIND_NODE


@dataclass(frozen=True, slots=True)
class GetProviders:
    """Send me the providers of ``key`` you hold, and the ``k`` contacts closest to it.
    Answered by :class:`Providers`."""

    key: NodeId
    kind = GET_PROVIDERS


@dataclass(frozen=True, slots=True)
class AddProvider:
    """Record that ``provider`` provides ``key``; only the sender may name itself (libp2p spec).
    Answered by :class:`Ack`."""

    key: NodeId
    provider: Contact
    kind = ADD_PROVIDER


Request = Ping | FindNode | GetProviders | AddProvider


@dataclass(frozen=True, slots=True)
class Pong:
    kind = PING


@dataclass(frozen=True, slots=True)
class Nodes:
    closer: tuple[Contact, ...]
    kind = FIND_NODE

    @property
    def providers(self) -> tuple[Contact, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Providers:
    providers: tuple[Contact, ...]
    closer: tuple[Contact, ...]
    kind = GET_PROVIDERS


@dataclass(frozen=True, slots=True)
class Ack:
    """``stored`` is False when the holder refused the record (the provider was not the sender)."""

    stored: bool
    kind = ADD_PROVIDER


Reply = Pong | Nodes | Providers | Ack

#: rough protobuf sizes: a message header, a key, and a peer entry (a 38-byte peer ID plus one
#: ~20-byte multiaddr with their tags); enough to price the bytes of an RPC, not to parse one.
_HEADER, _KEY, _PEER = 8, 36, 64


def wire_size(message: Request | Reply) -> int:
    """Approximate bytes of ``message`` as libp2p would encode it (for pricing, not parsing)."""
    size = _HEADER
    if isinstance(message, (FindNode, GetProviders)):
        size += _KEY
    elif isinstance(message, AddProvider):
        size += _KEY + _PEER
    elif isinstance(message, Nodes):
        size += _PEER * len(message.closer)
    elif isinstance(message, Providers):
        size += _PEER * (len(message.closer) + len(message.providers))
    elif isinstance(message, Ack):
        size += 2
    return size
