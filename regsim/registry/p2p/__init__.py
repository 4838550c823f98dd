"""P2P image distribution logic (Kraken- and Dragonfly-style), free of transport and time.

The simulator drives these objects and prices the work they report; nothing here imports it.

- :class:`MetaInfo` -- a blob in pieces: sizes, and sha256 per piece when the bytes are real.
- :class:`Swarm` -- the members of one blob's swarm and its piece availability counts.
- :class:`Agent` -- a downloading peer: bitmap, requests in flight, upload slots, piece choice,
  back-to-source, and (real data plane) a :class:`PieceStore` of verified piece bytes;
  :class:`Origin` / :class:`Seed` -- seeders fed from the registry.
- :class:`Tracker` -- Kraken's bounded, prioritised peer handouts.
- :class:`Scheduler` -- Dragonfly's parent assignment by load within upload limits;
  :class:`TopologicalOrder` keeps its streaming parent graph acyclic cheaply.
- :mod:`selection` -- rarest-first, random and sequential piece selection.

Driving a swarm (the simulator owns time; every call below is instantaneous)::

    info = origin.pull(repo, digest, piece_size, mode="modelled")   # or "whole" / "ranged"
    swarm = Swarm(info); origin.join(swarm)
    tracker.announce(origin.peer_id, info.digest, origin=True)
    agent = Agent(host, swarm, rng=rr.stream(f"p2p/{host}"))        # joins the swarm
    tracker.announce(host, info.digest)
    # whenever the agent may start transfers (on joining, and when one of its transfers ends):
    peers = [swarm.member(p) for p in tracker.peers(info.digest, host, 10)]
    for piece, source in agent.next_requests(peers):                # or the scheduler's parents
        ...  # start a flow of info.piece_length(piece) bytes: source -> host, or registry -> host
    # when a flow ends:
    if agent.on_piece(piece):   # or agent.on_pieces([...]) for a batch; agent.on_failed(piece)
        tracker.announce(host, info.digest, complete=True)
"""

from .agent import Agent
from .bitfield import Availability, pack, unpack
from .errors import MetaInfoInvalid, P2PError
from .metainfo import MetaInfo
from .origin import BlobSource, Origin, Seed
from .peer import Member, Request, UploadSlots
from .pool import RandomPool
from .scheduler import Assignment, Scheduler
from .selection import RandomPiece, RarestFirst, Selector, Sequential, make_selector
from .store import PieceStore
from .swarm import Swarm
from .topo import TopologicalOrder
from .tracker import Tracker

__all__ = [
    "Agent",
    "Assignment",
    "Availability",
    "BlobSource",
    "Member",
    "MetaInfo",
    "MetaInfoInvalid",
    "Origin",
    "P2PError",
    "PieceStore",
    "RandomPiece",
    "RandomPool",
    "RarestFirst",
    "Request",
    "Scheduler",
    "Seed",
    "Selector",
    "Sequential",
    "Swarm",
    "TopologicalOrder",
    "Tracker",
    "UploadSlots",
    "make_selector",
    "pack",
    "unpack",
]
