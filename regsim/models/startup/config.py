"""The start-up family's scenario section and config: nodes start a container, and are ready when
its start-up trace has run.

``Startup`` is the ``workload`` section of ``kind: startup`` (``docs/scenarios.md#startup``):
which layer format the image is in (``plain`` is a full pull), what the lazy client prefetches,
the start-up trace (a recorded file or a synthetic profile) and, for images given by their
layer sizes, what their generated files look like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from regsim.spec.base import Section
from regsim.spec.quantities import ByteRate, Count, Duration, Fraction, PositiveCount, PositiveSize, Spread
from regsim.spec.traffic import Distribution

from ..core.spec import ModelConfig


class TraceSpec(Section):
    """The container's start-up reads: a recorded trace ``file`` (overlaybd binary, CSV or JSONL,
    ``docs/lazy-pulling.md``), or a synthetic one: ``fraction`` of the image's bytes read (Slacker's
    6.4 % by default), ``locality``, exponential CPU time of mean ``cpu_between`` before each read,
    and the ``partial`` share of each file read. ``seed`` draws the synthetic trace: every variant
    of a sweep runs the same start-up unless it sweeps ``seed`` (the run's seed does not change it)."""

    file: str | None = None
    seed: int = Field(default=0, ge=0)
    fraction: Fraction = 0.064
    locality: Fraction = 0.5
    cpu_between: Duration = Field(default="1ms", ge=0)  # type: ignore[assignment]
    partial: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)


class Files(Section):
    """What a generated layer's files look like: lognormal sizes (``median``, ``sigma``), the share
    of bytes that are incompressible (``random_share``), and the gzip ``level`` of the plain layer.
    Every default is an assumption (``docs/lazy-pulling.md#the-start-up-model``)."""

    median: PositiveSize = "4KiB"  # type: ignore[assignment]
    sigma: float = Field(default=2.0, ge=0, le=6, allow_inf_nan=False)
    random_share: Fraction = 0.3
    level: int = Field(default=6, ge=0, le=9)


class Mount(Section):
    """How a lazy client mounts the image's layers (``docs/lazy-pulling.md#mounting``).

    ``order``: ``sequential`` mounts one layer after another in the image's order, as
    containerd's unpacker prepares each layer's snapshot on its parent's, the first mount
    resolving every layer at once (stargz-snapshotter pre-resolves the manifest's other layers
    when it mounts the first); ``parallel`` mounts every layer at once. ``resolve``: the requests
    a snapshotter sends to find a layer's blob before opening it (stargz's resolver: a 2-byte
    Range GET that follows the registry's redirect, then one for the blob's size). ``check``:
    each mount after the first re-checks its already resolved blob with one more such probe
    (stargz checks a cached layer's blob before reusing it). ``cost``: local work per layer
    mount (snapshot prepare and commit, the FUSE mount), an assumption. ``wait_prefetch``: the
    container is created only once each layer's prefetch has completed, waiting at most
    ``prefetch_timeout`` per layer (stargz's ``Check`` and its ``prefetch_timeout_sec``); null:
    for ``landmarks`` prefetch only (overlaybd's trace prefetch runs beside the container).
    """

    order: Literal["sequential", "parallel"] = "sequential"
    resolve: Count = 2
    check: bool = True
    cost: Duration = Field(default="0s", ge=0)  # type: ignore[assignment]
    wait_prefetch: bool | None = None
    prefetch_timeout: Duration = Field(default="10s", ge=0)  # type: ignore[assignment]


class Startup(Section):
    """Every node (or ``nodes`` of them) starts the container, at once or spread over ``start``.

    ``format``: ``plain`` pulls every layer whole and unpacks it before the container starts;
    ``estargz``, ``soci``, ``nydus`` and ``block`` mount the layers and fetch what the container
    reads when it reads it. ``prefetch``: ``none``; ``trace`` fetches the start-up trace's units
    as soon as the layers are mounted; ``landmarks`` (eStargz) converts the image with the trace's
    files first and fetches everything before the landmark. ``background``: a rate at which the
    rest of every layer is fetched after mounting (null: never). ``connections``: requests a node's
    lazy client has in flight at most. ``align``: a read's request is rounded out to multiples of
    this many bytes of the blob, and every whole piece inside is kept (stargz-snapshotter's blob
    ``chunk_size``, 50,000 bytes by default; null: a request asks for exactly what is missing).
    ``mount``: how the layers are mounted (:class:`Mount`). ``setup``: the client's own time
    before its first request (starting the pull command, reaching containerd), any format.
    """

    kind: Literal["startup"] = "startup"
    nodes: PositiveCount | None = None
    start: Spread = "all"  # type: ignore[assignment]
    format: Literal["plain", "estargz", "soci", "nydus", "block"] = "plain"
    prefetch: Literal["none", "trace", "landmarks"] = "none"
    background: ByteRate | None = None
    connections: PositiveCount = 4
    align: PositiveSize | None = None
    setup: Duration = Field(default="0s", ge=0)  # type: ignore[assignment]
    mount: Mount = Field(default_factory=Mount)
    trace: TraceSpec = Field(default_factory=TraceSpec)
    files: Files = Field(default_factory=Files)


@dataclass(frozen=True)
class StartupConfig(ModelConfig):
    """A start-up variant: who starts the container (``workload``) and where bytes come from
    (``distribution``: ``central`` or ``p2p-scheduler``)."""

    workload: Startup
    distribution: Distribution
