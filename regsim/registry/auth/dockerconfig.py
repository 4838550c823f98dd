"""Kubernetes ``kubernetes.io/dockerconfigjson`` secrets: read and write, YAML or JSON.

Such a secret is how a cluster hands registry credentials to the kubelet::

    apiVersion: v1
    kind: Secret
    metadata: {name: regcred, namespace: default}
    type: kubernetes.io/dockerconfigjson
    data:
      .dockerconfigjson: <base64 of {"auths": {"registry.example.com":
                                        {"username": "u", "password": "p", "auth": "<base64 u:p>"}}}>

(``stringData`` may carry the JSON unencoded and wins over ``data``, as in Kubernetes.) An entry
may give ``auth`` alone, ``username`` and ``password`` alone, or all three -- then they must
agree. Every malformed input raises :class:`SecretInvalid` saying where and what; nothing else
escapes the parsers.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import ConfigError
from .principal import BasicCredentials

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
DATA_KEY = ".dockerconfigjson"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


class SecretInvalid(ConfigError):
    """A registry-credentials secret or docker config that cannot be used as it is."""

    code, status = "UNSUPPORTED", 400


def _b64decode(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SecretInvalid(f"{where} is not valid base64") from None


def _text(entry: Mapping[str, Any], name: str, where: str) -> str | None:
    value = entry.get(name)
    if value is not None and not isinstance(value, str):
        raise SecretInvalid(f"{where}: {name!r} must be a string, got {type(value).__name__}")
    return value


def registry_host(registry: str) -> str:
    """The host a config key or image reference names (scheme and path dropped; Docker Hub's
    aliases folded into ``docker.io``), as Docker matches credentials to registries."""
    host = registry.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in _DOCKER_HUB else host


@dataclass(frozen=True, slots=True)
class RegistryAuth:
    """Credentials for one registry."""

    username: str
    password: str = field(repr=False)
    email: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not isinstance(self.password, str):
            raise SecretInvalid("username and password must be strings")
        if ":" in self.username:
            raise SecretInvalid(f"username {self.username!r} contains ':', which 'auth' cannot encode")

    @property
    def auth(self) -> str:
        """``base64(username:password)``, the form Docker clients read."""
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    @classmethod
    def from_entry(cls, entry: object, where: str) -> RegistryAuth:
        if not isinstance(entry, Mapping):
            raise SecretInvalid(f"{where} must be an object, got {type(entry).__name__}")
        username, password = _text(entry, "username", where), _text(entry, "password", where)
        auth, email = _text(entry, "auth", where), _text(entry, "email", where)
        if auth is not None:
            try:
                decoded = _b64decode(auth, f"{where}.auth").decode("utf-8")
            except UnicodeDecodeError:
                raise SecretInvalid(f"{where}.auth does not decode to UTF-8 text") from None
            user, sep, pw = decoded.partition(":")
            if not sep:
                raise SecretInvalid(f"{where}.auth must encode 'username:password'")
            if (username is not None and username != user) or (password is not None and password != pw):
                raise SecretInvalid(f"{where}: 'auth' disagrees with 'username'/'password'")
            username, password = user, pw
        if username is None or password is None:
            raise SecretInvalid(f"{where} needs 'auth', or both 'username' and 'password'")
        return cls(username, password, email)

    def to_entry(self) -> dict[str, str]:
        entry = {"username": self.username, "password": self.password, "auth": self.auth}
        if self.email is not None:
            entry["email"] = self.email
        return entry


@dataclass(frozen=True)
class DockerConfig:
    """The ``.dockerconfigjson`` content: credentials by registry."""

    auths: Mapping[str, RegistryAuth]

    def __post_init__(self) -> None:
        for registry in self.auths:
            if not isinstance(registry, str) or not registry or any(c.isspace() for c in registry):
                raise SecretInvalid(f"registry key {registry!r} must be a non-empty string without spaces")

    @classmethod
    def parse(cls, content: str | bytes | Mapping[str, Any]) -> DockerConfig:
        """Read docker config JSON (text, bytes or an already-decoded object)."""
        if isinstance(content, (str, bytes)):
            try:
                content = json.loads(content)
            except (ValueError, RecursionError) as e:
                raise SecretInvalid(f"{DATA_KEY} is not valid JSON: {e}") from None
        if not isinstance(content, Mapping):
            raise SecretInvalid(f"{DATA_KEY} must be a JSON object with an 'auths' object")
        auths = content.get("auths")
        if not isinstance(auths, Mapping):
            raise SecretInvalid(f"{DATA_KEY} must have an 'auths' object mapping registries to credentials")
        return cls({registry: RegistryAuth.from_entry(entry, f"auths[{registry!r}]")
                    for registry, entry in auths.items()})

    def to_json(self) -> str:
        return json.dumps({"auths": {r: a.to_entry() for r, a in self.auths.items()}}, sort_keys=True)

    def credentials_for(self, registry: str) -> BasicCredentials | None:
        """The Basic credentials to present to ``registry`` (a host or an image reference)."""
        host = registry_host(registry)
        for key, auth in self.auths.items():
            if registry_host(key) == host:
                return BasicCredentials(auth.username, auth.password)
        return None


@dataclass(frozen=True)
class DockerConfigSecret:
    """A named ``kubernetes.io/dockerconfigjson`` secret."""

    name: str
    config: DockerConfig
    namespace: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or len(self.name) > 253 or not _DNS_SUBDOMAIN.fullmatch(self.name):
            raise SecretInvalid(f"secret name {self.name!r} must be a DNS subdomain (lowercase, digits, '-', '.')")
        if self.namespace is not None and (not isinstance(self.namespace, str) or len(self.namespace) > 63
                                           or not _DNS_LABEL.fullmatch(self.namespace)):
            raise SecretInvalid(f"namespace {self.namespace!r} must be a DNS label (lowercase, digits, '-')")

    def to_manifest(self) -> dict[str, Any]:
        metadata: dict[str, str] = {"name": self.name}
        if self.namespace:
            metadata["namespace"] = self.namespace
        encoded = base64.b64encode(self.config.to_json().encode()).decode()
        return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": SECRET_TYPE,
                "data": {DATA_KEY: encoded}}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_manifest(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_manifest(), indent=2)


def parse_secret(text: str | bytes) -> DockerConfigSecret:
    """Read a secret manifest in YAML or JSON (JSON is YAML too)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretInvalid("secret manifest is not UTF-8 text") from None
    if not isinstance(text, str):
        raise SecretInvalid(f"secret manifest must be text, got {type(text).__name__}")
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as e:  # bad dates/floats raise ValueError
        raise SecretInvalid(f"secret manifest is not valid YAML or JSON: {e}") from None
    if not isinstance(doc, Mapping):
        raise SecretInvalid("secret manifest must be a mapping with apiVersion, kind, metadata, type and data")
    if doc.get("kind") != "Secret" or doc.get("apiVersion", "v1") != "v1":
        raise SecretInvalid(f"expected kind 'Secret' of apiVersion 'v1', got kind {doc.get('kind')!r} "
                            f"apiVersion {doc.get('apiVersion')!r}")
    if doc.get("type") != SECRET_TYPE:
        raise SecretInvalid(f"secret type must be {SECRET_TYPE!r}, got {doc.get('type')!r}")
    metadata = doc.get("metadata")
    if not isinstance(metadata, Mapping) or "name" not in metadata:
        raise SecretInvalid("secret needs metadata.name")
    return DockerConfigSecret(metadata["name"], DockerConfig.parse(_config_text(doc)), metadata.get("namespace"))


def _config_text(doc: Mapping[str, Any]) -> str:
    for section in ("stringData", "data"):
        values = doc.get(section)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise SecretInvalid(f"secret {section} must be a mapping")
        value = values.get(DATA_KEY)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SecretInvalid(f"secret {section}[{DATA_KEY!r}] must be a string")
        if section == "stringData":
            return value
        try:
            return _b64decode(value, f"data[{DATA_KEY!r}]").decode("utf-8")
        except UnicodeDecodeError:
            raise SecretInvalid(f"data[{DATA_KEY!r}] does not decode to UTF-8 text") from None
    raise SecretInvalid(f"secret has no {DATA_KEY!r} in data or stringData")
