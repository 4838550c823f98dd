"""What a running server is built from its configuration: the registry, the authorizers, the
token service, the auth database and the audit log (:func:`build_services`; :mod:`.audit`). The
auth part is the registry's auth stack (:func:`regsim.registry.auth.make_auth`), built as the
simulator builds it, from an :class:`~regsim.registry.auth.AuthSpec` the configuration's
``auth`` section translates to; every component of it audits to the server's audit log.

Mistakes that only building finds -- a user listed twice, permissions with unknown actions, a
password-hash cost out of range, an unreadable signing key or keyring -- are reported like the
configuration's own (:func:`.config.config_error`): the file, the key, what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry.auth import Authorizer, AuthSpec, Database, SigningKey, TokenService, TokenVerifier, make_auth
from ..registry.errors import ConfigError, RegistryError
from ..registry.registry import Registry
from ..scenario.errors import Problem
from .audit import ServerAudit, build_audit
from .config import ServerConfig, config_error

#: the configuration key behind each AuthSpec field a spec error can name
_CONFIG_KEYS = {"mode": "auth.mode", "algorithm": "auth.algorithm", "signing_key": "auth.signing_key",
                "token_ttl": "auth.token_ttl", "cache_size": "auth.cache_size", "anonymous_pull": "auth.anonymous_pull",
                "password_hash": "auth.hash", "hash_cost": "auth.hash"}


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
    #: the audit log every access decision goes to, with its detector (None: ``audit.enabled: false``)
    audit: ServerAudit | None = None

    @property
    def mode(self) -> str:
        """The auth mode, by its canonical name: ``none``, ``jwt`` (Docker token service) or ``db``."""
        return self.config.auth.mode

    def close(self) -> None:
        if self.database is not None:
            self.database.close()
        if self.audit is not None:
            self.audit.close()


def _auth_spec(cfg: ServerConfig, audit: ServerAudit | None = None) -> AuthSpec:
    """The auth stack the configuration describes: users and their permissions in the database,
    anonymous pulls where allowed, challenges naming this server."""
    auth = cfg.auth
    options = dict(auth.hash)
    scheme = options.pop("scheme", "bcrypt")
    anonymous = ("*",) if auth.anonymous_pull is True else tuple(auth.anonymous_pull or ())
    realm = auth.realm or ("/token" if auth.mode == "jwt" else auth.service)
    location = auth.database if auth.database == ":memory:" else str(cfg.path(auth.database))
    return AuthSpec(mode=auth.mode, algorithm=auth.algorithm, signing_key=_signing_key(cfg),
                    token_ttl=auth.token_ttl, cache_size=auth.cache_size, issuer=auth.issuer, service=auth.service,
                    realm=realm, anonymous_pull=anonymous, users=True, database_grants=True, database=location,
                    password_hash=scheme, hash_cost=options, audit=audit)


def _add_users(cfg: ServerConfig, db: Database) -> None:
    """Create or update the configuration's users and grant them their access."""
    existing = set(db.usernames())
    listed: dict[str, int] = {}
    for i, user in enumerate(cfg.auth.users):
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


def _signing_key(cfg: ServerConfig) -> SigningKey | None:
    """The configured signing key (``jwt`` mode with ``signing_key``); None: the stack makes one."""
    path = cfg.path(cfg.auth.signing_key)
    if cfg.auth.mode != "jwt" or path is None:
        return None
    try:
        return SigningKey.from_pem(path.read_bytes())
    except OSError as e:
        raise config_error(cfg.source, [Problem("auth.signing_key", f"cannot read {path}: {e.strerror}")]) from None


def _make_keyring_folder(cfg: ServerConfig) -> None:
    """Create the folder a new keyring is written to (owner only). A filesystem store creates its
    root anyway; with the s3 backend the root holds nothing but the keyring, so nothing else would."""
    keyring = cfg.registry_config().keyring
    if keyring is None or keyring.exists() or cfg.registry.encryption == "none":
        return
    try:
        keyring.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise config_error(cfg.source, [Problem("registry.keyring", f"cannot create {keyring.parent}: "
                                                                    f"{e.strerror}")]) from None


def build_services(cfg: ServerConfig, *, registry: Registry | None = None) -> Services:
    """The registry and the authorizers ``cfg`` describes (``registry`` overrides its storage)."""
    reg = registry
    if reg is None:
        _make_keyring_folder(cfg)
        try:
            reg = Registry(cfg.registry_config())  # a filesystem or S3 store rebuilds its layout index on open
        except ConfigError as e:  # what only opening finds out (an unreadable keyring, a missing bucket)
            raise ConfigError(f"{cfg.source}: {e}") from None
        except RegistryError as e:  # the store cannot be read at all (an S3 endpoint that does not answer)
            raise ConfigError(f"{cfg.source}: cannot open the registry's {cfg.registry.backend} storage: "
                              f"{e.message}") from None
    try:
        audit = build_audit(cfg.audit, cfg.path(cfg.audit.file))
    except ConfigError as e:  # an audit file that cannot be opened
        raise config_error(cfg.source, [Problem("audit.file", e.message)]) from None
    try:
        stack = make_auth(_auth_spec(cfg, audit))
    except ConfigError as e:  # a password-hash cost out of range, say
        if audit is not None:
            audit.close()
        key = _CONFIG_KEYS.get(e.detail, "auth") if isinstance(e.detail, str) else "auth"
        raise config_error(cfg.source, [Problem(key, e.message)]) from None
    if stack.database is not None:
        try:
            _add_users(cfg, stack.database)
        except ConfigError:
            if audit is not None:
                audit.close()
            raise
    return Services(cfg, reg, stack.authorizer, anonymous=stack.anonymous, tokens=stack.tokens,
                    verifier=stack.verifier, database=stack.database, audit=audit)
