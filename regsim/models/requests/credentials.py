"""Short-lived credentials on the simulated clock: a real issuer, renewals, and what an outage does.

With ``registry.auth.issuer.enabled`` no client holds a long-lived password. Each one holds a
credential from the registry library's :class:`~regsim.registry.auth.credentials.CredentialIssuer`
(a random secret stored hashed in the auth database, valid ``ttl``), presents it where it would
present its password -- at the token service's login in ``jwt`` mode, at the session login or on
every request in ``db`` mode -- and renews it at ``renew_at`` of its life: a round trip to the
issuer host (in the registry rack, ``cores`` cores) and the issue's real work priced there.

While the issuer is down (an ``issuer-down`` event) a renewal fails after its round trip and the
client tries again every ``retry``. Its credential keeps working until it expires; then the real
checks refuse it (``jwt``: at the next login, once the client's token is due; ``db``: at once) and
requests fail as authentication failures, until a renewal gets through. The issue rate in the
steady state is ``clients / (renew_at * ttl)``.

Alerts (:mod:`.monitoring`): ``credential-renewal-failing`` (warning) after three renewals in a
row fail at the issuer, and ``credentials-expired`` (critical) when the first client's credential
runs out.

The run starts in the steady state: every client's credential was issued a uniformly random time
ago within ``renew_at * ttl``, so renewals arrive at their long-run rate from the start.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable

import numpy as np
import simpy

from regsim.registry import receipts
from regsim.registry.auth.credentials import CredentialIssuer
from regsim.registry.receipts import Kind, WorkItem
from regsim.sim.cpu import HostCPU
from regsim.sim.receipt_executor import ReceiptExecutor

from regsim.models.core.world import REGISTRY_RACK, World

from .auth_path import AuthPath
from .config import RequestsConfig
from .monitoring import EXPIRED, RENEWAL, Monitor

#: the issuer's host
ISSUER_HOST = "issuer"

Steps = Generator[simpy.Event, object, None]


class CredentialRenewal:
    """The issuer and every client's renewals; inactive unless the scenario enables the issuer."""

    def __init__(self, config: RequestsConfig, world: World, auth: AuthPath, monitor: Monitor) -> None:
        spec = config.registry.auth.issuer
        self.enabled = spec.enabled
        self.world, self.env, self.auth, self.monitor = world, world.env, auth, monitor
        self.ttl, self.renew_after, self.retry = float(spec.ttl), float(spec.ttl) * spec.renew_at, float(spec.retry)
        self.issued = self.renewal_failures = 0
        self.expired: set[str] = set()
        self.down = 0
        #: client -> when its credential expires (simulated seconds)
        self.expires: dict[str, float] = {}
        self.issue_times: list[float] = []
        if not self.enabled:
            return
        self.issuer = CredentialIssuer(auth.db, default_ttl=self.ttl, max_ttl=self.ttl)
        world.topology.add_host(ISSUER_HOST, rack=REGISTRY_RACK, nic=config.registry.storage.nic.up,
                                cores=spec.cores)
        self.cpu = HostCPU(self.env, spec.cores, world.profile, name=ISSUER_HOST)
        world.cpus[ISSUER_HOST] = self.cpu
        self.executor = ReceiptExecutor(self.env, cpus={ISSUER_HOST: self.cpu}, disks={}, network=world.net,
                                        profile=world.profile, database=auth.database, default_node=ISSUER_HOST)

    # -- set-up -------------------------------------------------------------------------------------------

    def prepare(self, clients: Iterable[tuple[str, str]], rng: np.random.Generator) -> None:
        """Hand every client a credential of a random age below ``renew_at * ttl`` (not priced)."""
        if not self.enabled:
            return
        clients = list(clients)
        self.hosts = dict(clients)
        ages = rng.uniform(0.0, self.renew_after, len(clients))
        with receipts.suspended():
            for (client, _), age in zip(clients, ages):
                self.auth.shift_clock(-float(age))
                try:
                    self._hold(client, self.issuer.issue(client))
                finally:
                    self.auth.shift_clock(0.0)

    def start(self) -> None:
        """Start every client's renewals."""
        if self.enabled:
            for client in self.hosts:
                self.env.process(self._renewals(client))

    # -- the issuer going down and up ---------------------------------------------------------------------

    def outage(self, on: bool) -> None:
        self.down += 1 if on else -1

    # -- one client's renewals --------------------------------------------------------------------------------

    def _hold(self, client: str, credential) -> None:
        self.auth.passwords[client] = credential.secret
        self.expires[client] = credential.expires_at - self.auth.epoch

    def _renewals(self, client: str) -> Steps:
        env, host = self.env, self.hosts[client]
        while True:
            due = self.expires[client] - self.ttl + self.renew_after
            if due > env.now:
                yield env.timeout(due - env.now)
            while True:
                if env.now >= self.expires[client] and client not in self.expired:
                    self.expired.add(client)
                    self.monitor.observe(env.now, EXPIRED, "fleet", len(self.expired) / len(self.hosts))
                yield self.world.net.transfer(host, ISSUER_HOST, 0)  # the request's round trip
                if self.down > 0:
                    self.renewal_failures += 1
                    self.monitor.observe(env.now, RENEWAL, ISSUER_HOST, 1.0, f"{client}'s renewal refused")
                    yield env.timeout(self.retry)
                    continue
                yield from self._issue(client)
                self.monitor.observe(env.now, RENEWAL, ISSUER_HOST, 0.0)
                if client in self.expired:
                    self.expired.discard(client)
                    self.monitor.observe(env.now, EXPIRED, "fleet", len(self.expired) / len(self.hosts))
                break

    def _issue(self, client: str) -> Steps:
        """The issue's real work (its database writes, the secret's hashing) on the issuer's host,
        after the HTTP handling of the request; the credential dates from when it is served."""
        with receipts.collect() as work:
            credential = self.issuer.issue(client)
        yield from self.executor.execute([WorkItem(Kind.HTTP_TOKEN, 1, ISSUER_HOST), *work])
        if self.env.now > credential.issued_at - self.auth.epoch:
            with receipts.suspended():
                self.issuer.revoke(credential.id)
                credential = self.issuer.issue(client)
        self._hold(client, credential)
        self.issued += 1
        self.issue_times.append(self.env.now)

    # -- what the report gets ---------------------------------------------------------------------------

    def kpis(self, window: float) -> dict[str, float | int]:
        if not self.enabled:
            return {}
        clients = len(self.hosts)
        return {
            "credentials_issued": self.issued,
            "credential_issue_rate_per_s": self.issued / window if window > 0 else 0.0,
            "credential_issue_rate_expected_per_s": clients / self.renew_after,
            "credential_renewal_failures": self.renewal_failures,
            "credentials_expired_at_end": len(self.expired),
            "issuer_cpu_busy_s": self.cpu.busy_s,
        }
