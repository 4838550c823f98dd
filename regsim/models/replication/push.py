"""Push-based replication: the source site's job copies each blob to a remote site, chunk by chunk.

What Harbor's replication job does (``src/controller/replication/transfer/image/transfer.go``,
``copyBlobByChunk``; the registry client ``src/pkg/registry/client.go``), per blob and per
destination:

1. a ``HEAD`` of the blob at the destination (``BlobExist``; a blob already there is skipped --
   never the case here: every blob is new);
2. a ``POST`` opening an upload session (``initiateBlobUpload``);
3. for each chunk, in order (the OCI distribution spec: "Chunks MUST be uploaded in order"): a
   ranged ``GET`` at the source registry (``PullBlobChunk``, ``Range: bytes=start-end``) whose
   body is piped into a ``PATCH`` to the destination (``PushBlobChunk``); the last chunk is a
   ``PUT`` with the digest, which closes the upload. A blob no larger than one chunk is copied
   whole: the GET piped into one ``PUT``.

So each chunk costs one WAN round trip (the PATCH's request and its ``202``), the source's
local GET round trip, and its bytes' transfer, and the next chunk starts only when the
``202`` is back: the pipe stands still for a round trip per chunk. ``workers`` jobs run at once
per destination, each copying whole blobs on its own connections (Harbor runs one task per
artifact on ``max_job_workers`` workers; the chunks of a blob never overlap).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from .http import Connection, Counters, Steps, request, stream
from .sites import Sites

__all__ = ["chunks_of", "push_blob"]


def chunks_of(size: int, chunk_size: int) -> list[int]:
    """The bytes of each upload request copying a blob of ``size``: whole if it fits in one chunk."""
    if size <= chunk_size:
        return [size]
    n = math.ceil(size / chunk_size)
    return [chunk_size] * (n - 1) + [size - chunk_size * (n - 1)]


def push_blob(sites: Sites, counters: Counters, get: Connection, put: Connection, size: int,
              chunk_size: int, progress: Callable[[float], None] | None = None) -> Steps:
    """Copy one blob of ``size`` bytes from the source registry over ``get`` to a remote one over ``put``."""
    yield from request(sites, counters, put, 0, 0)          # HEAD: does the blob exist there?
    yield from request(sites, counters, put, 0, 0)          # POST: open an upload session
    for nbytes in chunks_of(size, chunk_size):
        yield from stream(sites, counters, get, put, nbytes)  # ranged GET piped into PATCH (last: PUT)
        counters.chunks += 1
        if progress is not None:
            progress(nbytes)


def push_worker(sites: Sites, counters: Counters, remote: str, queue: list[tuple[int, int]],
                done: dict[tuple[str, int], simpy.Event], chunk_size: int, keep_alive: bool, connect_rtts: int,
                progress: Callable[[float], None] | None = None) -> Steps:
    """One replication worker at the source: takes blobs off ``queue`` until it is empty."""
    job = Sites.job(sites.source)
    get = Connection(job, Sites.registry(sites.source), keep_alive, connect_rtts)
    put = Connection(job, Sites.registry(remote), keep_alive, connect_rtts)
    while queue:
        index, size = queue.pop(0)
        yield from push_blob(sites, counters, get, put, size, chunk_size, progress)
        done[(remote, index)].succeed()
