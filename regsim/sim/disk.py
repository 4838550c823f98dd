"""A storage device: a FIFO queue in front of a seek plus a bandwidth, that can fail.

An I/O of ``n`` bytes takes ``seek_s + n / bandwidth`` once the device takes it; with the default
queue depth of one the device serves one request at a time, so concurrent reads queue behind each
other exactly as on a spinning disk (raise ``queue_depth`` for an SSD that overlaps requests; each
slot then runs at the full bandwidth, which is an upper bound, not a sharing model).

A disk can fail and be repaired (driven by :mod:`regsim.sim.failure_processes` or by a scenario). While
failed it refuses new I/O, and failing aborts I/O in flight and in the queue: every such caller
gets :class:`DiskFailed`, at the simulated moment of the failure, not when its I/O would have
ended.

:class:`InFlight` is the bookkeeping that makes in-flight work abortable; the database model
uses it too. Busy time, utilisation and queue length come from
:class:`~regsim.sim.monitored.MonitoredResource`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import simpy

from regsim.errors import RegsimError

from .monitored import MonitoredResource


class DiskFailed(RegsimError, RuntimeError):
    """I/O was refused or aborted because the disk has failed."""


class InFlight:
    """Service periods that complete after their duration unless aborted first.

    Each period is an event the caller yields; :meth:`abort` fails every pending one with a fresh
    exception, so each waiting process sees the failure immediately. Pending periods are kept in
    the order they began (a dict, not a set, whose order would follow memory addresses), so an
    abort fails them in the same order in every run: same-time events stay deterministic.
    """

    __slots__ = ("_env", "_pending")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self._pending: dict[simpy.Event, None] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def service(self, seconds: float) -> simpy.Event:
        done = self._env.event()
        self._pending[done] = None

        def finish(_: simpy.Event) -> None:
            self._pending.pop(done, None)
            if not done.triggered:
                done.succeed(seconds)

        self._env.timeout(seconds).callbacks.append(finish)
        return done

    def abort(self, make_error: Callable[[], Exception]) -> int:
        """Fail every pending period; returns how many were aborted."""
        aborted = 0
        for done in list(self._pending):
            if not done.triggered:
                done.fail(make_error())
                # A caller interrupted earlier no longer waits on it; don't let that crash the run.
                done.defused = True
                aborted += 1
        self._pending.clear()
        return aborted


def start_process(env: simpy.Environment, steps: Generator[simpy.Event, object, float],
                  done: Callable[[float | DiskFailed], None]) -> None:
    """Run an I/O generator as a process and hand ``done`` its outcome: the service time, or the
    :class:`DiskFailed` it raised -- :meth:`Disk.start_io`'s contract, for devices whose I/O
    needs a process of its own (an object store's retries, a file server's round trips)."""

    def finished(event: simpy.Event) -> None:
        if not event.ok:
            event.defused = True  # handed to ``done`` as the outcome
        done(event.value)  # type: ignore[arg-type]

    env.process(steps).callbacks.append(finished)


class Disk(MonitoredResource):
    """One device with read and write bandwidths (bytes/s), a per-I/O seek, and a failed state."""

    def __init__(self, env: simpy.Environment, read_bw: float, write_bw: float, *, seek_s: float = 0.0,
                 queue_depth: int = 1, name: str = "disk") -> None:
        for what, value in (("read_bw", read_bw), ("write_bw", write_bw)):
            if not value > 0:
                raise ValueError(f"Disk {name!r}: {what} must be a positive bandwidth in bytes/s, got {value!r}")
        if not seek_s >= 0:
            raise ValueError(f"Disk {name!r}: seek_s must be non-negative, got {seek_s!r}")
        if isinstance(queue_depth, bool) or not isinstance(queue_depth, int) or queue_depth < 1:
            raise ValueError(f"Disk {name!r}: queue_depth must be a positive integer, got {queue_depth!r}")
        super().__init__(env, queue_depth)
        self.name = name
        self.read_bw, self.write_bw, self.seek_s = float(read_bw), float(write_bw), float(seek_s)
        self.failed = False
        self._inflight = InFlight(env)
        self.bytes_read = self.bytes_written = 0
        self.reads = self.writes = 0
        self.failures = self.aborted = self.refused = 0

    def __repr__(self) -> str:
        state = "failed" if self.failed else "ok"
        return f"Disk({self.name!r}, {state}, busy={self.count}, queued={len(self.queue)})"

    def service_time(self, nbytes: int, *, write: bool = False) -> float:
        """Seconds the device is busy with one I/O of ``nbytes``, queueing excluded."""
        if nbytes < 0:
            raise ValueError(f"Disk {self.name!r}: negative I/O size {nbytes}")
        return self.seek_s + nbytes / (self.write_bw if write else self.read_bw)

    def read(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        """Read ``nbytes``; returns the service time. Raises :class:`DiskFailed`."""
        return (yield from self._io(nbytes, write=False))

    def write(self, nbytes: int) -> Generator[simpy.Event, object, float]:
        """Write ``nbytes``; returns the service time. Raises :class:`DiskFailed`."""
        return (yield from self._io(nbytes, write=True))

    def _refuse(self, op: str) -> DiskFailed:
        self.refused += 1
        return DiskFailed(f"disk {self.name!r} has failed: {op} refused at t={self._env.now:g}")

    def _io(self, nbytes: int, *, write: bool) -> Generator[simpy.Event, object, float]:
        op = "write" if write else "read"
        seconds = self.service_time(nbytes, write=write)
        if self.failed:
            raise self._refuse(op)
        with self.request() as req:
            yield from self.wait_for(req)
            if self.failed:  # failed while this I/O was queued
                raise self._refuse(op)
            with self.busy:
                yield self._inflight.service(seconds)
        self._count(nbytes, write)
        return seconds

    def _count(self, nbytes: int, write: bool) -> None:
        """Meter one finished I/O."""
        if write:
            self.bytes_written += nbytes
            self.writes += 1
        else:
            self.bytes_read += nbytes
            self.reads += 1

    def start_io(self, nbytes: int, done: Callable[[float | DiskFailed], None], *, write: bool = False) -> None:
        """:meth:`read` or :meth:`write` without a process: ``done(outcome)`` is called when a
        process running it would have resumed, with the service time or the :class:`DiskFailed`.

        Same queue, meters and moments as the generator (granted at once when idle, served when
        granted, released when served), so a caller that runs thousands of I/Os side by side (a
        rollout's layer reads) gets the same simulated times without a SimPy process per I/O.
        """
        op = "write" if write else "read"
        seconds = self.service_time(nbytes, write=write)
        if self.failed:
            done(self._refuse(op))
            return
        io = _StartedIO(self, self.request(), done, nbytes, write, seconds, op)
        if io.req.triggered:
            io.granted()
        else:
            self.waiting.change(+1)
            io.req.callbacks.append(io.waited)

    def fail(self) -> int:
        """Mark the disk failed and abort I/O in flight; returns how many I/Os were aborted."""
        if self.failed:
            return 0
        self.failed = True
        self.failures += 1
        now = self._env.now
        aborted = self._inflight.abort(lambda: DiskFailed(f"disk {self.name!r} failed at t={now:g} during I/O"))
        self.aborted += aborted
        return aborted

    def repair(self) -> None:
        """Bring the disk back (its contents are the storage layer's business, not the device's)."""
        self.failed = False


class _StartedIO:
    """One I/O of :meth:`Disk.start_io` on its way: its request, then its service period.

    An object with slots and bound methods as the callbacks, rather than closures: a rollout keeps
    tens of thousands of layer reads queued at once, and closures' cells are many more objects
    for the garbage collector to walk.
    """

    __slots__ = ("disk", "req", "done", "nbytes", "write", "seconds", "op")

    def __init__(self, disk: Disk, req: simpy.Event, done: Callable[[float | DiskFailed], None], nbytes: int,
                 write: bool, seconds: float, op: str) -> None:
        self.disk, self.req, self.done = disk, req, done
        self.nbytes, self.write, self.seconds, self.op = nbytes, write, seconds, op

    def waited(self, event: simpy.Event) -> None:
        self.disk.waiting.change(-1)
        self.granted(event)

    def granted(self, _: simpy.Event | None = None) -> None:
        disk = self.disk
        if disk.failed:  # failed while this I/O was queued
            disk.release(self.req)
            self.done(disk._refuse(self.op))
            return
        disk.busy.change(+1)
        disk._inflight.service(self.seconds).callbacks.append(self.served)

    def served(self, event: simpy.Event) -> None:
        disk = self.disk
        disk.busy.change(-1)
        disk.release(self.req)
        if not event.ok:
            self.done(event.value)
            return
        disk._count(self.nbytes, self.write)
        self.done(self.seconds)
