"""The platform of a replication run: one rack per site, the source at the core, a WAN link per remote site.

Each site is a rack of the flow network (:class:`regsim.sim.topology.Topology`):

- the source site's rack joins the core switch by a link that never binds (the core switch
  stands for the source's WAN edge);
- a remote site's rack joins it by its WAN link: ``wan.bandwidth`` each way, ``wan.latency`` one
  way. So a flow from the source to a remote site crosses that WAN link, and its one-way latency
  is ``wan.latency`` plus three LAN hops (``lan_latency`` each);
- in each site, the registry ``reg-<site>`` (its NIC: ``egress`` out, ``ingress`` in), the
  replication job's host ``job-<site>``, and the clients ``client-<site>-<i>`` (``host_nic``).

The flows share links by the scenario's ``network`` model, so under the default TCP-like model one
connection moves at most ``window / RTT`` (:mod:`regsim.sim.network.sharing`): the cap that keeps a
single chunk stream far below a long fat pipe's capacity when the window is small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from regsim.sim.network import Network
from regsim.sim.topology import Topology

from ..core.network import flow_model
from .config import ReplicationConfig, Site

__all__ = ["Sites", "build_sites"]


@dataclass
class Sites:
    """The simulated platform: the environment, the network, and the names of the hosts in it."""

    env: simpy.Environment
    net: Network
    topology: Topology
    source: Site
    remotes: list[Site]
    #: link ids of each remote site's WAN link: (towards the site, from the site)
    wan_links: dict[str, tuple[int, int]] = field(default_factory=dict)

    @staticmethod
    def registry(site: Site | str) -> str:
        return f"reg-{site if isinstance(site, str) else site.name}"

    @staticmethod
    def job(site: Site | str) -> str:
        return f"job-{site if isinstance(site, str) else site.name}"

    @staticmethod
    def client(site: Site | str, i: int) -> str:
        return f"client-{site if isinstance(site, str) else site.name}-{i}"

    def rtt(self, a: str, b: str) -> float:
        """The round trip between hosts ``a`` and ``b`` (twice the route's one-way latency)."""
        return self.topology.latency(a, b) + self.topology.latency(b, a)


def build_sites(config: ReplicationConfig) -> Sites:
    """The topology and network of ``config``'s sites (see the module docstring)."""
    w = config.workload
    lan = float(w.lan_latency)
    topo = Topology(hop_latency=lan)
    edge = 10.0 * (sum(s.wan.bandwidth for s in w.remotes if s.wan) + sum(s.egress + s.ingress for s in w.sites)
                   + w.host_nic)
    wan_links: dict[str, tuple[int, int]] = {}
    for i, site in enumerate(w.sites):
        rack = f"site-{site.name}"
        if i == 0:
            topo.add_rack(rack, uplink=edge, latency=lan)
        else:
            assert site.wan is not None
            r = topo.add_rack(rack, uplink=site.wan.bandwidth, latency=site.wan.latency)
            assert r.uplink is not None and r.downlink is not None
            wan_links[site.name] = (r.downlink, r.uplink)
        topo.add_host(Sites.registry(site), rack=rack, nic_up=site.egress, nic_down=site.ingress)
        topo.add_host(Sites.job(site), rack=rack, nic=w.host_nic)
        if i:
            for c in range(w.clients):
                topo.add_host(Sites.client(site, c), rack=rack, nic=w.host_nic)
    env = simpy.Environment()
    net = Network(env, topo, model=flow_model(config.network), coalesce_s=float(config.network.coalesce),
                  classes=config.network.classes)
    return Sites(env, net, topo, w.source, list(w.remotes), wan_links)
