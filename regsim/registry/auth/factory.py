"""Build a whole auth stack from one small spec: :class:`AuthSpec` in, :class:`AuthStack` out.

The simulator's models, the calibration workloads, the CI timing checks and the HTTP server all
need the same pieces wired the same way -- signing keys, a token service, a verifier with its
verified-token cache, an authorizer, a user database with its password hasher -- and differ only
in a few settings. :func:`make_auth` is the one place that wires them::

    stack = make_auth(AuthSpec(mode="jwt", algorithm="ES256", token_ttl=300,
                               grants={"*": {"library/*": "pull"}}))
    token = stack.tokens.issue("alice", "repository:library/alpine:pull").token
    stack.authorizer.authorize(BearerToken(token), [Scope.parse("repository:library/alpine:pull")])

It is also the home of the auth mode vocabulary shared by scenarios and the server:
:data:`AUTH_MODES` (``none``, ``jwt``, ``db``) are the canonical names; :data:`AUTH_MODE_ALIASES`
are the server's historical spellings (``token``, ``database``), accepted wherever a mode is read
and turned into the canonical name by :func:`canonical_auth_mode`.

Mistakes in a spec raise :class:`~regsim.registry.errors.ConfigError` whose ``detail`` names the
spec field at fault (``"mode"``, ``"algorithm"``, ``"hash_cost"``...), so a caller reading the
settings from a file can say which of its keys is wrong.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from ..errors import ConfigError, RegistryError
from .audit import AuditLog
from .authorizer import AnonymousAuthorizer, Authorizer, DatabaseAuthorizer, JwtAuthorizer
from .database import Database
from .keys import ALGORITHMS, KeySet, SigningKey
from .passwords import Argon2Hasher, BcryptHasher, PasswordHasher
from .policy import DatabasePolicy, Policy, StaticPolicy, UnionPolicy
from .tokens import TokenService
from .tokenstore import TokenStore
from .verify import TokenVerifier

__all__ = ["AUTH_MODES", "AUTH_MODE_ALIASES", "AuthSpec", "AuthStack", "canonical_auth_mode", "make_auth"]

#: the canonical auth mode names: no authentication, JWTs from a token service, a database look-up
#: per request. Scenarios, results columns, baselines and the server all use these.
AUTH_MODES = ("none", "jwt", "db")
#: other spellings of a mode, accepted on input: the names the server's configuration used first.
AUTH_MODE_ALIASES = {"token": "jwt", "database": "db"}
#: the password hashing schemes a database may use (``argon2id`` is the variant ``argon2`` runs).
HASH_SCHEMES: dict[str, type[BcryptHasher] | type[Argon2Hasher]] = {
    "bcrypt": BcryptHasher, "argon2": Argon2Hasher, "argon2id": Argon2Hasher}
#: a token lifetime the key set allows at least, whatever the TTL (retired keys stay trusted this long)
MIN_MAX_TOKEN_TTL = 3600.0


def canonical_auth_mode(value: object) -> object:
    """``value`` with an alias replaced by its canonical mode name; anything else unchanged (for
    a validator that reports unknown names itself, as a pydantic ``BeforeValidator``)."""
    if isinstance(value, str):
        return AUTH_MODE_ALIASES.get(value, value)
    return value


def _known_modes() -> str:
    aliases = " and ".join(f"{alias!r} ({mode})" for alias, mode in AUTH_MODE_ALIASES.items())
    return f"{', '.join(map(repr, AUTH_MODES))}; aliases {aliases}"


@dataclass(frozen=True)
class AuthSpec:
    """What to build. Fields a mode does not use are ignored by it (but still checked).

    - ``mode``: ``none`` (an open registry), ``jwt`` (a token service and stateless JWT checks) or
      ``db`` (sessions or passwords checked against the database on every request); the aliases
      ``token`` and ``database`` are accepted and stored as ``jwt`` and ``db``.
    - ``algorithm``: the JWT algorithm of the signing key generated for ``jwt`` mode; a given
      ``signing_key`` brings its own algorithm instead.
    - ``token_ttl``: seconds an issued token lives. ``max_token_ttl``: the longest lifetime the
      verifier accepts and how long a retired key stays trusted; None: the larger of an hour and
      ``token_ttl``.
    - ``cache_size``: entries of each verifier's verified-token cache; 0 turns the cache off.
    - ``issuer``, ``service``: the tokens' ``iss`` and ``aud`` (``service`` also names the registry
      in challenges); ``realm``: the realm of every challenge.
    - ``grants``: the token service's static policy, in :meth:`StaticPolicy.from_dict` form.
    - ``anonymous_pull``: repository patterns requests without credentials may pull: granted to
      anonymous token requests in ``jwt`` mode, let through by :attr:`AuthStack.anonymous` in
      ``db`` mode (``none`` lets everything through anyway).
    - ``users``: ``jwt`` mode only: the token service gets a user database and authenticates
      logins against it (Basic credentials, session tokens); without one it only issues tokens to
      subjects its caller has authenticated (:meth:`TokenService.issue`). ``db`` mode always has
      the database. ``database_grants``: the token service also grants what the database's
      permissions table allows (needs ``users``).
    - ``database``: where the SQLite database lives (``:memory:`` or a file path);
      ``password_hash``: ``bcrypt``, ``argon2`` (or ``argon2id``, the same); ``hash_cost``:
      ``"default"`` (the scheme's production costs), ``"fastest"`` (its cheapest, for simulations
      that price a hash from its receipt rather than time it), or a mapping of the scheme's costs
      (bcrypt: ``rounds``; argon2: ``time_cost``, ``memory_cost``, ``parallelism``).
    - ``clock``: what every component reads as the time (Unix seconds); None: the wall clock.
    - ``audit``: the :class:`~.audit.AuditLog` every access decision goes to -- the token
      service's and every authorizer's, :meth:`AuthStack.new_authorizer`'s too; None: no audit.
    """

    mode: str = "none"
    algorithm: str = "ES256"
    signing_key: SigningKey | None = None
    token_ttl: float = 300.0
    max_token_ttl: float | None = None
    cache_size: int = 10_000
    issuer: str = "regsim"
    service: str = "registry"
    realm: str = "regsim"
    grants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    anonymous_pull: tuple[str, ...] = ()
    users: bool = False
    database_grants: bool = False
    database: str | PathLike[str] = ":memory:"
    password_hash: str = "bcrypt"
    hash_cost: str | Mapping[str, int] = "default"
    clock: Callable[[], float] | None = None
    audit: AuditLog | None = None

    def __post_init__(self) -> None:
        mode = canonical_auth_mode(self.mode)
        if mode not in AUTH_MODES:
            raise ConfigError(f"unknown auth mode {self.mode!r}; known modes: {_known_modes()}", detail="mode")
        object.__setattr__(self, "mode", mode)
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(f"unknown JWT algorithm {self.algorithm!r}; known algorithms: {', '.join(ALGORITHMS)}",
                              detail="algorithm")
        if self.signing_key is not None and not isinstance(self.signing_key, SigningKey):
            raise ConfigError(f"signing_key must be a SigningKey, got {type(self.signing_key).__name__}",
                              detail="signing_key")
        if not _positive(self.token_ttl):
            raise ConfigError(f"token_ttl must be a positive number of seconds, got {self.token_ttl!r}",
                              detail="token_ttl")
        if self.max_token_ttl is not None and not (_positive(self.max_token_ttl)
                                                   and self.max_token_ttl >= self.token_ttl):
            raise ConfigError(f"max_token_ttl must be at least token_ttl ({self.token_ttl} s), "
                              f"got {self.max_token_ttl!r}", detail="max_token_ttl")
        if isinstance(self.cache_size, bool) or not isinstance(self.cache_size, int) or self.cache_size < 0:
            raise ConfigError(f"cache_size must be a whole number >= 0 (0: no cache), got {self.cache_size!r}",
                              detail="cache_size")
        if isinstance(self.anonymous_pull, str) or not all(isinstance(p, str) and p for p in self.anonymous_pull):
            raise ConfigError(f"anonymous_pull must be a sequence of repository patterns, got {self.anonymous_pull!r}",
                              detail="anonymous_pull")
        object.__setattr__(self, "anonymous_pull", tuple(self.anonymous_pull))
        if self.database_grants and not self.users:
            raise ConfigError("database_grants needs users=True: the permissions are those of the database's users",
                              detail="database_grants")
        if self.password_hash not in HASH_SCHEMES:
            raise ConfigError(f"unknown password hashing scheme {self.password_hash!r}; known schemes: "
                              f"{', '.join(HASH_SCHEMES)}", detail="password_hash")
        if not (self.hash_cost in ("default", "fastest") or isinstance(self.hash_cost, Mapping)):
            raise ConfigError(f"hash_cost must be 'default', 'fastest' or a mapping of the scheme's costs, "
                              f"got {self.hash_cost!r}", detail="hash_cost")
        if self.audit is not None and not isinstance(self.audit, AuditLog):
            raise ConfigError(f"audit must be an audit log (an object with an emit(event) method), "
                              f"got {type(self.audit).__name__}", detail="audit")

    @property
    def token_lifetime_limit(self) -> float:
        """The key set's ``max_token_ttl``: as given, else the larger of an hour and the TTL."""
        return self.max_token_ttl if self.max_token_ttl is not None else max(MIN_MAX_TOKEN_TTL, self.token_ttl)

    @property
    def has_database(self) -> bool:
        """True when the stack opens a user database: ``db`` mode, or ``jwt`` mode with ``users``."""
        return self.mode == "db" or (self.mode == "jwt" and self.users)


