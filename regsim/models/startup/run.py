"""A start-up variant: build the image for real, then every node starts the container in simulated time.

KPIs (``summary.csv``; per-node times are from the node's start):

- ``format``, ``prefetch``, ``strategy``, ``nodes``, ``image_bytes`` (every blob of the image in
  that format), ``trace_reads``, ``trace_bytes_read``;
- ``time_to_ready_mean_s``, ``_p50_s``, ``_p99_s``, ``_max_s``: until the start-up trace's last
  read completed; ``mount_p50_s``: until the layers were pulled and unpacked (full pull) or
  mounted (lazy); ``pull_share_of_start``: that over the time to ready, mean over nodes (Slacker's
  "pulling accounts for 76 % of container start time"); ``makespan_s``: first start to last ready;
- ``bytes_fetched_share``: bytes a node received before it was ready over the image's layer bytes
  (mean over nodes; 1 or more for a full pull, what lazy pulling saves);
- ``registry_requests`` (every request the registry answered: logins, manifests, Range GETs),
  ``on_demand_fetches`` (reads that had to fetch, summed over nodes), ``fetch_wait_s`` (a node's
  time blocked on fetches, mean over nodes), ``prefetch_bytes`` (summed), ``registry_egress_bytes``,
  ``peer_bytes_share`` (bytes nodes got from peers over all bytes they received);
- ``unpack_s`` and ``inflate_s`` (mean per node: unpacking whole layers, inflating pieces read);
- with ``background``: ``background_done_p50_s`` and ``_max_s``, when a node held every layer.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from regsim.models.core.collection import fewer_collections
from regsim.models.core.result import VariantResult
from regsim.models.core.spec import ModelError, Progress
from regsim.models.core.work import RegistryWork
from regsim.models.core.world import build_world
from regsim.registry.lazy.generate import FileProfile

from .client import NodeClient
from .config import StartupConfig
from .image import ImageRequest, StartupImage, TraceSource, build_image
from .sources import Counters, PeerScheduler, RegistrySource


def image_request(config: StartupConfig, seed: int) -> ImageRequest:
    """What decides the variant's image (``workload.trace.seed`` draws a synthetic trace)."""
    w, image = config.workload, config.image
    files = FileProfile(median=w.files.median, sigma=w.files.sigma, random_share=w.files.random_share,
                        level=w.files.level)
    trace = TraceSource(file=w.trace.file, fraction=w.trace.fraction, locality=w.trace.locality,
                        cpu_between=w.trace.cpu_between, partial=w.trace.partial)
    source = str(image.from_.path) if image.from_ is not None else None
    return ImageRequest(tuple(int(s) for s in image.layers or ()), source, image.tag, w.format, w.prefetch, trace,
                        files, w.trace.seed, int(config.distribution.p2p.piece_size))


def simulate_startup(config: StartupConfig, seed: int, progress: Progress | None = None) -> VariantResult:
    """Every targeted node starts the container; see the module docstring for what is reported."""
    strategy = config.distribution.strategy
    if strategy not in ("central", "p2p-scheduler"):
        raise ModelError(f"distribution.strategy: a start-up runs central or p2p-scheduler, not {strategy!r}")
    image = build_image(image_request(config, seed))
    # the registry stores the image's blobs in this format: one "layer" per blob
    stored = dataclasses.replace(config, image=config.image.model_copy(
        update={"layers": list(image.blob_sizes), "from_": None}))
    world = build_world(stored, seed)
    work = RegistryWork(stored, seed)
    w = config.workload
    targets = world.nodes[: w.nodes or len(world.nodes)]
    counters = Counters()
    registry = RegistrySource(world, work, image, counters)
    scheduler = PeerScheduler(world.env, image.pieces, world.rr.stream("startup-peers"),
                              config.distribution.p2p.upload_slots) if strategy == "p2p-scheduler" else None
    starts = np.zeros(len(targets))
    if float(w.start) > 0:
        starts = world.rr.stream("startup-starts").uniform(0.0, float(w.start), len(targets))
    clients = []
    node_spec = config.cluster.node
    for i, (node, t0) in enumerate(zip(targets, starts)):
        client = NodeClient(world.env, node, i, image, registry, scheduler, counters, connections=w.connections,
                            prefetch=w.prefetch, background=w.background, profile=world.profile,
                            disk_write=world.topology.host(node).disk_write or node_spec.disk.write, net=world.net,
                            p2p_run_bytes=int(config.distribution.p2p.piece_size), mount=w.mount,
                            align=w.align, setup=float(w.setup))
        clients.append(client)
        world.env.process(client.run(float(t0)))
    if progress is not None:
        ready = [0]

        def one_ready() -> None:
            ready[0] += 1
            progress(ready[0] / len(clients))

        for client in clients:
            client.on_ready = one_ready
    with fewer_collections():
        world.env.run()
    return _result(config, image, clients, counters, int(getattr(world.env, "events", 0)))


