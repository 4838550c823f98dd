"""Scenario sections for the hardware: the cluster that pulls images and the registry that serves them.

Rates are bytes/s, sizes bytes, durations seconds once validated (see :mod:`.quantities`); the
documentation of every key, its unit and its default is ``docs/scenarios.md``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SerializationInfo, model_serializer, model_validator
from pydantic_core import PydanticCustomError

import numpy as np

from regsim.registry.auth import canonical_auth_mode
from regsim.registry.codecs.parse import parse_codec
from regsim.registry.errors import ConfigError
from regsim.units import UnitError

from .base import Section, collapse, expand_scalar
from .operations import RateLimit, Tls
from .storage_tier import StorageTier
from .quantities import (
    ByteRate,
    Count,
    Duration,
    Fraction,
    PositiveCount,
    PositiveSize,
    Rate,
    Size,
    format_rate,
    format_ratio,
    parse_ratio,
)


def cross_field(key: str, message: str) -> PydanticCustomError:
    """A validation error about ``key`` (dotted, relative to the section that raises it)."""
    return PydanticCustomError("cross_field", "{key}: {message}", {"key": key, "message": message})


class _Compact(Section):
    """A section that also accepts one scalar standing for all of its fields."""

    compact = True
    scalar_form = True

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        return expand_scalar(data, tuple(cls.model_fields))

    @model_serializer(mode="wrap")
    def _collapse(self, handler: Any, info: SerializationInfo) -> Any:
        data = handler(self)
        return collapse(data) if info.mode_is_json() else data


class Link(_Compact):
    """A network interface: its upload and download rates; a single rate sets both."""

    up: Rate
    down: Rate


class Disk(_Compact):
    """A disk's sequential read and write rates; a single rate sets both."""

    read: ByteRate
    write: ByteRate


class Latency(_Compact):
    """One-way latency of each hop: host to its rack switch, rack switch to the core switch."""

    host: Duration
    core: Duration


class Uplink(Section):
    """A rack's link to the core: a rate, or an oversubscription ratio of its hosts' NICs (``"4:1"``)."""

    scalar_form = True

    rate: Rate | None = None
    oversubscription: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, data: Any) -> Any:
        if isinstance(data, str) and ":" in data:
            try:
                return {"oversubscription": parse_ratio(data)}
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(data, (str, int, float)) and not isinstance(data, bool):
            return {"rate": data}
        return data

    @model_validator(mode="after")
    def _one(self) -> Uplink:
        if (self.rate is None) == (self.oversubscription is None):
            raise cross_field("rate", "give a rack uplink as a rate ('40Gbps') or a ratio ('4:1'), exactly one")
        return self

    @model_serializer(mode="wrap")
    def _short(self, handler: Any, info: SerializationInfo) -> Any:
        if not info.mode_is_json():
            return handler(self)
        return format_rate(self.rate) if self.rate is not None else format_ratio(self.oversubscription or 1.0)

    def capacity(self, hosts: int, nic_up: float) -> float:
        """The uplink's rate in bytes/s for a rack of ``hosts`` hosts with ``nic_up`` each."""
        return self.rate if self.rate is not None else hosts * nic_up / (self.oversubscription or 1.0)