def _positive(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value > 0)


@dataclass
class AuthStack:
    """The wired components; which ones exist depends on the mode.

    ``authorizer`` decides every request (an open :class:`AnonymousAuthorizer` in ``none`` mode).
    ``anonymous`` is set in ``db`` mode with ``anonymous_pull``: try it first for requests
    without credentials. ``keys``, ``tokens`` (the token service) and ``verifier`` exist in ``jwt``
    mode; ``database`` and ``sessions`` (its session-token store) when the spec has a database.
    """

    spec: AuthSpec
    authorizer: Authorizer
    anonymous: Authorizer | None = None
    keys: KeySet | None = None
    tokens: TokenService | None = None
    verifier: TokenVerifier | None = None
    database: Database | None = None
    sessions: TokenStore | None = None

    @property
    def mode(self) -> str:
        return self.spec.mode

    def new_verifier(self) -> TokenVerifier:
        """Another verifier of the stack's tokens, with a verified-token cache of its own (``jwt``)."""
        if self.keys is None:
            raise ConfigError(f"auth mode {self.mode!r} has no token verifier; only 'jwt' does", detail="mode")
        return _verifier(self.spec, self.keys)

    def new_authorizer(self) -> Authorizer:
        """An authorizer for one more frontend: in ``jwt`` mode one with its own verifier, hence its
        own verified-token cache, as separate registry processes have; otherwise the stack's own,
        since database and open checks keep no per-process state."""
        if self.keys is None:
            return self.authorizer
        return JwtAuthorizer(self.new_verifier(), realm=self.spec.realm, service=self.spec.service,
                             audit=self.spec.audit)

    def close(self) -> None:
        """Close the database, if the stack has one."""
        if self.database is not None:
            self.database.close()


