"""A synchronous, time-free driver for swarm tests: everyone decides, then every transfer lands.

Each round every incomplete peer (in a random order) asks for pieces -- from the peers its tracker
hands out, or from the parents its scheduler assigns -- within download and upload-slot limits;
at the end of the round every requested piece arrives (with its bytes when ``fetch_source`` is
given, read from the serving member or, back-to-source, from the registry). No clock, no threads:
the round count stands in for time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from regsim.registry.digest import compute
from regsim.registry.p2p import Agent, MetaInfo, Scheduler, Swarm, Tracker


def modelled_info(pieces: int, piece_size: int = 4 << 20, tail: int = 0, label: bytes = b"blob") -> MetaInfo:
    """A modelled metainfo of ``pieces`` pieces (the last ``tail`` bytes short)."""
    return MetaInfo.modelled(compute(label), pieces * piece_size - tail, piece_size)


@dataclass
class RoundStats:
    rounds: int = 0
    transfers: int = 0
    max_slots_used: dict = field(default_factory=dict)  # peer id -> most upload slots seen in use

    def note_slots(self, members) -> None:
        for m in members:
            used = m.slots.used
            if used > self.max_slots_used.get(m.peer_id, 0):
                self.max_slots_used[m.peer_id] = used


def run_rounds(swarm: Swarm, agents: Sequence[Agent], rng: np.random.Generator, *,
               tracker: Tracker | None = None, neighbours: int = 10, scheduler: Scheduler | None = None,
               fetch_source: Callable[[int], bytes] | None = None, max_rounds: int = 10_000,
               watch_slots: bool = False) -> RoundStats:
    """Run rounds until every agent completes; ``fetch_source`` set means real bytes move."""
    if (tracker is None) == (scheduler is None):
        raise ValueError("drive the swarm with a tracker or with a scheduler")
    blob = swarm.metainfo.digest
    stats = RoundStats()
    pending = list(agents)
    while pending:
        if stats.rounds >= max_rounds:
            raise AssertionError(f"swarm not complete after {max_rounds} rounds: {len(pending)} peers left")
        stats.rounds += 1
        transfers = []
        for i in rng.permutation(len(pending)).tolist():
            agent = pending[i]
            if tracker is not None:
                candidates = [swarm.member(p) for p in tracker.peers(blob, agent.peer_id, neighbours)]
                requests = agent.next_requests(candidates)
            else:
                plan = scheduler.assign(agent.peer_id)
                requests = agent.next_requests(plan.parents, back_to_source=plan.back_to_source)
            if requests:
                transfers.append((agent, requests))
        if watch_slots:
            stats.note_slots(swarm)
        done = []
        if fetch_source is None:
            # modelled data plane: each peer's pieces of the round land together, as one batch
            done = [agent for agent, requests in transfers if agent.on_pieces([r.piece for r in requests])]
        else:
            for agent, requests in transfers:
                for piece, source in requests:
                    data = fetch_source(piece) if source is None else source.read_piece(piece)
                    if agent.on_piece(piece, data):
                        done.append(agent)
        for agent in done:
            if tracker is not None:
                tracker.announce(agent.peer_id, blob, complete=True)
            else:
                scheduler.release(agent.peer_id)
        stats.transfers += sum(len(requests) for _, requests in transfers)
        pending = [a for a in pending if not a.complete]
    return stats