class Variation(Section):
    """How far each node falls short of its nominal NIC and disk rates (``docs/scenarios.md``).

    Every node draws one speed factor from the run's seeded generator (stream ``cluster/hosts``):
    ``min(1, X)`` with ``X`` lognormal of median 1 and coefficient of variation ``cv`` -- the nominal
    rate is a ceiling (a line rate, an agent's rate limit) that busy hosts fall short of -- times
    ``straggler_factor`` for a random ``stragglers`` fraction of the nodes. Its NIC (both ways)
    and disk rates are the nominal ones times that factor. The defaults make every node nominal.
    """

    cv: float = Field(default=0.0, ge=0.0)
    stragglers: Fraction = 0.0
    straggler_factor: float = Field(default=1.0, gt=0.0, le=1.0)

    def factors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` speed factors in (0, 1]; all ones (and no draw) when nothing varies."""
        out = np.ones(n)
        if self.cv > 0:
            sigma = math.sqrt(math.log1p(self.cv ** 2))
            out = np.minimum(1.0, np.exp(sigma * rng.standard_normal(n)))
        if self.stragglers > 0 and self.straggler_factor < 1:
            slow = rng.permutation(n)[: int(round(self.stragglers * n))]
            out[slow] *= self.straggler_factor
        return out


class Node(Section):
    """One cluster node: the machine that pulls images and runs their containers."""

    cores: PositiveCount = 4
    nic: Link = "10Gbps"  # type: ignore[assignment]
    disk: Disk = {"read": "500MB/s", "write": "400MB/s"}  # type: ignore[assignment]
    #: nodes whose NIC and disk fall short of these rates, drawn per node (``Variation``)
    variation: Variation = Field(default_factory=Variation)


class Cluster(Section):
    """The nodes that pull images, in racks behind top-of-rack switches and one core switch."""

    nodes: PositiveCount = 100
    racks: PositiveCount = 1
    node: Node = Field(default_factory=Node)
    rack_uplink: Uplink = "1:1"  # type: ignore[assignment]
    latency: Latency = "50us"  # type: ignore[assignment]

    @model_validator(mode="after")
    def _racks_hold_nodes(self) -> Cluster:
        if self.racks > self.nodes:
            raise cross_field("racks", f"{self.racks} racks cannot hold {self.nodes} nodes: "
                                       "expected at most one rack per node")
        return self

    def rack_sizes(self) -> list[int]:
        """Nodes per rack: as even as possible, the first ``nodes % racks`` racks one larger."""
        per, extra = divmod(self.nodes, self.racks)
        return [per + (1 if i < extra else 0) for i in range(self.racks)]


def _tier_kind(tier: Any) -> Any:
    return tier.get("kind") if isinstance(tier, dict) else tier


def _canonical_codec(spec: object) -> str:
    try:
        return parse_codec(spec).name  # type: ignore[arg-type]
    except ConfigError as exc:
        hint = ""
        if isinstance(spec, str) and spec.count("(") > spec.count(")"):
            # YAML splits an unquoted rs(4,2) at its comma inside a {flow: mapping}
            hint = "; inside {...} YAML splits an unquoted codec at its comma: quote it, as in codec: \"rs(4,2)\""
        raise ValueError(f"{exc}{hint}") from None


#: a codec in the grammar of :func:`regsim.registry.codecs.parse.parse_codec`, in its canonical spelling.
CodecSpec = Annotated[str, BeforeValidator(_canonical_codec)]


class Storage(Section):
    """Where blobs live: storage nodes, and the codec that spreads each blob over them."""

    backend: Literal["memory", "filesystem"] = "memory"
    codec: CodecSpec = "replicate(3)"
    nodes: PositiveCount = 3
    #: which copy of a replicated blob a read fetches: each in turn (spread), or the first (primary)
    replica_reads: Literal["spread", "primary"] = "spread"
    disk: Disk = {"read": "2GB/s", "write": "1GB/s"}  # type: ignore[assignment]
    nic: Link = "25Gbps"  # type: ignore[assignment]
    segment_size: Size = Field(default="1MiB", ge=1024)  # type: ignore[assignment]
    capacity: PositiveSize | None = None
    #: the frontends run on the storage nodes (every node is both, as in MinIO): one NIC each way
    #: per machine carries its clients' traffic and its share of the fragments; ``frontends``
    #: must then equal ``nodes``
    colocated: bool = False
    #: what the blobs sit on: these storage nodes (``local``), an object store or an NFS server
    tier: StorageTier = Field(default_factory=StorageTier)

    @model_validator(mode="before")
    @classmethod
    def _one_remote_store(cls, data: Any) -> Any:
        # an object store or a file server keeps its own redundancy: the registry writes each blob
        # once, to one "node" (the bucket, the mount), unless the scenario says otherwise
        if isinstance(data, dict) and _tier_kind(data.get("tier")) in ("object", "nfs"):
            data = {"codec": "replicate(1)", "nodes": 1, **data}
        return data

    @model_validator(mode="after")
    def _enough_nodes(self) -> Storage:
        if self.tier.kind != "local" and (self.codec != "replicate(1)" or self.nodes != 1 or self.colocated):
            raise cross_field("tier", f"an {self.tier.kind} tier keeps each blob once, in one store: leave codec, "
                                      f"nodes and colocated out (got codec {self.codec}, nodes {self.nodes}"
                                      f"{', colocated' if self.colocated else ''})")
        k, n = self.codec_kn()
        if self.nodes < n:
            raise cross_field("nodes", f"codec {self.codec} writes {n} fragments, so it needs at least {n} "
                                       f"storage nodes (got {self.nodes})")
        return self

    def codec_kn(self) -> tuple[int, int]:
        """(k, n): fragments needed to read a blob back, fragments written."""
        codec = parse_codec(self.codec)
        return codec.k, codec.n


class AuthDb(Section):
    """The database behind ``auth.mode: db``."""

    pool: PositiveCount = 10
    latency: Duration = "500us"  # type: ignore[assignment]
    hash: Literal["bcrypt", "argon2id"] = "bcrypt"
    credentials: Literal["session", "basic"] = "session"


class Issuer(Section):
    """Short-lived credentials from an issuer (Vault or a cloud KMS style) in place of the users'
    long-lived passwords: each node's credential lives ``ttl``, the node renews it at ``renew_at``
    of its life and, while the issuer cannot answer, retries every ``retry``."""

    enabled: bool = False
    ttl: Duration = Field(default="12h", gt=0)  # type: ignore[assignment]
    renew_at: Fraction = Field(default=0.5, gt=0)
    retry: Duration = Field(default="30s", gt=0)  # type: ignore[assignment]
    cores: PositiveCount = 2


class Auth(Section):
    """How requests are authenticated: not at all, by JWT, or by a database look-up."""

    #: the canonical names (regsim.registry.auth.AUTH_MODES); the server's spellings ``token`` and
    #: ``database`` are accepted and stored as ``jwt`` and ``db``, so a resolved scenario shows these
    mode: Annotated[Literal["none", "jwt", "db"], BeforeValidator(canonical_auth_mode)] = "none"
    algorithm: Literal["ES256", "RS256", "EdDSA", "HS256"] = "ES256"
    token_ttl: Duration = Field(default="5m", gt=0)  # type: ignore[assignment]
    cache: Count = 10_000
    service_cores: PositiveCount = 4
    db: AuthDb = Field(default_factory=AuthDb)
    issuer: Issuer = Field(default_factory=Issuer)

    @model_validator(mode="after")
    def _issuer_needs_users(self) -> Auth:
        if self.issuer.enabled and self.mode == "none":
            raise cross_field("issuer.enabled", "short-lived credentials replace users' passwords: set mode to "
                                                "'jwt' or 'db'")
        return self


class TeeOverrides(Section):
    """Replacements for the TEE model's documented defaults (null keeps the default)."""

    transition: Duration | None = None
    copy_rate: ByteRate | None = None
    cpu_slowdown: float | None = Field(default=None, ge=1, allow_inf_nan=False)
    protected_memory: PositiveSize | None = None
    paging_rate: ByteRate | None = None
    paging_op_slowdown: float | None = Field(default=None, ge=1, allow_inf_nan=False)
    attestation: Duration | None = None
    io_chunk: PositiveSize | None = None

    @model_serializer(mode="wrap")
    def _drop_nulls(self, handler: Any) -> Any:
        return {k: v for k, v in handler(self).items() if v is not None}

    def model_kwargs(self) -> dict[str, float | int]:
        """The overrides as keyword arguments of ``regsim.sim.tee.TeeModel.for_kind``."""
        names = {"transition": "transition_s", "cpu_slowdown": "cpu_slowdown", "protected_memory": "protected_bytes",
                 "paging_op_slowdown": "paging_op_slowdown", "attestation": "attestation_s",
                 "io_chunk": "io_chunk_bytes"}
        out: dict[str, float | int] = {names[k]: v for k, v in self if k in names and v is not None}
        if self.copy_rate is not None:
            out["copy_s_per_byte"] = 1.0 / self.copy_rate
        if self.paging_rate is not None:
            out["paging_s_per_byte"] = 1.0 / self.paging_rate
        return out


class Tee(Section):
    """Running the registry inside a trusted execution environment."""

    enabled: bool = False
    kind: Literal["sgx", "tdx", "sev-snp"] = "tdx"
    working_set: Size = "256MB"  # type: ignore[assignment]
    overrides: TeeOverrides = Field(default_factory=TeeOverrides)


#: ``lru``, ``lfu`` or ``none``, optionally written with ``+prefetch`` (shorthand for ``prefetch: true``).
_CACHE_POLICY = re.compile(r"^(none|lru|lfu)(\+prefetch)?$")


def _cache_policy(value: str) -> str:
    text = value.strip().lower()
    if not _CACHE_POLICY.match(text):
        raise ValueError("expected 'none', 'lru' or 'lfu', optionally with '+prefetch' (e.g. 'lru+prefetch')")
    return text


class Cache(Section):
    """A blob cache in front of the registry's storage, or one in every rack (the trace workload).

    ``policy: lru+prefetch`` is shorthand for ``policy: lru`` with ``prefetch: true`` (it sets
    ``prefetch`` whatever that says), so one sweep key can compare no cache, LRU, LFU and LRU with
    prefetching side by side.
    """

    policy: Annotated[str, AfterValidator(_cache_policy)] = "none"
    capacity: PositiveSize = "10GB"  # type: ignore[assignment]
    prefetch: bool = False
    placement: Literal["registry", "rack"] = "registry"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        policy = data.get("policy") if isinstance(data, dict) else None
        if isinstance(policy, str) and policy.strip().lower().endswith("+prefetch"):
            data = {**data, "policy": policy.strip().lower().removesuffix("+prefetch"), "prefetch": True}
        return data

    @model_validator(mode="after")
    def _prefetch_fills_a_cache(self) -> Cache:
        if self.prefetch and self.policy == "none":
            raise cross_field("prefetch", "prefetching fills a cache, and policy is 'none': choose 'lru' or 'lfu'")
        return self

    @property
    def enabled(self) -> bool:
        return self.policy != "none"

    def label(self) -> str:
        """``none``, ``lru``, ``lfu``, ``lru+prefetch`` or ``lfu+prefetch``."""
        return f"{self.policy}+prefetch" if self.prefetch else self.policy


class UpstreamLimit(Section):
    """The registry is a public upstream that limits pulls per client address, as Docker Hub does:
    ``pulls`` manifest GETs (HEADs are free) within a sliding ``window``, then 429. ``per``: each
    node pulls from its own address (``node``), or every node and cache sits behind one NAT
    address (``site``). Defaults: Docker Hub's anonymous limit, 100 pulls per 6 hours per address."""

    pulls: PositiveCount = 100
    window: Duration = Field(default="6h", gt=0)  # type: ignore[assignment]
    per: Literal["node", "site"] = "site"


class RegistrySpec(Section):
    """The registry service: its frontends, storage, encryption, authentication, TEE and blob cache."""

    frontends: PositiveCount = 1
    cores: PositiveCount = 8
    egress: Rate = "10Gbps"  # type: ignore[assignment]
    latency: Duration = "0s"  # type: ignore[assignment]
    storage: Storage = Field(default_factory=Storage)
    encryption: Literal["none", "aes-256-gcm"] = "none"
    auth: Auth = Field(default_factory=Auth)
    tee: Tee = Field(default_factory=Tee)
    tls: Tls = Field(default_factory=Tls)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    cache: Cache = Field(default_factory=Cache)
    #: a public upstream's per-client pull limit (null: none)
    upstream_limit: UpstreamLimit | None = None

    @model_validator(mode="after")
    def _colocated_frontends(self) -> RegistrySpec:
        if self.storage.colocated and self.frontends != self.storage.nodes:
            raise cross_field("frontends", f"storage.colocated runs one frontend on each storage node, so frontends "
                                           f"must equal storage.nodes ({self.storage.nodes}), got {self.frontends}")
        return self
