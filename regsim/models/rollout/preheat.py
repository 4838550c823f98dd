"""Push-triggered preheat (``distribution.preheat``): the push of an image makes some nodes pull it first.

Dragonfly and Harbor preheat an image into the P2P network when it is pushed, so that the rollout
that follows finds it close by. Here the push happens at time 0 and the preheat starts with it:
the nodes :func:`preheat_nodes` picks pull the image from the registry, all of them at once --
each logs in, GETs the manifest and has every layer authorised and read whole
(:func:`~.layer_fetch.fetch_layer`: real registry reads, priced as a central pull's; a node's
layers all at once, as Dragonfly's preheat runs one task per layer). A proxy-cache rollout's
preheat goes through the caches instead (:mod:`.proxy`). The rollout's clock starts when the last
preheated node has the image.

Which nodes (of the rollout's targets, in their order): ``one``, the first; ``seed-peers``,
``seed_peers`` of them round-robin over their racks (the first node of each rack in rack order,
then the second of each, ...), so that seeds spread over racks; ``all``, every one.

How they count: a preheated node holds the image when the rollout starts and does not pull it
(none of its ``repeat`` pulls either): it is left out of the rollout's pulls and of their
statistics. ``nodes`` in the KPIs counts the nodes that pull during the rollout, ``preheat_nodes``
the others (together: the workload's nodes); with ``to: all`` the rollout is empty (makespan 0).
What a strategy makes of a preheated node (a seeder, a mirror that advertises, a filled cache) is
in its module. KPIs, reported when ``to`` is not ``none``, after the strategy's own:
``preheat_nodes``, ``preheat_s`` (from the push to the last preheated node's image) and
``preheat_bytes`` (the registry's egress for the preheat); the rollout's ``registry_egress_bytes``
stay the rollout's own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable
from itertools import zip_longest

import simpy

from regsim.models.core.replay import Replay, combine
from regsim.models.core.work import SAMPLED_NODES, RegistryWork
from regsim.models.core.world import World
from regsim.registry.receipts import Receipt
from regsim.spec.traffic import Preheat

from .layer_fetch import fetch_layer

Pull = Callable[[int, str], Generator[simpy.Event, object, object]]


def preheat_nodes(preheat: Preheat, targets: list[str], rack_of: Callable[[str], Hashable]) -> list[str]:
    """The nodes of ``targets`` that ``preheat`` pulls the image to (see the module's docstring)."""
    if preheat.to == "none" or not targets:
        return []
    if preheat.to == "one":
        return targets[:1]
    if preheat.to == "all":
        return list(targets)
    racks: dict[Hashable, list[str]] = {}
    for node in targets:
        racks.setdefault(rack_of(node), []).append(node)
    spread = [node for row in zip_longest(*racks.values()) for node in row if node is not None]
    return spread[: preheat.seed_peers]


class PreheatPhase:
    """The preheat of one rollout: its nodes, and, once it has run, how long it took and what it read."""

    def __init__(self, preheat: Preheat, targets: list[str], rack_of: Callable[[str], Hashable]) -> None:
        self.to = preheat.to
        self.hosts = preheat_nodes(preheat, targets, rack_of)
        self.held = set(self.hosts)
        self.seconds = 0.0
        #: registry egress of the preheat
        self.bytes = 0

    @property
    def active(self) -> bool:
        return self.to != "none"

    def pullers(self, targets: list[str]) -> list[str]:
        """``targets`` without the preheated nodes: the nodes that pull during the rollout."""
        return [n for n in targets if n not in self.held]

    def run(self, env: simpy.Environment, pull: Pull) -> Generator[simpy.Event, object, None]:
        """Every preheated node's ``pull(index, node)`` at once; ``seconds`` is how long they took."""
        t0 = env.now
        if self.hosts:
            yield env.all_of([env.process(pull(i, host)) for i, host in enumerate(self.hosts)])
        self.seconds = env.now - t0

    def registry_pull(self, world: World, replay: Replay, work: RegistryWork,
                      manifest: Callable[[], Receipt] | None = None) -> Pull:
        """A preheated node's pull from the registry: log in, GET the manifest (``manifest``'s
        receipt; the real GET's by default), every layer authorised and read whole, all at once."""
        env = world.env
        manifest = manifest or work.manifest_get

        def layer(host: str, fe: str, creds: object, index: int, verify: bool):
            size = yield from fetch_layer(replay, work, host, fe, creds, index, verify=verify)
            self.bytes += size  # after the read: `x += yield ...` would lose concurrent updates

        def pull(i: int, host: str):
            fe = world.frontends[i % len(world.frontends)]
            creds, login = work.login(host)
            yield from replay.request(host, fe, login)
            yield from replay.request(host, fe, combine(work.authorize(creds), manifest()))
            verify = i < SAMPLED_NODES
            yield env.all_of([env.process(layer(host, fe, creds, index, verify)) for index in range(len(work.sizes))])
        return pull

    def kpis(self) -> dict[str, float | int]:
        """``preheat_nodes``, ``preheat_s``, ``preheat_bytes``; none when the preheat is off."""
        if not self.active:
            return {}
        return {"preheat_nodes": len(self.hosts), "preheat_s": self.seconds, "preheat_bytes": self.bytes}

    def note(self) -> str:
        return (f"Preheat ({self.to}): {len(self.hosts)} node(s) pulled the image from the registry in "
                f"{self.seconds:.1f} s ({self.bytes / 1e9:.2f} GB of registry egress) before the rollout started; "
                "they do not pull it again and are not counted in `nodes`.")
