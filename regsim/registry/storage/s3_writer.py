"""The S3 backend's writer: buffered parts, a multipart upload once an object outgrows one part.

See :mod:`.s3` for the design (when a multipart upload starts, how ``append`` copies the
committed object server-side, how uploads of abandoned writers are aborted).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from typing import Any

from ..errors import BlobUploadInvalid
from .base import CommitOnExit

log = logging.getLogger("regsim.registry.s3")

MiB = 1 << 20
#: S3's smallest part (every part of a multipart upload but the last), and the default part size
MIN_PART_SIZE = 5 * MiB
DEFAULT_PART_SIZE = 8 * MiB
#: S3's largest part, largest single PutObject, largest UploadPartCopy range, and most parts
MAX_PART_SIZE = 5 << 30
MAX_PARTS = 10_000


def _abandon(queue: deque, uploads: set, lock: threading.Lock, object_key: str, upload_id: str) -> None:
    """Finalizer of an abandoned writer: hand its upload to the backend to abort (no I/O here)."""
    with lock:
        uploads.discard(upload_id)
    queue.append((object_key, upload_id))


class S3Writer(CommitOnExit):
    """Buffers to ``part_size``; a multipart upload once the buffer fills (see the module)."""

    def __init__(self, backend: Any, key: str, initial: bytes = b"") -> None:
        """``backend`` is the :class:`~.s3.S3Backend` written to (not imported here: it imports
        this module); ``initial`` the bytes an appending writer starts with."""
        self.key = key
        self._backend = backend
        self._object_key = backend.object_key(key)
        self._buf = bytearray(initial)
        self._size = len(initial)
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._finalizer: weakref.finalize | None = None
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def upload_id(self) -> str | None:
        """The multipart upload in progress, if one has started."""
        return self._upload_id

    def _check_open(self, action: str) -> None:
        if self._done:
            raise BlobUploadInvalid(f"{action} of {self.key!r} after commit or cancel")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer ``data``, sending every full part. A failed part upload cancels the writer."""
        self._check_open("write")
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        n = view.nbytes
        self._buf += view
        self._size += n
        part = self._backend.part_size
        try:
            while len(self._buf) >= part:
                with memoryview(self._buf) as buffered:
                    chunk = bytes(buffered[:part])  # one copy (a bytearray slice would make two)
                del self._buf[:part]
                self._send_part(chunk)
        except BaseException:
            self.cancel()
            raise
        return n

    def commit(self) -> None:
        self._check_open("commit")
        self._done = True
        b = self._backend
        try:
            if self._upload_id is None:
                body = bytes(self._buf)
                b._call("PutObject", self.key, lambda: b.client.put_object(
                    Bucket=b.bucket, Key=self._object_key, Body=body))
            else:
                if self._buf or not self._parts:
                    self._send_part(bytes(self._buf))
                self._complete()
        except BaseException:
            self._abort()
            raise
        finally:
            self._buf = bytearray()
        self._forget_upload()

    def cancel(self) -> None:
        self._done = True
        self._buf = bytearray()
        self._abort()

    # -- the multipart upload ------------------------------------------------------------------

    def _begin(self) -> None:
        b = self._backend
        reply = b._call("CreateMultipartUpload", self.key, lambda: b.client.create_multipart_upload(
            Bucket=b.bucket, Key=self._object_key))
        self._upload_id = upload_id = reply["UploadId"]
        with b._lock:
            b._open_uploads.add(upload_id)
        self._finalizer = weakref.finalize(self, _abandon, b._abandoned, b._open_uploads, b._lock,
                                           self._object_key, upload_id)
        self._finalizer.atexit = False  # at exit the upload is left for stale_temps or a lifecycle rule

    def _next_part(self) -> int:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise BlobUploadInvalid(
                f"{self._backend.name}: {self.key!r} would need more than {MAX_PARTS} parts of "
                f"{self._backend.part_size:,} bytes; configure a larger part_size")
        return number

    def _send_part(self, chunk: bytes) -> None:
        if self._upload_id is None:
            self._begin()
        b, number, upload_id = self._backend, self._next_part(), self._upload_id
        reply = b._call("UploadPart", self.key, lambda: b.client.upload_part(
            Bucket=b.bucket, Key=self._object_key, UploadId=upload_id, PartNumber=number, Body=chunk))
        self._parts.append({"PartNumber": number, "ETag": reply["ETag"]})

    def copy_existing(self, size: int, etag: str | None) -> None:
        """Start the upload with the committed object's ``size`` bytes, copied server-side
        (UploadPartCopy, in ranges of at most 5 GiB, each at least 5 MiB since ``size`` is)."""
        b = self._backend
        self._begin()
        pieces = -(-size // MAX_PART_SIZE)
        bounds = [size * i // pieces for i in range(pieces + 1)]
        source: dict[str, str] = {"Bucket": b.bucket, "Key": self._object_key}
        for start, end in zip(bounds, bounds[1:]):
            number = self._next_part()
            extra = {"CopySourceIfMatch": etag} if etag else {}
            reply = b._call("UploadPartCopy", self.key, lambda: b.client.upload_part_copy(
                Bucket=b.bucket, Key=self._object_key, UploadId=self._upload_id, PartNumber=number,
                CopySource=source, CopySourceRange=f"bytes={start}-{end - 1}", **extra))
            self._parts.append({"PartNumber": number, "ETag": reply["CopyPartResult"]["ETag"]})
        self._size = size

    def _complete(self) -> None:
        b, upload_id, parts = self._backend, self._upload_id, list(self._parts)
        attempts = 0

        def complete() -> None:
            nonlocal attempts
            attempts += 1
            b.client.complete_multipart_upload(Bucket=b.bucket, Key=self._object_key, UploadId=upload_id,
                                               MultipartUpload={"Parts": parts})

        try:
            b._call("CompleteMultipartUpload", self.key, complete)
        except BlobUploadInvalid:
            # A retried completion whose first attempt did complete (its answer was lost) finds
            # the upload gone: the object is there, with this writer's size.
            if attempts < 2 or b.stat(self.key) != self._size:
                raise

    def _abort(self) -> None:
        """Abort the multipart upload, if any; a failure leaves it to :meth:`S3Backend.stale_temps`."""
        upload_id = self._upload_id
        if upload_id is None:
            return
        b = self._backend
        try:
            b._call("AbortMultipartUpload", self.key, lambda: b.client.abort_multipart_upload(
                Bucket=b.bucket, Key=self._object_key, UploadId=upload_id))
        except Exception as exc:  # cancel must not fail; the sweep finds the upload later
            log.warning("s3 backend %r: could not abort the upload of %r (%s); a sweep of stale "
                        "uploads will remove it", b.name, self.key, type(exc).__name__)
        self._forget_upload()

    def _forget_upload(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._upload_id is not None:
            with self._backend._lock:
                self._backend._open_uploads.discard(self._upload_id)
        self._upload_id = None
        self._parts = []
