"""The server's YAML configuration, validated (:mod:`.services` builds what it describes).

One file says how the registry stores (the same :class:`RegistryConfig` the simulator uses) and
how requests are authenticated::

    registry:                  # every key of RegistryConfig; paths are relative to this file
      backend: filesystem
      root: data
      codec: rs(4,2)
      nodes: 6
      encryption: aes-256-gcm  # keyring defaults to <root>/keyring.json (a root is needed for it)
      upload_grace: 3600       # seconds before an idle upload or a killed writer's temp part is removed
      # backend: s3            # objects in a bucket instead (credentials: the environment or ~/.aws)
      # s3: {bucket: registry, prefix: prod, endpoint: "http://127.0.0.1:9000", region: us-east-1}
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
    signatures:                # the require-signature pull policy (docs/server.md, "Signed images")
      require:
        - {prefix: "library/", keys: [cosign.pub]}   # manifests under library/ need a signature by a key
    audit:                     # access decisions as JSON lines on the regsim.audit logger, and alerts
      enabled: true
      file: audit.jsonl        # also appended here (optional)
      trust_forwarded_for: false   # true behind a proxy: the client is X-Forwarded-For's last address
      new_network_min_history: 10  # new-source-network: granted accesses before new networks count
      denied_burst: {count: 20, window: 60}   # denied-scope-burst: more than count refusals in window s
      concurrent_use_window: 300   # concurrent-credential-use: two networks within this many seconds

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
from ..registry.config import RegistryConfig, S3Settings
from ..registry.errors import ConfigError, InvalidKey
from ..registry.storage.base import check_key
from ..registry.signing.errors import KeyInvalid
from ..registry.signing.keys import read_public_key
from ..registry.signing.policy import Rule
from ..scenario.errors import Problem, problems_from_validation, show_value
from ..spec.infra import CodecSpec, cross_field
from ..scenario.loader import parse_yaml
from ..scenario.paths import suggest

#: how a configuration that came from no file is named in error messages.
NO_FILE = "server configuration"

log = logging.getLogger("regsim.server")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Section(_Section):
    """Where the s3 backend keeps the registry: ``bucket`` (it must exist), a key ``prefix`` in it,
    the ``endpoint`` (an http(s) URL; None: AWS), the ``region``, the multipart ``part_size`` and
    the ``max_attempts`` per request. No credentials here: boto3's chain (environment variables,
    ``~/.aws/credentials``, an instance role) provides them, so this file holds no secret."""

    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    part_size: int = Field(default=8 << 20, ge=5 << 20, le=5 << 30)
    max_attempts: int = Field(default=5, ge=1, le=20)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL (got {show_value(value)})")
        return value

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        trimmed = value.strip("/")
        if trimmed:
            try:
                check_key(trimmed)
            except InvalidKey:
                raise ValueError(f"expected slash-separated names of letters, digits and . _ : + = - "
                                 f"(got {show_value(value)})") from None
        return trimmed

    def settings(self) -> S3Settings:
        return S3Settings(bucket=self.bucket, prefix=self.prefix, endpoint_url=self.endpoint, region=self.region,
                          part_size=self.part_size, max_attempts=self.max_attempts)


class StorageSection(_Section):
    backend: Literal["memory", "filesystem", "s3"] = "memory"
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
    #: the s3 backend's bucket and how to reach it (backend: s3 only)
    s3: S3Section | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StorageSection:
        if self.backend == "filesystem" and self.root is None:
            raise cross_field("root", "the filesystem backend needs a root directory (relative to this file)")
        if self.backend == "s3" and self.s3 is None:
            raise cross_field("s3", "the s3 backend needs an s3 section with at least a bucket "
                                    "(s3: {bucket: NAME, endpoint: URL})")
        if self.backend != "s3" and self.s3 is not None:
            raise cross_field("s3", f"only used with backend: s3 (backend is {self.backend})")
        if self.backend == "s3" and self.encryption != "none" and self.keyring is None and self.root is None:
            raise cross_field("keyring", "the s3 backend with encryption needs a keyring file, or a root directory "
                                         "to keep <root>/keyring.json in: the keyring is not stored in the bucket "
                                         "beside the data it protects, and one made in memory would be lost at "
                                         "the next start, and every blob with it")
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


class DeniedBurstSection(_Section):
    count: int = Field(default=20, ge=1)
    window: float = Field(default=60.0, gt=0, allow_inf_nan=False)


class AuditSection(_Section):
    """The audit log and its detection rules (:mod:`.audit`; the rules: regsim.registry.auth.detection)."""

    enabled: bool = True
    #: JSON lines appended to this file too (relative to this file), besides the ``regsim.audit`` logger
    file: Path | None = None
    #: take the client's address from X-Forwarded-For (its last entry), for a server behind a proxy
    trust_forwarded_for: bool = False
    new_network_min_history: int = Field(default=10, ge=1)
    denied_burst: DeniedBurstSection = Field(default_factory=DeniedBurstSection)
    concurrent_use_window: float = Field(default=300.0, gt=0, allow_inf_nan=False)


class SignatureRule(_Section):
    """Manifests of repositories under ``prefix`` are served only with a cosign signature that
    verifies with one of ``keys`` (PEM public key files, relative to this file)."""

    prefix: str = Field(pattern=r"^(\*|[a-z0-9._/-]*)$")
    keys: list[Path] = Field(min_length=1)


class SignaturesSection(_Section):
    require: list[SignatureRule] = Field(default_factory=list)

    @field_validator("require")
    @classmethod
    def _distinct(cls, rules: list[SignatureRule]) -> list[SignatureRule]:
        prefixes = [r.prefix for r in rules]
        for prefix in prefixes:
            if prefixes.count(prefix) > 1:
                raise ValueError(f"prefix {prefix!r} is listed twice; give all its keys in one rule")
        return rules


class ServerConfig(_Section):
    registry: StorageSection = Field(default_factory=StorageSection)
    auth: AuthSection = Field(default_factory=AuthSection)
    http: HttpSection = Field(default_factory=HttpSection)
    signatures: SignaturesSection = Field(default_factory=SignaturesSection)
    audit: AuditSection = Field(default_factory=AuditSection)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default=NO_FILE)
    _signature_rules: list[Rule] | None = PrivateAttr(default=None)

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

    def signature_rules(self) -> list[Rule]:
        """The require-signature rules with their trusted public keys read (once)."""
        if self._signature_rules is None:
            self._signature_rules = _load_signature_rules(self)
        return self._signature_rules

    def registry_config(self) -> RegistryConfig:
        r = self.registry
        root = self.path(r.root)
        keyring = self.path(r.keyring)
        if keyring is None and r.encryption != "none" and root is not None:
            keyring = root / "keyring.json"
        return RegistryConfig(backend=r.backend, root=root, codec=r.codec, nodes=r.nodes, encryption=r.encryption,
                              keyring=keyring, segment_size=r.segment_size, extent_size=r.extent_size,
                              verify_reads=r.verify_reads,
                              fsync=r.fsync, upload_grace_s=r.upload_grace,
                              s3=r.s3.settings() if r.s3 is not None else None)


def _load_signature_rules(cfg: ServerConfig) -> list[Rule]:
    """``signatures.require`` with each rule's public keys read (relative to the file); a key that
    cannot be read or is not a public key is a problem naming ``signatures.require[i].keys[j]``."""
    rules, problems = [], []
    for i, entry in enumerate(cfg.signatures.require):
        keys, names = [], []
        for j, given in enumerate(entry.keys):
            path = cfg.path(given)
            try:
                keys.append(read_public_key(path))
                names.append(str(given))
            except OSError as e:
                problems.append(Problem(f"signatures.require[{i}].keys[{j}]",
                                        f"cannot read the public key {path}: {e.strerror or e}"))
            except KeyInvalid as e:
                problems.append(Problem(f"signatures.require[{i}].keys[{j}]", e.message))
        rules.append(Rule(entry.prefix, tuple(keys), tuple(names)))
    if problems:
        raise config_error(cfg.source, problems)
    return rules


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
    config.signature_rules()  # read the trusted keys now: a bad key file is a configuration error
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
