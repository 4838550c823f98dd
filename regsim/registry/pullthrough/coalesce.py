"""Coalescing concurrent misses for the same content: one fetch upstream, the others wait for it.

Without coalescing, N clients that miss the same blob at once make N upstream requests (and, for
manifests, spend N pulls of a rate-limited budget). With it, the first miss becomes the *leader*
and fetches; misses arriving while that fetch is in flight become *followers* and receive its
outcome -- the value or the error -- when the leader completes. CNCF distribution's proxy does
not coalesce: a request for a blob already being fetched streams it from the remote again,
without storing it (``registry/proxy/proxyblobstore.go``, the ``inflight`` map); Go's
``singleflight`` is the usual way to add it.

Built for a discrete-event driver, without threads or waiting: :meth:`Coalescer.begin` returns
at once, either a :class:`Leader` (go and fetch, then call :meth:`Coalescer.complete` or
:meth:`Coalescer.fail`) or a :class:`Follower` (a handle that is resolved by that call; poll
:attr:`Follower.done` or register :meth:`Follower.add_callback`, e.g. to succeed a SimPy event).
Concurrency is whatever the driver interleaves between a leader's ``begin`` and its completion.
With ``enabled=False`` every ``begin`` returns a new leader: every concurrent miss goes upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import count
from typing import Any

from .errors import PullThroughError

_ids = count(1)


class Leader:
    """The request that fetches ``key``; completes through :meth:`Coalescer.complete` / ``fail``.

    ``registered``: followers can join it (False when coalescing is off). ``context`` is free for
    the caller (the cache keeps its fill there).
    """

    __slots__ = ("key", "id", "registered", "done", "context")

    def __init__(self, key: Hashable, registered: bool) -> None:
        self.key = key
        self.id = next(_ids)
        self.registered = registered
        self.done = False
        self.context: Any = None

    def __repr__(self) -> str:
        return f"Leader({self.key!r}, id={self.id}{', done' if self.done else ''})"


class Follower:
    """A request waiting for leader ``leader_id``'s fetch of ``key``."""

    __slots__ = ("key", "leader_id", "done", "_value", "_error", "_callbacks")

    def __init__(self, key: Hashable, leader_id: int) -> None:
        self.key = key
        self.leader_id = leader_id
        self.done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Follower], None]] = []

    def __repr__(self) -> str:
        return f"Follower({self.key!r}, leader={self.leader_id}{', done' if self.done else ''})"

    @property
    def failed(self) -> bool:
        return self.done and self._error is not None

    @property
    def error(self) -> BaseException | None:
        return self._error

    def result(self) -> Any:
        """The leader's value; raises the leader's error; PullThroughError if not resolved yet."""
        if not self.done:
            raise PullThroughError(f"follower of {self.key!r} read before its leader {self.leader_id} completed")
        if self._error is not None:
            raise self._error
        return self._value

    def add_callback(self, fn: Callable[[Follower], None]) -> None:
        """Call ``fn(self)`` when resolved (at once if already resolved)."""
        if self.done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        self.done, self._value, self._error = True, value, error
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)


class Coalescer:
    """Leaders and followers by key. ``leaders`` and ``followers`` count what :meth:`begin` handed out."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._flights: dict[Hashable, tuple[Leader, list[Follower]]] = {}
        self.leaders = 0
        self.followers = 0

    def __len__(self) -> int:
        """Fetches in flight that followers can join."""
        return len(self._flights)

    def in_flight(self, key: Hashable) -> bool:
        return key in self._flights

    def waiting(self, key: Hashable) -> int:
        """Followers waiting on ``key``'s fetch."""
        flight = self._flights.get(key)
        return len(flight[1]) if flight else 0

    def begin(self, key: Hashable) -> Leader | Follower:
        """A miss on ``key``: a follower of the fetch in flight, else the leader of a new one."""
        if self.enabled:
            flight = self._flights.get(key)
            if flight is not None:
                follower = Follower(key, flight[0].id)
                flight[1].append(follower)
                self.followers += 1
                return follower
        leader = Leader(key, registered=self.enabled)
        if self.enabled:
            self._flights[key] = (leader, [])
        self.leaders += 1
        return leader

    def complete(self, leader: Leader, value: Any = None) -> list[Follower]:
        """The leader's fetch succeeded: resolve its followers with ``value``; returns them."""
        return self._finish(leader, value, None)

    def fail(self, leader: Leader, error: BaseException) -> list[Follower]:
        """The leader's fetch failed: its followers' ``result()`` raise ``error``; returns them."""
        return self._finish(leader, None, error)

    def _finish(self, leader: Leader, value: Any, error: BaseException | None) -> list[Follower]:
        if leader.done:
            raise PullThroughError(f"{leader!r} completed twice")
        leader.done = True
        if not leader.registered:
            return []
        _, followers = self._flights.pop(leader.key)
        for follower in followers:
            follower._resolve(value, error)
        return followers