def make_auth(spec: AuthSpec) -> AuthStack:
    """Build the auth stack ``spec`` describes (see :class:`AuthSpec`)."""
    clock = spec.clock or time.time
    audit = spec.audit
    if spec.mode == "none":
        return AuthStack(spec, AnonymousAuthorizer(realm=spec.realm, service=spec.service, audit=audit, clock=clock))
    anonymous_rules = {"anonymous": {pattern: "pull" for pattern in spec.anonymous_pull}} if spec.anonymous_pull else {}
    database = Database(spec.database, hasher=_hasher(spec), clock=clock) if spec.has_database else None
    sessions = TokenStore(database) if database is not None else None
    try:
        if spec.mode == "db":
            assert database is not None
            anonymous = AnonymousAuthorizer(_static_policy(anonymous_rules, "anonymous_pull"), realm=spec.realm,
                                            service=spec.service, audit=audit, clock=clock) if anonymous_rules else None
            return AuthStack(spec, DatabaseAuthorizer(database, realm=spec.realm, service=spec.service, audit=audit),
                             anonymous=anonymous, database=database, sessions=sessions)
        # jwt: anonymous pulls are rules of the token service's policy, next to the given grants
        static = _static_policy(spec.grants, "grants", also=anonymous_rules)
        policy: Policy = UnionPolicy(DatabasePolicy(database), static) \
            if spec.database_grants and database is not None else static
        key = spec.signing_key or SigningKey.generate(spec.algorithm)
        keys = KeySet([key], max_token_ttl=spec.token_lifetime_limit, clock=clock)
        tokens = TokenService(keys, issuer=spec.issuer, service=spec.service, policy=policy, ttl=spec.token_ttl,
                              users=sessions, audit=audit, clock=clock)
        verifier = _verifier(spec, keys)
        return AuthStack(spec, JwtAuthorizer(verifier, realm=spec.realm, service=spec.service, audit=audit),
                         keys=keys, tokens=tokens, verifier=verifier, database=database, sessions=sessions)
    except BaseException:
        if database is not None:
            database.close()
        raise


def _verifier(spec: AuthSpec, keys: KeySet) -> TokenVerifier:
    """A verifier of the spec's tokens (the key set's clock), with its own verified-token cache."""
    return TokenVerifier(keys, issuer=spec.issuer, audience=spec.service, cache_size=spec.cache_size)


def _static_policy(rules: Mapping[str, Mapping[str, Any]], field_name: str, *,
                   also: Mapping[str, Mapping[str, Any]] | None = None) -> StaticPolicy:
    """The policy of ``rules`` (plus the rules ``also`` gives a subject); mistakes name ``field_name``."""
    try:
        merged = {**rules, **{subject: {**rules.get(subject, {}), **extra} for subject, extra in (also or {}).items()}}
        return StaticPolicy.from_dict(merged)
    except (RegistryError, AttributeError, TypeError) as e:
        message = e.message if isinstance(e, RegistryError) else str(e)
        raise ConfigError(f"{field_name}: {message}", detail=field_name) from None


def _hasher(spec: AuthSpec) -> PasswordHasher:
    """The password hasher of the spec's database: its scheme at the costs asked for."""
    cls = HASH_SCHEMES[spec.password_hash]
    if spec.hash_cost == "fastest":
        return cls.fastest()
    if spec.hash_cost == "default":
        return cls()
    try:
        return cls(**dict(spec.hash_cost))  # type: ignore[arg-type]
    except ConfigError as e:
        raise ConfigError(e.message, detail="hash_cost") from None
    except (TypeError, ValueError) as e:  # an option the scheme does not take
        raise ConfigError(str(e), detail="hash_cost") from None
