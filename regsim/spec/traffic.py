"""Scenario sections for what happens: the image, how it is distributed, what fails.

The ``workload`` sections belong to the model families that simulate them (:mod:`regsim.models`).

The documentation of every key, its unit and its default is ``docs/scenarios.md``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ModelWrapValidatorHandler, model_serializer, model_validator

from regsim.registry.errors import RegistryError
from regsim.registry.names import validate_name, validate_tag

from .base import ImageSource, Section
from .image_source import ImageSourceError, read_layer_sizes
from .infra import Link, cross_field
from .quantities import Count, Duration, Fraction, PositiveCount, PositiveSize, Rate, Size

#: the image of the article behind regsim: 900 MB in three layers.
DEFAULT_LAYERS = ("100MB", "300MB", "500MB")


def _registry_check(check: Any) -> Any:
    def run(value: str) -> str:
        try:
            return check(value)
        except RegistryError as exc:
            raise ValueError(exc.message) from None
    return run


class Image(Section):
    """The image being distributed: layer sizes, or a real image read from disk (``from``).

    An image read ``from`` disk has its layer sizes read when the scenario is validated
    (:mod:`.image_source`), so ``layers`` always holds the sizes every model pulls; the source
    stays the setting, and the resolved scenario writes ``layers: null`` beside it.
    """

    repository: Annotated[str, AfterValidator(_registry_check(validate_name))] = "library/app"
    tag: Annotated[str, AfterValidator(_registry_check(validate_tag))] = "latest"
    layers: Annotated[list[Size], Field(min_length=1)] | None = list(DEFAULT_LAYERS)  # type: ignore[assignment]
    from_: ImageSource | None = Field(default=None, alias="from")

    @model_validator(mode="wrap")
    @classmethod
    def _layers_or_source(cls, data: Any, handler: ModelWrapValidatorHandler[Image]) -> Image:
        if isinstance(data, dict) and data.get("from") is not None:
            if data.get("layers") is not None:
                raise cross_field("from", "give the image's layers or a source to read it `from`, not both")
            data = {**data, "layers": None}
        image = handler(data)
        if image.from_ is None:
            return image
        try:
            sizes = read_layer_sizes(image.from_, image.tag)
        except (ImageSourceError, OSError) as exc:
            raise cross_field("from", str(exc)) from None
        return image.model_copy(update={"layers": sizes})

    @model_serializer(mode="wrap")
    def _source_not_sizes(self, handler: Any) -> Any:
        data = handler(self)
        if self.from_ is not None and isinstance(data, dict):
            data["layers"] = None  # read again from the source when the resolved scenario is loaded
        return data

    def total_size(self) -> int:
        """Bytes of all layers (of the image read ``from`` disk, if it is)."""
        return sum(self.layers or ())


class P2P(Section):
    """Peer-to-peer distribution: pieces, peers, and who serves whom."""

    piece_size: PositiveSize = "4MiB"  # type: ignore[assignment]
    peers: PositiveCount = 50
    parents: PositiveCount = 4
    upload_slots: PositiveCount = 4
    #: dedicated seeders: Kraken's origin cluster (its Helm chart runs 3, and its hash ring keeps
    #: each blob on up to 3) or Dragonfly's seed peers (its deployment guide: at least 3)
    origins: PositiveCount = 3
    #: each origin's network interface; null: the nodes' (``cluster.node.nic``). Dedicated seeders
    #: (Kraken's origins, Dragonfly's supernodes) often have more than an agent's host
    origin_nic: Link | None = None
    selection: Literal["rarest-first", "random", "sequential"] = "rarest-first"
    seeders: Count = 0
    #: origins serve only pieces no peer holds or is fetching while any layer they seed has one
    #: (BitTorrent's super-seeding, BEP 16): a seed as slow as a node then sends the image once.
    #: null: on for ``p2p-swarm``, off for ``p2p-scheduler`` (a Dragonfly seed peer serves its
    #: children whatever they ask, and a parent that holds back pieces stalls the children
    #: assigned to it)
    super_seeding: bool | None = None
    #: round trips before a new peer connection moves piece bytes: TCP's handshake and the P2P
    #: handshake (Kraken exchanges bitfields, BitTorrent a handshake and a bitfield)
    connect_rtts: Count = 2
    #: TCP's initial congestion window in segments (RFC 6928): a new connection's first piece also
    #: waits out slow start's round trips up to its fair rate
    initial_window: PositiveCount = 10
    #: seconds between a peer's tracker announces: it learns of peers that joined since only at
    #: its next announce (0: whenever it needs to, as before; Kraken's tracker says 3 s)
    announce_interval: Duration = "0s"  # type: ignore[assignment]
    #: tracker handout order: Kraken's ``completeness`` priority (its shipped tracker config:
    #: completed peers, then origins, then the rest) or its ``default`` policy (a uniform sample)
    handout: Literal["completeness", "default"] = "completeness"


class Proxy(Section):
    """Pull-through caches between the nodes and the registry (``strategy: proxy-cache``)."""

    placement: Literal["rack", "cluster"] = "rack"
    capacity: PositiveSize = "1TB"  # type: ignore[assignment]
    cores: PositiveCount = 8
    egress: Rate = "25Gbps"  # type: ignore[assignment]
    #: concurrent misses for one layer (or, with an upstream limit, the manifest) wait for one
    #: fetch; off: each goes upstream itself (CNCF distribution's proxy does not coalesce)
    coalesce: bool = True


class Mirror(Section):
    """Node-local mirrors over a Kademlia DHT, Spegel-style (``strategy: node-mirror``)."""

    #: when a node advertises (ADD_PROVIDER) a layer it pulled: ``image``, once its whole image is
    #: in (Spegel's original behaviour: nodes that start together all go to the registry), or
    #: ``layer``, as soon as each layer is stored
    advertise: Literal["image", "layer"] = "image"
    #: concurrent uploads a node's mirror serves; beyond it a peer is answered ``busy`` and tries
    #: the next provider (null: no cap, as in Spegel)
    max_uploads: PositiveCount | None = None
    #: a node tries providers in its own rack (its zone) before the others
    zone_aware: bool = True
    #: providers a GET_PROVIDERS lookup stops at (Spegel's resolve count, 3); null: the lookup
    #: runs to its end and every provider found is a candidate
    resolve_count: PositiveCount | None = 3
    #: the DHT's bucket size (replication factor) and lookup concurrency (Kademlia's k and alpha)
    k: PositiveCount = 20
    alpha: PositiveCount = 3
    #: a node serving a layer reads it from its disk (``cluster.node.disk.read``, one read at a
    #: time); false: from memory, with no disk limit
    disk_reads: bool = True


class Preheat(Section):
    """Push-triggered preheat (Dragonfly's and Harbor's): the push of the image makes some nodes pull it.

    Before the rollout, ``to`` names who pulls the image from the registry, all at once (real
    registry reads, priced as a central pull's): nobody (``none``), the first node of the
    rollout's targets (``one``), ``seed_peers`` nodes taken round-robin over the targets' racks
    (``seed-peers``: the first node of each rack, then the second, ...), or every target
    (``all``). The rollout starts when the preheat has finished; a preheated node holds the image
    then and does not pull it in the rollout (it serves it: a seeder, a mirror, a filled cache).
    """

    to: Literal["none", "one", "seed-peers", "all"] = "none"
    #: nodes ``to: seed-peers`` preheats (fewer than the rollout's nodes)
    seed_peers: PositiveCount = 3


class Distribution(Section):
    """How image bytes reach the nodes: from the registry, through caches, or between peers."""

    #: one of the strategies a model family declares (checked by the scenario, which knows the models)
    strategy: str = "central"
    p2p: P2P = Field(default_factory=P2P)
    proxy: Proxy = Field(default_factory=Proxy)
    mirror: Mirror = Field(default_factory=Mirror)
    preheat: Preheat = Field(default_factory=Preheat)


_TARGET = re.compile(r"^(?:(all|db|issuer)|(node|rack|storage|frontend)/(\d+))$")
#: which targets each kind of failure event may name.
EVENT_TARGETS = {
    "fail": ("node", "rack", "storage", "frontend", "db"),
    "repair": ("node", "rack", "storage", "frontend", "db"),
    "partition": ("node", "rack", "storage", "frontend"),
    "db-down": ("db",),
    "bad-credentials": ("all", "node", "rack"),
    "stolen-credential": ("node",),
    "scope-probe": ("node",),
    "issuer-down": ("issuer",),
}
DEFAULT_TARGET = {"db-down": "db", "bad-credentials": "all", "issuer-down": "issuer"}


def _target(text: str) -> str:
    text = text.strip()
    if not _TARGET.match(text):
        raise ValueError("expected a target such as 'node/3', 'rack/0', 'storage/2', 'frontend/0', 'db', 'issuer' "
                         "or 'all'")
    return text


class FailureEvent(Section):
    """One scripted event: at ``at``, ``kind`` happens to ``target`` (for ``duration``, if given)."""

    at: Duration
    kind: Literal["fail", "repair", "partition", "db-down", "bad-credentials", "stolen-credential", "scope-probe",
                  "issuer-down"]
    target: Annotated[str, AfterValidator(_target)] | None = None
    duration: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is None and data.get("kind") in DEFAULT_TARGET:
            data = {**data, "target": DEFAULT_TARGET[data["kind"]]}
        return data

    @model_validator(mode="after")
    def _target_fits_kind(self) -> FailureEvent:
        if self.target is None:
            raise cross_field("target", f"a {self.kind} event needs a target such as 'node/3' or 'storage/1'")
        if self.target_kind() not in EVENT_TARGETS[self.kind]:
            allowed = ", ".join(EVENT_TARGETS[self.kind])
            raise cross_field("target", f"a {self.kind} event cannot target {self.target!r}; "
                                        f"expected one of: {allowed}")
        return self

    def target_kind(self) -> str:
        """``"node"`` for ``"node/3"``, ``"db"`` for ``"db"``."""
        return (self.target or "").split("/")[0]

    def target_index(self) -> int | None:
        """``3`` for ``"node/3"``; None for ``"db"`` and ``"all"``."""
        parts = (self.target or "").split("/")
        return int(parts[1]) if len(parts) == 2 else None


class Failures(Section):
    """Random failures of storage nodes at an annual failure rate, scripted events, and how repair runs.

    ``repair_bandwidth`` caps the traffic of the repair that rebuilds lost fragments (null: the
    repair worker has a storage node's NIC); ``measure_degraded`` asks a Poisson workload without
    scripted storage events to fail one then two storage nodes at fixed phases of the run.
    """

    afr: Fraction = 0.0
    repair_time: Duration = "24h"  # type: ignore[assignment]
    events: list[FailureEvent] = []
    repair_bandwidth: Rate | None = None
    measure_degraded: bool = False
