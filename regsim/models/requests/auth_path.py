"""The real authentication path of every simulated request, on the simulation's clock.

Each request presents credentials and the frontend that serves it checks them with the real
authorizer; the receipt of that check is priced on the platform like any other work:

- ``jwt``: a client logs in at the **token service** with its username and password (a user
  look-up in the database, a password hash check, a JWT signature) and presents the token on every
  request; each frontend checks it with its own :class:`~regsim.registry.auth.TokenVerifier`,
  whose cache (``registry.auth.cache`` entries; 0: none) turns a signature check into a look-up.
- ``db`` with ``session`` credentials: a client logs in at the token service for a database
  session token; each request costs a token look-up and a permission look-up on the database.
- ``db`` with ``basic`` credentials: every request carries the password: a user look-up, a
  password hash check on the frontend, a permission look-up.

The token service is a host of its own in the registry rack (``registry.auth.service_cores``
cores, outside any TEE); a login holds one of its cores for all its CPU work, which starts with
the HTTP handling of the token request (``http_token``). Every request a frontend serves pays the
HTTP handling of its endpoint class on the frontend's cores (the ``http`` kinds the request kind
hands to :meth:`AuthPath.check`), besides its token check. Database queries go to the database server of ``world`` -- a connection
pool, a network latency -- or, in ``jwt`` mode, to a users database with the same parameters.
Clients log in again when their credentials expire (``registry.auth.token_ttl``), one login per
client at a time. Tokens, sessions and caches read the simulated clock, so a token that expires
in the simulation is expired for the real verifier too.

The run starts in the steady state: each client already holds credentials issued a uniformly
random time ago within the TTL less the refresh margin (none is due at t = 0), so refreshes
arrive at their long-run rate from the start.
Users are provisioned at set-up with one shared password hash; none of the set-up is priced.
"""

from __future__ import annotations

from regsim.errors import RegsimError
from collections import Counter
from collections.abc import Generator, Iterable

import numpy as np
import simpy

from regsim.registry import receipts
from regsim.registry.auth import AuthSpec, BasicCredentials, BearerToken, Scope, make_auth
from regsim.registry.errors import Denied, Unauthorized
from regsim.registry.receipts import Kind, Receipt, WorkItem
from regsim.sim.cpu import HostCPU
from regsim.sim.database import DatabaseDown, DatabaseServer
from regsim.sim.receipt_executor import ReceiptExecutor
from regsim.sim.profile import CPU_KINDS

from regsim.models.core.replay import Replay, combine
from regsim.models.core.world import REGISTRY_RACK, World, _query_s

from .config import RequestsConfig

#: the simulated clock's time 0, in Unix seconds (2023-11-14), so tokens carry plausible dates
EPOCH = 1_700_000_000.0
#: the token service's host
AUTH_HOST = "auth"
#: a client renews credentials this long before they expire
REFRESH_MARGIN_S = 1.0
#: the resolution of a token's issue and expiry times (JWT NumericDate, as the token service writes it)
TIME_STEP_S = 1.0
PASSWORD, WRONG_PASSWORD = "correct horse battery staple", "wrong horse battery staple"

Steps = Generator[simpy.Event, object, object]


