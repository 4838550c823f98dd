"""Resumable blob uploads: a session per upload, chunks appended at stated offsets.

This is the OCI distribution spec's POST / PATCH / PUT flow without HTTP: a chunk must start where
the last one ended (otherwise :class:`BlobUploadInvalid`, which the HTTP layer answers with 416),
and the upload becomes a blob only when it is finished with a digest that matches its content.
Received bytes are staged in the metadata backend, one part per append (so a long upload is never
copied again), and are never visible as a blob before it is finished.

A session records when it started and when it last received bytes (``updated``); an append in
progress is known to this object, so garbage collection (:func:`.gc.sweep_uploads`) discards only
sessions idle for longer than its grace period and never one that is receiving bytes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from . import metadata as paths
from .errors import BlobUploadInvalid, BlobUploadUnknown, KeyNotFound
from .metadata import MetadataStore

Buffer = bytes | bytearray | memoryview


class Uploads:
    def __init__(self, meta: MetadataStore, *, clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.clock = clock
        self._lock = threading.Lock()
        #: (repo, upload id) -> appends in progress; (repo, upload id) being discarded by a sweep
        self._active: Counter[tuple[str, str]] = Counter()
        self._discarding: set[tuple[str, str]] = set()

    def start(self, repo: str) -> str:
        upload_id = uuid.uuid4().hex
        self.meta.write(paths.upload_info(repo, upload_id), {"started": self.clock(), "offset": 0, "parts": 0})
        return upload_id

    def offset(self, repo: str, upload_id: str) -> int:
        return int(self._info(repo, upload_id)["offset"])

    def append(self, repo: str, upload_id: str, data: Buffer | Iterable[Buffer], offset: int | None = None) -> int:
        """Append a chunk (bytes, or an iterable of bytes streamed to storage as it arrives).

        ``offset``, when given, must equal the bytes received so far. Each call stores one new part,
        so appending never copies what was received before.
        """
        with self.hold(repo, upload_id):
            return self._append(repo, upload_id, data, offset)

    @contextmanager
    def hold(self, repo: str, upload_id: str) -> Iterator[None]:
        """Mark the session busy meanwhile (an append, or the registry finishing it), so no sweep
        discards it; BLOB_UPLOAD_UNKNOWN if a sweep is discarding it right now."""
        session = (repo, upload_id)
        with self._lock:
            if session in self._discarding:
                raise BlobUploadUnknown(f"upload {upload_id} in repository {repo!r} was discarded as stale")
            self._active[session] += 1
        try:
            yield
        finally:
            with self._lock:
                self._active[session] -= 1
                if self._active[session] <= 0:
                    del self._active[session]

    def _append(self, repo: str, upload_id: str, data: Buffer | Iterable[Buffer], offset: int | None) -> int:
        info = self._info(repo, upload_id)
        if offset is not None and offset != info["offset"]:
            raise BlobUploadInvalid(
                f"chunk starts at byte {offset} but upload {upload_id} has {info['offset']} bytes",
                detail={"offset": info["offset"]},
            )
        part = int(info.get("parts", 0))
        with self.meta.backend.writer(paths.upload_part(repo, upload_id, part)) as w:
            for chunk in _chunks(data):
                w.write(chunk)
            received = w.size
        if received == 0:
            self.meta.delete(paths.upload_part(repo, upload_id, part))
            return int(info["offset"])
        info["offset"] = int(info["offset"]) + received
        info["parts"] = part + 1
        info["updated"] = self.clock()
        self.meta.write(paths.upload_info(repo, upload_id), info)
        return info["offset"]

    def chunks(self, repo: str, upload_id: str, chunk_size: int = 4 << 20) -> Iterator[bytes]:
        """What was received, in order, in pieces of at most ``chunk_size`` bytes."""
        info = self._info(repo, upload_id)
        for part in range(int(info.get("parts", 0))):
            key = paths.upload_part(repo, upload_id, part)
            size, pos = self.meta.backend.stat(key), 0
            while pos < size:
                data = self.meta.backend.read_at(key, pos, min(chunk_size, size - pos))
                if not data:
                    break
                pos += len(data)
                yield data

    def content(self, repo: str, upload_id: str) -> bytes:
        return b"".join(self.chunks(repo, upload_id))

    def discard(self, repo: str, upload_id: str) -> int:
        """Remove the session and every part it stored (also parts a crash left uncounted);
        returns the bytes of parts removed."""
        self._info(repo, upload_id)
        return self._remove(repo, upload_id)

    def _remove(self, repo: str, upload_id: str) -> int:
        info_key = paths.upload_info(repo, upload_id)
        freed = 0
        for key in list(self.meta.keys(paths.upload_root(repo, upload_id))):
            if key == info_key:
                continue
            try:
                freed += self.meta.backend.stat(key)
            except KeyNotFound:
                continue
            self.meta.delete(key)
        self.meta.delete(info_key)  # last: a sweep interrupted half-way finds the session again
        return freed

    def started(self, repo: str, upload_id: str) -> float:
        return float(self._info(repo, upload_id)["started"])

    def last_active(self, repo: str, upload_id: str) -> float:
        """When the session last received bytes (when it started, if it has received none)."""
        info = self._info(repo, upload_id)
        return max(float(info["started"]), float(info.get("updated", info["started"])))

    def receiving(self, repo: str, upload_id: str) -> bool:
        """Whether an append to the session is in progress in this process."""
        with self._lock:
            return (repo, upload_id) in self._active

    def stored_bytes(self, repo: str, upload_id: str) -> int:
        """Bytes of the parts the session has stored."""
        total = 0
        for key in self.meta.keys(paths.upload_root(repo, upload_id)):
            if key != paths.upload_info(repo, upload_id):
                try:
                    total += self.meta.backend.stat(key)
                except KeyNotFound:
                    pass
        return total

    def discard_if_idle(self, repo: str, upload_id: str, cutoff: float) -> int | None:
        """Discard the session if it received nothing after ``cutoff`` (a time on the clock) and
        no append is in progress; returns the bytes removed, or None if it was kept. An append
        that starts while the session is being discarded fails with BLOB_UPLOAD_UNKNOWN."""
        session = (repo, upload_id)
        with self._lock:
            if session in self._active or session in self._discarding:
                return None
            self._discarding.add(session)
        try:
            try:
                if self.last_active(repo, upload_id) > cutoff:
                    return None
            except BlobUploadUnknown:
                return None  # finished or cancelled meanwhile
            return self._remove(repo, upload_id)
        finally:
            with self._lock:
                self._discarding.discard(session)

    def sessions(self) -> list[tuple[str, str]]:
        """Every (repository, upload id) in progress."""
        found = []
        for key in self.meta.keys("repositories"):
            if key.endswith("/info") and "/_uploads/" in key:
                repo, rest = key[len("repositories/"):].split("/_uploads/", 1)
                found.append((repo, rest.split("/")[0]))
        return found

    def _info(self, repo: str, upload_id: str) -> dict:
        if not isinstance(upload_id, str) or not upload_id.isalnum():
            raise BlobUploadUnknown(f"malformed upload id {upload_id!r}")
        info = self.meta.read(paths.upload_info(repo, upload_id))
        if info is None:
            raise BlobUploadUnknown(f"no upload {upload_id} in repository {repo!r}")
        return info


def _chunks(data: Buffer | Iterable[Buffer]) -> Iterable[Buffer]:
    return (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data
