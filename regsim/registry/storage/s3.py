"""A blob backend on S3 (or anything that speaks its API: MinIO, Ceph RGW, moto) through boto3.

Layout: every key lives at ``<prefix><key>`` in one bucket (``prefix`` is '' or ends with '/'),
so several backends -- a registry's storage nodes and its metadata store -- share a bucket under
prefixes of their own.

Requests, per :class:`~regsim.registry.storage.base.BlobBackend` method:

- ``put``: one PutObject (larger than ``part_size``: a multipart upload, as a writer does);
- ``get``: GetObject; ``read_at``: a ranged GetObject (``Range: bytes=a-b``, so only the range
  travels); ``stat``, ``exists`` and ``modified``: HeadObject;
- ``delete``: HeadObject (S3's DeleteObject succeeds on a missing key; the protocol wants
  KeyNotFound), then DeleteObject;
- ``list``: ListObjectsV2 page by page (each page retried on its own), sorted here; a prefix is
  directory-like (``list("a")`` lists ``a/...``, never ``ab``).

A writer buffers up to ``part_size`` bytes (at least 5 MiB, S3's smallest non-final part; default
8 MiB). An object that never reaches it is sent with one PutObject at commit. Once the buffer fills,
a multipart upload starts and each full buffer goes out as an UploadPart while the writer keeps
accepting bytes, so memory stays at one part; commit sends the rest as the final part and
completes the upload. Nothing is visible under the key before that completion (S3 semantics:
parts of an unfinished upload are never listed nor readable), and :meth:`S3Writer.cancel` aborts
the upload, which frees its parts. No staging key is needed.

``writer(key, append=True)`` continues the committed object, as the protocol says (the registry
stages uploads as separate parts and does not append; the protocol and its conformance suite
do). A small object (under 5 MiB) is read back into the new writer's buffer; a larger one
becomes the first part(s) of the new multipart upload by UploadPartCopy -- a server-side copy,
pinned to the version seen by ``CopySourceIfMatch`` -- so appending to a big object moves no
bytes through this process. The commit then replaces the object; until then the old one stays.

A writer dropped without commit or cancel cannot abort its upload from the garbage collector
(a network call from a finalizer could run inside the HTTP pool's own lock), so it queues the
abort; the backend sends it the next time a writer is opened or :meth:`S3Backend.stale_temps`
runs. Uploads of processes that died are found by :meth:`S3Backend.stale_temps` (the registry's
upload sweep and GC call it); a bucket lifecycle rule ``AbortIncompleteMultipartUpload`` is a
good second line of defence.

Retries (throttling, 5xx, transport errors) are regsim's own, with exponential backoff and full
jitter (:mod:`.s3_retry`); botocore's are switched off (``total_max_attempts=1``) so that the
policy here is the only one. ``requests`` counts the requests sent, by S3 operation, every
attempt included; ``retries`` the retries among them. Failures become registry errors
(:mod:`.s3_errors`).

Credentials come from boto3's usual chain (environment variables, ``~/.aws/credentials`` and
``~/.aws/config``, container or instance roles) or from explicit ``access_key_id`` and
``secret_access_key``. They are never logged, never part of ``repr`` and scrubbed from error
messages. boto3 is imported by this module only, which the package imports on first use (see
:mod:`regsim.registry.storage`), so a registry without an S3 backend never pays for it; the
client itself is built on the first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import BlobUploadInvalid, ConfigError, InvalidKey, KeyNotFound
from .base import check_key
from .s3_errors import translate
from .s3_retry import RetryPolicy, error_code
from .s3_writer import DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, S3Writer

__all__ = ["DEFAULT_PART_SIZE", "MAX_PART_SIZE", "MIN_PART_SIZE", "S3Backend", "S3Writer", "make_client"]

T = TypeVar("T")
log = logging.getLogger("regsim.registry.s3")


def make_client(*, endpoint_url: str | None = None, region: str | None = None,
                access_key_id: str | None = None, secret_access_key: str | None = None) -> Any:
    """A boto3 S3 client for the backend: botocore's own retries off (:mod:`.s3_retry` retries),
    path-style addressing for a custom endpoint (MinIO, moto, Ceph answer on one host name), and
    checksums only where S3 requires them (S3-compatible stores often reject the newer ones).

    Each client has a session of its own (so credentials are looked up afresh), but all share one
    loader of botocore's service models: parsing those is most of the ~70 ms a new session's
    first client costs, and a registry builds one client per storage node."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                    region_name=region, botocore_session=core)
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else None,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=32,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


