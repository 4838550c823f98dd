"""Vulnerability scans of the image: modelled compute tasks whose findings come from the scenario.

A scan (one per time in ``scan.at``) runs on a scanner host of its own in the registry rack with
``scan.cores`` cores. It pulls every layer of the image through the real registry -- the
receipt of the read (storage disks and NICs, the frontend's decryption) is priced as a pull's
and the layer streams from a frontend to the scanner -- and analyses each layer on one core for
``size / scan.rate``, layers side by side. Nothing is really analysed: when the scan ends it
reports the scenario's ``scan.findings`` to the monitor, where a finding of at least
``scan.alert_severity`` raises the emergency alert. Each scan leaves a :class:`ScanRecord`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from regsim.registry.errors import RegistryError
from regsim.spec.operations import SEVERITIES
from regsim.sim.cpu import HostCPU

from regsim.models.core.replay import Replay
from regsim.models.core.work import RegistryWork, on_frontend
from regsim.models.core.world import REGISTRY_RACK, World

from .config import RequestsConfig
from .monitoring import FINDING, Monitor

#: the scanner's host
SCANNER = "scanner"


@dataclass(slots=True)
class ScanRecord:
    """One scan: when it ran, what it read, what it reported (or why it failed)."""

    start: float
    end: float = float("nan")
    bytes_read: int = 0
    findings: list[str] = field(default_factory=list)
    error: str | None = None


class Scanner:
    """Runs the variant's scans (``config.scan``) against the real registry and reports their findings;
    :attr:`records` is what the report reads."""

    def __init__(self, config: RequestsConfig, world: World, work: RegistryWork, replay: Replay,
                 monitor: Monitor) -> None:
        self.spec = config.scan
        self.world, self.env, self.work, self.replay, self.monitor = world, world.env, work, replay, monitor
        self.subject = f"{config.image.repository}:{config.image.tag}"
        self.records: list[ScanRecord] = []
        self._pending = 0
        self.cpu: HostCPU | None = None
        if self.spec.at:
            world.topology.add_host(SCANNER, rack=REGISTRY_RACK, nic=config.registry.storage.nic.up,
                                    cores=self.spec.cores)
            self.cpu = HostCPU(self.env, self.spec.cores, world.profile, name=SCANNER)

    @property
    def active(self) -> bool:
        """True while a scan is scheduled or running."""
        return self._pending > 0

    def start(self) -> None:
        for at in self.spec.at:
            self._pending += 1
            self.env.process(self._scan(at))

    def _scan(self, at: float) -> Generator[simpy.Event, object, None]:
        yield self.env.timeout(at - self.env.now)
        record = ScanRecord(self.env.now)
        self.records.append(record)
        frontend = self.world.frontends[0]
        try:
            layers = [self.env.process(self._layer(i, frontend, record)) for i in range(len(self.work.sizes))]
            yield self.env.all_of(layers)
        except RegistryError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.end = self.env.now
        if record.error is None:
            for finding in self.spec.findings:
                where = f" in {finding.package}" if finding.package else ""
                text = f"{finding.id} ({finding.severity}{where})"
                record.findings.append(text)
                self.monitor.observe(self.env.now, FINDING, self.subject, SEVERITIES.index(finding.severity), text)
        self._pending -= 1

    def _layer(self, index: int, frontend: str, record: ScanRecord) -> Generator[simpy.Event, object, None]:
        size = self.work.sizes[index]
        receipt = on_frontend(self.work.layer_get(index), frontend)
        yield from self.replay.stream(receipt, frontend, SCANNER, size, tag="scan")
        record.bytes_read += size
        assert self.cpu is not None
        yield from self.cpu.hold(size / self.spec.rate)
