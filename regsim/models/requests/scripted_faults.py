"""Scripted faults beside storage failures: network partitions, database outages, bad credentials.

The ``poisson`` and ``closed`` models play every event of ``failures.events`` that is not a
storage ``fail``/``repair`` (those belong to :mod:`.storage_failures`) here. An event starts at
its ``at`` and ends ``duration`` later (null: at a matching ``repair`` event, else never):

- ``partition`` of ``node/I`` or ``rack/I``: the clients on those hosts cannot reach the registry
  (their requests time out: network failures); of ``frontend/I``: its connections break and the
  load balancer sends new ones elsewhere; of ``storage/I``: the node stops serving, and comes
  back with its data (reads go around it meanwhile);
- ``db-down`` (or ``fail`` of ``db``): the database refuses queries and aborts those in flight;
- ``fail`` of ``frontend/I``: as a partition of the frontend;
- ``bad-credentials`` of ``all``, ``node/I`` or ``rack/I``: the clients there present a wrong
  password (see :mod:`.auth_path`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from regsim.registry.blobstore import extent_key

from regsim.models.core.spec import ModelError
from .storage_failures import phase_nodes

if TYPE_CHECKING:
    from .run import PoissonRun

#: kinds of ``failures.events`` the models play here, by target kind
PLAYED = {
    "partition": ("node", "rack", "frontend", "storage"),
    "db-down": ("db",),
    "bad-credentials": ("all", "node", "rack"),
    "fail": ("db", "frontend"),
    "repair": ("db", "frontend"),
}


class Faults:
    """Plays the scripted faults of one run and logs ``(time, kind, target, "start" | "end")``."""

    def __init__(self, run: PoissonRun) -> None:
        self.run = run
        self.env = run.env
        self.log: list[tuple[float, str, str, str]] = []
        self._open: dict[str, simpy.Event] = {}  # target of a fail -> the event a repair triggers

    def plan(self, events: list) -> None:
        """Check and schedule ``events`` (scenario ``failures.events`` items with their indices)."""
        for i, event in events:
            kind, target = event.kind, event.target_kind()
            if target not in PLAYED.get(kind, ()):
                raise ModelError(f"failures.events[{i}]: the {self.run.scenario.workload.kind} model has no "
                                 f"'{kind}' of {event.target!r}")
            if target == "db" and not self.run.auth.databases:
                raise ModelError(f"failures.events[{i}]: '{kind}' of the database needs registry.auth.mode "
                                 "'jwt' or 'db'; this scenario has no database")
        for i, event in events:
            if event.kind != "repair":
                self.env.process(self._play(event))
        for i, event in events:
            if event.kind == "repair":
                self.env.process(self._repair(event))

    def _play(self, event) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(event.at)
        self._apply(event.kind, event, True)
        if event.duration is not None:
            yield self.env.timeout(event.duration)
        elif event.kind == "fail":
            ended = self._open[event.target] = self.env.event()
            yield ended
        else:
            return
        self._apply(event.kind, event, False)

    def _repair(self, event) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(event.at)
        pending = self._open.pop(event.target, None)
        if pending is not None:
            pending.succeed()

    def _apply(self, kind: str, event, on: bool) -> None:
        run, target = self.run, event.target_kind()
        self.log.append((self.env.now, kind, event.target, "start" if on else "end"))
        if target == "db":
            for db in run.auth.databases:
                if on:
                    db.down()
                else:
                    db.up()
        elif kind == "bad-credentials":
            for client in self.clients(event):
                run.auth.bad[client] += 1 if on else -1
                if run.auth.bad[client] <= 0:
                    del run.auth.bad[client]
        elif target == "storage":
            node = run.world.storage[event.target_index()]
            if on:
                run.storage.fail(node)
            else:
                run.storage.restore(node)
        elif target == "frontend":
            run.access.partition([run.world.frontends[event.target_index()]], on)
        else:
            run.access.partition(self.hosts(event), on)

    def hosts(self, event) -> list[str]:
        """The cluster hosts an event targets (``all``, ``node/I``, ``rack/I``)."""
        world, target, index = self.run.world, event.target_kind(), event.target_index()
        if target == "node":
            return [world.nodes[index]]
        if target == "rack":
            return [n for n in world.nodes if world.node_rack[n] == index]
        return list(world.nodes)

    def clients(self, event) -> list[str]:
        """The clients on the hosts an event targets."""
        hosts = set(self.hosts(event))
        return [name for name, host in self.run.clients if host in hosts]


def plan_failures(run: PoissonRun) -> None:
    """Dispatch the run's ``failures``: storage fail/repair events, random failures and the degraded
    phases to its :class:`~.storage_failures.StorageFailures`, every other event to its :class:`Faults`."""
    failures, storage = run.scenario.failures, run.world.storage
    script: list[tuple[float, str, str]] = []
    others = []
    for i, event in enumerate(failures.events):
        if event.kind not in ("fail", "repair") or event.target_kind() != "storage":
            others.append((i, event))
            continue
        node = storage[event.target_index()]  # type: ignore[index]
        script.append((event.at, node, event.kind))
        if event.kind == "fail" and event.duration is not None:
            script.append((event.at + event.duration, node, "repair"))
    run.faults.plan(others)
    if script:
        run.failure_mode = "scripted"
        run.storage.script(script)
    elif failures.measure_degraded:
        if len(storage) < 2:
            raise ModelError("failures.measure_degraded fails two storage nodes, but registry.storage.nodes "
                             f"is {len(storage)}")
        run.failure_mode = "phases"
        keys = [extent_key(d, 0) for d in run.work.layers]
        run.phase_nodes = phase_nodes(run.registry, keys, run.k)
        run.storage.phases(run.duration, *run.phase_nodes)
    if failures.afr > 0:
        scripted = {node for _, node, _ in script}
        run.storage.random([s for s in storage if s not in scripted], failures.afr, failures.repair_time)