def _q(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else 0.0


def _result(config: StartupConfig, image: StartupImage, clients: list[NodeClient], counters: Counters,
            events: int) -> VariantResult:
    import pandas as pd  # noqa: PLC0415

    w = config.workload
    stats = [c.stats for c in clients if c.stats is not None and c.stats.ready is not None]
    if len(stats) != len(clients):
        raise ModelError(f"{len(clients) - len(stats)} nodes never became ready (a model error)")
    ready = [s.ready - s.start for s in stats]
    mounted = [s.mounted - s.start for s in stats]
    received = sum(s.bytes for s in stats)
    kpis: dict[str, float | int | str] = {
        "format": w.format, "prefetch": w.prefetch, "strategy": config.distribution.strategy, "nodes": len(stats),
        "image_bytes": image.image_bytes, "trace_reads": len(image.reads), "trace_bytes_read": image.trace_bytes_read,
        "trace_read_share": image.trace_bytes_read / max(1, sum(layer.data_bytes for layer in image.layers)),
        "time_to_ready_mean_s": float(np.mean(ready)), "time_to_ready_p50_s": _q(ready, 0.5),
        "time_to_ready_p99_s": _q(ready, 0.99), "time_to_ready_max_s": float(max(ready)),
        "mount_p50_s": _q(mounted, 0.5),
        "pull_share_of_start": float(np.mean([m / r if r else 0.0 for m, r in zip(mounted, ready)])),
        "makespan_s": max(s.ready for s in stats) - min(s.start for s in stats),
        "bytes_fetched_share": float(np.mean([s.bytes_before_ready for s in stats])) / max(1, image.layer_bytes),
        "registry_requests": counters.registry_requests,
        "on_demand_fetches": sum(s.on_demand for s in stats),
        "fetch_wait_s": float(np.mean([s.fetch_wait_s for s in stats])),
        "prefetch_bytes": sum(s.prefetch_bytes for s in stats),
        "registry_egress_bytes": counters.registry_egress_bytes,
        "peer_bytes_share": counters.peer_bytes / received if received else 0.0,
        "unpack_s": float(np.mean([s.unpack_s for s in stats])),
        "inflate_s": float(np.mean([s.inflate_s for s in stats])),
    }
    if w.background is not None:
        done = [s.background_done - s.start for s in stats if s.background_done is not None]
        kpis["background_done_p50_s"] = _q(done, 0.5)
        kpis["background_done_max_s"] = float(max(done)) if done else 0.0
    times = np.linspace(0.0, max(float(kpis["makespan_s"]), 1e-9), 200)
    t0 = min(s.start for s in stats)
    done_at = np.sort(np.array([s.ready for s in stats]) - t0)
    series = pd.DataFrame({"time_s": times, "metric": "nodes_ready",
                           "value": np.searchsorted(done_at, times, side="right").astype(float)})
    notes = [f"Start-up of {len(stats)} nodes, image {image.summary()}.",
             *(["A full pull fetches every layer before the container starts: workload.prefetch and "
                "workload.background do not apply to format plain."]
               if w.format == "plain" and (w.prefetch != "none" or w.background is not None) else []),
             *[f"Conversion: {n}" for n in image.notes[:8]]]
    return VariantResult(kpis=kpis, series=series, samples={"time_to_ready_s": np.array(ready)}, notes=notes,
                         events=events)
