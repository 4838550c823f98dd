"""The replication family's scenario section and config: registry sites joined by WAN links.

``Replication`` is the ``workload`` section of ``kind: replication``. The first of ``sites`` is the
*source*: the registry images are pushed to. Every other site is a *remote* site, joined to the
source by its own WAN link (``wan``: one-way ``latency`` and ``bandwidth`` each way; a fluid,
loss-free link, so what a lossy path does to one TCP connection is stated as the scenario's
``network.window``: an effective window gives a per-connection cap of ``window / RTT``).

``mode`` says how a blob reaches a remote site (:mod:`.push`, :mod:`.pull`, :mod:`.proxy`), and
``clients`` at each remote site pull the whole set of ``blobs`` (one image) from their local
registry, starting ``clients_start`` after the replication starts, ``clients_interval`` apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from regsim.spec.base import Section
from regsim.spec.quantities import Count, Duration, PositiveCount, PositiveSize, Rate

from ..core.spec import ModelConfig

__all__ = ["MODES", "Replication", "ReplicationConfig", "Site", "Wan"]

#: how blobs reach a remote site
MODES = ("push", "pull", "proxy-cache")


class Wan(Section):
    """The WAN link between the source site and one remote site (each way)."""

    latency: Duration = Field(gt=0)  # type: ignore[assignment]
    bandwidth: Rate


class Site(Section):
    """One registry site: its registry's network rates, and (remote sites) its WAN link to the source."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    egress: Rate = 10e9 / 8
    ingress: Rate = 10e9 / 8
    wan: Wan | None = None


class Replication(Section):
    """Blobs copied from the source site to the remote sites, and remote clients pulling them."""

    kind: Literal["replication"] = "replication"
    mode: Literal["push", "pull", "proxy-cache"] = "push"
    sites: Annotated[list[Site], Field(min_length=2)]
    blobs: Annotated[list[PositiveSize], Field(min_length=1)] = [3_000_000_000]
    #: push: bytes per ranged GET + PATCH (Harbor's REPLICATION_CHUNK_SIZE default is 10 MiB)
    chunk_size: PositiveSize = 10 * 1024 * 1024
    #: blobs copied at a time per remote site (chunks of one blob are always sequential)
    workers: PositiveCount = 1
    #: a request reuses its worker's connection (Go's HTTP transport keeps connections alive)
    keep_alive: bool = True
    #: round trips to open a connection: TCP's handshake, plus TLS's
    connect_rtts: Count = 2
    #: one-way latency of a hop inside a site (host to switch)
    lan_latency: Duration = Field(default="50us", gt=0)  # type: ignore[assignment]
    #: clients pulling the image at each remote site
    clients: Count = 1
    clients_start: Duration = Field(default="0s", ge=0)  # type: ignore[assignment]
    clients_interval: Duration = Field(default="1s", ge=0)  # type: ignore[assignment]
    #: blobs a client downloads at once (Docker's max-concurrent-downloads default is 3)
    client_downloads: PositiveCount = 3
    #: NIC of the hosts inside a site (clients, the replication job, a cache)
    host_nic: Rate = 10e9 / 8

    @model_validator(mode="after")
    def _sites(self) -> Replication:
        names = [s.name for s in self.sites]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sites: names must be unique; repeated: {', '.join(repeated)}")
        if self.sites[0].wan is not None:
            raise ValueError(f"sites.0 ({self.sites[0].name}) is the source site: it takes no wan link "
                             "(each remote site's wan joins it to the source)")
        missing = [f"sites.{i} ({s.name})" for i, s in enumerate(self.sites) if i and s.wan is None]
        if missing:
            raise ValueError(f"{', '.join(missing)}: a remote site needs a wan link "
                             "(wan: {latency: 15ms, bandwidth: 100Mbps})")
        return self

    @property
    def source(self) -> Site:
        return self.sites[0]

    @property
    def remotes(self) -> list[Site]:
        return self.sites[1:]


@dataclass(frozen=True)
class ReplicationConfig(ModelConfig):
    """A replication variant: the sites, the blobs and the mode, on the scenario's ``network`` model."""

    workload: Replication
