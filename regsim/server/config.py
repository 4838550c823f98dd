"""The server's YAML configuration, validated, and the objects it describes.

One file says how the registry stores (the same :class:`RegistryConfig` the simulator uses) and
how requests are authenticated::

    registry:                  # every key of RegistryConfig; paths are relative to this file
      backend: filesystem
      root: data
      codec: rs(4,2)
      nodes: 6
      encryption: aes-256-gcm  # keyring defaults to <root>/keyring.json with the filesystem backend
    auth:
      mode: token              # none | token | database
      service: regsim          # the token audience and the challenge's service
      realm: null              # token endpoint URL; null: this server's /token, from the request's Host
      algorithm: ES256
      token_ttl: 300
      database: auth.db        # SQLite; ":memory:" by default
      hash: {scheme: bcrypt, rounds: 10}
      users:
        - {name: alice, password: s3cret, access: {"team/*": "pull,push,delete", "registry:catalog": "*"}}
      anonymous_pull: ["public/*"]   # true: every repository; false (default): none
    http:
      metrics: true            # serve /metrics
      hsts_max_age: 31536000   # Strict-Transport-Security on TLS responses
      rate_limit: {rate: 50, burst: 100}   # per client address; null (default): no limit

Mistakes (an unknown key, a wrong type, a user without a password) raise :class:`ConfigError`
naming the key, before anything is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..registry.auth import (AnonymousAuthorizer, Authorizer, Database, DatabaseAuthorizer, DatabasePolicy,
                             JwtAuthorizer, KeySet, SigningKey, StaticPolicy, TokenService, TokenStore,
                             TokenVerifier, UnionPolicy, make_hasher)
from ..registry.config import RegistryConfig
from ..registry.errors import ConfigError
from ..registry.registry import Registry


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSection(_Section):
    backend: Literal["memory", "filesystem"] = "memory"
    root: Path | None = None
    codec: str = "replicate(1)"
    nodes: int = 1
    encryption: Literal["none", "aes-256-gcm"] = "none"
    keyring: Path | None = None
    segment_size: int = 1 << 20
    extent_size: int = Field(default=16 << 20, ge=1 << 20)
    verify_reads: bool = False
    fsync: bool = True


class UserEntry(_Section):
    name: str
    password: str
    access: dict[str, str | list[str]] = Field(default_factory=dict)


class AuthSection(_Section):
    mode: Literal["none", "token", "database"] = "none"
    service: str = "regsim"
    realm: str | None = None
    issuer: str = "regsim-token-service"
    algorithm: Literal["ES256", "RS256", "EdDSA", "HS256"] = "ES256"
    signing_key: Path | None = None
    token_ttl: float = 300.0
    cache_size: int = 10_000
    database: str = ":memory:"
    hash: dict[str, Any] = Field(default_factory=lambda: {"scheme": "bcrypt", "rounds": 10})
    users: list[UserEntry] = Field(default_factory=list)
    anonymous_pull: bool | list[str] = False


class RateLimitSection(_Section):
    rate: float = Field(gt=0)
    burst: int = Field(default=100, ge=1)


class HttpSection(_Section):
    metrics: bool = True
    hsts_max_age: int = Field(default=31_536_000, ge=0)
    rate_limit: RateLimitSection | None = None


class ServerConfig(_Section):
    registry: StorageSection = Field(default_factory=StorageSection)
    auth: AuthSection = Field(default_factory=AuthSection)
    http: HttpSection = Field(default_factory=HttpSection)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    def path(self, p: Path | str | None) -> Path | None:
        """``p`` resolved against the configuration file's folder."""
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def registry_config(self) -> RegistryConfig:
        r = self.registry
        root = self.path(r.root)
        keyring = self.path(r.keyring)
        if keyring is None and r.encryption != "none" and root is not None:
            keyring = root / "keyring.json"
        return RegistryConfig(backend=r.backend, root=root, codec=r.codec, nodes=r.nodes, encryption=r.encryption,
                              keyring=keyring, segment_size=r.segment_size, extent_size=r.extent_size,
                              verify_reads=r.verify_reads,
                              fsync=r.fsync)


def parse_config(doc: Any, *, base_dir: Path | None = None) -> ServerConfig:
    """Validate a configuration mapping (None: every default)."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"server configuration must be a mapping, got {type(doc).__name__}")
    try:
        return ServerConfig(**doc, base_dir=base_dir or Path.cwd())
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"server configuration: {problems}") from None


def load_config(path: str | Path | None) -> ServerConfig:
    """Read and validate a YAML configuration file (None: every default)."""
    if path is None:
        return parse_config({})
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read server configuration {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"server configuration {path} is not valid YAML: {e}") from None
    return parse_config(doc, base_dir=path.resolve().parent)


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
    hasher = make_hasher(scheme, **options)
    location = auth.database if auth.database == ":memory:" else str(cfg.path(auth.database))
    db = Database(location, hasher=hasher)
    existing = set(db.usernames())
    for user in auth.users:
        if user.name in existing:
            db.set_password(user.name, user.password)
        else:
            db.add_user(user.name, user.password)
        for resource, actions in user.access.items():
            rtype, sep, pattern = resource.partition(":")
            if not sep:
                rtype, pattern = "repository", resource
            db.grant(user.name, pattern, actions, resource_type=rtype)
    return db


def _signing_key(cfg: ServerConfig) -> SigningKey:
    path = cfg.path(cfg.auth.signing_key)
    if path is None:
        return SigningKey.generate(cfg.auth.algorithm)
    try:
        return SigningKey.from_pem(path.read_bytes())
    except OSError as e:
        raise ConfigError(f"auth.signing_key: cannot read {path}: {e.strerror}") from None


def build_services(cfg: ServerConfig, *, registry: Registry | None = None) -> Services:
    """The registry and the authorizers ``cfg`` describes (``registry`` overrides its storage)."""
    reg = registry
    if reg is None:
        reg = Registry(cfg.registry_config())  # a filesystem store rebuilds its layout index on open
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
