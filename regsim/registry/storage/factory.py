"""Build blob backends from a configuration spec, by kind.

A spec is a kind name (``"memory"``) or a mapping with a ``kind`` and that kind's options::

    make_backend("memory", name="s1")
    make_backend({"kind": "filesystem", "root": "disks/s1", "fsync": False}, root=workdir)
    make_backend({"kind": "s3", "bucket": "registry", "prefix": "prod/s1",
                  "endpoint_url": "http://127.0.0.1:9000"}, name="s1")

Kinds live in a small registry so that new backends plug in without touching this module
(:func:`register_backend`). Mistakes -- an unknown kind, an unknown or missing option, an option
of the wrong type -- raise :class:`ConfigError` naming what was expected.

The result is the bare backend; wrap it in :class:`MeteredBackend` to record its work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import BlobBackend
from .filesystem import FilesystemBackend
from .memory import MemoryBackend

#: ``factory(options, name=..., root=...)``: ``options`` is the spec without ``kind`` and ``name``;
#: ``root`` is a base directory the caller offers to backends that store files.
BackendFactory = Callable[..., BlobBackend]

_KINDS: dict[str, BackendFactory] = {}


def register_backend(kind: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make ``kind`` buildable by :func:`make_backend`; refuses to shadow a kind unless ``replace``."""
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"backend kind must be a non-empty string, got {kind!r}")
    if kind in _KINDS and not replace:
        raise ConfigError(f"storage backend kind {kind!r} is already registered (replace=True overrides it)")
    _KINDS[kind] = factory


def backend_kinds() -> list[str]:
    """The kinds :func:`make_backend` can build, sorted."""
    return sorted(_KINDS)


def make_backend(
    spec: str | Mapping[str, Any], *, name: str | None = None, root: Path | None = None
) -> BlobBackend:
    """Build the backend ``spec`` describes.

    ``name`` (else the spec's ``name``, else the kind) names the backend, e.g. its storage node.
    ``root`` is the directory file-based backends use when the spec gives none, and the base
    against which a relative ``root`` in the spec is resolved.
    """
    if isinstance(spec, str):
        kind, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        kind = options.pop("kind", None)
        if kind is None:
            raise ConfigError(f"storage backend spec {dict(spec)!r} has no 'kind'; known kinds: {_known()}")
    else:
        raise ConfigError(f"storage backend spec must be a kind name or a mapping, got {type(spec).__name__}")
    spec_name = options.pop("name", None)
    factory = _KINDS.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ConfigError(f"unknown storage backend kind {kind!r}; known kinds: {_known()}")
    return factory(options, name=name or spec_name or kind, root=Path(root) if root is not None else None)


def _known() -> str:
    return ", ".join(backend_kinds()) or "(none)"


def check_options(kind: str, options: Mapping[str, Any], accepted: set[str]) -> None:
    """Raise :class:`ConfigError` for options ``kind`` does not understand (typos, mostly)."""
    unknown = sorted(set(options) - accepted)
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        names = ", ".join(map(repr, unknown))
        raise ConfigError(f"{kind} backend: unknown option(s) {names}; accepted: {allowed}")


def _memory(options: Mapping[str, Any], *, name: str, root: Path | None) -> MemoryBackend:
    check_options("memory", options, set())
    return MemoryBackend(name)


def _filesystem(options: Mapping[str, Any], *, name: str, root: Path | None) -> FilesystemBackend:
    check_options("filesystem", options, {"root", "fsync"})
    fsync = options.get("fsync", True)
    if not isinstance(fsync, bool):
        raise ConfigError(f"filesystem backend {name!r}: 'fsync' must be true or false, got {fsync!r}")
    where = options.get("root")
    if where is None:
        if root is None:
            raise ConfigError(
                f"filesystem backend {name!r} needs a 'root' directory: give one in the spec or pass root="
            )
        path = root
    elif isinstance(where, (str, Path)) and str(where):
        path = Path(where) if root is None else root / where
    else:
        raise ConfigError(f"filesystem backend {name!r}: 'root' must be a directory path, got {where!r}")
    return FilesystemBackend(path, name=name, fsync=fsync)


#: the options the s3 kind accepts; the credentials among them are never echoed in an error
_S3_OPTIONS = {"bucket", "prefix", "endpoint_url", "region", "part_size", "max_attempts", "base_delay_s",
               "max_delay_s", "access_key_id", "secret_access_key"}
_SECRET_OPTIONS = ("access_key_id", "secret_access_key")


def _s3(options: Mapping[str, Any], *, name: str, root: Path | None) -> BlobBackend:
    """The s3 kind (``root`` is not used: objects live in the bucket). Options are checked here,
    before boto3 is imported; credential values never appear in an error."""
    check_options("s3", options, _S3_OPTIONS)
    where = f"s3 backend {name!r}"
    bucket = options.get("bucket")
    if bucket is None:
        raise ConfigError(f"{where} needs a 'bucket' (the name of an existing S3 bucket)")
    if not isinstance(bucket, str) or not bucket:
        raise ConfigError(f"{where}: 'bucket' must be a bucket name (a non-empty string), got {bucket!r}")
    for option in ("prefix", "region"):
        value = options.get(option)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {option!r} must be a string, got {value!r}")
    endpoint = options.get("endpoint_url")
    if endpoint is not None and not (isinstance(endpoint, str) and endpoint.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}: 'endpoint_url' must be an http:// or https:// URL, got {endpoint!r}")
    for option in ("part_size", "max_attempts"):
        value = options.get(option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{where}: {option!r} must be a whole number, got {value!r}")
    for option in ("base_delay_s", "max_delay_s"):
        value = options.get(option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"{where}: {option!r} must be a non-negative number of seconds, got {value!r}")
    for option in _SECRET_OPTIONS:
        value = options.get(option)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{where}: {option!r} must be a non-empty string (value not shown)")
    from .s3 import DEFAULT_PART_SIZE, S3Backend  # boto3 is imported only for an S3 backend

    return S3Backend(
        bucket, prefix=options.get("prefix") or "", name=name, endpoint_url=endpoint, region=options.get("region"),
        part_size=options.get("part_size", DEFAULT_PART_SIZE), max_attempts=options.get("max_attempts", 5),
        base_delay_s=options.get("base_delay_s", 0.05), max_delay_s=options.get("max_delay_s", 5.0),
        access_key_id=options.get("access_key_id"), secret_access_key=options.get("secret_access_key"))


register_backend("memory", _memory)
register_backend("filesystem", _filesystem)
register_backend("s3", _s3)
