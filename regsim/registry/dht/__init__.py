"""A Kademlia DHT with libp2p-style content routing, and a Spegel-style node-local mirror.

Free of sockets, threads and the wall clock: requests go through an injected :class:`Transport`
(an in-memory one for tests and the simulator), time comes from an injected clock, and every
lookup returns the RPCs it made so the simulator can price each as a round trip. Nothing here
imports the simulator. See docs/dht.md for parameters, sources and what differs from libp2p.

- :mod:`.ids` -- 256-bit IDs, XOR distance, bucket indices, the key of a layer digest.
- :mod:`.contact` -- :class:`Contact`: a peer's ID and transport address.
- :mod:`.routing` -- :class:`RoutingTable` of k-buckets (least-recently-seen eviction, refresh).
- :mod:`.records` -- :class:`ProviderStore` (records with expiry) and :class:`ProviderSchedule`
  (republishing).
- :mod:`.messages` -- PING, FIND_NODE, ADD_PROVIDER, GET_PROVIDERS and their replies.
- :mod:`.transport` -- the :class:`Transport` protocol and :class:`InMemoryTransport`.
- :mod:`.lookup` -- the iterative lookup (alpha per round) and its :class:`LookupResult`.
- :mod:`.node` -- :class:`DhtNode`: the RPC handlers, join, provide, republish, refresh.
- :mod:`.network` -- :class:`Network`: many nodes in one process, built and converged.
- :mod:`.mirror` -- :class:`Mirror`: advertise held layers, serve them under an upload cap,
  resolve a layer to a peer (same zone first) or the registry.
- :mod:`.clock` -- the clock type and :class:`ManualClock`.

Driving it (the simulator owns time; every call is instantaneous)::

    net = Network.build(200, seed=1, clock=lambda: env.now)
    mirror = Mirror(net["n7"], MemoryContent(), registry=fetch_from_registry, max_uploads=4)
    res = mirror.resolve(layer)              # res.lookup.rpcs / .rounds: price the DHT part
    if res.source == "peer":
        upload = peers(res.peer).open_upload(layer)   # "busy"? try res.candidates[1], ...
        ...                                   # transfer upload.nbytes, then upload.close()
    mirror.add_layer(layer, size)            # then mirror.complete_image(layers)
"""

from .clock import Clock, ManualClock
from .contact import Contact
from .errors import DhtError, Unreachable
from .ids import ID_BITS, NodeId, bucket_index, distance, id_of_name, key_of_digest, key_of_name, random_id
from .lookup import DEFAULT_ALPHA, LookupResult, ProvideResult, Rpc, iterative_lookup
from .messages import ADD_PROVIDER, FIND_NODE, GET_PROVIDERS, PING
from .mirror import (
    BUSY,
    LOCAL,
    NOT_FOUND,
    OK,
    PEER,
    REGISTRY,
    BlobStoreContent,
    ContentStore,
    FetchResult,
    MemoryContent,
    Mirror,
    MirrorPeers,
    Resolution,
    ServeResult,
    registry_fetch,
)
from .network import Network
from .node import DhtNode, Maintenance
from .records import (
    DEFAULT_RECORD_TTL_S,
    DEFAULT_REPUBLISH_INTERVAL_S,
    LIBP2P_2021,
    LIBP2P_2022,
    SPEGEL,
    ProviderSchedule,
    ProviderStore,
    RecordTiming,
)
from .routing import DEFAULT_K, DEFAULT_REFRESH_INTERVAL_S, BucketUpdate, KBucket, RoutingTable
from .transport import InMemoryTransport, Transport

__all__ = [
    "ADD_PROVIDER",
    "BUSY",
    "DEFAULT_ALPHA",
    "DEFAULT_K",
    "DEFAULT_RECORD_TTL_S",
    "DEFAULT_REFRESH_INTERVAL_S",
    "DEFAULT_REPUBLISH_INTERVAL_S",
    "FIND_NODE",
    "GET_PROVIDERS",
    "ID_BITS",
    "LIBP2P_2021",
    "LIBP2P_2022",
    "LOCAL",
    "NOT_FOUND",
    "OK",
    "PEER",
    "PING",
    "REGISTRY",
    "SPEGEL",
    "BlobStoreContent",
    "BucketUpdate",
    "Clock",
    "Contact",
    "ContentStore",
    "DhtError",
    "DhtNode",
    "FetchResult",
    "InMemoryTransport",
    "KBucket",
    "LookupResult",
    "Maintenance",
    "ManualClock",
    "MemoryContent",
    "Mirror",
    "MirrorPeers",
    "Network",
    "NodeId",
    "ProvideResult",
    "ProviderSchedule",
    "ProviderStore",
    "RecordTiming",
    "Resolution",
    "RoutingTable",
    "Rpc",
    "ServeResult",
    "Transport",
    "Unreachable",
    "bucket_index",
    "distance",
    "id_of_name",
    "iterative_lookup",
    "key_of_digest",
    "key_of_name",
    "random_id",
    "registry_fetch",
]
