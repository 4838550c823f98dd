"""``registry.storage.tier``: what the registry's blobs sit on, and what keeping them costs.

``local`` (the default) is the registry's own storage nodes -- their disks and NICs, the codec
spreading each blob over them. ``object`` is an S3-like object store: elastic (no queue), a
first-byte latency per request, a per-connection rate, request-rate limits per partitioned
prefix answered with 503 SlowDown and retried with backoff. ``nfs`` is one shared filesystem
server: its disks, its NIC, and round trips per operation. ``cost`` prices each in money.

The defaults and where each comes from are in ``docs/storage-comparison.md#object-storage`` and
``docs/scenarios.md#storage-tier``; the ones no source gives are named there as assumptions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import Section
from .quantities import ByteRate, Duration, Fraction, PerSecond, PositiveCount, PositiveSize, Rate


class FirstByte(Section):
    """The time from a request to its first byte: lognormal, given by its median and 90th percentile.

    Default: p90 20 ms, as measured from EC2 to S3 in the same region (D. Vassallo, s3-benchmark
    README, 2019: "S3's 90th percentile time to first byte is typically around 20 ms regardless
    of the object size"); the median of 15 ms is an assumption.
    """

    median: Duration = Field(default="15ms", gt=0)  # type: ignore[assignment]
    p90: Duration = Field(default="20ms", gt=0)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _ordered(self) -> FirstByte:
        if self.p90 < self.median:
            raise ValueError(f"p90 ({self.p90:g} s) must be at least the median ({self.median:g} s)")
        return self


class Retry(Section):
    """How the registry's S3 client retries a throttled request: exponential backoff, full jitter.

    The wait before retry ``i`` (1, 2, ...) is uniform on ``[0, min(cap, base * 2**(i-1))]``;
    after ``attempts`` tries the SDK gives up and the request fails to its caller, who tries
    again (counted as ``object_requests_failed``). Defaults: boto3's "standard" retry mode
    (3 attempts, base 1 s, at most 20 s; boto3 documentation, "Retries").
    """

    attempts: PositiveCount = 3
    base: Duration = Field(default="1s", gt=0)  # type: ignore[assignment]
    cap: Duration = Field(default="20s", gt=0)  # type: ignore[assignment]


class ObjectStoreSpec(Section):
    """An S3-like object store reached over the network (``tier.kind: object``)."""

    first_byte: FirstByte = Field(default_factory=FirstByte)
    #: one request's transfer rate: "about 93 MB/s per thread" (s3-benchmark README, 2019)
    connection_rate: ByteRate = "93MB/s"  # type: ignore[assignment]
    #: GET/HEAD and PUT/COPY/POST/DELETE per second per partitioned prefix: "at least 3,500
    #: PUT/COPY/POST/DELETE or 5,500 GET/HEAD requests per second per partitioned prefix"
    #: (Amazon S3 User Guide, "Best practices design patterns: optimizing Amazon S3 performance")
    get_rate: PerSecond = Field(default="5500/s", gt=0)  # type: ignore[assignment]
    put_rate: PerSecond = Field(default="3500/s", gt=0)  # type: ignore[assignment]
    #: partitioned prefixes the registry's keys spread over (assumed: a new bucket starts with one)
    partitions: PositiveCount = 1
    #: sustained throttling after which the store doubles its partitions ("while it repartitions");
    #: ``0s`` never (assumption: S3 gives no figure)
    repartition_after: Duration = Field(default="0s", ge=0)  # type: ignore[assignment]
    #: a token bucket's depth, in seconds of each rate (assumption)
    burst: Duration = Field(default="1s", gt=0)  # type: ignore[assignment]
    #: multipart upload part size (distribution's s3 driver: ``chunksize``, 10 MiB by default)
    part_size: PositiveSize = Field(default="10MiB", ge=5 << 20)  # type: ignore[assignment]
    retry: Retry = Field(default_factory=Retry)
    #: the store's aggregate bandwidth to the registry's site (its NIC in the model)
    bandwidth: Rate = "100Gbps"  # type: ignore[assignment]
    #: yearly probability of keeping an object: S3 Standard is "designed for 99.999999999 %"
    durability: Fraction = 0.99999999999


class NfsSpec(Section):
    """One NFS-like file server under the registry (``tier.kind: nfs``): assumed defaults."""

    #: a round trip between a frontend and the server
    rtt: Duration = Field(default="500us", gt=0)  # type: ignore[assignment]
    #: round trips before data moves (LOOKUP, OPEN/GETATTR), per operation
    metadata_round_trips: PositiveCount = 2
    #: bytes per READ/WRITE RPC and RPCs in flight per operation: the client's window
    rsize: PositiveSize = "1MiB"  # type: ignore[assignment]
    in_flight: PositiveCount = 16
    #: the server's disks, one operation at a time at this rate (a bandwidth bound), and its NIC
    disk: ByteRate = "2GB/s"  # type: ignore[assignment]
    nic: Rate = "25Gbps"  # type: ignore[assignment]
    #: the server's yearly availability of data (an assumed RAID-backed appliance)
    durability: Fraction = 0.999999


class StorageCost(Section):
    """Money: list prices per unit. Defaults: Amazon S3 Standard, US East (N. Virginia), as
    listed on aws.amazon.com/s3/pricing in 2024; disks for ``local`` and ``nfs`` at the EBS gp3
    list price of the same region and year ($0.08 per GB-month), per raw byte stored."""

    gb_month: float = Field(default=0.023, ge=0)
    #: per 1,000 PUT, COPY, POST and LIST requests (multipart parts and their start and end too)
    put_per_1000: float = Field(default=0.005, ge=0)
    #: per 1,000 GET and HEAD requests
    get_per_1000: float = Field(default=0.0004, ge=0)
    #: per GB sent to clients outside the provider's region (in-region traffic is free)
    egress_gb: float = Field(default=0.09, ge=0)
    #: whether the clients' pulls leave the region (and are billed as egress)
    egress_billed: bool = False
    #: price per raw GB-month of the local or NFS tier's disks
    disk_gb_month: float = Field(default=0.08, ge=0)


class StorageTier(Section):
    """What the blobs sit on: ``local`` storage nodes, an ``object`` store, or an ``nfs`` server.

    ``tier: object`` is short for ``tier: {kind: object}``.
    """

    scalar_form = True

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, data: Any) -> Any:
        return {"kind": data} if isinstance(data, str) else data

    kind: Literal["local", "object", "nfs"] = "local"
    object: ObjectStoreSpec = Field(default_factory=ObjectStoreSpec)
    nfs: NfsSpec = Field(default_factory=NfsSpec)
    cost: StorageCost = Field(default_factory=StorageCost)
