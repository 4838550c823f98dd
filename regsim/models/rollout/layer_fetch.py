"""Reading layers from the simulated registry, for the strategies that put hosts between it and the nodes.

An origin being preheated and a pull-through cache filling itself both read a whole layer: they
have the blob authorised (a small request) and the registry streams it (its storage reads,
decryption and the response side by side, see :class:`~regsim.models.core.replay.Replay`). A P2P peer
sent back to source reads a range of a layer instead: the registry's work for it is the layer's
read receipt scaled to the range.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from regsim.registry.receipts import WorkItem

from regsim.models.core.work import RegistryWork, on_frontend
from regsim.models.core.replay import Replay


def fetch_layer(replay: Replay, work: RegistryWork, host: str, frontend: str, creds: object, index: int, *,
                verify: bool = False) -> Generator[simpy.Event, object, int]:
    """``host`` has layer ``index`` authorised and reads it whole; returns the bytes it received."""
    yield from replay.request(host, frontend, work.authorize(creds))
    items = on_frontend(work.layer_get(index, verify_bytes=verify), frontend)
    size = work.sizes[index]
    yield from replay.stream(items, frontend, host, size, tag="egress")
    return size


def range_work(work: RegistryWork, index: int, nbytes: int, frontend: str) -> list[WorkItem]:
    """The registry's work for a back-to-source piece: :meth:`RegistryWork.range_items
    <regsim.models.core.work.RegistryWork.range_items>`."""
    return work.range_items(index, nbytes, frontend)
