"""A platform given as explicit links and routes, and regsim's network run over it.

Why: the cross-check with SimGrid (``run_simgrid.py``) and its tiny examples describe a platform
as JSON -- links, hosts, one route per direction, flows. This module runs regsim's own network
model on exactly that description (an :class:`ExplicitTopology` quacks like
:class:`regsim.sim.topology.Topology` for :class:`regsim.sim.network.Network`), and turns a
regsim topology plus flows into that JSON, so both simulators see the same platform.
"""

from __future__ import annotations

from typing import Any

import simpy

from regsim.sim.network import Network
from regsim.sim.network.sharing import LV08, MAXMIN, FlowModel
from regsim.sim.topology import Topology

#: SimGrid's model names and regsim's sharing model that computes the same thing
MODELS: dict[str, FlowModel] = {
    "LV08": LV08,
    "CM02": FlowModel(bandwidth_factor=1.0, latency_factor=1.0, weight_s=0.0, reverse_load=0.0, window=None),
    "FLUID": MAXMIN,
}


class _Link:
    __slots__ = ("capacity", "latency")

    def __init__(self, capacity: float, latency: float) -> None:
        self.capacity, self.latency = capacity, latency


class ExplicitTopology:
    """Links and routes as the JSON gives them (route latency: the sum of its links')."""

    def __init__(self, doc: dict[str, Any]) -> None:
        ids = [int(link["id"]) for link in doc["links"]]
        if sorted(ids) != list(range(len(ids))):
            raise ValueError("link ids must be 0..n-1")
        self.links: list[_Link] = [None] * len(ids)  # type: ignore[list-item]
        for link in doc["links"]:
            self.links[int(link["id"])] = _Link(float(link["bandwidth"]), float(link["latency"]))
        self._routes = {(r["src"], r["dst"]): tuple(int(x) for x in r["links"]) for r in doc["routes"]}

    def capacities(self) -> list[float]:
        return [link.capacity for link in self.links]

    def path(self, src: str, dst: str) -> tuple[int, ...]:
        return self._routes.get((src, dst), ())

    def route(self, src: str, dst: str) -> tuple[tuple[int, ...], float]:
        if src == dst:
            return (), 0.0
        links = self._routes.get((src, dst))
        if links is None:
            raise KeyError(f"no route {src} -> {dst}")
        return links, sum(self.links[i].latency for i in links)


def run_regsim(doc: dict[str, Any], model: FlowModel | None = None) -> dict[int, float]:
    """Each flow's finish time under regsim's network (the model the JSON names, by default)."""
    topo = ExplicitTopology(doc)
    flow_model = model if model is not None else MODELS[doc["model"]]
    for f in doc["flows"]:  # SimGrid drops a flow's cross traffic when no reverse route is given
        topo._routes.setdefault((f["dst"], f["src"]), ())
    env = simpy.Environment()
    net = Network(env, topo, model=flow_model)  # type: ignore[arg-type]
    finish: dict[int, float] = {}

    def flow(f: dict[str, Any]):
        yield env.timeout(float(f["start"]))
        tr = yield net.transfer(f["src"], f["dst"], round(float(f["bytes"])))
        finish[int(f["id"])] = tr.finished

    for f in doc["flows"]:
        env.process(flow(f))
    env.run()
    return finish


def platform_doc(topo: Topology, flows: list[tuple[str, str, float, float]], model: str) -> dict[str, Any]:
    """The JSON description of ``topo`` and ``flows`` ``(src, dst, bytes, start)``: every link,
    the hosts, and the route of every flow both ways."""
    pairs = {(s, d) for s, d, _, _ in flows} | {(d, s) for s, d, _, _ in flows}
    return {
        "model": model,
        "links": [{"id": link.id, "bandwidth": link.capacity, "latency": link.latency} for link in topo.links],
        "hosts": sorted({h for pair in pairs for h in pair}),
        "routes": [{"src": s, "dst": d, "links": list(topo.path(s, d))} for s, d in sorted(pairs)],
        "flows": [{"id": i, "src": s, "dst": d, "bytes": float(round(b)), "start": float(t)}
                  for i, (s, d, b, t) in enumerate(flows)],
    }
