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
  password (see :mod:`.auth_path`);
- ``stolen-credential`` of ``node/I``: someone outside the cluster (network
  :data:`OUTSIDE_NETWORK`) uses the credentials of node I's client, one manifest GET every
  :data:`ATTACK_INTERVAL_S`, while the client goes on using them from its rack;
- ``issuer-down`` (of ``issuer``): the short-lived credentials' issuer refuses renewals
  (:mod:`.credentials`);
- ``scope-probe`` of ``node/I``: node I's client asks, every :data:`ATTACK_INTERVAL_S`, for a scope
  it holds no grant for (deleting the image's manifests), and the real authorizer refuses it.

Every client sits in its rack's network (:func:`rack_network`): the audit-driven alert rules
(:mod:`regsim.registry.auth.detection`) see where each credential is used from.

:func:`plan_failures` splits ``failures`` between the two: storage events, random failures and
the degraded-read phases go to :class:`~.storage_failures.StorageFailures`, every other event to
:class:`Faults`, which acts on the objects it is given (the auth path, the access layer, the
storage failures) and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from regsim.registry.blobstore import extent_key
from regsim.registry.digest import Digest
from regsim.registry.registry import Registry
from regsim.spec.traffic import Failures

from regsim.models.core.spec import ModelError

from .storage_failures import StorageFailures, phase_nodes

if TYPE_CHECKING:
    from regsim.models.core.world import World

    from .access import AccessLayer
    from .auth_path import AuthPath
    from .credentials import CredentialRenewal

__all__ = ["PLAYED", "FailurePlan", "Faults", "plan_failures"]

#: scripted attacks: requests sent on a client's behalf while the event lasts
ATTACKS = ("stolen-credential", "scope-probe")

#: kinds of ``failures.events`` the models play here, by target kind
PLAYED = {
    "partition": ("node", "rack", "frontend", "storage"),
    "db-down": ("db",),
    "bad-credentials": ("all", "node", "rack"),
    "stolen-credential": ("node",),
    "scope-probe": ("node",),
    "issuer-down": ("issuer",),
    "fail": ("db", "frontend"),
    "repair": ("db", "frontend"),
}


#: where a stolen credential is used from: a documentation network (RFC 5737), outside the cluster
OUTSIDE_NETWORK = "203.0.113.0/24"
#: one attacker or prober request this often
ATTACK_INTERVAL_S = 1.0


def rack_network(rack: int) -> str:
    """The /24 network of the cluster's rack ``rack``: ``10.0.<rack>.0/24`` (then 10.1..., past 255)."""
    return f"10.{rack // 256}.{rack % 256}.0/24"


@dataclass(frozen=True)
class FailurePlan:
    """How a run's storage failures are driven: ``mode`` is "scripted", "phases" or "none";
    ``phase_nodes`` the two nodes the degraded-read phases fail (A, then B), if they run."""

    mode: str = "none"
    phase_nodes: tuple[str, str] | None = None


class Faults:
    """Plays the scripted faults of one run and logs ``(time, kind, target, "start" | "end")``.

    ``model`` names the model in errors; ``world`` gives the hosts an event targets and
    ``clients`` the ``(name, host)`` of every client; ``auth``, ``access`` and ``storage`` are
    what the faults act on.
    """

    def __init__(self, world: World, *, model: str, clients: Sequence[tuple[str, str]], auth: AuthPath,
                 access: AccessLayer, storage: StorageFailures, send: Callable[..., object] | None = None,
                 until: float = float("inf"), credentials: CredentialRenewal | None = None) -> None:
        self.world, self.env, self.model, self.client_hosts = world, world.env, model, list(clients)
        self.auth, self.access, self.storage = auth, access, storage
        #: ``send(kind, client_index, network=..., probe=...)``: how attackers' requests enter the
        #: run; they stop at ``until`` (when the workload stops sending)
        self.send, self.until, self.credentials = send, until, credentials
        self.log: list[tuple[float, str, str, str]] = []
        self._open: dict[str, simpy.Event] = {}  # target of a fail -> the event a repair triggers
        self._attacks: dict[int, int] = {}  # event id -> how many of its runs are on

    def plan(self, events: list) -> None:
        """Check and schedule ``events`` (scenario ``failures.events`` items with their indices)."""
        for i, event in events:
            kind, target = event.kind, event.target_kind()
            if target not in PLAYED.get(kind, ()):
                raise ModelError(f"failures.events[{i}]: the {self.model} model has no "
                                 f"'{kind}' of {event.target!r}")
            if target == "db" and not self.auth.databases:
                raise ModelError(f"failures.events[{i}]: '{kind}' of the database needs registry.auth.mode "
                                 "'jwt' or 'db'; this scenario has no database")
            if kind == "issuer-down" and (self.credentials is None or not self.credentials.enabled):
                raise ModelError(f"failures.events[{i}]: 'issuer-down' needs short-lived credentials: set "
                                 "registry.auth.issuer.enabled: true")
            if kind in ATTACKS:
                if self.auth.mode == "none":
                    raise ModelError(f"failures.events[{i}]: '{kind}' needs credentials to steal or scopes to "
                                     "refuse: set registry.auth.mode to 'jwt' or 'db'")
                if self._client_index(event) is None:
                    raise ModelError(f"failures.events[{i}]: '{kind}' of {event.target!r}: no client runs on "
                                     "that node (workload.clients is smaller than the cluster)")
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
        target = event.target_kind()
        self.log.append((self.env.now, kind, event.target, "start" if on else "end"))
        if target == "db":
            for db in self.auth.databases:
                if on:
                    db.down()
                else:
                    db.up()
        elif kind == "issuer-down":
            self.credentials.outage(on)  # type: ignore[union-attr]
        elif kind in ATTACKS:
            if on:
                self.env.process(self._attack(event))
            self._attacks[id(event)] = self._attacks.get(id(event), 0) + (1 if on else -1)
        elif kind == "bad-credentials":
            bad = self.auth.bad
            for client in self.clients(event):
                bad[client] += 1 if on else -1
                if bad[client] <= 0:
                    del bad[client]
        elif target == "storage":
            node = self.world.storage[event.target_index()]
            if on:
                self.storage.fail(node)
            else:
                self.storage.restore(node)
        elif target == "frontend":
            self.access.partition([self.world.frontends[event.target_index()]], on)
        else:
            self.access.partition(self.hosts(event), on)

    def _attack(self, event) -> Generator[simpy.Event, object, None]:
        """An attacker's or a prober's requests, one every :data:`ATTACK_INTERVAL_S` while the event lasts."""
        index = self._client_index(event)
        stolen = event.kind == "stolen-credential"
        yield self.env.timeout(0)  # after _apply has marked the event on
        while self._attacks.get(id(event), 0) > 0 and self.env.now < self.until and self.send is not None:
            self.send("manifest", index, network=OUTSIDE_NETWORK if stolen else None, probe=not stolen)
            yield self.env.timeout(ATTACK_INTERVAL_S)

    def _client_index(self, event) -> int | None:
        """The index of the first client on the node an attack targets (None: no client there)."""
        host = self.world.nodes[event.target_index()] if event.target_index() < len(self.world.nodes) else None
        return next((i for i, (_, h) in enumerate(self.client_hosts) if h == host), None)

    def hosts(self, event) -> list[str]:
        """The cluster hosts an event targets (``all``, ``node/I``, ``rack/I``)."""
        world, target, index = self.world, event.target_kind(), event.target_index()
        if target == "node":
            return [world.nodes[index]]
        if target == "rack":
            return [n for n in world.nodes if world.node_rack[n] == index]
        return list(world.nodes)

    def clients(self, event) -> list[str]:
        """The clients on the hosts an event targets."""
        hosts = set(self.hosts(event))
        return [name for name, host in self.client_hosts if host in hosts]


def plan_failures(failures: Failures, nodes: Sequence[str], faults: Faults, storage: StorageFailures, *,
                  registry: Registry, layers: Sequence[Digest], k: int, duration: float) -> FailurePlan:
    """Dispatch ``failures``: storage fail/repair events (of storage ``nodes``), random failures and
    the degraded phases (over ``duration``, on the nodes whose loss hurts reads of ``layers`` most)
    to ``storage``, every other event to ``faults``; how storage failures are driven."""
    script: list[tuple[float, str, str]] = []
    others = []
    for i, event in enumerate(failures.events):
        if event.kind not in ("fail", "repair") or event.target_kind() != "storage":
            others.append((i, event))
            continue
        node = nodes[event.target_index()]  # type: ignore[index]
        script.append((event.at, node, event.kind))
        if event.kind == "fail" and event.duration is not None:
            script.append((event.at + event.duration, node, "repair"))
    faults.plan(others)
    plan = FailurePlan()
    if script:
        plan = FailurePlan("scripted")
        storage.script(script)
    elif failures.measure_degraded:
        if len(nodes) < 2:
            raise ModelError("failures.measure_degraded fails two storage nodes, but registry.storage.nodes "
                             f"is {len(nodes)}")
        plan = FailurePlan("phases", phase_nodes(registry, [extent_key(d, 0) for d in layers], k))
        storage.phases(duration, *plan.phase_nodes)  # type: ignore[misc]
    if failures.afr > 0:
        scripted = {node for _, node, _ in script}
        storage.random([s for s in nodes if s not in scripted], failures.afr, failures.repair_time)
    return plan
