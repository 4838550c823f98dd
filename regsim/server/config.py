"""The server's YAML configuration, validated (:mod:`.services` builds what it describes).

One file says how the registry stores (the same :class:`RegistryConfig` the simulator uses) and
how requests are authenticated::

    registry:                  # every key of RegistryConfig; paths are relative to this file
      backend: filesystem
      root: data
      codec: rs(4,2)
      nodes: 6
      encryption: aes-256-gcm  # keyring defaults to <root>/keyring.json with the filesystem backend
      upload_grace: 3600       # seconds before an idle upload or a killed writer's temp part is removed
    auth:
      mode: jwt                # none | jwt | db (token and database: aliases of jwt and db)
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

Mistakes (invalid YAML, an unknown key, a wrong type, a user without a password, a codec that
needs more nodes than given) raise :class:`ConfigError` before anything is opened, worded as
scenario errors are (:mod:`regsim.scenario.errors`): one line per problem, ``FILE: KEY: what was
expected (got VALUE)``, with "did you mean" for a misspelt key.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from ..registry.auth import AUTH_MODE_ALIASES, canonical_auth_mode
from ..registry.codecs.parse import parse_codec
from ..registry.config import RegistryConfig
from ..registry.errors import ConfigError
from ..scenario.errors import Problem, problems_from_validation, show_value
from ..spec.infra import CodecSpec, cross_field
from ..scenario.loader import parse_yaml
from ..scenario.paths import suggest

#: how a configuration that came from no file is named in error messages.
NO_FILE = "server configuration"

log = logging.getLogger("regsim.server")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSection(_Section):
    backend: Literal["memory", "filesystem"] = "memory"
    root: Path | None = None
    codec: CodecSpec = "replicate(1)"
    nodes: int = Field(default=1, ge=1)
    encryption: Literal["none", "aes-256-gcm"] = "none"
    keyring: Path | None = None
    segment_size: int = 1 << 20
    extent_size: int = Field(default=16 << 20, ge=1 << 20)
    verify_reads: bool = False
    fsync: bool = True
    #: seconds an upload session or a temporary part may stay untouched before the sweep at start
    #: (and GC) removes it: what a server killed mid-upload leaves behind
    upload_grace: float = Field(default=3600.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> StorageSection:
        if self.backend == "filesystem" and self.root is None:
            raise cross_field("root", "the filesystem backend needs a root directory (relative to this file)")
        written = parse_codec(self.codec).n
        if self.nodes < written:
            raise cross_field("nodes", f"codec {self.codec} writes {written} fragments, so it needs at least "
                                       f"{written} storage nodes (got {self.nodes})")
        return self


#: the options each password hashing scheme takes (see regsim.registry.auth.passwords).
HASH_OPTIONS = {"bcrypt": ("rounds",), "argon2": ("time_cost", "memory_cost", "parallelism")}


class UserEntry(_Section):
    name: str
    password: str
    access: dict[str, str | list[str]] = Field(default_factory=dict)


class AuthSection(_Section):
    #: the scenario's names (regsim.registry.auth.AUTH_MODES); ``token`` and ``database`` are read as
    #: ``jwt`` and ``db``, so the validated configuration always holds the canonical name
    mode: Annotated[Literal["none", "jwt", "db"], BeforeValidator(canonical_auth_mode)] = "none"
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

    @field_validator("hash")
    @classmethod
    def _known_hash(cls, value: dict[str, Any]) -> dict[str, Any]:
        scheme = value.get("scheme", "bcrypt")
        if scheme not in HASH_OPTIONS:
            raise cross_field("scheme", f"expected 'bcrypt' or 'argon2' (got {show_value(scheme)})")
        allowed = HASH_OPTIONS[scheme]
        for key, option in value.items():
            if key == "scheme":
                continue
            if key not in allowed:
                raise cross_field(key, f"unknown {scheme} option{suggest(str(key), allowed)}; "
                                       f"expected one of: {', '.join(allowed)}")
            if isinstance(option, bool) or not isinstance(option, int) or option < 1:
                raise cross_field(key, f"expected a positive whole number (got {show_value(option)})")
        return value


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
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default=NO_FILE)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are taken from: the configuration file's (else the cwd)."""
        return self._base_dir

    @property
    def source(self) -> str:
        """Where the configuration came from, as error messages name it (the file's path)."""
        return self._source

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
                              fsync=r.fsync, upload_grace_s=r.upload_grace)


def config_error(source: str, problems: list[Problem]) -> ConfigError:
    """One :class:`ConfigError` listing ``problems``, a line each, as scenario errors read."""
    return ConfigError("\n".join(p.line(source) for p in problems))


def parse_config(doc: Any, *, base_dir: Path | None = None, source: str = NO_FILE) -> ServerConfig:
    """Validate a configuration mapping (None: every default); ``source`` names it in errors."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        shown = "a list" if isinstance(doc, list) else f"a {type(doc).__name__}"
        raise config_error(source, [Problem("", f"expected a mapping with the sections registry, auth and http "
                                                f"at the top level (got {shown})")])
    try:
        config = ServerConfig.model_validate(doc)
    except ValidationError as e:
        raise config_error(source, problems_from_validation(e, doc, root=ServerConfig)) from None
    config._base_dir = base_dir or Path.cwd()
    config._source = source
    _note_alias(doc, source)
    return config


def _note_alias(doc: dict[str, Any], source: str) -> None:
    """Log one note when ``auth.mode`` is spelt with an alias, naming the canonical mode."""
    auth = doc.get("auth")
    mode = auth.get("mode") if isinstance(auth, dict) else None
    if isinstance(mode, str) and mode in AUTH_MODE_ALIASES:
        log.warning("%s: auth.mode: %r is an alias of %r, the name scenarios and results use; "
                    "serving with auth mode %r", source, mode, AUTH_MODE_ALIASES[mode], AUTH_MODE_ALIASES[mode])


def load_config(path: str | Path | None) -> ServerConfig:
    """Read and validate a YAML configuration file (None: every default; an empty file too)."""
    if path is None:
        return parse_config({})
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise config_error(source, [Problem("", f"cannot read the server configuration: {reason}")]) from None
    try:
        doc = parse_yaml(text, source)  # the scenario files' YAML: one-line errors, no duplicate keys
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return parse_config(doc, base_dir=path.resolve().parent, source=source)
