"""Topology: the hosts of a simulated platform and the directed links between them.

The shape is the one most registry deployments live in: hosts hang off a top-of-rack (ToR)
switch, and racks meet at one non-blocking core switch. Every cable is two *directed* links,
because upload and download are separate resources (a registry saturates its uplink while its
downlink idles)::

    host --up--> ToR --tor-core--> core --core-tor--> ToR --down--> host

A rack's uplink to the core is usually oversubscribed (less than the sum of its hosts' NICs);
that is where rack-local and cross-rack traffic start to differ. A lone switch with no core is a
*star*: the classic client-server setting where the server's uplink is the only shared resource.

Links carry an integer id (their index in :attr:`Topology.links`), a capacity in bytes/s and a
one-way latency in seconds; the network model reads routes as tuples of link ids. Units are
bytes/s and seconds throughout: the scenario layer converts "1Gbps" before it gets here.
The topology may grow (a scenario adds a registry frontend into rack 3) but never shrinks,
so link ids stay valid.

A **gateway** (:meth:`Topology.add_gateway`) is one more pair of directed links that a group of
hosts share for their traffic to and from every host but their back-ends -- a registry's
frontends behind a load balancer sharing the site's egress, while storage-to-frontend traffic
does not cross it::

    frontend --up--> [gateway-out] --> ToR --tor-core--> core ...   (to a client)
    storage  --up--> ToR --down--> frontend                         (a back-end read)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regsim.errors import RegsimError

#: one switch hop in a datacentre: tens of microseconds, one way.
DEFAULT_HOP_LATENCY = 50e-6
DEFAULT_CORES = 4
DEFAULT_DISK_READ = 500e6
DEFAULT_DISK_WRITE = 400e6


class TopologyError(RegsimError, ValueError):
    """A topology is built inconsistently or asked for a route that does not exist."""


@dataclass(frozen=True, slots=True)
class Link:
    """One direction of one cable. ``kind`` is "up", "down", "tor-core", "core-tor", or
    "gateway-out" / "gateway-in" (:meth:`Topology.add_gateway`)."""

    id: int
    src: str
    dst: str
    capacity: float
    latency: float
    kind: str

    @property
    def name(self) -> str:
        return f"{self.src}->{self.dst}"


@dataclass(frozen=True, slots=True)
class Host:
    """A machine: CPU cores, NIC rates each way, disk rates, and its two access links."""

    name: str
    rack: str
    cores: int
    nic_up: float
    nic_down: float
    disk_read: float
    disk_write: float
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class Rack:
    """A ToR switch; ``uplink``/``downlink`` are its links to the core, None for a lone switch."""

    name: str
    uplink: int | None
    downlink: int | None

    @property
    def switch(self) -> str:
        return f"tor:{self.name}"


def _positive(what: str, value: float) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise TopologyError(f"{what} must be a positive finite number, got {value!r}")
    return value


def _latency(value: float) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise TopologyError(f"a hop latency must be a non-negative number of seconds, got {value!r}")
    return value


class Topology:
    """Hosts in racks, one core switch, directed links with capacities and latencies."""

    def __init__(self, *, hop_latency: float = DEFAULT_HOP_LATENCY) -> None:
        self.hop_latency = _latency(hop_latency)
        self.links: list[Link] = []
        self.hosts: dict[str, Host] = {}
        self.racks: dict[str, Rack] = {}
        self._rack_hosts: dict[str, list[str]] = {}
        self._routes: dict[tuple[str, str], tuple[tuple[int, ...], float]] = {}
        #: host -> (its gateway's outbound link, inbound link, hosts reached without it)
        self._gateways: dict[str, tuple[int, int, frozenset[str]]] = {}
        #: gateway name -> its (outbound, inbound) link ids
        self.gateways: dict[str, tuple[int, int]] = {}
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    # -- building ---------------------------------------------------------------------------
    def _link(self, src: str, dst: str, capacity: float, latency: float, kind: str) -> int:
        link = Link(len(self.links), src, dst, _positive(f"capacity of link {src}->{dst}", capacity),
                    _latency(latency), kind)
        self.links.append(link)
        self._arrays = None
        return link.id

    def add_rack(self, name: str, *, uplink: float | None = None, latency: float | None = None) -> Rack:
        """Add a ToR switch; with ``uplink`` (bytes/s, each way) it joins the core switch."""
        if name in self.racks:
            raise TopologyError(f"rack {name!r} already exists")
        lat = self.hop_latency if latency is None else latency
        up = down = None
        if uplink is not None:
            up = self._link(f"tor:{name}", "core", uplink, lat, "tor-core")
            down = self._link("core", f"tor:{name}", uplink, lat, "core-tor")
        rack = Rack(name, up, down)
        self.racks[name] = rack
        self._rack_hosts[name] = []
        return rack

    def add_host(self, name: str, *, rack: str, nic: float | None = None, nic_up: float | None = None,
                 nic_down: float | None = None, cores: int = DEFAULT_CORES,
                 disk_read: float = DEFAULT_DISK_READ, disk_write: float = DEFAULT_DISK_WRITE,
                 latency: float | None = None) -> Host:
        """Add a host into an existing rack; ``nic`` sets both directions unless one is given."""
        if name in self.hosts:
            raise TopologyError(f"host {name!r} already exists")
        if rack not in self.racks:
            raise TopologyError(f"host {name!r}: no rack {rack!r} (racks: {sorted(self.racks)[:5]}...)")
        up_rate, down_rate = (nic_up if nic_up is not None else nic), (nic_down if nic_down is not None else nic)
        if up_rate is None or down_rate is None:
            raise TopologyError(f"host {name!r}: give nic, or both nic_up and nic_down (bytes/s)")
        if int(cores) < 1:
            raise TopologyError(f"host {name!r}: cores must be at least 1, got {cores!r}")
        lat = self.hop_latency if latency is None else latency
        switch = self.racks[rack].switch
        up = self._link(name, switch, up_rate, lat, "up")
        down = self._link(switch, name, down_rate, lat, "down")
        host = Host(name, rack, int(cores), float(up_rate), float(down_rate),
                    _positive(f"host {name!r} disk_read", disk_read),
                    _positive(f"host {name!r} disk_write", disk_write), up, down)
        self.hosts[name] = host
        self._rack_hosts[rack].append(name)
        return host

    def add_gateway(self, name: str, hosts: Iterable[str], *, capacity: float,
                    backends: Iterable[str] = ()) -> tuple[int, int]:
        """Put ``hosts`` behind one shared link each way of ``capacity`` bytes/s (no latency of its
        own): their traffic to and from every other host crosses it, except traffic among
        themselves and with ``backends`` (their storage and database, reached from inside).
        Returns the (outbound, inbound) link ids."""
        hosts, backends = list(hosts), frozenset(backends)
        if not hosts:
            raise TopologyError(f"gateway {name!r}: no hosts behind it")
        if name in self.gateways:
            raise TopologyError(f"gateway {name!r} already exists")
        if any(h in self._gateways for h in hosts):
            raise TopologyError(f"gateway {name!r}: a host is behind a gateway already")
        for h in [*hosts, *backends]:
            self.host(h)
        out = self._link(f"gw:{name}", "out", capacity, 0.0, "gateway-out")
        into = self._link("in", f"gw:{name}", capacity, 0.0, "gateway-in")
        group = frozenset(hosts)
        for h in hosts:
            self._gateways[h] = (out, into, group | backends)
        self.gateways[name] = (out, into)
        self._routes.clear()
        return out, into

    def gateway_of(self, host: str) -> tuple[int, int, frozenset[str]] | None:
        """The (outbound, inbound) links of the gateway ``host`` is behind and the hosts it reaches
        without crossing it; None for a host behind no gateway."""
        return self._gateways.get(host)

    def gateway(self, name: str) -> tuple[int, int]:
        """The (outbound, inbound) link ids of gateway ``name`` (what a model records to report the
        utilisation of the egress its hosts share)."""
        try:
            return self.gateways[name]
        except KeyError:
            raise TopologyError(f"unknown gateway {name!r}") from None

    # -- builders ---------------------------------------------------------------------------
    @classmethod
    def star(cls, server_up: float, clients: int | Iterable[str], client_down: float,
             client_up: float | None = None, server_name: str = "registry", *,
             server_down: float | None = None, latency: float = DEFAULT_HOP_LATENCY,
             client_prefix: str = "client", **host_kw: Any) -> Topology:
        """One server and its clients on one non-blocking switch (the client-server setting).

        ``clients`` is a count (hosts named ``client0000``...) or the clients' names. Client
        NICs are symmetric unless ``client_up`` is given; the server's downlink defaults to its
        uplink. The switch is one rack named "switch", so more hosts can be added to it.
        """
        topo = cls(hop_latency=latency)
        topo.add_rack("switch")
        topo.add_host(server_name, rack="switch", nic_up=server_up,
                      nic_down=server_up if server_down is None else server_down, **host_kw)
        if isinstance(clients, int):
            width = len(str(max(clients - 1, 0)))
            clients = [f"{client_prefix}{i:0{width}d}" for i in range(clients)]
        up = client_down if client_up is None else client_up
        for name in clients:
            topo.add_host(name, rack="switch", nic_up=up, nic_down=client_down, **host_kw)
        return topo

    @classmethod
    def racked(cls, racks: int, hosts_per_rack: int, nic: float, rack_uplink: float | None = None,
               latency: float = DEFAULT_HOP_LATENCY, *, oversubscription: float | None = None,
               rack_prefix: str = "rack", **host_kw: Any) -> Topology:
        """``racks`` racks of ``hosts_per_rack`` identical hosts joined by a core switch.

        The rack uplink is given in bytes/s, or derived as ``hosts_per_rack * nic /
        oversubscription``; with neither it is non-blocking (oversubscription 1). Hosts are
        named ``rack07-h012``; add registry frontends, storage nodes or a database with
        :meth:`add_host` into a rack by name.
        """
        if racks < 1 or hosts_per_rack < 0:
            raise TopologyError(f"need at least one rack and a non-negative host count, got "
                                f"{racks} x {hosts_per_rack}")
        if rack_uplink is not None and oversubscription is not None:
            raise TopologyError("give rack_uplink or oversubscription, not both")
        if rack_uplink is None:
            ratio = 1.0 if oversubscription is None else _positive("oversubscription", oversubscription)
            rack_uplink = max(hosts_per_rack, 1) * nic / ratio
        topo = cls(hop_latency=latency)
        rw, hw = len(str(racks - 1)), len(str(max(hosts_per_rack - 1, 0)))
        for r in range(racks):
            rack = f"{rack_prefix}{r:0{rw}d}"
            topo.add_rack(rack, uplink=rack_uplink)
            for h in range(hosts_per_rack):
                topo.add_host(f"{rack}-h{h:0{hw}d}", rack=rack, nic=nic, **host_kw)
        return topo

    # -- queries ----------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise TopologyError(f"unknown host {name!r}") from None

    def rack_hosts(self, rack: str) -> tuple[str, ...]:
        return tuple(self._rack_hosts[rack])

    def route(self, src: str, dst: str) -> tuple[tuple[int, ...], float]:
        """The links from ``src`` to ``dst`` and their summed one-way latency (cached)."""
        key = (src, dst)
        hit = self._routes.get(key)
        if hit is not None:
            return hit
        a, b = self.host(src), self.host(dst)
        if src == dst:
            path: tuple[int, ...] = ()
        elif a.rack == b.rack:
            path = (a.up, b.down)
        else:
            ra, rb = self.racks[a.rack], self.racks[b.rack]
            if ra.uplink is None or rb.downlink is None:
                raise TopologyError(f"no route from {src!r} (rack {a.rack}) to {dst!r} (rack {b.rack}): "
                                    "a rack without an uplink reaches only its own hosts")
            path = (a.up, ra.uplink, rb.downlink, b.down)
        out, into = self._gateways.get(src), self._gateways.get(dst)
        if path and out is not None and dst not in out[2]:
            path = (path[0], out[0], *path[1:])
        if path and into is not None and src not in into[2]:
            path = (*path[:-1], into[1], path[-1])
        hit = (path, float(sum(self.links[i].latency for i in path)))
        self._routes[key] = hit
        return hit

    def path(self, src: str, dst: str) -> tuple[int, ...]:
        return self.route(src, dst)[0]

    def latency(self, src: str, dst: str) -> float:
        return self.route(src, dst)[1]

    def capacities(self) -> np.ndarray:
        """Capacity of every link, indexed by link id (bytes/s); a read-only view."""
        return self._link_arrays()[0]

    def latencies(self) -> np.ndarray:
        return self._link_arrays()[1]

    def _link_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            cap = np.fromiter((lk.capacity for lk in self.links), float, len(self.links))
            lat = np.fromiter((lk.latency for lk in self.links), float, len(self.links))
            cap.flags.writeable = lat.flags.writeable = False
            self._arrays = (cap, lat)
        return self._arrays

    def links_of_kind(self, kind: str) -> list[int]:
        return [lk.id for lk in self.links if lk.kind == kind]

    def __repr__(self) -> str:
        return f"Topology({len(self.racks)} racks, {len(self.hosts)} hosts, {len(self.links)} links)"
