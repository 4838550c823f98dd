"""Replaying the real registry's receipts on the simulated platform: what every model shares.

A model runs a request through the real registry, which hands back a receipt of the work it did;
:class:`Replay` turns that receipt into simulated time on the :class:`~regsim.models.core.world.World`:

- a small request (a token, an auth check, a manifest) is one round trip from the client to a
  frontend and then the registry's work, item after item, in the order the registry did it;
- a blob streams: every item of its (merged) receipt -- each storage node's disk and NIC, the
  frontend's hashing, coding and encryption -- runs side by side with the client's own transfer,
  so a blob takes as long as its slowest stage (the per-extent work of a blob is priced as its sum
  per resource, see :func:`regsim.models.core.work.merged`).

A storage disk that fails under a running item fails that item only, at the moment of the
failure; :meth:`Replay.serve` and :meth:`Replay.stream` return the items that failed, so the model
decides what the request does about it (read again around the lost node, or count a lost write).
"""

from __future__ import annotations

from collections.abc import Generator, Hashable, Iterable

import simpy

from regsim.registry.receipts import Receipt, WorkItem
from regsim.sim.disk import DiskFailed

from .work import on_frontend
from .world import World

__all__ = ["Replay", "combine"]

Steps = Generator[simpy.Event, object, list[WorkItem]]


def combine(*parts: Receipt | Iterable[WorkItem]) -> Receipt:
    """One receipt holding every part's items, in order (an auth check followed by a manifest GET)."""
    out = Receipt()
    for part in parts:
        out.extend(list(part))
    return out


class Replay:
    """Prices receipts of the real registry on the resources of ``world``."""

    def __init__(self, world: World) -> None:
        self.world = world
        #: items a failing disk cut short, over the whole run
        self.failed_items = 0

    def request(self, client: str, frontend: str,
                receipt: Receipt | Iterable[WorkItem]) -> Generator[simpy.Event, object, None]:
        """A small request: the client's round trip to ``frontend``, then the registry's work for it."""
        yield self.world.net.transfer(client, frontend, 0)
        yield self.world.executor.process(on_frontend(Receipt(list(receipt)), frontend))

    def serve(self, items: Iterable[WorkItem]) -> Steps:
        """Run every item side by side (a streaming server overlaps its stages); the items that failed."""
        env = self.world.env
        failed: list[WorkItem] = []
        branches = [env.process(self._guarded(item, failed)) for item in items]
        if branches:
            yield env.all_of(branches)
        return failed

    def stream(self, items: Iterable[WorkItem], src: str, dst: str, nbytes: int, *,
               tag: Hashable = None) -> Steps:
        """Serve ``items`` while ``nbytes`` move from ``src`` to ``dst`` (a blob's response or upload).

        Returns the items a failing disk cut short; the client's transfer always completes.
        """
        env = self.world.env
        failed: list[WorkItem] = []
        branches = [env.process(self._guarded(item, failed)) for item in items]
        branches.append(self.world.net.transfer(src, dst, nbytes, tag=tag))
        yield env.all_of(branches)
        return failed

    def _guarded(self, item: WorkItem, failed: list[WorkItem]) -> Generator[simpy.Event, object, None]:
        try:
            yield from self.world.executor.execute([item])
        except DiskFailed:
            failed.append(item)
            self.failed_items += 1
