"""Link-utilisation time series, recorded exactly from the network's change notifications.

Link loads in the fluid model are step functions: constant between re-shares. So instead of a
sampling process that wakes every ``dt`` (events the simulation would pay for, and a process
that keeps ``env.run()`` alive forever), the recorder keeps one row per change and resamples on
demand: ``rec.at(np.arange(0, T, 1.0))`` gives the per-second series, ``rec.mean(T)`` the exact
time-averaged utilisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from regsim.sim.network.model import Network


class LinkRecorder:
    """Records the utilisation (load / capacity) of chosen links at every change."""

    def __init__(self, net: Network, links: Sequence[int] | None = None) -> None:
        self.net = net
        count = len(net.topology.links)
        self.links = np.arange(count) if links is None else np.asarray(links, dtype=np.int64)
        if self.links.size and (self.links.min() < 0 or self.links.max() >= count):
            raise ValueError(f"link ids must lie in [0, {count})")
        self._times: list[float] = []
        self._rows: list[np.ndarray | list[float]] = []
        self._last: bytes | list[float] | None = None
        few = self.links.size <= 64
        self._few = self.links.tolist() if few else None
        self._caps = net.capacity()[self.links].tolist() if few else None
        self._record(net)
        net.subscribe(self._record)

    def _record(self, net: Network) -> None:
        t = net.env.now
        if self._few is not None:
            # a few links: their loads from the network as a list, divided here (this runs per change)
            key = [load / c for load, c in zip(net.loads_of(self._few), self._caps)]
            row = None
        else:
            row = net.utilisation(self.links)
            key = row.tobytes()  # rows compare by value, cheaper as bytes than as arrays
        if self._times and self._times[-1] == t:
            self._rows[-1] = key if row is None else row
            self._last = key
        elif key != self._last:
            self._times.append(t)
            self._rows.append(key if row is None else row)
            self._last = key

    @property
    def times(self) -> np.ndarray:
        """Times at which the recorded utilisation changed (the first is the start)."""
        return np.asarray(self._times)

    @property
    def values(self) -> np.ndarray:
        """``(len(times), len(links))``: utilisation from each time until the next."""
        return np.array(self._rows, dtype=float).reshape(len(self._rows), self.links.size)

    def at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """Utilisation of the recorded links at the given times (0 before recording began)."""
        t = np.asarray(times, dtype=float)
        idx = np.searchsorted(self.times, t, side="right") - 1
        out = np.zeros((t.size, self.links.size))
        ok = idx >= 0
        out[ok] = self.values[idx[ok]]
        return out

    def mean(self, until: float) -> np.ndarray:
        """Time-averaged utilisation of each recorded link from the first record to ``until``."""
        times = self.times
        if until <= times[0]:
            raise ValueError(f"until={until} must be after the recording began at {times[0]}")
        edges = np.append(np.minimum(times, until), until)
        spans = np.diff(edges)
        return (self.values * spans[:, None]).sum(axis=0) / (until - times[0])