_LOADER: list = []


def _shared_loader() -> Any:
    """botocore's loader of service models (JSON), made once per process and then cached in."""
    if not _LOADER:
        _LOADER.append(botocore.loaders.create_loader())
    return _LOADER[0]


def _shown_endpoint(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` it may carry."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class S3Backend:
    """Objects are S3 objects at ``<prefix><key>`` in ``bucket`` (see the module for requests,
    writers, retries and credentials).

    ``client`` replaces the boto3 client the backend would build (tests pass a fake or a wrapper);
    ``retry`` replaces the policy built from ``max_attempts``, ``base_delay_s`` and ``max_delay_s``.
    """

    def __init__(self, bucket: str, *, prefix: str = "", name: str = "s3", endpoint_url: str | None = None,
                 region: str | None = None, part_size: int = DEFAULT_PART_SIZE, max_attempts: int = 5,
                 base_delay_s: float = 0.05, max_delay_s: float = 5.0, access_key_id: str | None = None,
                 secret_access_key: str | None = None, client: Any = None, retry: RetryPolicy | None = None) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ConfigError(f"s3 backend {name!r} needs a bucket name")
        if isinstance(part_size, bool) or not isinstance(part_size, int) or not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ConfigError(f"s3 backend {name!r}: part_size must be a whole number of bytes from "
                              f"{MIN_PART_SIZE:,} (5 MiB, S3's smallest part) to {MAX_PART_SIZE:,}, got {part_size!r}")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigError(f"s3 backend {name!r}: give both access_key_id and secret_access_key, or neither "
                              "(then boto3 looks in the environment and ~/.aws)")
        self.name = name
        self.bucket = bucket
        self.prefix = _normal_prefix(prefix, name)
        self.endpoint_url = endpoint_url
        self.region = region
        self.part_size = part_size
        try:
            self.retry = retry or RetryPolicy(max_attempts, base_delay_s, max_delay_s)
        except ValueError as e:
            raise ConfigError(f"s3 backend {name!r}: {e}") from None
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self._lock = threading.Lock()
        self._open_uploads: set[str] = set()
        self._abandoned: deque[tuple[str, str]] = deque()
        self._client = client
        # The explicit credentials stay in this closure only (not an attribute, never in repr).
        self._new_client = lambda: make_client(endpoint_url=endpoint_url, region=region,
                                               access_key_id=access_key_id, secret_access_key=secret_access_key)

    def __repr__(self) -> str:
        return (f"S3Backend(bucket={self.bucket!r}, prefix={self.prefix!r}, name={self.name!r}, "
                f"endpoint_url={_shown_endpoint(self.endpoint_url)!r}, region={self.region!r}, "
                f"part_size={self.part_size})")

    @property
    def client(self) -> Any:
        """The boto3 S3 client, built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._new_client()
        return self._client

    def close(self) -> None:
        """Close the client's connections (the backend builds a new client if used again)."""
        client, self._client = self._client, None
        close = getattr(client, "close", None)
        if close is not None:
            close()

    def object_key(self, key: str) -> str:
        """The S3 key of storage key ``key``: the prefix and the key."""
        return self.prefix + key

    # -- requests: retried, counted, translated -----------------------------------------------

    def _call(self, op: str, key: str | None, fn: Callable[[], T]) -> T:
        """``fn()`` (one S3 request, ``op`` in S3's words) under the retry policy; a botocore error
        that remains becomes a registry error (:func:`.s3_errors.translate`)."""
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            with self._lock:
                self.requests[op] += 1
            return fn()

        def retried(retry: int, exc: BaseException, pause: float) -> None:
            with self._lock:
                self.retries += 1
            code, status = error_code(exc)
            log.info("s3 backend %r: %s of %r failed (%s); retry %d in %.3f s", self.name, op, key,
                     f"{code} HTTP {status}" if code else type(exc).__name__, retry + 1, pause)

        try:
            return self.retry.run(attempt, on_retry=retried)
        except (ClientError, BotoCoreError) as exc:
            error = translate(exc, backend=self.name, bucket=self.bucket, op=op, key=key, attempts=attempts,
                              secrets=self._secrets())
        # Raised here, outside the handler, so the botocore error (whose message may quote the
        # request's credential scope) is not even kept as the suppressed __context__.
        raise error

    def _secrets(self) -> tuple[str | None, ...]:
        """The credentials in use, so that error messages can be scrubbed of them."""
        try:
            creds = self.client._request_signer._credentials  # resolved when the client was built
            frozen = creds.get_frozen_credentials() if creds is not None else None
        except Exception:
            return ()
        return (frozen.access_key, frozen.secret_key, frozen.token) if frozen is not None else ()

    def request(self, method: str, key: str | None = None, **params: Any) -> Any:
        """One S3 API call by its boto3 method name (``delete_object``), with ``Bucket`` filled in
        and ``Key`` from storage key ``key`` (if given), under the backend's retries and counts."""
        if key is not None:
            params["Key"] = self.object_key(check_key(key))
        op = "".join(word.capitalize() for word in method.split("_"))
        return self._call(op, key, lambda: getattr(self.client, method)(Bucket=self.bucket, **params))

    def _head(self, key: str) -> dict[str, Any]:
        return self.request("head_object", key)

    # -- the BlobBackend protocol --------------------------------------------------------------

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        check_key(key)
        view = memoryview(data)
        if view.nbytes > self.part_size:
            with self.writer(key) as w:
                w.write(view)
            return
        body = data if isinstance(data, bytes) else view.tobytes()
        self.request("put_object", key, Body=body)

    def get(self, key: str) -> bytes:
        check_key(key)
        return self._call("GetObject", key, lambda: self.client.get_object(
            Bucket=self.bucket, Key=self.object_key(key))["Body"].read())

    def read_at(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        check_key(key)
        if length == 0:
            self.stat(key)  # KeyNotFound for a missing key, as every backend
            return b""

        def fetch() -> bytes:
            try:
                reply = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key),
                                               Range=f"bytes={offset}-{offset + length - 1}")
            except ClientError as e:
                if error_code(e)[0] == "InvalidRange":  # at or past the end (only an existing object says so)
                    return b""
                raise
            data = reply["Body"].read()
            if reply.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:  # the range was ignored
                data = data[offset:offset + length]
            return data

        return self._call("GetObject", key, fetch)

    def stat(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def modified(self, key: str) -> float:
        """When the object was last written (S3's LastModified, on the wall clock); KeyNotFound."""
        return self._head(key)["LastModified"].timestamp()

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self._head(key)
        except KeyNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._head(key)  # S3 deletes a missing key without complaint; the protocol says KeyNotFound
        self.request("delete_object", key)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = check_key(prefix.rstrip("/")) + "/" if prefix else ""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + base}
        keys: list[str] = []
        while True:
            page = self._call("ListObjectsV2", prefix or None, lambda p=dict(params): self.client.list_objects_v2(**p))
            for obj in page.get("Contents", ()):
                rel = obj["Key"][len(self.prefix):]
                if _is_key(rel):  # skips folder markers ("a/") and names no backend could write
                    keys.append(rel)
            if not page.get("IsTruncated"):
                break
            params["ContinuationToken"] = page["NextContinuationToken"]
        keys.sort()
        return iter(keys)

    def writer(self, key: str, *, append: bool = False) -> S3Writer:
        check_key(key)
        self._abort_abandoned()
        if not append:
            return S3Writer(self, key)
        try:
            head = self._head(key)
        except KeyNotFound:
            return S3Writer(self, key)
        size = int(head["ContentLength"])
        if size < MIN_PART_SIZE:
            return S3Writer(self, key, self.get(key))
        w = S3Writer(self, key)
        try:
            w.copy_existing(size, head.get("ETag"))
        except BaseException:
            w.cancel()
            raise
        return w

    # -- maintenance ---------------------------------------------------------------------------

    def _abort_abandoned(self) -> None:
        """Abort the uploads of writers dropped without commit or cancel (queued by their finalizer)."""
        while self._abandoned:
            object_key, upload_id = self._abandoned.popleft()
            try:
                self._call("AbortMultipartUpload", None, lambda: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload_id))
            except Exception:
                pass  # gone already, or S3 unreachable: stale_temps will find it

    def _uploads(self) -> Iterator[dict[str, Any]]:
        """The multipart uploads in progress under the prefix (ListMultipartUploads, page by page)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            page = self._call("ListMultipartUploads", None, lambda p=dict(params): self.client.list_multipart_uploads(**p))
            yield from page.get("Uploads", ())
            if not page.get("IsTruncated"):
                return
            params["KeyMarker"] = page.get("NextKeyMarker")
            params["UploadIdMarker"] = page.get("NextUploadIdMarker")

    def _parts(self, object_key: str, upload_id: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": object_key, "UploadId": upload_id}
        parts: list[dict[str, Any]] = []
        while True:
            page = self._call("ListParts", None, lambda p=dict(params): self.client.list_parts(**p))
            parts += page.get("Parts", ())
            if not page.get("IsTruncated"):
                return parts
            params["PartNumberMarker"] = page["NextPartNumberMarker"]

    def stale_temps(self, older_than_s: float, *, remove: bool = False) -> list[tuple[str, int]]:
        """``(name, bytes)`` of every multipart upload under the prefix untouched (no part added,
        judged by its newest part, else its start) for ``older_than_s`` seconds and not open in
        this process; with ``remove`` they are aborted too. The registry's upload sweep and GC call
        this as they call the filesystem backend's; pick an age longer than any upload takes."""
        if older_than_s < 0:
            raise ValueError(f"older_than_s must be non-negative, got {older_than_s}")
        self._abort_abandoned()
        cutoff, found = time.time() - older_than_s, []
        for upload in list(self._uploads()):
            upload_id, object_key = upload["UploadId"], upload["Key"]
            with self._lock:
                if upload_id in self._open_uploads:
                    continue
            try:
                parts = self._parts(object_key, upload_id)
            except BlobUploadInvalid:
                continue  # completed or aborted meanwhile
            touched = max([upload["Initiated"].timestamp(), *(p["LastModified"].timestamp() for p in parts)])
            if touched > cutoff:
                continue
            if remove:
                try:
                    self._call("AbortMultipartUpload", None, lambda: self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=object_key, UploadId=upload_id))
                except BlobUploadInvalid:
                    continue
            found.append((f"{object_key[len(self.prefix):]} (upload {upload_id})", sum(p["Size"] for p in parts)))
        return found

    def clear(self) -> int:
        """Delete every object under the prefix and abort every upload there (a storage node
        replaced by an empty one); returns the objects deleted."""
        for upload in list(self._uploads()):
            try:
                self._call("AbortMultipartUpload", None, lambda u=upload: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"]))
            except BlobUploadInvalid:
                pass
        keys = [self.object_key(k) for k in self.list()]
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = {"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True}
            self._call("DeleteObjects", None, lambda b=batch: self.client.delete_objects(Bucket=self.bucket, Delete=b))
        return len(keys)


def _normal_prefix(prefix: object, name: str) -> str:
    """'' or ``a/b/``: slashes trimmed, one added; each component a valid key component."""
    if not isinstance(prefix, str):
        raise ConfigError(f"s3 backend {name!r}: prefix must be a string, got {type(prefix).__name__}")
    trimmed = prefix.strip("/")
    if not trimmed:
        return ""
    try:
        check_key(trimmed)
    except InvalidKey:
        raise ConfigError(f"s3 backend {name!r}: prefix {prefix!r} must be slash-separated names of letters, "
                          "digits and . _ : + = -") from None
    return trimmed + "/"


def _is_key(key: str) -> bool:
    try:
        check_key(key)
    except InvalidKey:
        return False
    return True