class AuthFailure(RegsimError):
    """A request's credentials were refused (``reason``: ``credentials``) or could not be checked
    (``database``: the database was down)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AuthPath:
    """The variant's authentication (``config.registry.auth``), for real, with its token service and database on the platform."""

    def __init__(self, config: RequestsConfig, world: World) -> None:
        auth = config.registry.auth
        self.world, self.env = world, world.env
        self.mode = auth.mode
        self.basic = self.mode == "db" and auth.db.credentials == "basic"
        self.ttl = float(auth.token_ttl)
        self.scope = [Scope.repository(config.image.repository, "pull")]
        #: what a probing client asks for and holds no grant for
        self.probe_scope = [Scope.repository(config.image.repository, "delete")]
        self._offset = 0.0
        #: the simulated clock's time 0 in Unix seconds, as the real components read it
        self.epoch = EPOCH
        #: what each client presents in place of the shared password: a short-lived credential's
        #: secret, when an issuer hands them out (:mod:`.credentials`)
        self.passwords: dict[str, str] = {}
        #: client -> (credentials, simulated time they expire)
        self.held: dict[str, tuple[object, float]] = {}
        #: clients presenting a wrong password (a count: bursts may overlap)
        self.bad: Counter[str] = Counter()
        self._logging_in: dict[str, simpy.Event] = {}
        self.logins = self.refreshes = self.login_failures = 0
        self.database: DatabaseServer | None = None
        if self.mode == "none":
            return
        stack = make_auth(AuthSpec(mode=self.mode, algorithm=auth.algorithm, token_ttl=self.ttl, cache_size=auth.cache,
                                   grants={"*": {"*": "pull,push"}}, users=True, password_hash=auth.db.hash,
                                   hash_cost="fastest", clock=self.clock))
        self.db, self.store, self.service = stack.database, stack.sessions, stack.tokens
        world.topology.add_host(AUTH_HOST, rack=REGISTRY_RACK, nic=config.registry.storage.nic.up,
                                cores=auth.service_cores)
        self.cpu = HostCPU(self.env, auth.service_cores, world.profile, name=AUTH_HOST)
        world.cpus[AUTH_HOST] = self.cpu
        self.database = world.database or DatabaseServer(
            self.env, pool_size=auth.db.pool, query_s=_query_s(world.profile), network_latency_s=auth.db.latency,
            name="users-db")
        self.service_executor = ReceiptExecutor(self.env, cpus={AUTH_HOST: self.cpu}, disks={}, network=world.net,
                                                profile=world.profile, database=self.database,
                                                default_node=AUTH_HOST)
        # jwt: each frontend checks tokens with a verifier and cache of its own; db: one shared check
        self.authorizers = {fe: stack.new_authorizer() for fe in world.frontends}

    def clock(self) -> float:
        """The simulated time as Unix seconds: what every real auth component reads."""
        return EPOCH + self.env.now + self._offset

    def shift_clock(self, offset: float) -> None:
        """Make the real components read ``offset`` seconds from now (set-up of the steady state)."""
        self._offset = offset

    def password(self, client: str) -> str:
        """What ``client`` presents as its password: a wrong one while its credentials are bad,
        else its short-lived credential, else the password every user was provisioned with."""
        if client in self.bad:
            return WRONG_PASSWORD
        return self.passwords.get(client, PASSWORD)

    @property
    def databases(self) -> list[DatabaseServer]:
        """The database servers authentication uses (one, or none without auth)."""
        return [] if self.database is None else [self.database]

    # -- set-up: users and the steady state ---------------------------------------------------------

    def prepare(self, clients: Iterable[str], rng: np.random.Generator) -> None:
        """Provision a user per client and hand each one credentials of a random age, as in the
        steady state: young enough that none is due for a refresh when the run starts."""
        if self.mode == "none":
            return
        clients = list(clients)
        with receipts.suspended():
            encoded = self.db.hasher.hash(PASSWORD)
            for client in clients:
                self.db.execute("user_insert", "INSERT INTO users (username, password_hash, created_at) "
                                "VALUES (?, ?, ?)", (client, encoded, self.clock()))
                self.db.grant(client, "*", "pull,push")
            if self.basic:
                return
            # in the steady state a client's credentials have between the refresh margin and the
            # whole TTL left: ages spread over [0, TTL - margin), so nobody needs a login at t = 0
            # (less one second more: a token's times are whole seconds, so it may live 1 s less)
            oldest = max(self.ttl - REFRESH_MARGIN_S - TIME_STEP_S, 0.0)
            for client, age in zip(clients, rng.uniform(0.0, oldest, len(clients))):
                self._offset = -float(age)
                try:
                    self.held[client] = self._issue(client)
                finally:
                    self._offset = 0.0

    def warm(self, frontends: dict[str, str]) -> None:
        """Fill each frontend's token cache with the tokens of the clients connected to it, as a
        registry that has been serving them would have (set-up, not priced)."""
        if self.mode != "jwt":
            return
        with receipts.suspended():
            for client, frontend in frontends.items():
                held = self.held.get(client)
                if held is not None:
                    self.authorizers[frontend].authorize(held[0], self.scope)  # type: ignore[arg-type]

    def _issue(self, client: str) -> tuple[object, float]:
        if self.mode == "jwt":
            response = self.service.issue(client, self.scope)
            return BearerToken(response.token), response.expires_at - EPOCH
        session = self.store.issue(client, self.ttl)
        return BearerToken(session.token), session.expires_at - EPOCH

    # -- a request's credentials and their check ------------------------------------------------------

    def check(self, client: str, host: str, frontend: str, replay: Replay, *, fresh: bool = False,
              then: Receipt | Iterable[WorkItem] = (), http: Iterable[str] = ()) -> Steps:
        """Get ``client``'s credentials (logging in first if it must), have ``frontend`` check them
        for real, and price that check followed by the request's own work ``then`` in one round trip.

        ``http`` names the ``http_*`` kinds of the request's HTTP handling (one item each, on
        ``frontend``'s cores, before the check): the server parses and routes a request, and
        answers it, whether its credentials pass or not.

        Raises :class:`AuthFailure` when the credentials are refused or the database is down.
        """
        handling = [WorkItem(kind, 1, frontend) for kind in http]
        if self.mode == "none":
            yield from replay.request(host, frontend, combine(handling, then))
            return
        creds = yield from self._credentials(client, host, fresh)
        error: Unauthorized | None = None
        with receipts.collect() as work:
            try:
                self.authorizers[frontend].authorize(creds, self.scope)  # type: ignore[arg-type]
            except Unauthorized as exc:
                error = exc
        try:
            yield from replay.request(host, frontend, combine(handling, work) if error
                                      else combine(handling, work, then))
        except DatabaseDown as exc:
            raise AuthFailure("database", f"{client}: {exc}") from None
        if error is not None:
            raise AuthFailure("credentials", f"{client}: {error.message}")

    def probe(self, client: str, host: str, frontend: str, replay: Replay) -> Steps:
        """A request for a scope ``client`` holds no grant for (deleting the image's manifests: the
        users may pull and push, nothing more), checked by the real authorizer and priced as a
        manifest request's handling and check. Raises :class:`AuthFailure` with reason ``denied``
        (403) when refused for want of the grant, ``credentials`` when the credentials fail."""
        creds = yield from self._credentials(client, host, False)
        refused: Unauthorized | Denied | None = None
        with receipts.collect() as work:
            try:
                self.authorizers[frontend].authorize(creds, self.probe_scope)  # type: ignore[arg-type]
            except (Unauthorized, Denied) as exc:
                refused = exc
        try:
            yield from replay.request(host, frontend, combine([WorkItem(Kind.HTTP_MANIFEST_GET, 1, frontend)], work))
        except DatabaseDown as exc:
            raise AuthFailure("database", f"{client}: {exc}") from None
        if refused is not None:
            reason = "denied" if isinstance(refused, Denied) else "credentials"
            raise AuthFailure(reason, f"{client}: {refused.message}")

    def _credentials(self, client: str, host: str, fresh: bool) -> Generator[simpy.Event, object, object]:
        if self.basic:
            return BasicCredentials(client, self.password(client))
        if client in self.bad:
            self.held.pop(client, None)  # the client's token is gone; it logs in with the wrong password
            yield from self._login(client, host, WRONG_PASSWORD, refresh=False)
        while not fresh and (pending := self._logging_in.get(client)) is not None:
            yield pending  # another request of the client is logging in: use what it gets
        held = self.held.get(client)
        if fresh or held is None or self.env.now >= held[1] - REFRESH_MARGIN_S:
            yield from self._login(client, host, self.password(client), refresh=not fresh and held is not None)
            held = self.held[client]
        return held[0]

    def _serve(self, work: Receipt) -> Generator[simpy.Event, object, None]:
        """Run a login's receipt at the token service: its queries on the database, and each stretch
        of CPU work (a password check and a signature) on one core held throughout, as the worker
        thread serving the login holds it -- not queueing again for the signature behind every other
        login's password check."""
        profile, cpu_items = self.world.profile, []
        for item in [*work, None]:
            if item is not None and item.kind in CPU_KINDS:
                cpu_items.append(item)
                continue
            if cpu_items:
                yield from self.cpu.hold(sum(profile.cost(i) for i in cpu_items))
                cpu_items = []
            if item is not None:
                yield from self.service_executor.execute([item])

    def _login(self, client: str, host: str, password: str, *, refresh: bool) -> Generator[simpy.Event, object, None]:
        done = self._logging_in[client] = self.env.event()
        started = self.env.now
        try:
            error: Unauthorized | None = None
            with receipts.collect() as work:
                # the token request's HTTP handling at the token service (GET /token; in db mode
                # the session login's request, priced alike), then the login's own work
                receipts.record(Kind.HTTP_TOKEN, 1, node=AUTH_HOST)
                try:
                    if self.mode == "jwt":
                        response = self.service.request(BasicCredentials(client, password), self.scope)
                        issued: tuple[object, float] = (BearerToken(response.token), response.expires_at - EPOCH)
                    else:
                        session = self.store.login(client, password, ttl=self.ttl)
                        issued = (BearerToken(session.token), session.expires_at - EPOCH)
                except Unauthorized as exc:
                    error = exc
            yield self.world.net.transfer(host, AUTH_HOST, 0)
            try:
                yield from self._serve(work)
            except DatabaseDown as exc:
                self.login_failures += 1
                raise AuthFailure("database", f"{client}: login failed: {exc}") from None
            if error is not None:
                self.login_failures += 1
                raise AuthFailure("credentials", f"{client}: login refused: {error.message}")
            if self.env.now > started:
                # the real login ran when the request arrived, to learn its work; a token service
                # signs when it gets to the request, so the client's credentials date from the
                # moment the login is served (its price is already paid: not priced again)
                with receipts.suspended():
                    issued = self._issue(client)
            self.held[client] = issued
            self.logins += 1
            self.refreshes += refresh
        finally:
            if self._logging_in.get(client) is done:
                del self._logging_in[client]
            done.succeed()
