"""What a running server is built from its configuration: the registry, the authorizers, the
token service and the auth database (:func:`build_services`).

Mistakes that only building finds -- a user listed twice, permissions with unknown actions, a
password-hash cost out of range, an unreadable signing key or keyring -- are reported like the
configuration's own (:func:`.config.config_error`): the file, the key, what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry.auth import (AnonymousAuthorizer, Authorizer, Database, DatabaseAuthorizer, DatabasePolicy,
                             JwtAuthorizer, KeySet, SigningKey, StaticPolicy, TokenService, TokenStore,
                             TokenVerifier, UnionPolicy, make_hasher)
from ..registry.errors import ConfigError, RegistryError
from ..registry.registry import Registry
from ..scenario.errors import Problem
from .config import AuthSection, ServerConfig, config_error


@dataclass
class Services:
    """What a running server needs, built once from its configuration."""

    config: ServerConfig
    registry: Registry
    authorizer: Authorizer
    anonymous: Authorizer | None = None
    tokens: TokenService | None = None
    verifier: TokenVerifier | None = None
    database: Database | None = None

    @property
    def mode(self) -> str:
        return self.config.auth.mode

    def close(self) -> None:
        if self.database is not None:
            self.database.close()


def _anonymous_rules(auth: AuthSection) -> dict[str, dict[str, str]]:
    if auth.anonymous_pull is True:
        return {"anonymous": {"*": "pull"}}
    if not auth.anonymous_pull:
        return {}
    return {"anonymous": {pattern: "pull" for pattern in auth.anonymous_pull}}


def _open_database(cfg: ServerConfig) -> Database:
    auth = cfg.auth
    options = dict(auth.hash)
    scheme = options.pop("scheme", "bcrypt")
    try:
        hasher = make_hasher(scheme, **options)
    except (ConfigError, TypeError, ValueError) as e:
        message = e.message if isinstance(e, ConfigError) else str(e)
        raise config_error(cfg.source, [Problem("auth.hash", message)]) from None
    location = auth.database if auth.database == ":memory:" else str(cfg.path(auth.database))
    db = Database(location, hasher=hasher)
    existing = set(db.usernames())
    listed: dict[str, int] = {}
    for i, user in enumerate(auth.users):
        key = f"auth.users[{i}].name"
        try:
            if user.name in listed:
                raise ConfigError(f"user {user.name!r} is listed twice (also auth.users[{listed[user.name]}])")
            listed[user.name] = i
            if user.name in existing:
                db.set_password(user.name, user.password)
            else:
                db.add_user(user.name, user.password)
            for resource, actions in user.access.items():
                key = f"auth.users[{i}].access.{resource}"
                rtype, sep, pattern = resource.partition(":")
                if not sep:
                    rtype, pattern = "repository", resource
                db.grant(user.name, pattern, actions, resource_type=rtype)
        except RegistryError as e:  # a malformed name, a user listed twice, unknown actions
            db.close()
            raise config_error(cfg.source, [Problem(key, e.message)]) from None
    return db


def _signing_key(cfg: ServerConfig) -> SigningKey:
    path = cfg.path(cfg.auth.signing_key)
    if path is None:
        return SigningKey.generate(cfg.auth.algorithm)
    try:
        return SigningKey.from_pem(path.read_bytes())
    except OSError as e:
        raise config_error(cfg.source, [Problem("auth.signing_key", f"cannot read {path}: {e.strerror}")]) from None


def build_services(cfg: ServerConfig, *, registry: Registry | None = None) -> Services:
    """The registry and the authorizers ``cfg`` describes (``registry`` overrides its storage)."""
    reg = registry
    if reg is None:
        try:
            reg = Registry(cfg.registry_config())  # a filesystem store rebuilds its layout index on open
        except ConfigError as e:  # what only opening finds out (an unreadable keyring, say)
            raise ConfigError(f"{cfg.source}: {e}") from None
    auth = cfg.auth
    anonymous_policy = StaticPolicy.from_dict(_anonymous_rules(auth))
    if auth.mode == "none":
        return Services(cfg, reg, AnonymousAuthorizer(realm=auth.service, service=auth.service))
    db = _open_database(cfg)
    if auth.mode == "database":
        anonymous = AnonymousAuthorizer(anonymous_policy, realm=auth.service, service=auth.service) \
            if auth.anonymous_pull else None
        return Services(cfg, reg, DatabaseAuthorizer(db, realm=auth.realm or auth.service, service=auth.service),
                        anonymous=anonymous, database=db)
    keys = KeySet([_signing_key(cfg)], max_token_ttl=max(auth.token_ttl, 3600.0))
    service = TokenService(keys, issuer=auth.issuer, service=auth.service,
                           policy=UnionPolicy(DatabasePolicy(db), anonymous_policy), ttl=auth.token_ttl,
                           users=TokenStore(db))
    verifier = TokenVerifier(keys, issuer=auth.issuer, audience=auth.service, cache_size=auth.cache_size)
    authorizer = JwtAuthorizer(verifier, realm=auth.realm or "/token", service=auth.service)
    return Services(cfg, reg, authorizer, tokens=service, verifier=verifier, database=db)
