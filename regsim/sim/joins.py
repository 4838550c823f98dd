"""Waiting for several events at once, more cheaply than :class:`simpy.AllOf`.

A 10,000-client central rollout joins 40,000 groups of events (each layer's response, storage
read and storage transfer; each node's layers). :class:`simpy.AllOf` keeps a tuple of its
events, checks each through a general ``evaluate`` call and, once processed, builds a dict of
every event's value -- work the rollout never reads. :func:`all_done` counts down instead. It
succeeds at the very moment an ``AllOf`` would (when the last of its events is processed), so
every event after it is scheduled in the same order and simulated results do not move. It fails
as ``AllOf`` does, with the first failure among its events (which it defuses). Its value is
None, not a ``ConditionValue``.
"""

from __future__ import annotations

from collections.abc import Sequence

import simpy

__all__ = ["all_done"]


class _Countdown:
    """The callback hung on each event of a join: counts them down, then triggers the join."""

    __slots__ = ("join", "left")

    def __init__(self, join: simpy.Event, left: int) -> None:
        self.join, self.left = join, left

    def __call__(self, event: simpy.Event) -> None:
        join = self.join
        if join.triggered:  # an event failed before: the join has failed already
            return
        if not event.ok:
            event.defused = True
            join.fail(event.value)
            return
        self.left -= 1
        if not self.left:
            join.succeed()


def all_done(env: simpy.Environment, events: Sequence[simpy.Event]) -> simpy.Event:
    """An event that succeeds when every one of ``events`` has been processed (at once if there
    are none), or fails with the first failure among them: :class:`simpy.AllOf` without a value."""
    join = simpy.Event(env)
    if not events:
        join.succeed()
        return join
    countdown = _Countdown(join, len(events))
    for event in events:
        if event.callbacks is None:  # already processed
            countdown(event)
        else:
            event.callbacks.append(countdown)
    return join
