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

from collections.abc import Callable, Generator, Hashable, Iterable

import simpy

from regsim.registry.receipts import Receipt, WorkItem

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
        items = on_frontend(Receipt(list(receipt)), frontend)
        if items:  # no work (no auth, say): nothing to run, and no process to run it in
            yield self.world.executor.process(items)

    def serve(self, items: Iterable[WorkItem]) -> Steps:
        """Run every item side by side (a streaming server overlaps its stages); the items that failed."""
        env = self.world.env
        failed: list[WorkItem] = []
        branches = [self.world.executor.start(item, self.on_failure(failed)) for item in items]
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
        # the client's transfer is asked for first, then the items' in receipt order (as when each
        # item started in a process of its own, one step later); disks and transfers start at once,
        # without a process each (ReceiptExecutor.start)
        branches = [self.world.net.transfer(src, dst, nbytes, tag=tag)]
        on_failure = self.on_failure(failed)
        branches += [self.world.executor.start(item, on_failure) for item in items]
        yield env.all_of(branches)
        return failed

    def on_failure(self, failed: list[WorkItem] | None = None) -> Callable[[WorkItem], None]:
        """What a branch whose disk failed does (:meth:`ReceiptExecutor.start
        <regsim.sim.receipt_executor.ReceiptExecutor.start>`): the run counts the item, and
        ``failed``, if given, holds it."""
        def record(item: WorkItem) -> None:
            if failed is not None:
                failed.append(item)
            self.failed_items += 1
        return record
